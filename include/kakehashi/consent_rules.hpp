#pragma once
// Consent rules: Vietnamese law (Decree 13/2023 until 31 December 2025, Law 91/2025 from
// 1 January 2026, in Vietnam's time zone), Japan's APPI, HL7 FHIR Consent and the MoUs, as rule
// packs a hospital can run, extend, switch on and off, and unit-test (kakehashi/testing.hpp).
//
// A rule evaluates a context (the consent, the referral's hospitals and countries, the direction
// of the data flow, the action and the instant) to findings. A policy is an ordered set of rules;
// evaluating it gives every finding, the decision, and the legal basis used. Evaluation is pure
// and never throws for a "no". A consent_policy is immutable once built and thread-safe to use.
// The rules: docs/consent.md; the laws and guidance they cite, every rule's citation: docs/sources.md.

#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/consent.hpp"
#include "kakehashi/document.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/time.hpp"

namespace kakehashi {

/// The Vietnamese personal-data regime in force.
enum class vietnam_regime { decree_13, law_91 };
std::string_view to_string(vietnam_regime v) noexcept;
/// Decree 13/2023 before 2026-01-01T00:00 in Asia/Ho_Chi_Minh (2025-12-31T17:00Z), Law 91 from it.
vietnam_regime vietnam_regime_at(instant at);

/// Which way the data goes: the referral itself (origin to destination), or results coming back.
enum class data_flow { outbound, results_return };
std::string_view to_string(data_flow v) noexcept;  ///< "outbound", "return"
std::optional<data_flow> parse_data_flow(std::string_view name) noexcept;

/// What a finding does to the step being evaluated.
enum class rule_effect {
  block,             ///< the step must not proceed
  require_document,  ///< the step may proceed only once the document is on file (blocks until then)
  warn,              ///< proceed, and flag for compliance review
  filter,            ///< proceed with the named data classes left out
};
std::string_view to_string(rule_effect v) noexcept;

enum class consent_decision { allow, block };
std::string_view to_string(consent_decision v) noexcept;

enum class legal_basis { consent, emergency, none };
std::string_view to_string(legal_basis v) noexcept;

/// Payload sensitivity (VN-02): health data in a medical record is sensitive, blood group alone
/// is not under Decree 13.
bool is_sensitive_payload(const std::vector<std::string>& data_classes, vietnam_regime regime);

/// Special care-required personal information under Japan's APPI (JP-01: Art. 2(3), Enforcement
/// Order Art. 2): a medical history, a diagnosis, treatment, test results; every health class of
/// the payload is, demographics alone are not. JP-02 and JP-03 apply to such a payload.
bool is_special_care_required(const std::vector<std::string>& data_classes);

/// Organisation-level compliance state of the sending hospital (VN-10, VN-11, VN-13, VN-20,
/// VN-21).
struct organisation_compliance {
  bool transfer_agreement = false;  ///< a written data-transfer agreement with the recipient
  /// The transfer agreement binds the recipient to honour withdrawals and stop requests passed
  /// on to it (VN-20); false: no such clause is on file.
  bool withdrawal_clause = false;
  std::optional<instant> impact_assessment_filed_at;   ///< cross-border TIA filed with A05
  /// The recipients the filed impact assessment's dossier lists (VN-13); nullopt: not recorded,
  /// so a recipient's absence cannot be told.
  std::optional<std::vector<hospital_id>> impact_assessment_recipients;
  std::optional<instant> first_cross_border_transfer;  ///< nullopt: this would be the first
  /// A competent authority's written request to stop processing, received at this instant
  /// (VN-21); nullopt: none.
  std::optional<instant> authority_stop_order_at;
  /// Japan's equivalent-system route (APPI Art. 28(3), JP-06): the contract binding the recipient
  /// abroad to measures equivalent to APPI's; empty: the route is not used.
  std::string jp_equivalent_system_contract;
  /// The latest periodic check of the recipient's measures and of the foreign rules affecting
  /// them (PPC Rules Art. 18(1)(i)); nullopt: never checked.
  std::optional<instant> jp_last_periodic_check_at;
  /// That check found a problem not yet resolved (Art. 18(1)(ii)): provision stops.
  bool jp_periodic_check_problem = false;
};

/// Everything a rule may look at.
struct consent_context {
  const consent_record* consent = nullptr;  ///< nullptr: no consent on file
  hospital_id origin;                       ///< the referring hospital
  hospital_id destination;                  ///< the receiving hospital
  std::string origin_country;               ///< ISO 3166-1 alpha-2: "VN"
  std::string destination_country;          ///< "JP"
  data_flow flow = data_flow::outbound;
  std::string action = "transfer";  ///< "record_consent", "transfer", "share"... (for messages)
  instant at;
  std::vector<std::string> payload_classes{"diagnosis", "imaging", "pathology"};
  organisation_compliance compliance;
  /// The patient carries their own record across the border (Law 91 Art. 20(6)(c), VN-14): the
  /// hospital gave the patient a copy (Art. 15(2)(a)) and does not transfer it abroad itself.
  bool patient_mediated = false;
  /// The kinds of document attached to the referral (document.hpp), when the caller knows them:
  /// the engine gives them at transfer (VN-26 looks for the transfer paper). nullopt: not known,
  /// and rules about documents report nothing.
  std::optional<std::vector<document_kind>> documents;

