#pragma once
// HL7 FHIR R4 interoperability (docs/fhir.md maps every element):
//   - export: a referral as a ServiceRequest and a Task, its consent as a Consent, each audit row
//     as an AuditEvent (a consent withdrawal and an emergency review also as a Provenance), the
//     hospitals as Organizations, all of it together as one Bundle (type collection) per
//     referral;
//   - import: a FHIR R4 Consent (JSON) as a kakehashi consent record that the consent rules
//     evaluate, with every element kakehashi cannot represent reported by its FHIR path.
//
// Exported resources carry patients only by their pseudonymous id (an identifier, never a
// Patient resource): no name, birth date or record number. Resource ids are UUIDs derived from
// kakehashi's ids (the same referral exports the same ids every time); references inside a
// Bundle are urn:uuid: full URLs. Pure functions: thread-safe, no clock, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/agreement.hpp"
#include "kakehashi/consent.hpp"
#include "kakehashi/engine.hpp"
#include "kakehashi/referral.hpp"

namespace kakehashi::fhir {

/// kakehashi's extension on a Consent: the consent record's fields FHIR R4 has no element for
/// (expression, notices, APPI Art. 28(2) information, Law 91 written request, withdrawal,
/// emergency basis, capacity). A complex extension; docs/fhir.md lists its parts.
inline constexpr std::string_view consent_extension_url =
    "urn:kakehashi:fhir:StructureDefinition:consent-record";
/// On a Consent.provision.actor: the recipient's country (valueCode, ISO 3166-1 alpha-2) and
/// whether it is a healthcare provider (valueBoolean).
inline constexpr std::string_view recipient_country_url =
    "urn:kakehashi:fhir:StructureDefinition:recipient-country";
inline constexpr std::string_view healthcare_provider_url =
    "urn:kakehashi:fhir:StructureDefinition:healthcare-provider";

/// On a DocumentReference's content.attachment: the content's SHA-256 (part "sha256",
/// valueString, 64 hex digits; R4's Attachment.hash is SHA-1) and, when it exceeds an
/// unsignedInt, its size (part "size", valueDecimal).
inline constexpr std::string_view document_content_url =
    "urn:kakehashi:fhir:StructureDefinition:document-content";

/// On the AuditEvent of a refused command, one per consent finding that refused it: a complex
/// extension of parts "rule" (valueCoding, urn:kakehashi:consent-rule), "finding" (valueCoding,
/// urn:kakehashi:consent-finding) and "effect" (valueCode: block or require_document). A
/// hospital's own rule and code, which kakehashi's systems do not define, are valueStrings.
inline constexpr std::string_view refusal_finding_url =
    "urn:kakehashi:fhir:StructureDefinition:refusal-finding";

/// Identifier systems and code systems are `system_base` + a kind: "referral", "patient",
/// "consent", "hospital", "user", "person", "agreement", "specialty", "purpose", "data-class",
/// "state", "close-reason", "decline-reason", "cancel-reason", "role", "command", "document"
/// (a document's own id), "referral-document" ("R-1/D-1"), "document-kind".
/// What a referral's Bundle is for.
enum class bundle_type {
  /// A set of resources to read, archive or hand over (`Bundle.type` collection). A server that
  /// is sent it stores it as one Bundle resource; it does not create the resources inside.
  collection,
  /// A FHIR transaction to POST to a server's base URL: every entry carries its `request`, so that
  /// sending the same referral again updates instead of duplicating: each Organization is a
  /// conditional create (`ifNoneExist` on its identifier), the ServiceRequest, Task and Consent
  /// conditional updates on their identifiers, each AuditEvent and Provenance a PUT of its
  /// deterministic id (the server must accept client-assigned ids).
  transaction,
};

struct options {
  std::string system_base = "urn:kakehashi:";
  bundle_type bundle = bundle_type::collection;  ///< for referral_bundle()
};

/// Everything one referral's Bundle is made from. `history` is the referral's audit rows, oldest
/// first (engine::history or database_view::history). `consent`, when given, must be the consent
/// the referral relies on (same id; its digest is checked against the recorded one); without it
/// the ServiceRequest refers to the consent by identifier only.
struct referral_export {
  const referral_snapshot& referral;
  const std::vector<audit_entry>& history;
  const agreement_directory& agreements;
  const consent_record* consent = nullptr;
};

/// The logical id the export gives a resource made from a kakehashi id: the Task and the
/// ServiceRequest of a referral id, the Organization of a hospital id, the Consent of a consent
/// id ("Task", "R-1" -> a UUID). Deterministic: the same everywhere, every time.
std::string resource_id(std::string_view resource_type, std::string_view kakehashi_id);

/// The Task.status a referral is exported with (docs/fhir.md): "requested" (proposed, consent
/// recorded), "accepted", "in-progress" (transferred), "completed", "rejected" (declined) or
/// "cancelled" (cancelled, consent withdrawn, expired). For a search by status without building
/// the Task.
std::string_view task_status(const referral_snapshot& s) noexcept;

/// The Bundle (JSON text). Throws kakehashi::error{errc::invalid_argument} naming the field when
/// the parts disagree (a history of another referral, an unknown hospital, a consent other than
/// the one recorded).
std::string referral_bundle(const referral_export& r, const options& o = {});

/// Single resources (JSON text), for integrators who send them one by one. References to the
/// hospitals and the referral use identifiers (no Bundle to resolve urn:uuid: against).
std::string service_request(const referral_export& r, const options& o = {});
std::string task(const referral_export& r, const options& o = {});
std::string consent_resource(const consent_record& c, const options& o = {});
std::string audit_event(const audit_entry& row, const referral_snapshot& r, const options& o = {});
/// The consent as an IHE BPPC privacy-policy acknowledgement (STD-08), in MHD's FHIR form: a
/// DocumentReference of type and category LOINC 57016-8 whose context.event lists the policies
/// the patient acknowledged (consent_record::privacy_policies, each a URI coded in system
/// urn:ietf:rfc:3986: BPPC's eventCodeList), whose context.period is the consent's validity
/// (from its start, else its capture, to its end or its withdrawal: BPPC's service start and
/// stop times), and whose content is the Consent resource (fhir::consent_resource) by reference.
std::string consent_acknowledgement(const consent_record& c, const options& o = {});
std::string organization(const hospital& h, const options& o = {});

/// What import needs that a FHIR Consent does not carry. A Consent names no birth date (that is
/// on the Patient resource), and the rules need the patient's age: pass Patient.birthDate.
struct import_options {
  std::optional<date::year_month_day> birth_date;  ///< required: the patient's birth date
  std::optional<patient_ref> patient;        ///< when Consent.patient has no kakehashi identifier
  std::optional<hospital_id> controller;     ///< when Consent.organization has none
  std::string system_base = "urn:kakehashi:";
};

/// The outcome of import_consent: a record, or every problem found (never both).
struct [[nodiscard]] consent_import_result {
  std::optional<consent_record> record;
  /// The record as kakehashi consent JSON (docs/consent.md), for load_consent. It holds the birth
  /// date: personal data, keep it where consent records are kept.
  std::string consent_json;
  /// Problems, each at its FHIR path ("Consent.provision.provision[0].actor"): an element
  /// kakehashi cannot represent where dropping it would change what the consent permits, a
  /// missing or malformed element, a value out of range.
  std::vector<load_problem> problems;
  /// Elements read and deliberately not used (narrative, meta, policy...), by FHIR path.
  std::vector<load_problem> ignored;
  /// The record's fields the Consent did not carry (no kakehashi extension), each with the
  /// conservative value used: one that the rules may refuse, never one that grants more.
  std::vector<load_problem> assumed;
  bool ok() const noexcept { return record.has_value(); }
};

/// Reads a FHIR R4 Consent (JSON text). Never throws for bad input: malformed JSON, a wrong
/// resourceType or a missing element is a problem.
consent_import_result import_consent(std::string_view fhir_json, const import_options& o);

/// Reads Patient.birthDate from a FHIR R4 Patient (JSON text), for import_options. Nothing else
/// of the Patient is kept. Throws kakehashi::error{errc::invalid_argument} for a resource that is
/// not a Patient or has no full birth date (the value itself is never quoted).
date::year_month_day patient_birth_date(std::string_view fhir_json);

/// Reads a document reference from a FHIR R4 DocumentReference (JSON text) of the shape the
/// export writes: masterIdentifier.value the document id; a type coding of
/// `system_base`document-kind; content[0].attachment's contentType, language and size (or the
/// document-content extension's size); and the extension's sha256. An attachment carrying `data`
/// is refused (kakehashi records references, never content). Throws
/// kakehashi::error{errc::invalid_argument} naming the element (DocumentReference.<path>).
document_ref import_document_reference(std::string_view fhir_json,
                                       std::string_view system_base = "urn:kakehashi:");

}  // namespace kakehashi::fhir
