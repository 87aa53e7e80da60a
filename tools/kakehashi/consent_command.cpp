// kakehashi consent check --consent FILE --from ID --to ID --at INSTANT
//                         [--direction outbound|return] [--json] [--agreements FILE]
//                         [--from-country CC --to-country CC] [--payload a,b,c]
//                         [--transfer-agreement] [--tia-filed INSTANT] [--first-transfer INSTANT]
//                         [--policy FILE] [--exit-code] [--lang en|vi|ja]
#include <fmt/format.h>

#include <iostream>
#include <kakehashi/agreement.hpp>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/vocabulary.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

struct consent_options {
  std::string consent;
  std::string from;
  std::string to;
  std::string at;
  std::string direction = "outbound";
  std::string agreements;
  std::string from_country;
  std::string to_country;
  std::vector<std::string> payload;
  bool transfer_agreement = false;
  bool withdrawal_clause = false;
  bool patient_mediated = false;
  std::vector<std::string> tia_recipients;
  std::string tia_filed;
  std::string first_transfer;
  std::string policy;
  std::string lang;
  bool json = false;
  bool exit_code = false;
};

std::string country_of(const consent_options& o, const std::string& given, const std::string& id,
                       const char* option) {
  if (!given.empty()) return given;
  if (o.agreements.empty()) {
    throw error(errc::invalid_argument,
                fmt::format("{}: the country of '{}' is unknown; pass {} or --agreements FILE",
                            option, id, option));
  }
  const auto dir = agreement_directory::load_file(o.agreements);
  return dir.hospital_at(option, hospital_id{id}).country;
}

// The verdict for a person, in `lang`: the step, the decision and its basis, then each finding
// with its rule's title and its code's display (the consent-rule and consent-finding
// CodeSystems), the rule's own message (English, as logs keep it) and its source.
void print_verdict(const consent_verdict& v, const consent_context& ctx, const std::string& lang,
                   const agreement_directory* dir) {
  const auto name = [&](const hospital_id& id) {
    const hospital* h = dir ? dir->find_hospital(id) : nullptr;
    return h ? std::string(h->name_in(lang)) : id.value();
  };
  const auto display = [&](std::string_view kind, const std::string& code) {
    return vocabulary::display(kind, code, lang).value_or(code);
  };
  const auto say = [&](std::string_view id, const std::vector<text::argument>& args) {
    std::cout << text::format(lang, id, args) << '\n';
  };
  // In the sending hospital's zone, UTC beside; UTC alone without the agreements.
  std::string time = text::local_time(ctx.at, "UTC", lang);
  if (const hospital* h = dir ? dir->find_hospital(ctx.sender()) : nullptr) {
    time = text::format(lang, "time.with_utc",
                        {{"local", text::local_time(ctx.at, h->time_zone, lang)}, {"utc", time}});
  }
  say("check.header", {{"flow", std::string(to_string(ctx.flow))},
                       {"from", name(ctx.origin)},
                       {"to", name(ctx.destination)},
                       {"time", time},
                       {"regime", std::string(to_string(v.regime))}});
  say("check.decision", {{"decision", std::string(to_string(v.decision))},
                         {"basis", std::string(to_string(v.basis))}});
  if (v.findings.empty()) say("check.no_findings", {});
  for (const auto& f : v.findings) {
    say("check.finding", {{"rule", f.rule_id},
                          {"effect", std::string(to_string(f.effect))},
                          {"finding", display("consent-finding", f.code)}});
    // A hospital's own rule is not in the CodeSystem: its title is not known here.
    if (const auto title = vocabulary::display("consent-rule", f.rule_id, lang)) {
      say("check.rule", {{"title", *title}});
    }
    say("check.message", {{"code", f.code}, {"message", f.message}});
    say("check.source", {{"citation", f.citation.empty() ? "-" : f.citation}});
  }
}

}  // namespace

