// kakehashi: the command-line tool for operators, scripts and CI.
#include <CLI/CLI.hpp>
#include <iostream>
#include <kakehashi/error.hpp>
#include <kakehashi/version.hpp>
#include <map>
#include <string>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"kakehashi: cross-border patient referral under Vietnam-Japan MoUs"};
  app.set_version_flag("--version", kakehashi::version_string);
  app.require_subcommand(1);
  std::map<CLI::App*, kakehashi::tool::command> commands;
  const auto add = [&](kakehashi::tool::command c) {
    commands[app.get_subcommands({}).back()] = std::move(c);
  };
  add(kakehashi::tool::add_eligible_command(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and usage to stderr
    return kakehashi::tool::exit_bad_input;
  }
  for (auto& [sub, run] : commands) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const kakehashi::error& e) {
      std::cerr << "kakehashi " << sub->get_name() << ": " << e.what() << '\n';
      return kakehashi::tool::exit_bad_input;
    }
  }
  return kakehashi::tool::exit_bad_input;
}
