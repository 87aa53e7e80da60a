#include "kakehashi/testing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <sstream>

#include "common/fail.hpp"

namespace kakehashi::testing {
namespace {

const char* const default_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

date::year_month_day parse_day(std::string_view text) {
  // Reuses the instant parser so a malformed date in a test fails loudly, naming the value.
  const instant at = parse_instant(std::string(text) + "T00:00:00Z", "testing date");
  return date::year_month_day{date::floor<date::days>(at)};
}

std::string describe(const consent_verdict& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

consent_builder::consent_builder() {
  consent_record& c = record_;
  c.id = consent_ref{"C-TEST-1"};
  c.patient = patient_ref{"P-TEST-1"};
  c.controller = hospital_id{"bach-mai"};
  c.status = consent_status::active;
  c.scope = consent_scope::patient_privacy;
  c.captured_at = parse_instant("2026-01-10T09:00:00+07:00");
  c.birth_date = date::year{1970} / 5 / 20;
  c.age_verified = true;
  c.capacity = capacity_status::full;
  c.grantors = {{grantor_role::patient, "P-TEST-1", ""}};
  c.purposes = {std::string(purpose::cross_border_referral), std::string(purpose::results_return),
                std::string(purpose::treatment)};
  c.recipients = {{hospital_id{"shonan-kamakura"}, "JP", true}};
  c.data_classes = {"diagnosis", "imaging", "pathology", "lab_results"};
  c.method = expression_method::written_signature;
  c.affirmative_action = true;
  c.pre_ticked = false;
  c.artifact_sha256 = default_hash;
  c.sensitive_data_notice = true;
  c.complaint_mechanism_notice = true;
  c.rights_notice = true;
  c.recipient_acquisition_notice = true;
  c.languages = {"vi", "ja"};
  c.japan_art28_2 = japan_foreign_provision_info{
      "VN", "", "PPC-published summary of Vietnam's Law 91/2025 (vi/ja, 2026-01 edition)",
      "Bach Mai data-protection measures statement (2026-01)", ""};
  c.written_request = kakehashi::written_request{"WR-TEST-1", date::year{2026} / 1 / 10,
                                                 hospital_id{"shonan-kamakura"}};
}

consent_builder& consent_builder::id(std::string v) {
  record_.id = consent_ref{std::move(v)};
  return *this;
}
consent_builder& consent_builder::patient(std::string ref) {
  for (auto& g : record_.grantors) {
    if (g.role == grantor_role::patient && g.person == record_.patient.value()) g.person = ref;
  }
  record_.patient = patient_ref{std::move(ref)};
  return *this;
}
consent_builder& consent_builder::controller(std::string h) {
  record_.controller = hospital_id{std::move(h)};
  return *this;
}
consent_builder& consent_builder::status(consent_status v) {
  record_.status = v;
  return *this;
}
consent_builder& consent_builder::scope(consent_scope v) {
  record_.scope = v;
  return *this;
}
consent_builder& consent_builder::captured_at(std::string_view t) {
  record_.captured_at = parse_instant(t, "captured_at");
  return *this;
}
consent_builder& consent_builder::valid_from(std::string_view t) {
  record_.valid_from = parse_instant(t, "valid_from");
  return *this;
}
consent_builder& consent_builder::valid_until(std::string_view t) {
  record_.valid_until = parse_instant(t, "valid_until");
  return *this;
}
consent_builder& consent_builder::born(date::year_month_day d) {
  record_.birth_date = d;
  return *this;
}
consent_builder& consent_builder::aged(int years, std::string_view on) {
  const date::year_month_day day = parse_day(on);
  const date::year_month_day birthday{day.year() - date::years{years}, day.month(), day.day()};
  // A birthday on 29 February in a non-leap year falls back to 28 February.
  const date::year_month_day valid =
      birthday.ok() ? birthday
                    : date::year_month_day{birthday.year() / birthday.month() / date::last};
  record_.birth_date = date::year_month_day{date::sys_days{valid} - date::days{1}};
  return *this;
}
consent_builder& consent_builder::age_verified(bool v) {
  record_.age_verified = v;
  return *this;
}
consent_builder& consent_builder::capacity(capacity_status v) {
  record_.capacity = v;
  return *this;
}
consent_builder& consent_builder::capacity_assessed(bool v) {
  record_.capacity_assessed = v;
  return *this;
}
consent_builder& consent_builder::given_by(std::vector<grantor_role> roles) {
  record_.grantors.clear();
  for (auto r : roles)
    add_grantor(r, r == grantor_role::patient || r == grantor_role::child_assent
                       ? ""
                       : "birth-certificate-ref");
  return *this;
}
consent_builder& consent_builder::add_grantor(grantor_role role, std::string evidence) {
  record_.grantors.push_back(
      {role, "person-" + std::to_string(record_.grantors.size() + 1), std::move(evidence)});
  return *this;
}
consent_builder& consent_builder::purposes(std::vector<std::string> v) {
  record_.purposes = std::move(v);
  return *this;
}
consent_builder& consent_builder::without_purpose(std::string_view code) {
  auto& p = record_.purposes;
  p.erase(std::remove(p.begin(), p.end(), code), p.end());
  return *this;
}
consent_builder& consent_builder::recipients(std::vector<consent_recipient> v) {
  record_.recipients = std::move(v);
  return *this;
}
consent_builder& consent_builder::data_classes(std::vector<std::string> v) {
  record_.data_classes = std::move(v);
  return *this;
}
consent_builder& consent_builder::excluding(std::vector<std::string> v) {
  record_.excluded_classes = std::move(v);
  return *this;
}
consent_builder& consent_builder::method(expression_method v) {
  record_.method = v;
  return *this;
}
consent_builder& consent_builder::no_artifact() {
  record_.artifact_sha256.clear();
  return *this;
}
consent_builder& consent_builder::affirmative(bool v) {
  record_.affirmative_action = v;
  return *this;
}
consent_builder& consent_builder::pre_ticked(bool v) {
  record_.pre_ticked = v;
  return *this;
}
consent_builder& consent_builder::sensitive_notice(bool v) {
  record_.sensitive_data_notice = v;
  return *this;
}
consent_builder& consent_builder::complaint_notice(bool v) {
  record_.complaint_mechanism_notice = v;
  return *this;
}
consent_builder& consent_builder::rights_notice(bool v) {
  record_.rights_notice = v;
  return *this;
}
consent_builder& consent_builder::acquisition_notice(bool v) {
  record_.recipient_acquisition_notice = v;
  return *this;
}
consent_builder& consent_builder::languages(std::vector<std::string> v) {
  record_.languages = std::move(v);
  return *this;
}
consent_builder& consent_builder::japan_info(japan_foreign_provision_info v) {
  record_.japan_art28_2 = std::move(v);
  return *this;
}
consent_builder& consent_builder::without_japan_info() {
  record_.japan_art28_2.reset();
  return *this;
}
consent_builder& consent_builder::written_request_for(std::string h) {
  record_.written_request =
      kakehashi::written_request{"WR-TEST-1", date::year{2026} / 1 / 10, hospital_id{std::move(h)}};
  return *this;
}
consent_builder& consent_builder::without_written_request() {
  record_.written_request.reset();
  return *this;
}
consent_builder& consent_builder::withdrawn_at(std::string_view t, withdrawal_channel channel) {
  record_.withdrawal = consent_withdrawal{parse_instant(t, "withdrawn_at"), channel};
  return *this;
}
consent_builder& consent_builder::emergency(std::string justification, bool impracticable,
                                            std::string clinician) {
  record_.emergency =
      emergency_basis{std::move(justification), user_id{std::move(clinician)}, record_.captured_at,
                      impracticable, "patient unconscious; family not reachable"};
  return *this;
}

consent_builder& consent_builder::acknowledged_policies(std::vector<std::string> uris) {
  record_.privacy_policies = std::move(uris);
  return *this;
}
consent_builder& consent_builder::treatment_decided_by(decision_maker_role role, std::string person,
                                                       std::string authority_evidence) {
  record_.treatment_decision =
      treatment_decision{role, std::move(person), std::move(authority_evidence)};
  return *this;
}

consent_builder valid_consent() { return consent_builder{}; }

context_builder::context_builder() {
  ctx_.origin = hospital_id{"bach-mai"};
  ctx_.origin_country = "VN";
  ctx_.destination = hospital_id{"shonan-kamakura"};
  ctx_.destination_country = "JP";
  ctx_.flow = data_flow::outbound;
  ctx_.action = "transfer";
  ctx_.at = parse_instant("2026-03-01T00:00:00Z");
  ctx_.compliance.transfer_agreement = true;
  ctx_.compliance.withdrawal_clause = true;
  ctx_.compliance.impact_assessment_filed_at = parse_instant("2026-01-05T00:00:00Z");
}
context_builder& context_builder::from(std::string h, std::string country) {
  ctx_.origin = hospital_id{std::move(h)};
  ctx_.origin_country = std::move(country);
  return *this;
}
context_builder& context_builder::to(std::string h, std::string country) {
  ctx_.destination = hospital_id{std::move(h)};
  ctx_.destination_country = std::move(country);
  return *this;
}
context_builder& context_builder::flow(data_flow v) {
  ctx_.flow = v;
  return *this;
}
context_builder& context_builder::action(std::string v) {
  ctx_.action = std::move(v);
  return *this;
}
context_builder& context_builder::at(std::string_view t) {
  ctx_.at = parse_instant(t, "at");
  return *this;
}
context_builder& context_builder::payload(std::vector<std::string> v) {
  ctx_.payload_classes = std::move(v);
  return *this;
}
context_builder& context_builder::compliance(organisation_compliance v) {
  ctx_.compliance = v;
  return *this;
}
context_builder& context_builder::patient_mediated(bool v) {
  ctx_.patient_mediated = v;
  return *this;
}
context_builder& context_builder::documents(std::vector<document_kind> kinds) {
  ctx_.documents = std::move(kinds);
  return *this;
}
consent_context context_builder::with(const consent_record& consent) const {
  consent_context c = ctx_;
  c.consent = &consent;
  return c;
}
consent_context context_builder::without_consent() const {
  consent_context c = ctx_;
  c.consent = nullptr;
  return c;
}

context_builder referral_context() { return context_builder{}; }

std::ostream& operator<<(std::ostream& os, const expectation& e) {
  return os << (e.passed ? "as expected" : "NOT as expected: ") << e.explanation;
}

expectation allows(const consent_policy& policy, const consent_context& ctx) {
  const consent_verdict v = policy.evaluate(ctx);
  return {v.allowed(), "expected allow, got " + describe(v)};
}

expectation blocks(const consent_policy& policy, const consent_context& ctx,
                   std::string_view rule_id, std::string_view code) {
  const consent_verdict v = policy.evaluate(ctx);
  const bool ok = !v.allowed() && v.blocked_by(rule_id, code);
  return {ok, fmt::format("expected block by {}{}, got {}", rule_id,
                          code.empty() ? std::string() : " " + std::string(code), describe(v))};
}

expectation reports(const consent_policy& policy, const consent_context& ctx,
                    std::string_view rule_id, rule_effect effect, std::string_view code) {
  const consent_verdict v = policy.evaluate(ctx);
  const bool ok = std::any_of(v.findings.begin(), v.findings.end(), [&](const finding& f) {
    return f.rule_id == rule_id && f.effect == effect && (code.empty() || f.code == code);
  });
  return {ok, fmt::format("expected a {} finding of {}{}, got {}", to_string(effect), rule_id,
                          code.empty() ? std::string() : " " + std::string(code), describe(v))};
}

}  // namespace kakehashi::testing

namespace kakehashi::testing {

expectation due(duty_kind kind, std::string_view country, std::string_view received,
                std::string_view acknowledge_by, std::string_view complete_by) {
  const duty_deadlines d = deadlines_for(kind, country, parse_instant(received, "received"));
  const auto shown = [](const std::optional<instant>& t) {
    return t ? to_iso8601(*t) : std::string("none");
  };
  const auto expected = [](std::string_view text, const char* field) {
    return text.empty() ? std::string("none") : to_iso8601(parse_instant(text, field));
  };
  const std::string want_ack = expected(acknowledge_by, "acknowledge_by");
  const std::string want_done = expected(complete_by, "complete_by");
  expectation e;
  e.passed = shown(d.acknowledge_by) == want_ack && shown(d.complete_by) == want_done;
  if (!e.passed) {
    e.explanation = fmt::format(
        "{} duty in {}, received {}: expected acknowledge by {} and complete by {}, the engine "
        "records {} and {}{}",
        to_string(kind), country, received, want_ack, want_done, shown(d.acknowledge_by),
        shown(d.complete_by), d.problem.empty() ? "" : " (" + d.problem + ")");
  }
  return e;
}

}  // namespace kakehashi::testing
