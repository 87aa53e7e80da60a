// kakehashi audit verify --db FILE [--checkpoint FILE --key-file FILE] [--json]
// kakehashi audit checkpoint --db FILE --key-file FILE [--at INSTANT]
// kakehashi referral show --db FILE --id ID [--json]
// kakehashi referral list --db FILE [--state S] [--json]
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

using nlohmann::json;

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

std::string state_of(const referral_snapshot& s) {
  return s.reason ? fmt::format("{} ({})", to_string(s.state), to_string(*s.reason))
                  : std::string(to_string(s.state));
}

struct audit_options {
  std::string db;
  std::string checkpoint_file;
  std::string key_file;
  std::string at;
  std::string id;
  std::string state;
  bool json = false;
};

}  // namespace

command add_audit_command(CLI::App& app) {
  auto opt = std::make_shared<audit_options>();
  CLI::App* audit = app.add_subcommand("audit", "Verify and anchor the audit log");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand("verify", "Check the audit log of a database");
  verify->add_option("--db", opt->db, "kakehashi database")->required();
  verify->add_option("--checkpoint", opt->checkpoint_file, "Checkpoint file to verify against");
  verify->add_option("--key-file", opt->key_file, "The audit key (checks MACs and checkpoints)");
  verify->add_flag("--json", opt->json, "Print one JSON object");
  CLI::App* anchor = audit->add_subcommand("checkpoint", "Print an HMAC'd checkpoint of the log");
  anchor->add_option("--db", opt->db, "kakehashi database")->required();
  anchor->add_option("--key-file", opt->key_file, "The audit key")->required();
  anchor->add_option("--at", opt->at, "The checkpoint's instant (default: now)");

  // One command per leaf; main() runs the one that was parsed.
  return [opt, verify] {
    const database_view view = database_view::open(opt->db);
    const std::optional<std::string> key =
        opt->key_file.empty() ? std::nullopt : std::optional<std::string>(read_key(opt->key_file));
    if (!verify->parsed()) {
      const instant at = opt->at.empty()
                             ? date::floor<std::chrono::seconds>(std::chrono::system_clock::now())
                             : parse_instant(opt->at, "--at");
      std::cout << to_json(view.make_checkpoint(*key, at)) << '\n';
      return exit_ok;
    }
    std::optional<checkpoint> cp;
    if (!opt->checkpoint_file.empty()) {
      cp = parse_checkpoint(read_text(opt->checkpoint_file, "--checkpoint"));
    }
    const verify_result v = view.verify(cp, key);
    if (opt->json) {
      std::cout << json{{"intact", v.intact},
                        {"rows", v.rows},
                        {"referrals", v.referrals},
                        {"head", v.head_hash},
                        {"first_bad_row", v.first_bad_seq ? json(*v.first_bad_seq) : json(nullptr)},
                        {"problem", v.problem}}
                       .dump(2)
                << '\n';
    } else if (v.intact) {
      std::cout << fmt::format("audit log: intact ({} rows, {} referrals{}{}; head {})\n", v.rows,
                               v.referrals, cp ? ", matches the checkpoint" : "",
                               key ? ", MACs checked" : "", v.head_hash);
    } else {
      std::cout << fmt::format("audit log: TAMPERED at row {}: {}\n", v.first_bad_seq.value_or(0),
                               v.problem);
    }
    return v.intact ? exit_ok : exit_tampered;
  };
}

command add_referral_command(CLI::App& app) {
  auto opt = std::make_shared<audit_options>();
  CLI::App* ref = app.add_subcommand("referral", "Show referrals stored in a database");
  ref->require_subcommand(1);
  CLI::App* show = ref->add_subcommand("show", "A referral's state and history");
  show->add_option("--db", opt->db, "kakehashi database")->required();
  show->add_option("--id", opt->id, "Referral id")->required();
  show->add_flag("--json", opt->json, "Print one JSON object");
  CLI::App* list = ref->add_subcommand("list", "Referrals, optionally in one state");
  list->add_option("--db", opt->db, "kakehashi database")->required();
  list->add_option("--state", opt->state,
                   "proposed, consent_recorded, accepted, transferred, closed");
  list->add_flag("--json", opt->json, "Print one JSON array");
  return [opt, show] {
    const database_view view = database_view::open(opt->db);
    if (show->parsed()) {
      const referral_id id{opt->id};
      validate("--id", id);
      const auto s = view.find(id);
      if (!s)
        throw error(errc::not_found, fmt::format("--id: no referral '{}' in {}", opt->id, opt->db));
      const auto history = view.history(id);
      if (opt->json) {
        json j = json::parse(to_json(*s));
        j["history"] = json::array();
        for (const auto& h : history) {
          j["history"].push_back({{"seq", h.seq},
                                  {"at", to_iso8601(h.recorded_at)},
                                  {"actor", h.by.organisation.value()},
                                  {"role", std::string(to_string(h.by.role))},
                                  {"command", h.command},
                                  {"before", h.state_before},
                                  {"after", h.state_after},
                                  {"outcome", static_cast<int>(h.outcome)},
                                  {"reason", h.reason_code}});
        }
        std::cout << j.dump(2) << '\n';
        return exit_ok;
      }
      std::cout << fmt::format("{}: {} -> {}, {}, patient {}\nstate: {} (version {})\n",
                               s->id.value(), s->origin.value(), s->destination.value(),
                               s->specialty.value(), s->patient.value(), state_of(*s), s->version);
      for (const auto& h : history) {
        std::cout << fmt::format(
            "  #{:<5} {}  {:<16} {:<18} by {} ({})  {} -> {}{}\n", h.seq, to_iso8601(h.recorded_at),
            h.command, h.outcome == audit_outcome::success ? "ok" : "refused: " + h.reason_code,
            h.by.organisation.value(), to_string(h.by.role),
            h.state_before.empty() ? "-" : h.state_before, h.state_after, "");
      }
      return exit_ok;
    }
    std::optional<referral_state> state;
    if (!opt->state.empty()) {
      state = parse_referral_state(opt->state);
      if (!state) {
        throw error(errc::invalid_argument,
                    fmt::format("--state: '{}' is not a state; expected proposed, "
                                "consent_recorded, accepted, transferred or closed",
                                opt->state));
      }
    }
    const auto all = view.list(state);
    if (opt->json) {
      json arr = json::array();
      for (const auto& s : all) arr.push_back(json::parse(to_json(s)));
      std::cout << arr.dump(2) << '\n';
      return exit_ok;
    }
    for (const auto& s : all) {
      std::cout << fmt::format("{:<20} {:<18} -> {:<18} {:<16} {}\n", s.id.value(),
                               s.origin.value(), s.destination.value(), s.specialty.value(),
                               state_of(s));
    }
    std::cout << fmt::format("{} referral(s)\n", all.size());
    return exit_ok;
  };
}

}  // namespace kakehashi::tool
