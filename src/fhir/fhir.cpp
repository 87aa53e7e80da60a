// FHIR R4 export and Consent import (docs/fhir.md is the mapping, element by element).
#include "kakehashi/fhir.hpp"

#include <date/date.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/crypto.hpp"
#include "common/document_json.hpp"
#include "common/fail.hpp"
#include "consent/consent_digest.hpp"
#include "kakehashi/vocabulary.hpp"

namespace kakehashi::fhir {

using json = nlohmann::ordered_json;

namespace {

// ---- code systems --------------------------------------------------------------------------

constexpr const char* snomed = "http://snomed.info/sct";
constexpr const char* loinc = "http://loinc.org";
constexpr const char* consent_scope_system = "http://terminology.hl7.org/CodeSystem/consentscope";
constexpr const char* consent_action_system =
    "http://terminology.hl7.org/CodeSystem/consentaction";
constexpr const char* v3_act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr const char* v3_act_reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
constexpr const char* v3_participation =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
constexpr const char* v3_data_operation =
    "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
constexpr const char* task_code_system = "http://hl7.org/fhir/CodeSystem/task-code";
constexpr const char* dicom = "http://dicom.nema.org/resources/ontology/DCM";
constexpr const char* source_type_system =
    "http://terminology.hl7.org/CodeSystem/security-source-type";
constexpr const char* entity_type_system =
    "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr const char* object_role_system = "http://terminology.hl7.org/CodeSystem/object-role";
constexpr const char* provenance_agent_system =
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type";

json coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  json c = {{"system", system}, {"code", code}};
  if (!display.empty()) c["display"] = display;
  return c;
}
json concept_of(json coding_value, std::string_view text = {}) {
  json c = {{"coding", json::array({std::move(coding_value)})}};
  if (!text.empty()) c["text"] = text;
  return c;
}

// A UUID (RFC 9562 version 8: custom) derived from SHA-256 of a kakehashi name: the same referral
// exports the same resource ids every time, and no id carries kakehashi's own characters.
std::string uuid_for(std::string_view kind, std::string_view key) {
  std::string name = "kakehashi";
  detail::append_field(name, kind);
  detail::append_field(name, key);
  std::string h = detail::sha256_hex(name).substr(0, 32);
  h[12] = '8';
  h[16] = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

// ---- export ----------------------------------------------------------------------------------

// How resources refer to each other: inside a Bundle by urn:uuid:, alone by identifier.
class context {
 public:
  context(const options& o, bool in_bundle) : o_(o), in_bundle_(in_bundle) {}
  std::string system(std::string_view kind) const { return o_.system_base + std::string(kind); }
  /// A code of one of kakehashi's code systems, with its English display (vocabulary.hpp) when
  /// the vocabulary has the code.
  json coded(std::string_view kind, std::string_view code) const {
    json c = {{"system", system(kind)}, {"code", code}};
    if (auto d = vocabulary::display(kind, code)) c["display"] = *d;
    return c;
  }
  json identifier(std::string_view kind, std::string_view value) const {
    return {{"system", system(kind)}, {"value", value}};
  }
  json reference(std::string_view type, std::string_view kind, std::string_view value) const {
    if (in_bundle_) return {{"reference", "urn:uuid:" + uuid_for(type, value)}, {"type", type}};
    return {{"type", type}, {"identifier", identifier(kind, value)}};
  }
  json organization(const hospital_id& h) const {
    return reference("Organization", "hospital", h.value());
  }
  json patient(const patient_ref& p) const {  // never a resource: the pseudonymous id only
    return {{"type", "Patient"}, {"identifier", identifier("patient", p.value())}};
  }
  json referral(const referral_id& id) const {
    return reference("ServiceRequest", "referral", id.value());
  }
  /// Another referral's ServiceRequest (onward referral): never in this referral's Bundle, so
  /// always by identifier.
  json other_referral(const referral_id& id) const {
    return {{"type", "ServiceRequest"}, {"identifier", identifier("referral", id.value())}};
  }
  json consent(const consent_ref& c, bool exported) const {
    if (in_bundle_ && exported) return reference("Consent", "consent", c.value());
    return {{"type", "Consent"}, {"identifier", identifier("consent", c.value())}};
  }
  bool in_bundle() const { return in_bundle_; }

 private:
  const options& o_;
  bool in_bundle_;
};

std::string state_code(const referral_snapshot& s) {
  std::string code(to_string(s.state));
  std::replace(code.begin(), code.end(), '_', '-');
  return code;
}

// The agreement the referral was opened under: its propose row says.
const agreement* agreement_of(const referral_export& r) {
  for (const auto& row : r.history) {
    if (row.command != "propose" || row.outcome != audit_outcome::success) continue;
    const auto d = nlohmann::json::parse(row.details, nullptr, false);
    if (d.is_object() && d.contains("agreement") && d["agreement"].is_string()) {
      return r.agreements.find_agreement(agreement_id{d["agreement"].get<std::string>()});
    }
  }
  return nullptr;
}

// The last successful row of `command`, if any.
const audit_entry* last_row(const referral_export& r, std::string_view command) {
  const audit_entry* found = nullptr;
  for (const auto& row : r.history) {
    if (row.command == command && row.outcome == audit_outcome::success) found = &row;
  }
  return found;
}

std::string detail_string(const audit_entry& row, const char* key) {
  const auto d = nlohmann::json::parse(row.details, nullptr, false);
  if (!d.is_object() || !d.contains(key) || !d[key].is_string()) return {};
  return d[key].get<std::string>();
}

// The LOINC document type of a kind, where LOINC has one (document.hpp lists them).
const char* loinc_document_type(document_kind k, const char** display) {
  struct entry {
    document_kind kind;
    const char* code;
    const char* display;
  };
  static constexpr entry table[] = {
      {document_kind::referral_letter, "57133-1", "Referral note"},
      {document_kind::imaging, "18748-4", "Diagnostic imaging study"},
      {document_kind::pathology_report, "11526-1", "Pathology study"},
      {document_kind::laboratory_report, "11502-2", "Laboratory report"},
      {document_kind::discharge_summary, "18842-5", "Discharge summary"},
      {document_kind::treatment_plan, "18776-5", "Plan of care note"},
      {document_kind::consent_form, "59284-0", "Consent Document"},
  };
  for (const auto& e : table) {
    if (e.kind == k) {
      *display = e.display;
      return e.code;
    }
  }
  return nullptr;
}

// Documents by reference in the referral's successful `command` rows: attach_document's
// details.document (the documents it carries), return_results' details.documents (those the
// destination returned).
std::vector<std::pair<const audit_entry*, document_ref>> documents_in(const referral_export& r,
                                                                      std::string_view command) {
  std::vector<std::pair<const audit_entry*, document_ref>> out;
  const bool many = command == "return_results";
  const char* member = many ? "documents" : "document";
  for (const auto& row : r.history) {
    if (row.command != command || row.outcome != audit_outcome::success) continue;
    const auto d = nlohmann::json::parse(row.details, nullptr, false);
    if (!d.is_object() || !d.contains(member)) continue;
    const std::string field = fmt::format("history row {}.details.{}", row.seq, member);
    if (!many) {
      out.emplace_back(&row, detail::document_from_json(d[member], field));
    } else if (d[member].is_array()) {
      for (auto& doc : detail::documents_from_json(d[member], field)) {
        out.emplace_back(&row, std::move(doc));
      }
    }
  }
  return out;
}
std::vector<std::pair<const audit_entry*, document_ref>> attached_documents(
    const referral_export& r) {
  return documents_in(r, "attach_document");
}
std::vector<std::pair<const audit_entry*, document_ref>> returned_documents(
    const referral_export& r) {
  return documents_in(r, "return_results");
}

std::string document_key(const referral_id& r, const document_id& d) {
  return r.value() + "/" + d.value();
}

void check_export(const referral_export& r) {
  for (const auto& row : r.history) {
    if (row.referral != r.referral.id) {
      detail::fail(errc::invalid_argument, "history",
                   fmt::format("row {} belongs to referral {}, not {}", row.seq,
                               detail::printable(row.referral.value()), r.referral.id.value()),
                   "pass the referral's own history");
    }
  }
  r.agreements.hospital_at("referral.origin", r.referral.origin);
  r.agreements.hospital_at("referral.destination", r.referral.destination);
  if (r.consent && r.consent->id != r.referral.consent) {
    detail::fail(errc::invalid_argument, "consent",
                 fmt::format("{} is not the consent the referral relies on ({})",
                             r.consent->id.value(),
                             r.referral.consent.value().empty() ? "none recorded"
                                                                : r.referral.consent.value()),
                 "pass the recorded consent, or none");
  }
  if (r.consent) {
    const audit_entry* recorded = last_row(r, "record_consent");
    if (!recorded ||
        !detail::consent_digest_matches(*r.consent, detail_string(*recorded, "digest"))) {
      detail::fail(errc::invalid_argument, "consent",
                   fmt::format("{} differs from the consent recorded under that id (its digest "
                               "does not match the audit log's)",
                               r.consent->id.value()),
                   "pass the consent record exactly as it was recorded");
    }
  }
}

json service_request_json(const referral_export& r, const context& cx) {
  const referral_snapshot& s = r.referral;
  const bool closed = s.state == referral_state::closed;
  json sr = {
      {"resourceType", "ServiceRequest"},
      {"id", uuid_for("ServiceRequest", s.id.value())},
      {"identifier", json::array({cx.identifier("referral", s.id.value())})},
      {"status", !closed                               ? "active"
                 : s.reason == close_reason::completed ? "completed"
                                                       : "revoked"},
      {"intent", "order"},
      {"category", json::array({concept_of(coding(snomed, "3457005", "Patient referral"))})},
      {"code", concept_of(coding(snomed, "3457005", "Patient referral"),
                          "Referral for " + s.specialty.value())},
      {"subject", cx.patient(s.patient)},
      {"authoredOn", to_iso8601(s.proposed_at)},
      {"requester", cx.organization(s.origin)},
      {"performer", json::array({cx.organization(s.destination)})},
      {"reasonCode",
       json::array({concept_of(cx.coded("specialty", s.specialty.value()), s.specialty.value())})}};
  json supporting = json::array();
  if (!s.consent.value().empty()) supporting.push_back(cx.consent(s.consent, r.consent != nullptr));
  for (const auto& [row, d] : attached_documents(r)) {
    supporting.push_back(
        cx.reference("DocumentReference", "referral-document", document_key(s.id, d.id)));
  }
  if (!supporting.empty()) sr["supportingInfo"] = supporting;
  // Onward referral: re-routing creates a replacement request (the old one is revoked).
  if (s.replaces) sr["replaces"] = json::array({cx.other_referral(*s.replaces)});
  return sr;
}

}  // namespace

// Task.status per docs/fhir.md: the FHIR task state machine's names for kakehashi's states.
std::string_view task_status(const referral_snapshot& s) noexcept {
  switch (s.state) {
    case referral_state::proposed:
    case referral_state::consent_recorded:
      return "requested";
    case referral_state::accepted:
      return "accepted";
    case referral_state::transferred:
      return "in-progress";
    case referral_state::closed:
      break;
  }
  if (!s.reason) return "cancelled";  // a closed referral always has its reason
  switch (*s.reason) {
    case close_reason::completed:
      return "completed";
    case close_reason::declined:
      return "rejected";
    case close_reason::cancelled:
    case close_reason::consent_withdrawn:
    case close_reason::expired:
      return "cancelled";
  }
  return "cancelled";
}

namespace {

json task_json(const referral_export& r, const context& cx) {
  const referral_snapshot& s = r.referral;
  json business = concept_of(cx.coded("state", state_code(s)));
  if (s.consent_withdrawn && s.state != referral_state::closed) {
    business["coding"].push_back(cx.coded("state", "consent-withdrawn"));
  }
  if (s.replaced_by) business["coding"].push_back(cx.coded("state", "referred-onward"));
  json t = {{"resourceType", "Task"},
            {"id", uuid_for("Task", s.id.value())},
            {"identifier", json::array({cx.identifier("referral", s.id.value())})},
            {"basedOn", json::array({cx.referral(s.id)})},
            {"status", task_status(s)},
            {"businessStatus", business},
            {"intent", "order"},
            {"code", concept_of(coding(task_code_system, "fulfill", "Fulfill the focal request"))},
            {"focus", cx.referral(s.id)},
            {"for", cx.patient(s.patient)},
            {"authoredOn", to_iso8601(s.proposed_at)},
            {"lastModified", to_iso8601(std::max(s.updated_at, s.proposed_at))},
            {"requester", cx.organization(s.origin)},
            {"owner", cx.organization(s.destination)}};
  if (s.state == referral_state::closed) {
    std::string reason(to_string(*s.reason));
    json status_reason = concept_of(cx.coded("close-reason", reason), reason);
    // The coded reason the destination or the origin gave, from the closing row.
    const char* command = *s.reason == close_reason::declined    ? "decline"
                          : *s.reason == close_reason::cancelled ? "cancel"
                                                                 : nullptr;
    if (command) {
      if (const audit_entry* row = last_row(r, command)) {
        const std::string code = detail_string(*row, "reason");
        if (!code.empty()) {
          status_reason["coding"].push_back(cx.coded(
              std::string(command) == "decline" ? "decline-reason" : "cancel-reason", code));
        }
      }
    }
    t["statusReason"] = status_reason;
  }
  // executionPeriod: from the destination's acceptance to the referral's close.
  json period = json::object();
  if (const audit_entry* accepted = last_row(r, "accept")) {
    period["start"] = to_iso8601(accepted->occurred_at);
  }
  if (s.state == referral_state::closed) period["end"] = to_iso8601(s.updated_at);
  if (!period.empty()) t["executionPeriod"] = period;
  const agreement* a = agreement_of(r);
  if (a && a->response_deadline_days) {
    t["restriction"] = {
        {"period",
         {{"end", to_iso8601(s.proposed_at + date::days{*a->response_deadline_days})}}}};
  }
  json inputs = json::array();
  if (a) {
    inputs.push_back({{"type", concept_of(cx.coded("task-input", "agreement"), "agreement")},
                      {"valueIdentifier", cx.identifier("agreement", a->id.value())}});
  }
  // The specialty asked for: what a Task created through kakehashi serve carries too.
  inputs.push_back(
      {{"type", concept_of(cx.coded("task-input", "specialty"), "specialty")},
       {"valueCodeableConcept", concept_of(cx.coded("specialty", s.specialty.value()))}});
  t["input"] = inputs;
  json outputs = json::array();
  // The milestones recorded before the journey, in order (when each was recorded: its
  // AuditEvent).
  for (const auto& row : r.history) {
    if (row.command != "record_milestone" || row.outcome != audit_outcome::success) continue;
    const std::string code = detail_string(row, "milestone");
    if (code.empty()) continue;
    outputs.push_back({{"type", concept_of(cx.coded("task-output", "milestone"), "milestone")},
                       {"valueCodeableConcept", concept_of(cx.coded("milestone", code))}});
  }
  // The results returned to the referring hospital: the loop closed.
  for (const auto& [row, d] : returned_documents(r)) {
    outputs.push_back({{"type", concept_of(cx.coded("task-output", "results"), "results returned")},
                       {"valueReference", cx.reference("DocumentReference", "referral-document",
                                                       document_key(s.id, d.id))}});
  }
  // A declined or expired referral that was sent on: the onward request is its output, as a
  // fulfiller's alternative proposal is.
  if (s.replaced_by) {
    outputs.push_back(
        {{"type", concept_of(cx.coded("task-output", "onward-referral"), "onward referral")},
         {"valueReference", cx.other_referral(*s.replaced_by)}});
  }
  if (!outputs.empty()) t["output"] = outputs;
  return t;
}

// A document by reference: kind (kakehashi's code and LOINC's type), the content's media type,
// language and size, its SHA-256 in an extension (Attachment.hash is SHA-1 in R4), never the
// content; the referral it supports in context.related.
json document_reference_json(const referral_snapshot& s, const audit_entry& row,
                             const document_ref& d, const context& cx) {
  json type = concept_of(cx.coded("document-kind", to_string(d.kind)));
  const char* display = nullptr;
  if (const char* code = loinc_document_type(d.kind, &display)) {
    type["coding"].push_back(coding(loinc, code, display));
  }
  json attachment = {{"contentType", d.media_type}, {"language", d.language}};
  json fingerprint = {{"url", std::string(document_content_url)},
                      {"extension", json::array({{{"url", "sha256"}, {"valueString", d.sha256}}})}};
  // Attachment.size is an unsignedInt (at most 2^31 - 1): a larger size goes in the extension.
  constexpr std::uint64_t max_unsigned_int = 2147483647;
  if (d.size <= max_unsigned_int) {
    attachment["size"] = d.size;
  } else {
    fingerprint["extension"].push_back({{"url", "size"}, {"valueDecimal", d.size}});
  }
  attachment["extension"] = json::array({fingerprint});
  const std::string key = document_key(s.id, d.id);
  return {{"resourceType", "DocumentReference"},
          {"id", uuid_for("DocumentReference", key)},
          {"masterIdentifier", cx.identifier("document", d.id.value())},
          {"identifier", json::array({cx.identifier("referral-document", key)})},
          {"status", "current"},
          {"type", type},
          {"subject", cx.patient(s.patient)},
          {"date", to_iso8601(row.occurred_at)},
          {"author", json::array({cx.organization(row.by.organisation)})},
          {"content", json::array({{{"attachment", attachment}}})},
          {"context", {{"related", json::array({cx.referral(s.id)})}}}};
}

json organization_json(const hospital& h, const context& cx) {
  json org = {{"resourceType", "Organization"},
              {"id", uuid_for("Organization", h.id.value())},
              {"identifier", json::array({cx.identifier("hospital", h.id.value())})},
              {"active", true},
              {"name", h.name_en}};
  json alias = json::array();
  for (const auto* n : {&h.name_vi, &h.name_ja}) {
    if (!n->empty()) alias.push_back(*n);
  }
  if (!alias.empty()) org["alias"] = alias;
  org["address"] = json::array({{{"country", h.country}}});
  return org;
}

// Sub-extensions of kakehashi's consent extension.
void add_value(json& parts, std::string_view url, std::string_view type, json value) {
  if (value.is_string() && value.get<std::string>().empty()) return;  // FHIR has no empty strings
  parts.push_back({{"url", url}, {std::string("value") + std::string(type), std::move(value)}});
}
void add_complex(json& parts, std::string_view url, json sub) {
  if (!sub.empty()) parts.push_back({{"url", url}, {"extension", std::move(sub)}});
}

json consent_extension(const consent_record& c) {
  json x = json::array();
  add_value(x, "age-verified", "Boolean", c.age_verified);
  add_value(x, "capacity", "Code", std::string(to_string(c.capacity)));
  add_value(x, "capacity-assessed", "Boolean", c.capacity_assessed);
  for (const auto& g : c.grantors) {
    json sub = json::array();
    add_value(sub, "role", "Code", std::string(to_string(g.role)));
    add_value(sub, "person", "String", g.person);
    add_value(sub, "authority-evidence", "String", g.authority_evidence);
    add_complex(x, "grantor", sub);
  }
  add_value(x, "method", "Code", std::string(to_string(c.method)));
  add_value(x, "affirmative-action", "Boolean", c.affirmative_action);
  add_value(x, "pre-ticked", "Boolean", c.pre_ticked);
  add_value(x, "artifact-sha256", "String", c.artifact_sha256);
  add_value(x, "sensitive-data-notice", "Boolean", c.sensitive_data_notice);
  add_value(x, "complaint-mechanism-notice", "Boolean", c.complaint_mechanism_notice);
  add_value(x, "rights-notice", "Boolean", c.rights_notice);
  add_value(x, "recipient-acquisition-notice", "Boolean", c.recipient_acquisition_notice);
  for (const auto& l : c.languages) add_value(x, "language", "Code", l);
  if (c.japan_art28_2) {
    const auto& j = *c.japan_art28_2;
    json sub = json::array();
    add_value(sub, "country", "String", j.country);
    add_value(sub, "country-unidentified-reason", "String", j.country_unidentified_reason);
    add_value(sub, "country-system-info", "String", j.country_system_info);
    add_value(sub, "recipient-measures-info", "String", j.recipient_measures_info);
    add_value(sub, "measures-unavailable-reason", "String", j.measures_unavailable_reason);
    if (sub.empty()) sub.push_back({{"url", "given"}, {"valueBoolean", true}});
    add_complex(x, "japan-art28-2", sub);
  }
  if (c.written_request) {
    json sub = json::array();
    add_value(sub, "reference", "String", c.written_request->reference);
    add_value(sub, "date", "Date", date::format("%F", c.written_request->date));
    add_value(sub, "recipient", "String", c.written_request->recipient.value());
    add_complex(x, "written-request", sub);
  }
  if (c.withdrawal) {
    json sub = json::array();
    add_value(sub, "received-at", "DateTime", to_iso8601(c.withdrawal->received_at));
    add_value(sub, "channel", "Code", std::string(to_string(c.withdrawal->channel)));
    add_complex(x, "withdrawal", sub);
  }
  if (c.emergency) {
    const auto& e = *c.emergency;
    json sub = json::array();
    add_value(sub, "justification", "String", e.justification);
    add_value(sub, "clinician", "String", e.clinician.value());
    add_value(sub, "at", "DateTime", to_iso8601(e.at));
    add_value(sub, "consent-impracticable", "Boolean", e.consent_impracticable);
    add_value(sub, "why-consent-not-obtained", "String", e.why_consent_not_obtained);
    add_complex(x, "emergency", sub);
  }
  if (c.treatment_decision) {
    const auto& t = *c.treatment_decision;
    json sub = json::array();
    add_value(sub, "role", "Code", std::string(to_string(t.role)));
    add_value(sub, "person", "String", t.person);
    add_value(sub, "authority-evidence", "String", t.authority_evidence);
    add_complex(x, "treatment-decision", sub);
  }
  return {{"url", consent_extension_url}, {"extension", x}};
}

json consent_json(const consent_record& c, const context& cx, const agreement_directory* dir) {
  json performers = json::array();
  for (const auto& g : c.grantors) {
    if (g.role == grantor_role::patient) {
      performers.push_back(cx.patient(c.patient));
    } else {
      json who = {{"type", "RelatedPerson"}, {"display", std::string(to_string(g.role))}};
      if (!g.person.empty()) who["identifier"] = cx.identifier("person", g.person);
      performers.push_back(who);
    }
  }
  // A hospital of the Bundle by urn:uuid; one the agreements do not hold, by identifier.
  const auto hospital_ref = [&](const hospital_id& h) {
    if (dir && dir->find_hospital(h)) return cx.organization(h);
    return json{{"type", "Organization"}, {"identifier", cx.identifier("hospital", h.value())}};
  };
  json actors = json::array();
  for (const auto& r : c.recipients) {
    json ext = json::array();
    add_value(ext, recipient_country_url, "Code", r.country);
    add_value(ext, healthcare_provider_url, "Boolean", r.healthcare_provider);
    actors.push_back(
        {{"extension", ext},
         {"role", concept_of(coding(v3_participation, "IRCP", "information recipient"))},
         {"reference", hospital_ref(r.organisation)}});
  }
  json provision = {{"type", "permit"}};
  json period = json::object();
  if (c.valid_from) period["start"] = to_iso8601(*c.valid_from);
  if (c.valid_until) period["end"] = to_iso8601(*c.valid_until);
  if (!period.empty()) provision["period"] = period;
  if (!actors.empty()) provision["actor"] = actors;
  provision["action"] = json::array({concept_of(coding(consent_action_system, "disclose"))});
  json purposes = json::array();
  for (const auto& p : c.purposes) purposes.push_back(cx.coded("purpose", p));
  if (!purposes.empty()) provision["purpose"] = purposes;
  json classes = json::array();
  for (const auto& d : c.data_classes) classes.push_back(cx.coded("data-class", d));
  if (!classes.empty()) provision["class"] = classes;
  if (!c.excluded_classes.empty()) {
    json denied = json::array();
    for (const auto& d : c.excluded_classes) denied.push_back(cx.coded("data-class", d));
    provision["provision"] = json::array({{{"type", "deny"}, {"class", denied}}});
  }
  json out = {{"resourceType", "Consent"},
              {"id", uuid_for("Consent", c.id.value())},
              {"extension", json::array({consent_extension(c)})},
              {"identifier", json::array({cx.identifier("consent", c.id.value())})},
              {"status", to_string(c.status)},
              {"scope", concept_of(coding(consent_scope_system, to_string(c.scope)))},
              {"category", json::array({concept_of(coding(loinc, "59284-0", "Patient Consent")),
                                        concept_of(coding(v3_act_code, "INFA",
                                                          "information access"))})},
              {"patient", cx.patient(c.patient)},
              {"dateTime", to_iso8601(c.captured_at)}};
  if (!performers.empty()) out["performer"] = performers;
  out["organization"] = json::array({hospital_ref(c.controller)});
  if (!c.privacy_policies.empty()) {
    json policies = json::array();
    for (const auto& p : c.privacy_policies) policies.push_back({{"uri", p}});
    out["policy"] = policies;
  }
  out["policyRule"] = concept_of(coding(v3_act_code, "OPTIN", "opt-in"));
  out["provision"] = provision;
  return out;
}

// "C" for the command that creates the referral, "U" for the others (refused attempts included:
// the action is what was attempted).
std::string audit_action(const audit_entry& row) {
  return row.command == "propose" ? "C" : "U";
}

// Why a row was refused, coded: for each consent finding that refused it (block, document
// required), its rule (urn:kakehashi:consent-rule) and finding (urn:kakehashi:consent-finding),
// read from the row's details as the engine recorded them. (A proposal refused as not eligible
// opens no referral, so no export holds its row.)
json refusal_extensions(const audit_entry& row, const context& cx) {
  json out = json::array();
  if (row.outcome == audit_outcome::success) return out;
  const auto d = nlohmann::json::parse(row.details, nullptr, false);
  if (!d.is_object()) return out;
  if (d.contains("findings") && d["findings"].is_array()) {
    // A member's text, "" when it is missing or not text. (Not json::value(): GCC 12 at -O1,
    // the sanitizer builds, warns of a null dereference inside it.)
    const auto member = [](const json& o, const char* key) {
      return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
    };
    for (const auto& f : d["findings"]) {
      if (!f.is_object()) continue;
      const std::string effect = member(f, "effect");
      if (effect != "block" && effect != "require_document") continue;
      // A hospital's own rule and its codes are not kakehashi's: given as text, not coded.
      const auto part = [&](const char* url, std::string_view kind, const std::string& code) {
        if (vocabulary::display(kind, code)) {
          return json{{"url", url}, {"valueCoding", cx.coded(kind, code)}};
        }
        return json{{"url", url}, {"valueString", code}};
      };
      out.push_back(
          {{"url", std::string(refusal_finding_url)},
           {"extension", json::array({part("rule", "consent-rule", member(f, "rule")),
                                      part("finding", "consent-finding", member(f, "code")),
                                      {{"url", "effect"}, {"valueCode", effect}}})}});
    }
  }
  return out;
}

json audit_event_json(const audit_entry& row, const referral_snapshot& s, const context& cx) {
  json agent = {{"role", json::array({concept_of(cx.coded("role", to_string(row.by.role)))})},
                {"who", cx.organization(row.by.organisation)},
                {"requestor", true}};
  if (!row.by.user.value().empty()) agent["altId"] = row.by.user.value();
  json details = json::array({{{"type", "seq"}, {"valueString", std::to_string(row.seq)}},
                              {{"type", "hash"}, {"valueString", row.hash}},
                              {{"type", "prev_hash"}, {"valueString", row.prev_hash}},
                              {{"type", "state_before"},
                               {"valueString", row.state_before.empty() ? "none"
                                                                        : row.state_before}},
                              {{"type", "state_after"}, {"valueString", row.state_after}}});
  if (!row.details.empty() && row.details != "{}") {
    details.push_back({{"type", "details"}, {"valueString", row.details}});
  }
  json ev = {{"resourceType", "AuditEvent"}, {"id", uuid_for("AuditEvent", row.hash)}};
  if (json why = refusal_extensions(row, cx); !why.empty()) ev["extension"] = std::move(why);
  ev.update(json{
      {"type", coding(dicom, "110110", "Patient Record")},
      {"subtype", json::array({cx.coded("command", row.command)})},
      {"action", audit_action(row)},
      // When it happened, and when the engine recorded it (the same without a clock).
      {"period", {{"start", to_iso8601(row.occurred_at)}, {"end", to_iso8601(row.occurred_at)}}},
      {"recorded", to_iso8601(row.recorded_at)},
      {"outcome", std::to_string(static_cast<int>(row.outcome))}});
  if (!row.reason_code.empty()) ev["outcomeDesc"] = row.reason_code;
  if (row.outcome == audit_outcome::success && row.reason_code == "emergency") {
    // A step on an emergency basis: break-the-glass's purpose of use (STD-06).
    ev["purposeOfEvent"] =
        json::array({concept_of(coding(v3_act_reason, "ETREAT", "Emergency Treatment"))});
  }
  ev["agent"] = json::array({agent});
  ev["source"] = {{"site", "kakehashi"},
                  {"observer", {{"display", "kakehashi referral engine"}}},
                  {"type", json::array({coding(source_type_system, "4", "Application Server")})}};
  ev["entity"] = json::array(
      {{{"what", cx.referral(row.referral)},
        {"type", coding(entity_type_system, "2", "System Object")},
        {"role", coding(object_role_system, "4", "Domain Resource")},
        {"detail", details}},
       {{"what", cx.patient(s.patient)},
        {"type", coding(entity_type_system, "1", "Person")},
        {"role", coding(object_role_system, "1", "Patient")}}});
  return ev;
}

json provenance_json(const audit_entry& row, const referral_snapshot& s, const context& cx,
                     bool consent_exported) {
  json targets = json::array({cx.referral(row.referral)});
  if (!s.consent.value().empty()) targets.push_back(cx.consent(s.consent, consent_exported));
  json agent = {{"type", concept_of(coding(provenance_agent_system, "author", "Author"))},
                {"who", cx.organization(row.by.organisation)}};
  return {{"resourceType", "Provenance"},
          {"id", uuid_for("Provenance", row.hash)},
          {"target", targets},
          {"occurredDateTime", to_iso8601(row.occurred_at)},
          {"recorded", to_iso8601(row.recorded_at)},
          {"reason", json::array({concept_of(coding(v3_act_reason, "PATRQT", "patient requested"),
                                             "consent withdrawn")})},
          {"activity", concept_of(coding(v3_data_operation, "UPDATE", "revise"))},
          {"agent", json::array({agent})}};
}

// A second clinician's review of a step taken on an emergency basis (a review_emergency row):
// the reviewer verified the step's AuditEvent (`step`, the row that opened the review) and
// found the basis justified or not.
json review_provenance_json(const audit_entry& row, const audit_entry& step, bool justified,
                            const context& cx) {
  const json step_event = {{"reference", "urn:uuid:" + uuid_for("AuditEvent", step.hash)},
                           {"type", "AuditEvent"}};
  json agent = {
      {"type", concept_of(coding(provenance_agent_system, "verifier", "Verifier"))},
      {"who",
       {{"type", "Practitioner"}, {"identifier", cx.identifier("user", row.by.user.value())}}},
      {"onBehalfOf", cx.organization(row.by.organisation)}};
  return {{"resourceType", "Provenance"},
          {"id", uuid_for("Provenance", row.hash)},
          {"target", json::array({step_event, cx.referral(row.referral)})},
          {"occurredDateTime", to_iso8601(row.occurred_at)},
          {"recorded", to_iso8601(row.recorded_at)},
          {"reason", json::array({concept_of(coding(v3_act_reason, "ETREAT", "Emergency Treatment"),
                                             justified ? "emergency basis justified"
                                                       : "emergency basis not justified")})},
          {"activity", concept_of(cx.coded("command", row.command))},
          {"agent", json::array({agent})},
          {"entity", json::array({{{"role", "source"}, {"what", step_event}}})}};
}

// How a transaction applies an entry so that sending it twice changes nothing the second time:
// by its business identifier where it has one, else by its deterministic id.
json transaction_request(const json& resource) {
  const std::string type = resource["resourceType"].get<std::string>();
  if (resource.contains("identifier") && resource["identifier"].is_array() &&
      !resource["identifier"].empty()) {
    const json& id = resource["identifier"][0];
    // Percent-encoded where a search value may not hold a character as it is (a system_base
    // can be any URI); ids are of [A-Za-z0-9._:-] already.
    const auto encoded = [](const std::string& text) {
      std::string out;
      for (const char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-._~:/", c) != nullptr) {
          out += c;
        } else {
          out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
      }
      return out;
    };
    const std::string search = "identifier=" + encoded(id["system"].get<std::string>()) + "|" +
                               encoded(id["value"].get<std::string>());
    if (type == "Organization") {
      return {{"method", "POST"}, {"url", type}, {"ifNoneExist", search}};
    }
    return {{"method", "PUT"}, {"url", type + "?" + search}};
  }
  return {{"method", "PUT"}, {"url", type + "/" + resource["id"].get<std::string>()}};
}

json entry(const json& resource) {
  return {{"fullUrl", "urn:uuid:" + resource["id"].get<std::string>()}, {"resource", resource}};
}

}  // namespace

std::string referral_bundle(const referral_export& r, const options& o) {
  check_export(r);
  const context cx(o, true);
  json entries = json::array();
  std::set<hospital_id> hospitals{r.referral.origin, r.referral.destination};
  if (r.consent) {
    hospitals.insert(r.consent->controller);
    for (const auto& rec : r.consent->recipients) hospitals.insert(rec.organisation);
  }
  for (const auto& row : r.history) hospitals.insert(row.by.organisation);
  for (const auto& h : hospitals) {
    if (const hospital* found = r.agreements.find_hospital(h)) {
      entries.push_back(entry(organization_json(*found, cx)));
    }
  }
  entries.push_back(entry(service_request_json(r, cx)));
  entries.push_back(entry(task_json(r, cx)));
  for (const auto& [row, d] : attached_documents(r)) {
    entries.push_back(entry(document_reference_json(r.referral, *row, d, cx)));
  }
  for (const auto& [row, d] : returned_documents(r)) {
    entries.push_back(entry(document_reference_json(r.referral, *row, d, cx)));
  }
  if (r.consent) {
    // The Consent as the log records it: a withdrawal the log holds makes it inactive, with the
    // withdrawal's instant and channel, even when the record given predates it.
    const audit_entry* withdrawn = last_row(r, "withdraw_consent");
    if (withdrawn && !r.consent->withdrawal) {
      const auto channel = parse_withdrawal_channel(detail_string(*withdrawn, "channel"));
      entries.push_back(entry(consent_json(
          revoke(*r.consent, withdrawn->occurred_at, channel.value_or(withdrawal_channel::written)),
          cx, &r.agreements)));
    } else {
      entries.push_back(entry(consent_json(*r.consent, cx, &r.agreements)));
    }
  }
  for (const auto& row : r.history) {
    if (!r.agreements.find_hospital(row.by.organisation)) {
      detail::fail(errc::invalid_argument, fmt::format("history row {}", row.seq),
                   fmt::format("actor organisation '{}' is not in the agreements",
                               detail::printable(row.by.organisation.value())),
                   "export with the agreements the referral was made under");
    }
    entries.push_back(entry(audit_event_json(row, r.referral, cx)));
    if (row.command == "withdraw_consent" && row.outcome == audit_outcome::success) {
      entries.push_back(entry(provenance_json(row, r.referral, cx, r.consent != nullptr)));
    }
    if (row.command == "review_emergency" && row.outcome == audit_outcome::success) {
      const auto d = nlohmann::json::parse(row.details, nullptr, false);
      const std::int64_t step_seq =
          d.is_object() && d.contains("duty") && d["duty"].is_number_integer()
              ? d["duty"].get<std::int64_t>()
              : 0;
      const bool justified =
          !(d.is_object() && d.contains("finding") && d["finding"] == "not_justified");
      const auto step = std::find_if(r.history.begin(), r.history.end(),
                                     [&](const audit_entry& h) { return h.seq == step_seq; });
      if (step != r.history.end()) {
        entries.push_back(entry(review_provenance_json(row, *step, justified, cx)));
      }
    }
  }
  const bool transaction = o.bundle == bundle_type::transaction;
  if (transaction) {
    for (auto& e : entries) e["request"] = transaction_request(e["resource"]);
  }
  json bundle = {{"resourceType", "Bundle"},
                 {"id", uuid_for("Bundle", r.referral.id.value() + "@" +
                                               std::to_string(r.referral.version))},
                 {"identifier", {{"system", cx.system("referral")},
                                 {"value", r.referral.id.value()}}},
                 {"type", transaction ? "transaction" : "collection"},
                 {"timestamp", to_iso8601(std::max(r.referral.updated_at,
                                                   r.referral.proposed_at))},
                 {"entry", entries}};
  return bundle.dump();
}

std::string resource_id(std::string_view resource_type, std::string_view kakehashi_id) {
  return uuid_for(resource_type, kakehashi_id);
}

std::string service_request(const referral_export& r, const options& o) {
  check_export(r);
  return service_request_json(r, context(o, false)).dump();
}
std::string task(const referral_export& r, const options& o) {
  check_export(r);
  return task_json(r, context(o, false)).dump();
}
std::string consent_resource(const consent_record& c, const options& o) {
  return consent_json(c, context(o, false), nullptr).dump();
}
std::string consent_acknowledgement(const consent_record& c, const options& o) {
  const context cx(o, false);
  // The acknowledged policies as BPPC's eventCodeList: each identifier is a URI, coded as such.
  json events = json::array();
  for (const auto& p : c.privacy_policies) {
    events.push_back(concept_of(coding("urn:ietf:rfc:3986", p)));
  }
  // Service start and stop (the reference leaves their semantics uncertain): the consent's
  // validity, from its capture when it states no start; a withdrawal ends it.
  json period = {{"start", to_iso8601(c.valid_from.value_or(c.captured_at))}};
  std::optional<instant> end = c.valid_until;
  if (c.withdrawal && (!end || c.withdrawal->received_at < *end)) end = c.withdrawal->received_at;
  if (end) period["end"] = to_iso8601(*end);
  json about = {
      {"period", period},
      {"related", json::array({{{"type", "Consent"},
                                {"identifier", cx.identifier("consent", c.id.value())}}})}};
  if (!events.empty()) about["event"] = events;
  const json acknowledgement =
      concept_of(coding(loinc, "57016-8", "Privacy policy acknowledgment Document"));
  json doc = {
      {"resourceType", "DocumentReference"},
      {"id", uuid_for("DocumentReference", c.id.value())},
      {"identifier", json::array({cx.identifier("consent", c.id.value())})},
      {"status", c.status == consent_status::entered_in_error ? "entered-in-error" : "current"},
      {"docStatus", "final"},
      {"type", acknowledgement},
      {"category", json::array({acknowledgement})},
      {"subject", cx.patient(c.patient)},
      {"date", to_iso8601(c.captured_at)},
      {"author", json::array({cx.organization(c.controller)})},
      {"description", "Acknowledgement of the privacy policies of consent " + c.id.value()},
      // The structured acknowledgement is the Consent resource itself (fhir::consent_resource).
      {"content", json::array({{{"attachment",
                                 {{"contentType", "application/fhir+json"},
                                  {"url", "Consent/" + uuid_for("Consent", c.id.value())},
                                  {"title", "Consent " + c.id.value()}}}}})},
      {"context", about}};
  return doc.dump();
}
std::string audit_event(const audit_entry& row, const referral_snapshot& r, const options& o) {
  return audit_event_json(row, r, context(o, false)).dump();
}
std::string organization(const hospital& h, const options& o) {
  return organization_json(h, context(o, false)).dump();
}

}  // namespace kakehashi::fhir
