#include "kakehashi/consent.hpp"

#include <algorithm>
#include <cctype>

#include "common/crypto.hpp"
#include "common/enum_names.hpp"
#include "common/fail.hpp"
#include "common/json_reader.hpp"
#include "consent/consent_digest.hpp"

namespace kakehashi {
namespace {

// clang-format off
constexpr detail::name_table<consent_status, 6> status_names{{
  {consent_status::draft,            "draft"},
  {consent_status::proposed,         "proposed"},
  {consent_status::active,           "active"},
  {consent_status::rejected,         "rejected"},
  {consent_status::inactive,         "inactive"},
  {consent_status::entered_in_error, "entered-in-error"},
}};
constexpr detail::name_table<consent_scope, 4> scope_names{{
  {consent_scope::patient_privacy, "patient-privacy"},
  {consent_scope::treatment,       "treatment"},
  {consent_scope::research,        "research"},
  {consent_scope::adr,             "adr"},
}};
constexpr detail::name_table<grantor_role, 5> grantor_names{{
  {grantor_role::patient,              "patient"},
  {grantor_role::legal_representative, "legal_representative"},
  {grantor_role::parent,               "parent"},
  {grantor_role::guardian,             "guardian"},
  {grantor_role::child_assent,         "child_assent"},
}};
constexpr detail::name_table<capacity_status, 5> capacity_names{{
  {capacity_status::full,                 "full"},
  {capacity_status::minor,                "minor"},
  {capacity_status::lost,                 "lost"},
  {capacity_status::restricted,           "restricted"},
  {capacity_status::cognitive_difficulty, "cognitive_difficulty"},
}};
constexpr detail::name_table<expression_method, 8> method_names{{
  {expression_method::written_signature,    "written_signature"},
  {expression_method::electronic_signature, "electronic_signature"},
  {expression_method::checkbox,             "checkbox"},
  {expression_method::voice_recording,      "voice_recording"},
  {expression_method::sms,                  "sms"},
  {expression_method::technical_setting,    "technical_setting"},
  {expression_method::verbal,               "verbal"},
  {expression_method::implied_notice,       "implied_notice"},
}};
constexpr detail::name_table<decision_maker_role, 4> decision_maker_names{{
  {decision_maker_role::patient,              "patient"},
  {decision_maker_role::prior_written_wishes, "prior_written_wishes"},
  {decision_maker_role::representative,       "representative"},
  {decision_maker_role::facility_lead,        "facility_lead"},
}};
// clang-format on

constexpr std::string_view format_tag = "kakehashi.consent/1";

using detail::json;
using detail::object_reader;
using detail::path_index;

template <class E, std::size_t N>
std::optional<E> read_enum(object_reader& r, std::string_view key,
                           const detail::name_table<E, N>& table, std::string_view what) {
  auto s = r.string(key);
  if (!s) return std::nullopt;
  if (auto v = detail::value_of(table, *s)) return v;
  std::string names;
  for (const auto& [v, name] : table) names += (names.empty() ? "" : ", ") + std::string(name);
  r.report(r.path(key),
           fmt::format("unknown {} '{}'; expected one of: {}", what, detail::printable(*s), names));
  return std::nullopt;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A policy identifier (STD-08): urn:oid: and an OID (digits and dots, starting 0, 1 or 2), or
// another URN or an http(s) address; printable ASCII without spaces, at most 256 characters.
bool is_policy_uri(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  if (!std::all_of(s.begin(), s.end(), [](char ch) { return ch > ' ' && ch < 0x7f; })) return false;
  constexpr std::string_view oid = "urn:oid:";
  if (s.rfind(oid, 0) == 0) {
    const std::string rest = s.substr(oid.size());
    if (rest.empty() || (rest[0] != '0' && rest[0] != '1' && rest[0] != '2')) return false;
    bool digit = false;
    for (char ch : rest) {
      if (ch == '.') {
        if (!digit) return false;
        digit = false;
      } else if (ch >= '0' && ch <= '9') {
        digit = true;
      } else {
        return false;
      }
    }
    return digit;
  }
  return s.rfind("urn:", 0) == 0 || s.rfind("https://", 0) == 0 || s.rfind("http://", 0) == 0;
}

consent_record read_consent(const json& doc, std::vector<load_problem>& problems) {
  consent_record c;
  object_reader r(doc, "", problems,
                  {"format", "id", "patient", "controller", "status", "scope", "captured_at",
                   "grantors", "purposes", "recipients", "data_classes", "expression", "notices"},
                  {"validity", "excluded_classes", "japan_art28_2", "written_request", "withdrawal",
                   "emergency", "treatment_decision", "privacy_policies"});
  if (!r.ok()) return c;
  if (auto f = r.string("format"); f && *f != format_tag) {
    r.report("format", fmt::format("'{}' is not a format this version reads; expected '{}'",
                                   detail::printable(*f), format_tag));
  }
  if (auto v = r.id<consent_tag>("id")) c.id = *v;
  if (auto v = r.id<hospital_tag>("controller")) c.controller = *v;
  if (auto v = read_enum(r, "status", status_names, "status")) c.status = *v;
  if (auto v = read_enum(r, "scope", scope_names, "scope")) c.scope = *v;
  if (auto v = r.instant_value("captured_at")) c.captured_at = *v;

  if (const json* p = r.object("patient")) {
    object_reader pr(*p, r.path("patient"), problems,
                     {"ref", "birth_date", "age_verified", "capacity"}, {"capacity_assessed"});
    if (auto v = pr.id<patient_tag>("ref")) c.patient = *v;
    c.birth_date = pr.date("birth_date", /*redact=*/true);
    if (auto v = pr.boolean("age_verified")) c.age_verified = *v;
    if (auto v = read_enum(pr, "capacity", capacity_names, "capacity")) c.capacity = *v;
    if (auto v = pr.boolean("capacity_assessed")) c.capacity_assessed = *v;
  }
  if (const json* gs = r.array("grantors")) {
    for (std::size_t i = 0; i < gs->size(); ++i) {
      object_reader g((*gs)[i], path_index(r.path("grantors"), i), problems, {"role", "person"},
                      {"authority_evidence"});
      grantor gr;
      if (auto v = read_enum(g, "role", grantor_names, "grantor role")) gr.role = *v;
      if (auto v = g.id<user_tag>("person")) gr.person = v->value();
      if (auto v = g.string("authority_evidence")) gr.authority_evidence = *v;
      c.grantors.push_back(std::move(gr));
    }
  }
  if (auto v = r.strings("purposes")) c.purposes = *v;
  if (const json* rs = r.array("recipients")) {
    for (std::size_t i = 0; i < rs->size(); ++i) {
      object_reader rr((*rs)[i], path_index(r.path("recipients"), i), problems,
                       {"organisation", "country"}, {"healthcare_provider"});
      consent_recipient rec;
      if (auto v = rr.id<hospital_tag>("organisation")) rec.organisation = *v;
      if (auto v = rr.string("country")) {
        if (v->size() == 2 && std::isupper(static_cast<unsigned char>((*v)[0])) &&
            std::isupper(static_cast<unsigned char>((*v)[1]))) {
          rec.country = *v;
        } else {
          rr.report(rr.path("country"), fmt::format("'{}' is not a country code; expected ISO "
                                                    "3166-1 alpha-2 in capitals, e.g. 'JP'",
                                                    detail::printable(*v)));
        }
      }
      if (auto v = rr.boolean("healthcare_provider")) rec.healthcare_provider = *v;
      c.recipients.push_back(std::move(rec));
    }
  }
  if (auto v = r.strings("data_classes")) c.data_classes = *v;
  if (auto v = r.strings("excluded_classes")) c.excluded_classes = *v;
  if (const json* v = r.object("validity")) {
    object_reader vr(*v, r.path("validity"), problems, {}, {"from", "until"});
    c.valid_from = vr.instant_value("from");
    c.valid_until = vr.instant_value("until");
    if (c.valid_from && c.valid_until && *c.valid_until < *c.valid_from) {
      vr.report(vr.path("until"),
                fmt::format("{} is before validity.from {}", to_iso8601(*c.valid_until),
                            to_iso8601(*c.valid_from)));
    }
  }
  if (const json* e = r.object("expression")) {
    object_reader er(*e, r.path("expression"), problems,
                     {"method", "affirmative_action", "pre_ticked"}, {"artifact_sha256"});
    if (auto v = read_enum(er, "method", method_names, "method")) c.method = *v;
    if (auto v = er.boolean("affirmative_action")) c.affirmative_action = *v;
    if (auto v = er.boolean("pre_ticked")) c.pre_ticked = *v;
    if (auto v = er.string("artifact_sha256")) {
      if (is_sha256_hex(*v)) {
        c.artifact_sha256 = *v;
      } else {
        er.report(er.path("artifact_sha256"),
                  fmt::format("'{}' is not a SHA-256 digest; expected 64 lower-case hex digits",
                              detail::printable(*v, 80)));
      }
    }
  }
  if (const json* n = r.object("notices")) {
    object_reader nr(*n, r.path("notices"), problems,
                     {"sensitive_data", "complaint_mechanism", "rights_obligations",
                      "recipient_acquisition", "languages"});
    if (auto v = nr.boolean("sensitive_data")) c.sensitive_data_notice = *v;
    if (auto v = nr.boolean("complaint_mechanism")) c.complaint_mechanism_notice = *v;
    if (auto v = nr.boolean("rights_obligations")) c.rights_notice = *v;
    if (auto v = nr.boolean("recipient_acquisition")) c.recipient_acquisition_notice = *v;
    if (auto v = nr.strings("languages")) c.languages = *v;
  }
  if (const json* j = r.object("japan_art28_2")) {
    object_reader jr(*j, r.path("japan_art28_2"), problems, {},
                     {"country", "country_unidentified_reason", "country_system_info",
                      "recipient_measures_info", "measures_unavailable_reason"});
    japan_foreign_provision_info info;
    if (auto v = jr.string("country")) info.country = *v;
    if (auto v = jr.string("country_unidentified_reason")) info.country_unidentified_reason = *v;
    if (auto v = jr.string("country_system_info")) info.country_system_info = *v;
    if (auto v = jr.string("recipient_measures_info")) info.recipient_measures_info = *v;
    if (auto v = jr.string("measures_unavailable_reason")) info.measures_unavailable_reason = *v;
    c.japan_art28_2 = std::move(info);
  }
  if (const json* w = r.object("written_request")) {
    object_reader wr(*w, r.path("written_request"), problems, {"reference", "date", "recipient"});
    kakehashi::written_request req;
    if (auto v = wr.string("reference")) req.reference = *v;
    if (auto v = wr.date("date")) req.date = *v;
    if (auto v = wr.id<hospital_tag>("recipient")) req.recipient = *v;
    c.written_request = std::move(req);
  }
  if (const json* w = r.object("withdrawal")) {
    object_reader wr(*w, r.path("withdrawal"), problems, {"received_at", "channel"});
    consent_withdrawal wd;
    if (auto v = wr.instant_value("received_at")) wd.received_at = *v;
    if (auto name = wr.string("channel")) {
      if (auto ch = parse_withdrawal_channel(*name)) {
        wd.channel = *ch;
      } else {
        wr.report(wr.path("channel"), fmt::format("unknown channel '{}'; expected one of: "
                                                  "written, verbal, electronic",
                                                  detail::printable(*name)));
      }
    }
    c.withdrawal = wd;
  }
  if (const json* e = r.object("emergency")) {
    object_reader er(*e, r.path("emergency"), problems,
                     {"justification", "clinician", "at", "consent_impracticable"},
                     {"why_consent_not_obtained"});
    emergency_basis eb;
    if (auto v = er.string("justification", true)) eb.justification = *v;
    if (auto v = er.id<user_tag>("clinician")) eb.clinician = *v;
    if (auto v = er.instant_value("at")) eb.at = *v;
    if (auto v = er.boolean("consent_impracticable")) eb.consent_impracticable = *v;
    if (auto v = er.string("why_consent_not_obtained", true)) eb.why_consent_not_obtained = *v;
    c.emergency = std::move(eb);
  }
  if (auto v = r.strings("privacy_policies")) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (is_policy_uri((*v)[i])) {
        c.privacy_policies.push_back((*v)[i]);
      } else {
        r.report(path_index(r.path("privacy_policies"), i),
                 fmt::format("'{}' is not a policy identifier; expected a URI such as "
                             "'urn:oid:1.2.3.4.5.1' or 'https://...'",
                             detail::printable((*v)[i], 80)));
      }
    }
  }
  if (const json* t = r.object("treatment_decision")) {
    object_reader tr(*t, r.path("treatment_decision"), problems, {"role", "person"},
                     {"authority_evidence"});
    kakehashi::treatment_decision td;
    if (auto v = read_enum(tr, "role", decision_maker_names, "decision maker role")) td.role = *v;
    if (auto v = tr.id<user_tag>("person")) td.person = v->value();
    if (auto v = tr.string("authority_evidence")) td.authority_evidence = *v;
    c.treatment_decision = std::move(td);
  }
  return c;
}

}  // namespace

