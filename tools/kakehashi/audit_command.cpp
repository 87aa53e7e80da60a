// kakehashi audit verify --db FILE [--checkpoint FILE --key-file FILE] [--json]
// kakehashi audit checkpoint --db FILE --key-file FILE [--at INSTANT]
// kakehashi audit provisions --db FILE --hospital ID [--from INSTANT] [--until INSTANT] [--json]
// All only read the database: they create nothing beside it (a read-only copy is fine).
#include <fmt/format.h>

#include <iostream>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/vocabulary.hpp>
#include <kakehashi/witness.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

using nlohmann::json;

struct audit_options {
  std::string db;
  std::string checkpoint_file;
  std::string key_file;
  std::string at;
  std::string witness;
  std::string public_key;
  std::string lang;
  std::string hospital;
  std::string agreements;
  std::string from;
  std::string until;
  bool json = false;
};

json provision_json(const provision_record& p) {
  return {{"row", p.audit_seq},
          {"referral", p.referral.value()},
          {"command", p.command},
          {"at", to_iso8601(p.at)},
          {"by",
           {{"hospital", p.by.organisation.value()},
            {"role", std::string(to_string(p.by.role))},
            {"user", p.by.user.value()}}},
          {"patient", p.patient.value()},
          {"provider",
           {{"hospital", p.provider.value()},
            {"name", p.provider_name},
            {"country", p.provider_country}}},
          {"recipient",
           {{"hospital", p.recipient.value()},
            {"name", p.recipient_name},
            {"country", p.recipient_country}}},
          {"basis", std::string(to_string(p.basis))},
          {"consent",
           {{"id", p.consent.value()},
            {"controller", p.consent_controller.value()},
            {"captured_at", to_iso8601(p.consent_captured_at)},
            {"method", p.consent_method},
            {"digest", p.consent_digest},
            {"artifact_sha256", p.artifact_sha256}}},
          {"data_classes", p.data_classes},
          {"documents", [&] {
             json docs = json::array();
             for (const auto& d : p.documents) {
               docs.push_back({{"id", d.id.value()},
                               {"kind", std::string(to_string(d.kind))},
                               {"sha256", d.sha256}});
             }
             return docs;
           }()}};
}

// The provisions a hospital made and received in a period: the record APPI Art. 29 and 30 ask
// each side to keep (JP-07), with the consent behind each (VN-22).
int print_provisions(const provision_report& r, const hospital_id& h, bool as_json,
                     const std::string& lang, const agreement_directory* dir) {
  // Hospitals by their name in the reader's language when the agreements are given, else by id.
  const auto name = [&](const hospital_id& id) {
    const hospital* found = dir ? dir->find_hospital(id) : nullptr;
    return found ? std::string(found->name_in(lang)) : id.value();
  };
  std::int64_t made = 0;
  for (const auto& p : r.provisions) made += p.provider == h ? 1 : 0;
  const auto received = static_cast<std::int64_t>(r.provisions.size()) - made;
  if (as_json) {
    json list = json::array();
    for (const auto& p : r.provisions) list.push_back(provision_json(p));
    std::cout << json{{"hospital", h.value()},
                      {"provisions", list},
                      {"made", made},
                      {"received", received},
                      {"without_record", r.without_record}}
                     .dump(2)
              << '\n';
    return exit_ok;
  }
  for (const auto& p : r.provisions) {
    std::cout << text::format(
                     lang, "audit.provision",
                     {{"row", std::to_string(p.audit_seq)},
                      {"time", to_iso8601(p.at)},
                      {"command",
                       vocabulary::display("command", p.command, lang).value_or(p.command)},
                      {"referral", p.referral.value()},
                      {"provider", name(p.provider)},
                      {"provider_country", p.provider_country},
                      {"recipient", name(p.recipient)},
                      {"recipient_country", p.recipient_country},
                      {"basis", std::string(to_string(p.basis))},
                      {"consent", p.consent.value()},
                      {"artifact", p.artifact_sha256.substr(0, 12)},
                      {"classes", text::list(p.data_classes, lang)},
                      {"documents", static_cast<std::int64_t>(p.documents.size())}})
              << '\n';
  }
  std::cout << text::format(lang, "audit.provisions_total",
                            {{"hospital", name(h)},
                             {"count", static_cast<std::int64_t>(r.provisions.size())},
                             {"made", made},
                             {"received", received},
                             {"without", r.without_record}})
            << '\n';
  return exit_ok;
}

