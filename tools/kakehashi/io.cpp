// What the tool's commands share: files, keys, instants, names checked against the agreements,
// opening the engine, exit codes.
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "commands.hpp"

namespace kakehashi::tool {

std::string read_text(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in) {
    throw error(errc::not_found,
                fmt::format("{}: cannot read '{}'; pass a readable file", option, path));
  }
  return ss.str();
}

void write_text(const std::string& path, const std::string& text, const char* option) {
  if (path.empty()) {
    std::cout << text;
    return;
  }
  // A reader never sees half a file: write beside it, then rename over it.
  const std::string temporary = path + ".part";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw error(errc::invalid_argument,
                  fmt::format("{}: cannot write '{}'; pass a writable path", option, path));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw error(errc::invalid_argument,
                fmt::format("{}: cannot write '{}'; pass a writable path", option, path));
  }
}

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = word.size() / 3 + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string expected_one_of(const std::string& word, const std::vector<std::string>& candidates) {
  std::string all;
  for (const auto& c : candidates) all += (all.empty() ? "" : ", ") + c;
  const std::string near = nearest(word, candidates);
  return fmt::format("expected one of: {}{}", all.empty() ? "none" : all,
                     near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
}

int exit_code_of(errc c) noexcept {
  switch (c) {
    case errc::invalid_argument:
    case errc::not_found:
      return exit_bad_input;
    case errc::already_exists:
    case errc::failed_precondition:
    case errc::permission_denied:
    case errc::not_eligible:
    case errc::consent_blocked:
      return exit_refused;
    case errc::storage:
    case errc::outcome_unknown:
      return exit_storage;
  }
  return exit_internal;
}

std::string read_key(const std::string& path) {
  std::string key = read_text(path, "--key-file");
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 16) {
    throw error(errc::invalid_argument,
                "--key-file: the key is shorter than 16 bytes; use a long random key, e.g. "
                "'openssl rand -hex 32 > audit.key'");
  }
  return key;
}

instant instant_or_now(const std::string& text, const char* option) {
  if (text.empty()) return date::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  return parse_instant(text, option);
}

hospital_id known_hospital(const agreement_directory& dir, const std::string& id,
                           const char* option) {
  if (dir.find_hospital(hospital_id{id}) != nullptr) return hospital_id{id};
  std::vector<std::string> ids;
  for (const auto& h : dir.hospitals()) ids.push_back(h.id.value());
  throw error(errc::invalid_argument,
              fmt::format("{}: '{}' is not a hospital of the agreements file; {}", option,
                          printable(id), expected_one_of(id, ids)));
}

specialty_code known_specialty(const agreement_directory& dir, const std::string& code,
                               const char* option) {
  std::set<std::string> known;
  for (const auto& h : dir.hospitals()) {
    for (const auto& s : h.specialties) known.insert(s.value());
  }
  for (const auto& a : dir.agreements()) {
    for (const auto& s : a.referral_specialties) known.insert(s.value());
  }
  if (known.count(code) != 0) return specialty_code{code};
  const std::vector<std::string> all(known.begin(), known.end());
  for (const auto& k : all) {
    if (k.size() == code.size() && std::equal(k.begin(), k.end(), code.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      throw error(errc::invalid_argument,
                  fmt::format("{}: '{}' is not a specialty code; codes are lower case: '{}'",
                              option, printable(code), k));
    }
  }
  throw error(errc::invalid_argument,
              fmt::format("{}: '{}' is not a specialty of any hospital or agreement; {}", option,
                          printable(code), expected_one_of(code, all)));
}

state_choice parse_state_choice(const std::string& text, const char* option) {
  std::vector<std::string> names;
  for (auto s : all_values<referral_state>()) names.emplace_back(to_string(s));
  for (auto r : all_values<close_reason>()) names.push_back("closed:" + std::string(to_string(r)));
  if (auto s = parse_referral_state(text)) return {s, std::nullopt};
  const std::string prefix = "closed:";
  if (text.rfind(prefix, 0) == 0) {
    if (auto r = parse_close_reason(text.substr(prefix.size()))) {
      return {referral_state::closed, r};
    }
  }
  if (parse_close_reason(text)) {
    throw error(
        errc::invalid_argument,
        fmt::format("{}: '{}' is a close reason, not a state; use closed:{}", option, text, text));
  }
  throw error(errc::invalid_argument, fmt::format("{}: '{}' is not a state; {}", option,
                                                  printable(text), expected_one_of(text, names)));
}

void add_engine_options(CLI::App* cmd, engine_args& args) {
  cmd->add_option("--db", args.db, "kakehashi database (created on first use)")->required();
  cmd->add_option("--agreements", args.agreements, "Agreements JSON file (docs/agreements.md)")
      ->required();
  cmd->add_option("--policy", args.policy,
                  "Consent policy file (docs/policy.md); default: the standard policy, no "
                  "organisation compliance on file");
  cmd->add_option("--key-file", args.key_file,
                  "The audit key: every row carries its MAC (required for a keyed log)");
  cmd->add_option("--durability", args.durability, "full (default) or normal")
      ->check(CLI::IsMember({"full", "normal"}));
}

engine open_engine(const engine_args& args, const agreement_directory& agreements) {
  policy_settings settings;
  if (!args.policy.empty()) settings = load_policy_file(args.policy);
  engine_options o;
  o.sync = args.durability == "normal" ? durability::normal : durability::full;
  o.compliance = settings.compliance;
  o.payload_classes = settings.payload_classes;
  if (!args.key_file.empty()) o.audit_key = read_key(args.key_file);
  if (!o.audit_key && std::ifstream(args.db).good()) {
    // A keyed log must stay keyed: rows without a MAC would fail a keyed verify.
    const database_view view = database_view::open(args.db);
    if (view.keyed()) {
      throw error(errc::invalid_argument,
                  fmt::format("--key-file: the audit log of {} is keyed (its rows carry MACs); "
                              "pass the key it was written with",
                              printable(args.db, 200)));
    }
  }
  return engine::open(args.db, agreements, settings.policy, o);
}

std::string local_time(const hospital& h, instant at) {
  try {
    return date::format("%F %R", date::make_zoned(h.time_zone, at)) + " " + h.time_zone;
  } catch (const std::exception&) {
    return h.time_zone;
  }
}

std::string reader_language(const std::string& option) {
  return option.empty() ? text::language_of_environment()
                        : text::checked_language(option, "--lang");
}

}  // namespace kakehashi::tool