std::string_view to_string(consent_status v) noexcept { return detail::name_of(status_names, v); }
std::string_view to_string(consent_scope v) noexcept { return detail::name_of(scope_names, v); }
std::string_view to_string(grantor_role v) noexcept { return detail::name_of(grantor_names, v); }
std::string_view to_string(capacity_status v) noexcept {
  return detail::name_of(capacity_names, v);
}
std::string_view to_string(expression_method v) noexcept {
  return detail::name_of(method_names, v);
}
std::string_view to_string(decision_maker_role v) noexcept {
  return detail::name_of(decision_maker_names, v);
}

bool consent_record::grants(std::string_view code) const {
  return std::find(purposes.begin(), purposes.end(), code) != purposes.end();
}

bool consent_record::names_recipient(const hospital_id& h) const {
  return std::any_of(recipients.begin(), recipients.end(),
                     [&](const consent_recipient& r) { return r.organisation == h; });
}

bool consent_record::has_grantor(grantor_role role) const {
  return std::any_of(grantors.begin(), grantors.end(),
                     [&](const grantor& g) { return g.role == role; });
}

std::optional<int> consent_record::age_on(date::year_month_day day) const {
  if (!birth_date) return std::nullopt;
  int age = static_cast<int>(day.year()) - static_cast<int>(birth_date->year());
  if (date::month_day{day.month(), day.day()} <
      date::month_day{birth_date->month(), birth_date->day()}) {
    --age;
  }
  return age;
}

