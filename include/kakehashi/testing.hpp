#pragma once
// A toolkit for unit-testing consent rules (and the deadlines of the duties they create), for
// compliance and integration staff and for
// kakehashi's own tests. Builders start from a complete, valid bilingual consent for a
// Bach Mai -> Shonan Kamakura referral in 2026, so a test states only what it changes; checks
// return an `expectation` that converts to bool and prints what went wrong, so they read well
// in any test framework:
//
//   auto ctx = testing::referral_context().at("2026-03-01T00:00:00Z");
//   auto consent = testing::valid_consent().without_written_request().build();
//   REQUIRE(testing::blocks(policy, ctx.with(consent), "VN-09",
//   "VN_ART26_2_WRITTEN_REQUEST_MISSING"));
//
// Builders are values; nothing here touches global state.

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/consent.hpp"
#include "kakehashi/consent_rules.hpp"
#include "kakehashi/engine.hpp"  // duty_kind, deadlines_for

namespace kakehashi::testing {

/// Builds a consent_record. Defaults: consent C-TEST-1 for patient P-TEST-1 (born 1970-05-20,
/// age verified, full capacity) given by the patient at Bach Mai on 2026-01-10T09:00+07:00,
/// active, patient-privacy, purposes cross_border_referral + results_return + treatment,
/// recipient shonan-kamakura (JP, a healthcare provider), data classes diagnosis, imaging,
/// pathology, lab_results; a written signature with its hash; every notice shown; forms in vi and
/// ja; the APPI Art. 28(2) information; a written request naming shonan-kamakura.
class consent_builder {
 public:
  consent_builder();

  consent_builder& id(std::string v);
  /// The patient the consent is for; a grantor who is the patient names the new one too.
  consent_builder& patient(std::string ref);
  consent_builder& controller(std::string hospital);
  consent_builder& status(consent_status v);
  consent_builder& scope(consent_scope v);
  consent_builder& captured_at(std::string_view rfc3339);
  consent_builder& valid_from(std::string_view rfc3339);
  consent_builder& valid_until(std::string_view rfc3339);
  consent_builder& born(date::year_month_day birth_date);
  /// Born so that the patient is `years` old on `on` (YYYY-MM-DD): birthday `on` minus years,
  /// minus one day (so the birthday has passed).
  consent_builder& aged(int years, std::string_view on = "2026-03-01");
  consent_builder& age_verified(bool v);
  consent_builder& capacity(capacity_status v);
  consent_builder& capacity_assessed(bool v);
  /// Replaces the grantors.
  consent_builder& given_by(std::vector<grantor_role> roles);
  consent_builder& add_grantor(grantor_role role, std::string authority_evidence = "");
  consent_builder& purposes(std::vector<std::string> v);
  consent_builder& without_purpose(std::string_view code);
  consent_builder& recipients(std::vector<consent_recipient> v);
  consent_builder& data_classes(std::vector<std::string> v);
  consent_builder& excluding(std::vector<std::string> classes);
  consent_builder& method(expression_method v);
  consent_builder& no_artifact();
  consent_builder& affirmative(bool v);
  consent_builder& pre_ticked(bool v);
  consent_builder& sensitive_notice(bool v);
  consent_builder& complaint_notice(bool v);
  consent_builder& rights_notice(bool v);
  consent_builder& acquisition_notice(bool v);
  consent_builder& languages(std::vector<std::string> v);
  consent_builder& japan_info(japan_foreign_provision_info v);
  consent_builder& without_japan_info();
  consent_builder& written_request_for(std::string hospital);
  consent_builder& without_written_request();
  consent_builder& withdrawn_at(std::string_view rfc3339,
                                withdrawal_channel channel = withdrawal_channel::written);
  /// An emergency basis; by default justified, with a clinician, consent impracticable.
  consent_builder& emergency(std::string justification =
                                 "unconscious after cardiac arrest; "
                                 "no representative reachable",
                             bool consent_impracticable = true, std::string clinician = "dr-em-1");

  /// The privacy policies the patient acknowledged (STD-08), by URI.
  consent_builder& acknowledged_policies(std::vector<std::string> uris);
  /// Who decided the treatment referral (VN-25), with proof of authority by default.
  consent_builder& treatment_decided_by(decision_maker_role role, std::string person = "rep-1",
                                        std::string authority_evidence = "DOC-AUTH-1");

  const consent_record& build() const noexcept { return record_; }
  operator const consent_record&() const noexcept { return record_; }  // NOLINT: convenience

 private:
  consent_record record_;
};

/// The default complete, valid consent (see consent_builder).
consent_builder valid_consent();

/// Builds a consent_context. Defaults: outbound referral bach-mai (VN) -> shonan-kamakura (JP),
/// action "transfer", at 2026-03-01T00:00:00Z, payload diagnosis + imaging + pathology, a
/// data-transfer agreement with its withdrawal clause and a filed impact assessment on record
/// (its recipients not recorded), no consent (use with()).
class context_builder {
 public:
  context_builder();
  context_builder& from(std::string hospital, std::string country);
  context_builder& to(std::string hospital, std::string country);
  context_builder& flow(data_flow v);
  context_builder& action(std::string v);
  context_builder& at(std::string_view rfc3339);
  context_builder& payload(std::vector<std::string> classes);
  context_builder& compliance(organisation_compliance v);
  /// The patient carries their own record abroad (VN-14).
  context_builder& patient_mediated(bool v = true);
  /// The kinds of document attached to the referral (VN-26 looks for transfer_paper); without
  /// this call they are unknown, as a caller that does not track documents leaves them.
  context_builder& documents(std::vector<document_kind> kinds);
  /// The context with `consent` attached (the record must outlive the context's use).
  consent_context with(const consent_record& consent) const;
  /// The context with no consent on file.
  consent_context without_consent() const;

 private:
  consent_context ctx_;
};

context_builder referral_context();

/// The result of a check: converts to bool; prints the verdict when it did not hold.
struct expectation {
  bool passed = false;
  std::string explanation;
  explicit operator bool() const noexcept { return passed; }
};
std::ostream& operator<<(std::ostream& os, const expectation& e);

/// The policy allows the context (no blocking finding at all).
expectation allows(const consent_policy& policy, const consent_context& ctx);
/// The policy blocks the context and `rule_id` is among the reasons (with `code`, if given).
expectation blocks(const consent_policy& policy, const consent_context& ctx,
                   std::string_view rule_id, std::string_view code = {});
/// The verdict has a finding of `rule_id` with `effect` (and `code`, if given), whatever the
/// decision.
expectation reports(const consent_policy& policy, const consent_context& ctx,
                    std::string_view rule_id, rule_effect effect, std::string_view code = {});

/// A duty's deadlines as the engine records them (engine.hpp: deadlines_for, on the shipped
/// calendars) are the expected ones; instants in RFC 3339, "" for "no deadline". Prints both
/// when they differ, and the reason when there is none:
///
///   // A withdrawal received on Thursday 12 March 2026 in Hanoi: acknowledged by the end of
///   // Monday 16 March, completed by the end of Wednesday 1 April (VN-15).
///   CHECK(testing::due(duty_kind::withdrawal, "VN", "2026-03-12T10:00:00+07:00",
///                      "2026-03-17T00:00:00+07:00", "2026-04-02T00:00:00+07:00"));
expectation due(duty_kind kind, std::string_view country, std::string_view received,
                std::string_view acknowledge_by, std::string_view complete_by);

}  // namespace kakehashi::testing
