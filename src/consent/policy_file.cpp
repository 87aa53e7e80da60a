// The consent policy as data (docs/policy.md): packs, switched-off rules, flags, organisation
// compliance and payload classes, read strictly with every problem at once.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/fail.hpp"
#include "common/json_reader.hpp"
#include "kakehashi/consent_rules.hpp"

namespace kakehashi {
namespace {

using detail::json;
using detail::object_reader;
using detail::path_index;

constexpr std::string_view format_tag = "kakehashi.policy/1";

// The packs in the order consent_policy::standard() runs them.
const std::vector<std::pair<std::string_view, std::vector<consent_rule> (*)()>>& packs() {
  static const std::vector<std::pair<std::string_view, std::vector<consent_rule> (*)()>> all = {
      {"fhir", &fhir_rules},
      {"mou", &mou_rules},
      {"vietnam", &vietnam_rules},
      {"japan", &japan_rules}};
  return all;
}

std::string pack_names() {
  std::string out;
  for (const auto& [name, rules] : packs()) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

void read_flags(object_reader& f, policy_flags& flags) {
  if (auto v = f.boolean("vn_consent_form_is_written_request")) {
    flags.vn_consent_form_is_written_request = *v;
  }
  if (auto v = f.boolean("vn_transfer_agreement_warn_only")) {
    flags.vn_transfer_agreement_warn_only = *v;
  }
  if (auto v = f.integer("vn_impact_assessment_days", 1, 3650)) {
    flags.vn_impact_assessment_days = static_cast<int>(*v);
  }
  if (auto v = f.boolean("vn_new_recipient_needs_tia_update")) {
    flags.vn_new_recipient_needs_tia_update = *v;
  }
  if (auto v = f.boolean("vn_child_assent_conservative")) flags.vn_child_assent_conservative = *v;
  if (auto v = f.integer("jp_minor_threshold", 0, 25))
    flags.jp_minor_threshold = static_cast<int>(*v);
  if (auto v = f.integer("jp_check_interval_days", 1, 3650)) {
    flags.jp_check_interval_days = static_cast<int>(*v);
  }
  if (auto v = f.boolean("jp_strict_acquisition_consent")) {
    flags.jp_strict_acquisition_consent = *v;
  }
  if (auto v = f.boolean("jp_implied_consent_blocks_foreign")) {
    flags.jp_implied_consent_blocks_foreign = *v;
  }
  if (auto v = f.boolean("jp_withdrawal_stops_provision")) {
    flags.jp_withdrawal_stops_provision = *v;
  }
  if (auto v = f.boolean("vn_require_transfer_paper")) flags.vn_require_transfer_paper = *v;
  if (auto v = f.boolean("allow_emergency_basis")) flags.allow_emergency_basis = *v;
}

organisation_compliance read_compliance(object_reader& c) {
  organisation_compliance out;
  if (auto v = c.boolean("transfer_agreement")) out.transfer_agreement = *v;
  if (auto v = c.boolean("withdrawal_clause")) out.withdrawal_clause = *v;
  if (auto v = c.string("jp_equivalent_system_contract")) {
    out.jp_equivalent_system_contract = std::move(*v);
  }
  if (auto v = c.boolean("jp_periodic_check_problem")) out.jp_periodic_check_problem = *v;
  if (const json* r = c.member("impact_assessment_recipients"); r && !r->is_null()) {
    if (auto ids = c.strings("impact_assessment_recipients")) {
      std::vector<hospital_id> recipients;
      for (std::size_t i = 0; i < ids->size(); ++i) {
        if (!is_valid_id((*ids)[i])) {
          c.report(detail::path_index(c.path("impact_assessment_recipients"), i),
                   detail::bad_id_message(hospital_tag::kind, (*ids)[i]));
          continue;
        }
        recipients.push_back(hospital_id{(*ids)[i]});
      }
      out.impact_assessment_recipients = std::move(recipients);
    }
  }
  // null says "not yet", as leaving the key out does.
  for (const auto& [key, target] :
       {std::pair{"impact_assessment_filed_at", &out.impact_assessment_filed_at},
        std::pair{"first_cross_border_transfer", &out.first_cross_border_transfer},
        std::pair{"authority_stop_order_at", &out.authority_stop_order_at},
        std::pair{"jp_last_periodic_check_at", &out.jp_last_periodic_check_at}}) {
    if (const json* j = c.member(key); j && !j->is_null()) *target = c.instant_value(key);
  }
  return out;
}

}  // namespace

policy_load_result try_load_policy(std::string_view json_text) {
  policy_load_result result;
  auto& problems = result.problems;
  const auto doc = detail::parse_strict(json_text, problems);
  if (!doc) return result;
  object_reader root(
      *doc, "", problems, {"format"},
      {"description", "packs", "disabled_rules", "flags", "compliance", "payload_classes"});
  if (!root.ok()) return result;
  if (auto f = root.string("format"); f && *f != format_tag) {
    root.report("format", fmt::format("'{}' is not a format this version reads; expected '{}'",
                                      detail::printable(*f), format_tag));
  }
  root.string("description", true);

  policy_settings settings;
  policy_flags flags;
  if (const json* f = root.object("flags")) {
    object_reader fr(
        *f, "flags", problems, {},
        {"vn_consent_form_is_written_request", "vn_transfer_agreement_warn_only",
         "vn_impact_assessment_days", "vn_new_recipient_needs_tia_update",
         "vn_child_assent_conservative", "jp_minor_threshold", "jp_check_interval_days",
         "jp_strict_acquisition_consent", "jp_implied_consent_blocks_foreign",
         "jp_withdrawal_stops_provision", "vn_require_transfer_paper", "allow_emergency_basis"});
    read_flags(fr, flags);
  }

  // The packs, in the standard order whatever the file's order; each named once.
  std::set<std::string> chosen;
  if (auto names = root.strings("packs")) {
    for (std::size_t i = 0; i < names->size(); ++i) {
      const std::string& name = (*names)[i];
      const bool known = std::any_of(packs().begin(), packs().end(),
                                     [&](const auto& p) { return p.first == name; });
      if (!known) {
        root.report(path_index("packs", i), fmt::format("unknown pack '{}'; expected one of: {}",
                                                        detail::printable(name), pack_names()));
      } else if (!chosen.insert(name).second) {
        root.report(path_index("packs", i),
                    fmt::format("pack '{}' is listed twice", detail::printable(name)));
      }
    }
  } else if (!root.has("packs")) {
    for (const auto& [name, rules] : packs()) chosen.insert(std::string(name));
  }
  consent_policy policy;
  policy.set_flags(flags);
  for (const auto& [name, rules] : packs()) {
    if (!chosen.count(std::string(name))) continue;
    for (auto& r : rules()) policy.add(std::move(r));
  }
  if (auto ids = root.strings("disabled_rules")) {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < ids->size(); ++i) {
      const std::string& id = (*ids)[i];
      const auto& rules = policy.rules();
      const bool present = std::any_of(rules.begin(), rules.end(),
                                       [&](const consent_rule& r) { return r.id == id; });
      if (!seen.insert(id).second) {
        root.report(path_index("disabled_rules", i),
                    fmt::format("rule '{}' is listed twice", detail::printable(id)));
      } else if (!present) {
        std::string known;
        for (const auto& r : rules) known += (known.empty() ? "" : ", ") + r.id;
        root.report(path_index("disabled_rules", i),
                    fmt::format("no rule '{}' in the chosen packs; their rules: {}",
                                detail::printable(id), known.empty() ? "none" : known));
      } else {
        policy.remove(id);
      }
    }
  }
  settings.policy = std::move(policy);