  /// The hospital sending the data in this flow, and where it is.
  const hospital_id& sender() const { return flow == data_flow::outbound ? origin : destination; }
  const hospital_id& receiver() const { return flow == data_flow::outbound ? destination : origin; }
  const std::string& sender_country() const {
    return flow == data_flow::outbound ? origin_country : destination_country;
  }
  const std::string& receiver_country() const {
    return flow == data_flow::outbound ? destination_country : origin_country;
  }
  bool involves(std::string_view country) const {
    return origin_country == country || destination_country == country;
  }
};

/// Switches for the rules graded U (uncertain) in the reference, with conservative defaults.
struct policy_flags {
  /// VN-09: a consent form that expressly requests the referral counts as Law 91 Art. 26(2)'s
  /// written request. Default false: a separate written request is required.
  bool vn_consent_form_is_written_request = false;
  /// VN-10: a missing data-transfer agreement only warns. Default false: it blocks.
  bool vn_transfer_agreement_warn_only = false;
  /// VN-11: days after the first cross-border transfer to file the impact assessment.
  int vn_impact_assessment_days = 60;
  /// VN-13: a recipient the impact assessment's dossier does not list is a change that needs
  /// the dossier updated, and warns. Default true; false: no finding.
  bool vn_new_recipient_needs_tia_update = true;
  /// VN-19: under Law 91, a child of 7 or more also assents. Default true.
  bool vn_child_assent_conservative = true;
  /// JP-08/JP-09: patients of this age or younger need a representative's consent in Japan.
  int jp_minor_threshold = 15;
  /// JP-06: the longest interval between two periodic checks of a recipient under the
  /// equivalent-system route (the Rules say "periodically"; a year is this library's choice).
  int jp_check_interval_days = 365;
  /// JP-02: a consent not stating the recipient's acquisition blocks. Default false: it warns.
  bool jp_strict_acquisition_consent = false;
  /// JP-11: implied consent (an in-hospital notice) blocks a provision from Japan abroad.
  /// Default true; false: it warns.
  bool jp_implied_consent_blocks_foreign = true;
  /// JP-12: a withdrawal stops every later provision from Japan (library policy; APPI Art. 35
  /// obliges it only in the cases it lists). Default true; false: it warns.
  bool jp_withdrawal_stops_provision = true;
  /// VN-26: a transfer from Vietnam without the transfer paper (Circular 14/2014/TT-BYT, which
  /// regulates transfers between Vietnamese facilities; no provision was found making it
  /// mandatory for a transfer abroad) is refused until it is attached. Default false: the
  /// reference makes it a recommended document, and its absence warns.
  bool vn_require_transfer_paper = false;
  /// MOU-01: accept an emergency basis at all. Default true.
  bool allow_emergency_basis = true;
};

struct finding {
  std::string rule_id;  ///< "VN-03"
  rule_effect effect;
  std::string code;                           ///< stable: "VN_NO_CONSENT_HEALTH"
  std::string message;                        ///< readable; never contains a name or a birth date
  std::string citation;                       ///< "Law 91/2025 Art. 26(1)(a)"
  std::vector<std::string> filtered_classes;  ///< for rule_effect::filter
};

/// The findings a rule reports, pre-filled with the rule's id and citation.
class rule_report {
 public:
  rule_report(std::string rule_id, std::string citation, std::vector<finding>& out)
      : rule_id_(std::move(rule_id)), citation_(std::move(citation)), out_(&out) {}
  void block(std::string code, std::string message);
  void require_document(std::string code, std::string message);
  void warn(std::string code, std::string message);
  void filter(std::string code, std::string message, std::vector<std::string> classes);

 private:
  void add(rule_effect e, std::string code, std::string message, std::vector<std::string> classes);
  std::string rule_id_;
  std::string citation_;
  std::vector<finding>* out_;
};

/// The legal basis the evaluation found, given to the rules.
struct basis_info {
  legal_basis basis = legal_basis::none;
  vietnam_regime regime = vietnam_regime::law_91;
};

/// One rule. `evaluate` reports findings for the context; it must not throw.
struct consent_rule {
  std::string id;        ///< "VN-03", or a hospital's own: "BM-01"
  std::string pack;      ///< "vietnam", "japan", "fhir", "mou", or the hospital's own
  std::string citation;  ///< the source: law and article
  std::string summary;   ///< one line
  std::function<void(const consent_context&, const basis_info&, const policy_flags&, rule_report&)>
      evaluate;
};

/// What a policy says about a step.
struct [[nodiscard]] consent_verdict {
  consent_decision decision = consent_decision::block;
  std::vector<finding> findings;  ///< every finding, in rule order
  legal_basis basis = legal_basis::none;
  std::string basis_justification;  ///< the emergency justification when basis == emergency
  vietnam_regime regime = vietnam_regime::law_91;