// Only the key does not match: the log agrees with itself, but nothing vouches for it.
bool only_the_key(const verify_result& v) { return v.key_mismatch && v.problem == v.key_problem; }

int print_verify(const verify_result& v, bool with_checkpoint, bool with_key, bool as_json,
                 const std::string& lang) {
  if (as_json) {
    std::cout << json{{"intact", v.intact},
                      {"rows", v.rows},
                      {"referrals", v.referrals},
                      {"head", v.head_hash},
                      {"first_bad_row", v.first_bad_seq ? json(*v.first_bad_seq) : json(nullptr)},
                      {"problem", v.problem},
                      {"key_mismatch", v.key_mismatch},
                      {"provisions", v.provisions},
                      {"provisions_without_record", v.provisions_without_record}}
                     .dump(2)
              << '\n';
  } else if (v.intact) {
    std::cout << text::format(lang, "audit.intact",
                              {{"rows", static_cast<std::int64_t>(v.rows)},
                               {"referrals", static_cast<std::int64_t>(v.referrals)},
                               {"checkpoint", with_checkpoint ? "yes" : "no"},
                               {"mac", with_key ? "yes" : "no"},
                               {"head", v.head_hash}})
              << '\n';
  } else if (!only_the_key(v)) {
    // The problem stays English: it is what an investigator searches the logs for.
    std::cout << text::format(
                     lang, "audit.tampered",
                     {{"row", std::to_string(v.first_bad_seq.value_or(0))}, {"problem", v.problem}})
              << '\n';
  }
  if (v.key_mismatch) {
    // Said apart from tampering: most often the wrong --key-file.
    std::cerr << error(errc::invalid_argument,
                       fmt::format("--key-file: {}; {}check --key-file and --checkpoint",
                                   v.key_problem,
                                   only_the_key(v)
                                       ? fmt::format("without the key, the log's {} rows agree "
                                                     "with themselves; ",
                                                     v.rows)
                                       : std::string()))
                     .what()
              << '\n';
  }
  if (v.intact) return exit_ok;
  return only_the_key(v) ? exit_bad_input : exit_tampered;
}

}  // namespace

