// kakehashi: the command-line tool for operators, scripts and CI.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/version.hpp>
#include <kakehashi/vocabulary.hpp>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"

namespace {

using kakehashi::tool::printable;

// "kakehashi referral show": the words that lead to `app`.
std::string command_path(const CLI::App* app) {
  std::string path;
  for (; app != nullptr; app = app->get_parent()) {
    path = app->get_name() + (path.empty() ? "" : " ") + path;
  }
  return path;
}

// The language the reader of a failed command reads: the --lang of the command that ran, else
// the locale's. Never throws: a bad --lang may be the very error being reported.
std::string reader_of(CLI::App* command) {
  try {
    while (!command->get_subcommands().empty()) command = command->get_subcommands().front();
    const CLI::Option* lang = command->get_option_no_throw("--lang");
    return kakehashi::tool::reader_language(lang && lang->count() > 0 ? lang->as<std::string>()
                                                                      : std::string());
  } catch (const std::exception&) {
    return "en";
  }
}

std::string names_of(const std::vector<CLI::App*>& subs) {
  std::string out;
  for (const auto* s : subs) out += (out.empty() ? "" : ", ") + s->get_name();
  return out;
}

// The deepest command the words on the line name, and the first word that names none there (a
// command, or an option of a command that has commands).
std::pair<CLI::App*, std::string> locate(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty()) continue;
    if (word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      if (!at->get_subcommands({}).empty() && at->get_option_no_throw(name) == nullptr) {
        return {at, word};
      }
      continue;
    }
    const auto subs = at->get_subcommands({});
    if (subs.empty()) break;  // a leaf: the rest are its options' values
    CLI::App* next = nullptr;
    for (auto* s : subs) {
      if (s->get_name() == word) next = s;
    }
    if (next == nullptr) return {at, word};
    at = next;
  }
  return {at, ""};
}

// Every message of the tool starts with "[kakehashi.<code>]", argument errors included, and
// quotes what was typed only made printable.
int parse_failed(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  const auto [at, word] = locate(app, argc, argv);
  const auto subs = at->get_subcommands({});
  const std::string path = command_path(at);
  std::string message;
  if (!subs.empty() && !word.empty()) {
    std::vector<std::string> names;
    for (const auto* s : subs) names.push_back(s->get_name());
    const std::string near = kakehashi::tool::nearest(word, names);
    message = fmt::format("{}: '{}' is not a {}; expected one of: {}{}", path, printable(word),
                          word[0] == '-' ? "known option here" : "command", names_of(subs),
                          near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
  } else if (!subs.empty() && at->get_subcommands().empty() &&
             dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    message = fmt::format("{}: a command is required; expected one of: {}", path, names_of(subs));
  } else {
    message = fmt::format("{}: {}", path, printable(e.what(), 300));
  }
  std::cerr << kakehashi::error(kakehashi::errc::invalid_argument, message).what() << "\nRun '"
            << path << " --help' for usage.\n";
  return kakehashi::tool::exit_bad_input;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kakehashi: cross-border patient referral under Vietnam-Japan MoUs"};
  app.name("kakehashi");
  app.set_version_flag("--version", std::string("kakehashi ") + kakehashi::version_string);
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
  add(kakehashi::tool::add_sweep_command(app));
  add(kakehashi::tool::add_fhir_command(app));
  add(kakehashi::tool::add_serve_command(app));
  add(kakehashi::tool::add_witness_command(app));
  add(kakehashi::tool::add_completion_command(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << '\n';
    return kakehashi::tool::exit_ok;
  } catch (const CLI::ParseError& e) {
    return parse_failed(app, e, argc, argv);
  }
  for (auto& [sub, run] : commands) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const kakehashi::error& e) {
      // English with its [kakehashi.<code>] prefix, as logs keep it; then, for a reader of
      // another language, what kind of error it was in theirs.
      std::cerr << e.what() << '\n';
      if (const std::string lang = reader_of(sub); lang != "en") {
        const std::string code(kakehashi::to_string(e.code()));
        std::cerr << "  "
                  << kakehashi::text::format(
                         lang, "refused.reason",
                         {{"code",
                           kakehashi::vocabulary::display("refusal", code, lang).value_or(code)}})
                  << '\n';
      }
      return kakehashi::tool::exit_code_of(e.code());
    } catch (const std::exception& e) {
      // Anything else is a bug in kakehashi: say so rather than pretend it was bad input.
      std::cerr << "kakehashi " << sub->get_name()
                << ": internal error (please report it): " << printable(e.what(), 300) << '\n';
      return kakehashi::tool::exit_internal;
    }
  }
  return kakehashi::tool::exit_bad_input;
}