  if (const json* c = root.object("compliance")) {
    for (const auto& [key, value] : c->items()) {
      const std::string path = detail::path_key("compliance", key);
      if (!is_valid_id(key)) {
        root.report(path, detail::bad_id_message(hospital_tag::kind, key));
        continue;
      }
      object_reader cr(value, path, problems, {"transfer_agreement"},
                       {"withdrawal_clause", "impact_assessment_filed_at",
                        "impact_assessment_recipients", "first_cross_border_transfer",
                        "authority_stop_order_at", "jp_equivalent_system_contract",
                        "jp_last_periodic_check_at", "jp_periodic_check_problem"});
      if (!cr.ok()) continue;
      settings.compliance[hospital_id{key}] = read_compliance(cr);
    }
  }
  if (auto classes = root.strings("payload_classes")) {
    if (classes->empty()) {
      root.report("payload_classes", "is empty; a referral sends at least one data class");
    } else {
      settings.payload_classes = *classes;
    }
  }
  if (problems.empty()) result.settings = std::move(settings);
  return result;
}

policy_settings load_policy(std::string_view json_text, std::string_view source_name) {
  auto result = try_load_policy(json_text);
  if (!result.ok()) {
    throw error(errc::invalid_argument, detail::join_problems(source_name, result.problems));
  }
  return std::move(*result.settings);
}

policy_settings load_policy_file(const std::string& path) {
  auto text = detail::read_file(path);
  if (!text) {
    detail::fail(errc::not_found, detail::printable(path, 200), "cannot read the policy file",
                 "pass the path of a readable JSON file (see docs/policy.md)");
  }
  return load_policy(*text, detail::printable(path, 200));
}

}  // namespace kakehashi
