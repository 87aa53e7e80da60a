// kakehashi: the command-line tool for operators, scripts and CI.
#include <CLI/CLI.hpp>
#include <iostream>
#include <kakehashi/error.hpp>
#include <kakehashi/version.hpp>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"kakehashi: cross-border patient referral under Vietnam-Japan MoUs"};
  app.set_version_flag("--version", kakehashi::version_string);
  app.require_subcommand(1);
  // Each command runs when its subcommand (or one of that subcommand's own) was parsed.
  std::vector<std::pair<CLI::App*, kakehashi::tool::command>> commands;
  const auto add = [&](kakehashi::tool::command c) {
    commands.emplace_back(app.get_subcommands({}).back(), std::move(c));
  };
  add(kakehashi::tool::add_eligible_command(app));
  add(kakehashi::tool::add_consent_command(app));
  add(kakehashi::tool::add_audit_command(app));
  add(kakehashi::tool::add_referral_command(app));
  add(kakehashi::tool::add_fhir_command(app));

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
    } catch (const std::exception& e) {
      // Anything else is a bug in kakehashi: say so rather than pretend it was bad input.
      std::cerr << "kakehashi " << sub->get_name() << ": internal error: " << e.what() << '\n';
      return 3;
    }
  }
  return kakehashi::tool::exit_bad_input;
}
