#pragma once
// The patient's consent to a cross-border referral, as a record the consent rules evaluate
// (kakehashi/consent_rules.hpp), with a strict JSON loader (docs/consent.md).
//
// A consent record holds personal data (a birth date). The loader never quotes the values of such
// fields in its messages, and no rule message contains them: patients appear by pseudonymous id.
// Values; thread-safe as values.

#include <date/date.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/agreement.hpp"  // load_problem
#include "kakehashi/ids.hpp"
#include "kakehashi/referral.hpp"  // withdrawal_channel
#include "kakehashi/time.hpp"

namespace kakehashi {

/// FHIR R4 Consent.status (consent-state-codes).
enum class consent_status { draft, proposed, active, rejected, inactive, entered_in_error };
/// FHIR R4 Consent.scope. Only patient_privacy authorises sharing data (STD-03).
enum class consent_scope { patient_privacy, treatment, research, adr };
/// Who gave (part of) the consent.
enum class grantor_role { patient, legal_representative, parent, guardian, child_assent };
/// The patient's capacity to consent.
enum class capacity_status { full, minor, lost, restricted, cognitive_difficulty };
/// How the consent was expressed (Decree 13 Art. 11(3); Law 91 Art. 9(3)).
enum class expression_method {
  written_signature,
  electronic_signature,
  checkbox,
  voice_recording,
  sms,
  technical_setting,
  verbal,          ///< spoken and not recorded: not verifiable (VN-06)
  implied_notice,  ///< a notice on the wall: not consent to a foreign transfer
};

/// Who decides a treatment referral (Vietnam, Law 15/2023/QH15 on Medical Examination and
/// Treatment: VN-25). Separate from who consents to the data's transfer (grantors).
enum class decision_maker_role {
  patient,               ///< the patient: an adult with capacity
  prior_written_wishes,  ///< the lawful written wishes an adult made before losing capacity
  representative,        ///< the legal representative of a minor or of an adult without capacity
  facility_lead,         ///< without a representative: the facility's professional lead or
                         ///< on-duty leader
};

std::string_view to_string(consent_status v) noexcept;
std::string_view to_string(consent_scope v) noexcept;
std::string_view to_string(grantor_role v) noexcept;
std::string_view to_string(capacity_status v) noexcept;
std::string_view to_string(expression_method v) noexcept;
std::string_view to_string(decision_maker_role v) noexcept;

/// Purpose codes with a meaning for the rules. Others may be recorded too.
namespace purpose {
inline constexpr std::string_view cross_border_referral = "cross_border_referral";  ///< VN->JP
inline constexpr std::string_view results_return = "results_return";  ///< JP->VN (APPI Art. 28)
inline constexpr std::string_view treatment = "treatment";
}  // namespace purpose

struct grantor {
  grantor_role role = grantor_role::patient;
  std::string person;              ///< pseudonymous id of the person who consented
  std::string authority_evidence;  ///< reference to proof of authority (representatives)
};

struct consent_recipient {
  hospital_id organisation;
  std::string country;  ///< ISO 3166-1 alpha-2
  bool healthcare_provider = true;
};

/// What a person must be told before consenting to a provision to a foreign third party
/// (APPI Art. 28(2); PPC Rules Art. 17(2)-(4)).
struct japan_foreign_provision_info {
  std::string country;                      ///< the foreign country's name or code
  std::string country_unidentified_reason;  ///< instead of `country`
  std::string country_system_info;          ///< reference to the information given
  std::string recipient_measures_info;      ///< reference to the information given
  std::string measures_unavailable_reason;  ///< instead of `recipient_measures_info`
};

/// Vietnam Law 91/2025 Art. 26(2): the patient's written request to give data to a healthcare
/// provider.
struct written_request {
  std::string reference;
  date::year_month_day date;
  hospital_id recipient;
};

struct consent_withdrawal {
  instant received_at;
  withdrawal_channel channel = withdrawal_channel::written;
};

/// A no-consent legal basis for an emergency (Law 91 Art. 19(1)(a); APPI Art. 27(1)(ii)).
struct emergency_basis {
  std::string justification;  ///< the facts; required
  user_id clinician;          ///< who decided; required
  instant at;
  bool consent_impracticable = false;  ///< consent could not practically be obtained
  std::string why_consent_not_obtained;
};

/// Who decided the treatment referral, and by what authority (VN-25).
struct treatment_decision {
  decision_maker_role role = decision_maker_role::patient;
  std::string person;              ///< pseudonymous id of who decided
  std::string authority_evidence;  ///< reference to proof of authority: the representative's
                                   ///< appointment, the written wishes, the duty roster
};

struct consent_record {
  consent_ref id;
  patient_ref patient;
  hospital_id controller;  ///< the hospital that obtained the consent
  consent_status status = consent_status::active;
  consent_scope scope = consent_scope::patient_privacy;
  instant captured_at;
  std::optional<instant> valid_from;   ///< FHIR provision.period.start
  std::optional<instant> valid_until;  ///< FHIR provision.period.end