consent_load_result try_load_consent(std::string_view json_text) {
  consent_load_result result;
  auto doc = detail::parse_strict(json_text, result.problems);
  if (!doc) return result;
  consent_record c = read_consent(*doc, result.problems);
  if (result.problems.empty()) result.record = std::move(c);
  return result;
}

consent_record load_consent(std::string_view json_text, std::string_view source_name) {
  auto result = try_load_consent(json_text);
  if (!result.ok()) {
    throw error(errc::invalid_argument, detail::join_problems(source_name, result.problems));
  }
  return std::move(*result.record);
}

consent_record load_consent_file(const std::string& path) {
  auto text = detail::read_file(path);
  if (!text) {
    detail::fail(errc::not_found, detail::printable(path, 200), "cannot read the consent file",
                 "pass the path of a readable JSON file (see docs/consent.md)");
  }
  return load_consent(*text, detail::printable(path, 200));
}

consent_record revoke(consent_record c, instant at, withdrawal_channel channel) {
  if (c.withdrawal) {
    detail::fail(errc::failed_precondition, "consent " + c.id.value(),
                 fmt::format("was already withdrawn at {}", to_iso8601(c.withdrawal->received_at)),
                 "a consent is withdrawn once; record a new consent to share again");
  }
  c.status = consent_status::inactive;
  c.withdrawal = consent_withdrawal{at, channel};
  return c;
}