command add_audit_command(CLI::App& app) {
  auto opt = std::make_shared<audit_options>();
  CLI::App* audit = app.add_subcommand("audit", "Verify and anchor the audit log (read-only)");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand(
      "verify", "Check the audit log of a database: exit 0 intact, 1 tampered, 2 wrong key");
  verify->add_option("--db", opt->db, "kakehashi database (only read)")->required();
  verify->add_option("--checkpoint", opt->checkpoint_file, "Checkpoint file to verify against");
  verify->add_option("--key-file", opt->key_file, "The audit key (checks MACs and checkpoints)");
  verify->add_option("--witness", opt->witness,
                     "A witness file: the host's signed checkpoints a partner kept (docs/api.md)");
  verify->add_option("--public-key", opt->public_key,
                     "The host's Ed25519 public key (PEM), for --witness");
  verify->add_flag("--json", opt->json, "Print one JSON object");
  verify->add_option("--lang", opt->lang,
                     "en, vi or ja: the language of the verdict (default: the locale's); what "
                     "was found wrong stays English, as logs keep it");
  CLI::App* anchor = audit->add_subcommand("checkpoint", "Print an HMAC'd checkpoint of the log");
  anchor->add_option("--db", opt->db, "kakehashi database (only read)")->required();
  anchor->add_option("--key-file", opt->key_file, "The audit key")->required();
  anchor->add_option("--at", opt->at, "The checkpoint's instant (default: now)");
  CLI::App* provisions = audit->add_subcommand(
      "provisions",
      "List the provisions of patients' data a hospital made or received (APPI Art. 29 and 30: "
      "the record each side keeps; the consent behind each)");
  provisions->add_option("--db", opt->db, "kakehashi database (only read)")->required();
  provisions->add_option("--hospital", opt->hospital, "The hospital, e.g. bach-mai")->required();
  provisions->add_option("--agreements", opt->agreements,
                         "Agreements file: hospitals are shown by their names in the language");
  provisions->add_option("--from", opt->from,
                         "From this instant (inclusive), e.g. 2026-01-01T00:00:00Z");
  provisions->add_option("--until", opt->until, "Until this instant (exclusive)");
  provisions->add_flag("--json", opt->json, "Print one JSON object");
  provisions->add_option("--lang", opt->lang, "en, vi or ja (default: the locale's)");

  // One command per leaf; main() runs the one that was parsed.
  return [opt, verify, provisions] {
    const database_view view = database_view::open(opt->db);
    if (provisions->parsed()) {
      provision_query q;
      q.hospital = hospital_id{opt->hospital};
      validate("--hospital", q.hospital);
      if (!opt->from.empty()) q.from = parse_instant(opt->from, "--from");
      if (!opt->until.empty()) q.until = parse_instant(opt->until, "--until");
      if (q.from && q.until && *q.until <= *q.from) {
        throw error(errc::invalid_argument,
                    fmt::format("--until: {} is not after --from {}; give a period that ends "
                                "after it begins",
                                to_iso8601(*q.until), to_iso8601(*q.from)));
      }
      const std::string lang = reader_language(opt->lang);
      std::optional<agreement_directory> dir;
      if (!opt->agreements.empty()) {
        dir = agreement_directory::load_file(opt->agreements);
        known_hospital(*dir, opt->hospital, "--hospital");
      }
      return print_provisions(view.provisions(q), q.hospital, opt->json, lang,
                              dir ? &*dir : nullptr);
    }
    const std::optional<std::string> key =
        opt->key_file.empty() ? std::nullopt : std::optional<std::string>(read_key(opt->key_file));
    if (!verify->parsed()) {
      std::cout << to_json(view.make_checkpoint(*key, instant_or_now(opt->at, "--at"))) << '\n';
      return exit_ok;
    }
    std::optional<checkpoint> cp;
    if (!opt->checkpoint_file.empty()) {
      cp = parse_checkpoint(read_text(opt->checkpoint_file, "--checkpoint"));
    }
    std::optional<witness_result> witnessed;
    if (!opt->witness.empty()) {
      if (opt->public_key.empty()) {
        throw error(errc::invalid_argument, "--public-key: is required with --witness; give the "
                                            "host's Ed25519 public key (PEM)");
      }
      witnessed = check_witnessed(view, load_witness_file(opt->witness),
                                  read_text(opt->public_key, "--public-key"));
    }
    const std::string lang = reader_language(opt->lang);
    const int code = print_verify(view.verify(cp, key), cp.has_value(), key.has_value(),
                                  opt->json && !witnessed, lang);
    if (!witnessed) return code;
    if (opt->json) {
      std::cout << json{{"witness_consistent", witnessed->consistent},
                        {"witness_checked", witnessed->checked},
                        {"witness_bad_row",
                         witnessed->bad_seq ? json(*witnessed->bad_seq) : json(nullptr)},
                        {"witness_problem", witnessed->problem}}
                       .dump(2)
                << '\n';
    } else if (witnessed->consistent) {
      std::cout << text::format(lang, "audit.witness_consistent",
                                {{"count", static_cast<std::int64_t>(witnessed->checked)}})
                << '\n';
    } else {
      std::cout << text::format(lang, "audit.witness_contradicted",
                                {{"row", std::to_string(witnessed->bad_seq.value_or(0))},
                                 {"problem", witnessed->problem}})
                << '\n';
    }
    return witnessed->consistent ? code : exit_tampered;
  };
}

}  // namespace kakehashi::tool