  // The patient
  std::optional<date::year_month_day> birth_date;  ///< personal data: never printed
  bool age_verified = false;
  capacity_status capacity = capacity_status::full;
  bool capacity_assessed = false;  ///< a recorded assessment of the patient's own capacity

  std::vector<grantor> grantors;
  std::vector<std::string> purposes;
  std::vector<consent_recipient> recipients;
  std::vector<std::string> data_classes;      ///< what may be sent: diagnosis, imaging, ...
  std::vector<std::string> excluded_classes;  ///< carved out: genomic, ...

  // How it was expressed
  expression_method method = expression_method::written_signature;
  bool affirmative_action = true;
  bool pre_ticked = false;
  std::string artifact_sha256;  ///< hex SHA-256 of the signed form or recording

  // What the patient was told
  bool sensitive_data_notice = false;         ///< that health data is sensitive (Decree 13)
  bool complaint_mechanism_notice = false;    ///< how to complain (Decree 13 Art. 25(2)(g))
  bool rights_notice = false;                 ///< their rights and obligations
  bool recipient_acquisition_notice = false;  ///< that the recipient acquires the data (APPI 20(2))
  std::vector<std::string> languages;         ///< the languages of the form: "vi", "ja", "en"
  /// The privacy policies the patient acknowledged, by URI ("urn:oid:1.2.3.4.5.1" or an
  /// https:// address): IHE BPPC's policy identifiers, exported as the acknowledgement's event
  /// codes (STD-08, fhir::consent_acknowledgement).
  std::vector<std::string> privacy_policies;
  std::optional<japan_foreign_provision_info> japan_art28_2;

  std::optional<kakehashi::written_request> written_request;
  std::optional<consent_withdrawal> withdrawal;
  std::optional<emergency_basis> emergency;
  /// Who decided the treatment referral (VN-25); nullopt: not recorded (the patient decided,
  /// which the rule accepts only for an adult with capacity).
  std::optional<kakehashi::treatment_decision> treatment_decision;

  bool grants(std::string_view purpose_code) const;
  bool names_recipient(const hospital_id& h) const;
  bool has_grantor(grantor_role role) const;
  /// Whole years of age on `day`; nullopt without a birth date.
  std::optional<int> age_on(date::year_month_day day) const;
};

/// The outcome of try_load_consent: a record, or every problem found (never both).
struct [[nodiscard]] consent_load_result {
  std::optional<consent_record> record;
  std::vector<load_problem> problems;
  bool ok() const noexcept { return record.has_value(); }
};

/// Parses the JSON of docs/consent.md strictly: every problem with its JSON path, all at once.
/// The values of personal fields (birth_date) are never quoted. Never throws for bad input.
consent_load_result try_load_consent(std::string_view json_text);
/// As try_load_consent, but throws kakehashi::error{errc::invalid_argument} listing the problems.
consent_record load_consent(std::string_view json_text, std::string_view source_name = "consent");
/// Reads a file; throws {errc::not_found} if it cannot be read.
consent_record load_consent_file(const std::string& path);

/// FHIR-style revocation (STD-02): the record as it stands after a withdrawal received at `at`:
/// status inactive, the withdrawal recorded. The record is never deleted.
/// Throws kakehashi::error{errc::failed_precondition} if it was already withdrawn.
consent_record revoke(consent_record c, instant at, withdrawal_channel channel);

}  // namespace kakehashi