namespace detail {

namespace {

std::int64_t seconds_of(instant at) { return at.time_since_epoch().count(); }

// Version 1 (kakehashi 0.1): kept exactly as it was, for referrals recorded with it.
std::string consent_digest_v1(const consent_record& c) {
  json j = {{"id", c.id.value()},
            {"patient", c.patient.value()},
            {"controller", c.controller.value()},
            {"status", std::string(to_string(c.status))},
            {"scope", std::string(to_string(c.scope))},
            {"captured_at", seconds_of(c.captured_at)},
            {"birth_date", c.birth_date ? date::format("%F", *c.birth_date) : std::string()},
            {"age_verified", c.age_verified},
            {"capacity", std::string(to_string(c.capacity))},
            {"purposes", c.purposes},
            {"data_classes", c.data_classes},
            {"excluded_classes", c.excluded_classes},
            {"method", std::string(to_string(c.method))},
            {"artifact", c.artifact_sha256},
            {"languages", c.languages},
            {"withdrawn", c.withdrawal ? seconds_of(c.withdrawal->received_at) : -1}};
  json grantors = json::array();
  for (const auto& g : c.grantors) {
    grantors.push_back({std::string(to_string(g.role)), g.person, g.authority_evidence});
  }
  j["grantors"] = grantors;
  json recipients = json::array();
  for (const auto& r : c.recipients) recipients.push_back({r.organisation.value(), r.country});
  j["recipients"] = recipients;
  return detail::sha256_hex(j.dump());
}

json optional_instant(const std::optional<instant>& at) {
  return at ? json(seconds_of(*at)) : json(nullptr);
}

}  // namespace

std::string consent_digest(const consent_record& c) {
  // Every field of consent_record, in a JSON whose keys nlohmann sorts: the same record always
  // gives the same text. A field added to consent_record must be added here (consent_test.cpp
  // changes each field in turn and expects another digest).
  json j = {
      {"digest", "kakehashi.consent-digest/2"},
      {"id", c.id.value()},
      {"patient", c.patient.value()},
      {"controller", c.controller.value()},
      {"status", std::string(to_string(c.status))},
      {"scope", std::string(to_string(c.scope))},
      {"captured_at", seconds_of(c.captured_at)},
      {"valid_from", optional_instant(c.valid_from)},
      {"valid_until", optional_instant(c.valid_until)},
      {"birth_date", c.birth_date ? json(date::format("%F", *c.birth_date)) : json(nullptr)},
      {"age_verified", c.age_verified},
      {"capacity", std::string(to_string(c.capacity))},
      {"capacity_assessed", c.capacity_assessed},
      {"purposes", c.purposes},
      {"data_classes", c.data_classes},
      {"excluded_classes", c.excluded_classes},
      {"method", std::string(to_string(c.method))},
      {"affirmative_action", c.affirmative_action},
      {"pre_ticked", c.pre_ticked},
      {"artifact", c.artifact_sha256},
      {"notices",
       {{"sensitive_data", c.sensitive_data_notice},
        {"complaint_mechanism", c.complaint_mechanism_notice},
        {"rights", c.rights_notice},
        {"recipient_acquisition", c.recipient_acquisition_notice}}},
      {"languages", c.languages},
      {"japan_art28_2", nullptr},
      {"written_request", nullptr},
      {"withdrawal", nullptr},
      {"emergency", nullptr}};
  json grantors = json::array();
  for (const auto& g : c.grantors) {
    grantors.push_back({std::string(to_string(g.role)), g.person, g.authority_evidence});
  }
  j["grantors"] = grantors;
  json recipients = json::array();
  for (const auto& r : c.recipients) {
    recipients.push_back({r.organisation.value(), r.country, r.healthcare_provider});
  }
  j["recipients"] = recipients;
  if (const auto& a = c.japan_art28_2) {
    j["japan_art28_2"] = {a->country, a->country_unidentified_reason, a->country_system_info,
                          a->recipient_measures_info, a->measures_unavailable_reason};
  }
  if (const auto& w = c.written_request) {
    j["written_request"] = {w->reference, date::format("%F", w->date), w->recipient.value()};
  }
  if (const auto& w = c.withdrawal) {
    j["withdrawal"] = {seconds_of(w->received_at), std::string(to_string(w->channel))};
  }
  if (const auto& e = c.emergency) {
    j["emergency"] = {e->justification, e->clinician.value(), seconds_of(e->at),
                      e->consent_impracticable, e->why_consent_not_obtained};
  }
  // Added after the format's first release: present only when recorded, so that the digests
  // recorded before it still match the same records.
  if (!c.privacy_policies.empty()) j["privacy_policies"] = c.privacy_policies;
  if (const auto& t = c.treatment_decision) {
    j["treatment_decision"] = {std::string(to_string(t->role)), t->person, t->authority_evidence};
  }
  return "2:" + detail::sha256_hex(j.dump());
}

bool consent_digest_matches(const consent_record& c, std::string_view stored) {
  const std::string mine =
      stored.rfind("2:", 0) == 0 ? consent_digest(c) : consent_digest_v1(c);
  return detail::equal_constant_time(mine, stored);
}
}  // namespace detail

}  // namespace kakehashi