command add_consent_command(CLI::App& app) {
  auto opt = std::make_shared<consent_options>();
  CLI::App* consent = app.add_subcommand("consent", "Consent records and rules");
  consent->require_subcommand(1);
  CLI::App* check = consent->add_subcommand(
      "check", "Evaluate a consent record against the standard consent policy");
  check->add_option("--consent", opt->consent, "Consent JSON file (docs/consent.md)")->required();
  check->add_option("--from", opt->from, "Referring hospital id, e.g. bach-mai")->required();
  check->add_option("--to", opt->to, "Destination hospital id, e.g. shonan-kamakura")->required();
  check->add_option("--at", opt->at, "Instant, RFC 3339 with offset")->required();
  check->add_option("--direction", opt->direction, "outbound (the referral) or return (results)")
      ->check(CLI::IsMember({"outbound", "return"}));
  check->add_option("--agreements", opt->agreements, "Agreements file, to look up the countries");
  check->add_option("--from-country", opt->from_country, "ISO 3166-1 alpha-2 of --from");
  check->add_option("--to-country", opt->to_country, "ISO 3166-1 alpha-2 of --to");
  check
      ->add_option("--payload", opt->payload,
                   "Data classes to send (default: diagnosis, imaging, "
                   "pathology)")
      ->delimiter(',');
  check->add_flag("--transfer-agreement", opt->transfer_agreement,
                  "A data-transfer agreement with the recipient is on file (VN-10)");
  check->add_flag("--patient-mediated", opt->patient_mediated,
                  "The patient carries their own record abroad (VN-14): the hospital's "
                  "cross-border duties do not apply");
  check->add_flag("--withdrawal-clause", opt->withdrawal_clause,
                  "The transfer agreement binds the recipient to honour a withdrawal or stop "
                  "request passed on to it (VN-20)");
  check->add_option("--tia-filed", opt->tia_filed, "When the impact assessment was filed (VN-11)");
  check
      ->add_option("--tia-recipients", opt->tia_recipients,
                   "The recipients the impact assessment's dossier lists (VN-13)")
      ->delimiter(',');
  check->add_option("--first-transfer", opt->first_transfer,
                    "When the first cross-border transfer happened (VN-11)");
  check->add_option("--policy", opt->policy,
                    "Consent policy file (docs/policy.md): its packs, switched-off rules and "
                    "flags, and the sending hospital's compliance and payload unless the options "
                    "above say otherwise");
  check->add_flag("--exit-code", opt->exit_code, "Exit 1 when the policy blocks the step");
  check->add_flag("--json", opt->json, "Print one JSON object instead of text");
  check->add_option("--lang", opt->lang,
                    "en, vi or ja: the language of the text (default: the locale's); each "
                    "finding's own message stays English, as logs keep it");
  return [opt] {
    const policy_settings settings =
        opt->policy.empty() ? policy_settings{} : load_policy_file(opt->policy);
    consent_context ctx;
    ctx.origin = hospital_id{opt->from};
    ctx.destination = hospital_id{opt->to};
    ctx.at = parse_instant(opt->at, "--at");
    ctx.flow = *parse_data_flow(opt->direction);
    ctx.action = ctx.flow == data_flow::outbound ? "transfer" : "return of results";
    ctx.origin_country = country_of(*opt, opt->from_country, opt->from, "--from-country");
    ctx.destination_country = country_of(*opt, opt->to_country, opt->to, "--to-country");
    ctx.payload_classes = opt->payload.empty() ? settings.payload_classes : opt->payload;
    // The sender's compliance as the policy file records it; the options override.
    if (const auto it = settings.compliance.find(ctx.sender()); it != settings.compliance.end()) {
      ctx.compliance = it->second;
    }
    if (opt->transfer_agreement) ctx.compliance.transfer_agreement = true;
    if (opt->withdrawal_clause) ctx.compliance.withdrawal_clause = true;
    ctx.patient_mediated = opt->patient_mediated;
    if (!opt->tia_recipients.empty()) {
      std::vector<hospital_id> listed;
      for (const auto& h : opt->tia_recipients) {
        listed.push_back(hospital_id{h});
        validate("--tia-recipients", listed.back());
      }
      ctx.compliance.impact_assessment_recipients = std::move(listed);
    }
    if (!opt->tia_filed.empty()) {
      ctx.compliance.impact_assessment_filed_at = parse_instant(opt->tia_filed, "--tia-filed");
    }
    if (!opt->first_transfer.empty()) {
      ctx.compliance.first_cross_border_transfer =
          parse_instant(opt->first_transfer, "--first-transfer");
    }
    const consent_record record = load_consent_file(opt->consent);
    ctx.consent = &record;
    const consent_verdict v = settings.policy.evaluate(ctx);
    if (opt->json) {
      std::cout << to_json(v, 2) << '\n';
    } else {
      const std::optional<agreement_directory> dir =
          opt->agreements.empty()
              ? std::nullopt
              : std::optional<agreement_directory>(agreement_directory::load_file(opt->agreements));
      print_verdict(v, ctx, reader_language(opt->lang), dir ? &*dir : nullptr);
    }
    return opt->exit_code && !v.allowed() ? exit_refused : exit_ok;
  };
}

}  // namespace kakehashi::tool