  bool allowed() const noexcept { return decision == consent_decision::allow; }
  /// True when some finding of `rule_id` blocks (or requires a document), with `code` if given.
  bool blocked_by(std::string_view rule_id, std::string_view code = {}) const;
  bool has_finding(std::string_view rule_id, std::string_view code = {}) const;
  /// The data classes the filter findings leave out.
  std::vector<std::string> filtered_classes() const;
};

/// The rule packs. Each rule's summary and citation come from the reference.
std::vector<consent_rule> vietnam_rules();  ///< VN-01, VN-03..VN-11, VN-15, VN-17..VN-19
std::vector<consent_rule> japan_rules();    ///< JP-02, JP-04, JP-05, JP-08, JP-10
std::vector<consent_rule> fhir_rules();     ///< STD-01..STD-04
std::vector<consent_rule> mou_rules();      ///< MOU-01

/// An ordered set of rules and the flags they read.
///
/// Example:
///   auto policy = consent_policy::standard();
///   auto verdict = policy.evaluate(ctx);
///   if (!verdict.allowed()) for (auto& f : verdict.findings) log(f.rule_id, f.code, f.message);
class consent_policy {
 public:
  /// An empty policy: allows everything that has a legal basis.
  consent_policy() = default;
  /// Every pack, in the order fhir, mou, vietnam, japan.
  static consent_policy standard(policy_flags flags = {});

  /// Adds a rule at the end. Throws kakehashi::error{errc::already_exists} if the id is taken,
  /// {errc::invalid_argument} if the id is malformed or evaluate is empty.
  consent_policy& add(consent_rule rule);
  /// Removes a rule; throws {errc::not_found} listing the ids if there is none.
  consent_policy& remove(std::string_view rule_id);
  /// Removes every rule of a pack; throws {errc::not_found} if the pack has none.
  consent_policy& remove_pack(std::string_view pack);
  consent_policy& set_flags(policy_flags flags);

  const std::vector<consent_rule>& rules() const noexcept { return rules_; }
  const policy_flags& flags() const noexcept { return flags_; }

  /// Evaluates every rule. The legal basis is consent when a consent record is given and no
  /// finding blocks; emergency when the consent record (or its absence) is covered by a justified
  /// emergency basis that the policy accepts; none otherwise (and then the decision is block).
  /// Throws kakehashi::error{errc::invalid_argument} only for a malformed context (bad ids,
  /// a country code that is not two capitals).
  consent_verdict evaluate(const consent_context& ctx) const;

 private:
  std::vector<consent_rule> rules_;
  policy_flags flags_;
};

/// A hospital's consent configuration as data (docs/policy.md): which rule packs run, which rules
/// are switched off, the policy flags, each sending hospital's organisation-level compliance
/// (VN-10, VN-11) and the data classes a referral sends. What `kakehashi --policy FILE` reads, so
/// that the tool evaluates exactly what production does.
struct policy_settings {
  consent_policy policy = consent_policy::standard();
  std::map<hospital_id, organisation_compliance> compliance;
  std::vector<std::string> payload_classes{"diagnosis", "imaging", "pathology"};
};

/// The outcome of try_load_policy: the settings, or every problem found (never both).
struct [[nodiscard]] policy_load_result {
  std::optional<policy_settings> settings;
  std::vector<load_problem> problems;
  bool ok() const noexcept { return settings.has_value(); }
};

/// Parses the JSON of docs/policy.md strictly: unknown keys, wrong types, unknown packs, rules
/// and flags, out-of-range numbers, malformed ids and instants, every problem at once with its
/// JSON path. Never throws for bad input.
policy_load_result try_load_policy(std::string_view json_text);
/// As try_load_policy, but throws kakehashi::error{errc::invalid_argument} listing the problems.
policy_settings load_policy(std::string_view json_text, std::string_view source_name = "policy");
/// Reads a file; throws {errc::not_found} if it cannot be read.
policy_settings load_policy_file(const std::string& path);

/// The verdict as one JSON object, as `kakehashi consent check --json` prints it.
std::string to_json(const consent_verdict& v, int indent = -1);

std::ostream& operator<<(std::ostream& os, const consent_verdict& v);

}  // namespace kakehashi
