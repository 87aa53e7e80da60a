// Each core rule's given/when/then (the laws it cites: docs/sources.md) as its own test case,
// tagged with the rule id; then the regime switch, ages, withdrawal and emergencies; and the
// "done when" check: a complete consent is allowed and removing any one element blocks it with
// the matching rule. The tests use the public toolkit in kakehashi/testing.hpp.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/fhir.hpp>
#include <kakehashi/testing.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace kakehashi;
namespace kt = kakehashi::testing;

namespace {

const consent_policy& standard() {
  static const consent_policy p = consent_policy::standard();
  return p;
}

consent_policy with_flags(const std::function<void(policy_flags&)>& edit) {
  policy_flags f;
  edit(f);
  return consent_policy::standard(f);
}

// A consent captured under Decree 13, for evaluations in 2025.
kt::consent_builder decree13_consent() {
  return kt::valid_consent().captured_at("2025-11-20T09:00:00+07:00");
}

}  // namespace

TEST_CASE("the complete default consent is allowed on the consent basis", "[consent_rules]") {
  const consent_record c = kt::valid_consent();
  const auto v = standard().evaluate(kt::referral_context().with(c));
  CHECK(v.allowed());
  CHECK(v.basis == legal_basis::consent);
  CHECK(v.regime == vietnam_regime::law_91);
  CHECK(v.findings.empty());
}

TEST_CASE("VN-01: a Decree 13 consent stays valid under Law 91", "[consent_rules][VN-01]") {
  // Given a consent signed 10 Dec 2025 that met Decree 13, when evaluated on 5 Jan 2026.
  const consent_record c = kt::valid_consent().captured_at("2025-12-10T09:00:00+07:00");
  const auto v = standard().evaluate(kt::referral_context().at("2026-01-05T03:00:00Z").with(c));
  CHECK(v.regime == vietnam_regime::law_91);
  CHECK_FALSE(v.has_finding("VN-01"));
  CHECK(v.allowed());
  // A consent captured after the step it is used for is no consent for it.
  const consent_record late = kt::valid_consent().captured_at("2026-03-02T09:00:00+07:00");
  CHECK(kt::blocks(standard(), kt::referral_context().with(late), "VN-01",
                   "VN_CONSENT_NOT_YET_GIVEN"));
}

TEST_CASE("JP-01: medical data is special care-required information on the Japanese side",
          "[consent_rules][JP-01]") {
  // Given a referral letter with diagnosis, when it is classified under the JP profile, then
  // scrpi = true.
  CHECK(is_special_care_required({"diagnosis"}));
  CHECK(is_special_care_required({"demographics", "lab_results"}));
  CHECK(is_special_care_required({"blood_group"}));  // a test result, unlike Decree 13's view
  CHECK_FALSE(is_special_care_required({"demographics"}));
  CHECK_FALSE(is_special_care_required({}));
  // The classification triggers JP-02 (acquisition) and JP-03 (no opt-out): a consent that
  // does not state the acquisition warns for a diagnosis, and says nothing for demographics.
  const consent_record silent = kt::valid_consent().recipients({});
  const auto medical = standard().evaluate(kt::referral_context().with(silent));
  CHECK(medical.has_finding("JP-02", "JP_ACQ_CONSENT_SCOPE"));
  const auto demographics =
      standard().evaluate(kt::referral_context().payload({"demographics"}).with(silent));
  CHECK_FALSE(demographics.has_finding("JP-02"));
  const consent_record optout = kt::valid_consent().method(expression_method::implied_notice);
  const auto back = kt::referral_context().flow(data_flow::results_return);
  CHECK(standard().evaluate(back.with(optout)).has_finding("JP-03", "JP_OPTOUT_NOT_FOR_SCRPI"));
  CHECK_FALSE(standard()
                  .evaluate(kt::referral_context()
                                .flow(data_flow::results_return)
                                .payload({"demographics"})
                                .with(optout))
                  .has_finding("JP-03"));
}

TEST_CASE("VN-02: health data is sensitive, blood group alone is not under Decree 13",
          "[consent_rules][VN-02]") {
  CHECK(is_sensitive_payload({"diagnosis", "pathology"}, vietnam_regime::decree_13));
  CHECK(is_sensitive_payload({"diagnosis"}, vietnam_regime::law_91));
  CHECK_FALSE(is_sensitive_payload({"blood_group"}, vietnam_regime::decree_13));
  CHECK(is_sensitive_payload({"blood_group"}, vietnam_regime::law_91));
  CHECK_FALSE(is_sensitive_payload({"demographics"}, vietnam_regime::law_91));
}

TEST_CASE("VN-03: no consent and no emergency blocks health data", "[consent_rules][VN-03]") {
  CHECK(kt::blocks(standard(), kt::referral_context().without_consent(), "VN-03",
                   "VN_NO_CONSENT_HEALTH"));
  const consent_record by_rep = kt::valid_consent().given_by({grantor_role::legal_representative});
  CHECK(kt::blocks(standard(), kt::referral_context().with(by_rep), "VN-03",
                   "VN_CONSENT_NOT_BY_SUBJECT"));
  const consent_record nobody = kt::valid_consent().given_by({});
  CHECK(
      kt::blocks(standard(), kt::referral_context().with(nobody), "VN-03", "VN_NO_CONSENT_HEALTH"));
}

TEST_CASE("VN-04: consent names the recipient under Decree 13, not necessarily under Law 91",
          "[consent_rules][VN-04]") {
  const consent_record no_recipient = decree13_consent().recipients({});
  CHECK(kt::blocks(standard(), kt::referral_context().at("2025-12-01T00:00:00Z").with(no_recipient),
                   "VN-04", "VN_CONSENT_UNINFORMED_RECIPIENT"));
  const consent_record c2026 = kt::valid_consent().recipients({});
  const auto v = standard().evaluate(kt::referral_context().with(c2026));
  CHECK_FALSE(v.has_finding("VN-04"));
  CHECK(v.blocked_by("MOU-01", "MOU_RECIPIENT_NOT_NAMED"));  // the MoU still asks for it
  const consent_record no_rights = kt::valid_consent().rights_notice(false);
  CHECK(kt::blocks(standard(), kt::referral_context().with(no_rights), "VN-04",
                   "VN_CONSENT_UNINFORMED_RIGHTS"));
  const consent_record no_classes = kt::valid_consent().data_classes({});
  CHECK(kt::blocks(standard(), kt::referral_context().with(no_classes), "VN-04",
                   "VN_CONSENT_UNINFORMED_PURPOSE"));
}

TEST_CASE("VN-05: under Decree 13 the patient is told the data is sensitive",
          "[consent_rules][VN-05]") {
  const consent_record c = decree13_consent().sensitive_notice(false);
  CHECK(kt::blocks(standard(), kt::referral_context().at("2025-12-01T00:00:00Z").with(c), "VN-05",
                   "VN_SENSITIVE_NOTICE_MISSING"));
  CHECK_FALSE(standard().evaluate(kt::referral_context().with(c)).has_finding("VN-05"));
}

TEST_CASE("VN-06: consent is verifiable", "[consent_rules][VN-06]") {
  const consent_record verbal = kt::valid_consent().method(expression_method::verbal).no_artifact();
  CHECK(kt::blocks(standard(), kt::referral_context().with(verbal), "VN-06",
                   "VN_CONSENT_NOT_VERIFIABLE"));
  const consent_record recording = kt::valid_consent().method(expression_method::voice_recording);
  CHECK(kt::allows(standard(), kt::referral_context().with(recording)));
  const consent_record unsigned_form = kt::valid_consent().no_artifact();
  CHECK(kt::blocks(standard(), kt::referral_context().with(unsigned_form), "VN-06"));
}

TEST_CASE("VN-07: silence or a pre-ticked box is not consent", "[consent_rules][VN-07]") {
  const consent_record silent = kt::valid_consent().affirmative(false);
  CHECK(kt::blocks(standard(), kt::referral_context().with(silent), "VN-07",
                   "VN_SILENCE_NOT_CONSENT"));
  const consent_record ticked = kt::valid_consent().pre_ticked(true);
  CHECK(kt::blocks(standard(), kt::referral_context().with(ticked), "VN-07",
                   "VN_SILENCE_NOT_CONSENT"));
}

TEST_CASE("VN-08: consent is per purpose, and only granted classes are sent",
          "[consent_rules][VN-08]") {
  const consent_record local_only = kt::valid_consent().purposes({"treatment"});
  CHECK(kt::blocks(standard(), kt::referral_context().with(local_only), "VN-08",
                   "VN_PURPOSE_NOT_COVERED"));
  const consent_record no_imaging = kt::valid_consent().excluding({"imaging"});
  const auto v = standard().evaluate(kt::referral_context().with(no_imaging));
  CHECK(v.allowed());
  CHECK(v.filtered_classes() == std::vector<std::string>{"imaging"});
  CHECK(kt::reports(standard(), kt::referral_context().with(no_imaging), "VN-08",
                    rule_effect::filter, "VN_DATA_CLASS_NOT_COVERED"));
  const consent_record nothing = kt::valid_consent().data_classes({"demographics"});
  CHECK(kt::blocks(standard(), kt::referral_context().with(nothing), "VN-08",
                   "VN_DATA_CLASS_NOT_COVERED"));
}

TEST_CASE("VN-09: Law 91 Art. 26(2) asks for the patient's written request",
          "[consent_rules][VN-09]") {
  const consent_record c = kt::valid_consent().without_written_request();
  CHECK(kt::blocks(standard(), kt::referral_context().with(c), "VN-09",
                   "VN_ART26_2_WRITTEN_REQUEST_MISSING"));
  CHECK(kt::reports(standard(), kt::referral_context().with(c), "VN-09",
                    rule_effect::require_document));
  const consent_record elsewhere = kt::valid_consent().written_request_for("other-hospital");
  CHECK(kt::blocks(standard(), kt::referral_context().with(elsewhere), "VN-09"));
  // Policy flag (U): the consent form itself counts as the written request.
  CHECK(kt::allows(with_flags([](policy_flags& f) { f.vn_consent_form_is_written_request = true; }),
                   kt::referral_context().with(c)));
  // Not under Decree 13.
  const consent_record d13 = decree13_consent().without_written_request();
  CHECK_FALSE(standard()
                  .evaluate(kt::referral_context().at("2025-12-01T00:00:00Z").with(d13))
                  .has_finding("VN-09"));
}

TEST_CASE("VN-10: a data-transfer agreement with the recipient", "[consent_rules][VN-10]") {
  const consent_record c = kt::valid_consent();
  organisation_compliance none;
  none.impact_assessment_filed_at = parse_instant("2026-01-05T00:00:00Z");
  const auto ctx = kt::referral_context().compliance(none).with(c);
  CHECK(kt::blocks(standard(), ctx, "VN-10", "VN_TRANSFER_AGREEMENT_MISSING"));
  const auto warn_only =
      with_flags([](policy_flags& f) { f.vn_transfer_agreement_warn_only = true; });
  CHECK(kt::allows(warn_only, ctx));
  CHECK(kt::reports(warn_only, ctx, "VN-10", rule_effect::warn, "VN_TRANSFER_AGREEMENT_MISSING"));
}

TEST_CASE("VN-11: the impact assessment within 60 days of the first transfer",
          "[consent_rules][VN-11]") {
  const consent_record c = kt::valid_consent().captured_at("2026-01-02T09:00:00+07:00");
  organisation_compliance org;
  org.transfer_agreement = true;
  org.first_cross_border_transfer = parse_instant("2026-01-10T00:00:00Z");
  const auto at = [&](const char* when) {
    return kt::referral_context().compliance(org).at(when).with(c);
  };
  // Given the first transfer on 2026-01-10 and no filing: 2026-02-20 warns, 2026-03-20 blocks.
  CHECK(kt::allows(standard(), at("2026-02-20T00:00:00Z")));
  CHECK(kt::reports(standard(), at("2026-02-20T00:00:00Z"), "VN-11", rule_effect::warn,
                    "VN_TIA_DUE"));
  CHECK(kt::blocks(standard(), at("2026-03-20T00:00:00Z"), "VN-11", "VN_TIA_OVERDUE"));
  // The boundary, parameterised by the policy's day count: day 60 itself is in time.
  CHECK(kt::allows(standard(), at("2026-03-11T00:00:00Z")));
  CHECK(kt::blocks(standard(), at("2026-03-11T00:00:01Z"), "VN-11", "VN_TIA_OVERDUE"));
  const auto longer = with_flags([](policy_flags& f) { f.vn_impact_assessment_days = 61; });
  CHECK(kt::allows(longer, at("2026-03-11T00:00:01Z")));
}

TEST_CASE("VN-12: a Decree 13 transfer needs a consent given knowing the complaint mechanism",
          "[consent_rules][VN-12]") {
  // Given regime = Decree 13 and a consent without the complaint-mechanism notice, when
  // evaluated, then BLOCK.
  const consent_record silent = decree13_consent().complaint_notice(false);
  const auto in_2025 = kt::referral_context().at("2025-11-25T03:00:00Z");
  CHECK(kt::blocks(standard(), in_2025.with(silent), "VN-12", "VN_D13_CONSENT_NO_COMPLAINT_MECH"));
  CHECK_FALSE(standard().evaluate(in_2025.with(decree13_consent())).has_finding("VN-12"));
  // The last instant of Decree 13 and the first of Law 91 (midnight in Vietnam), which this
  // rule does not concern.
  const auto last =
      standard().evaluate(kt::referral_context().at("2025-12-31T16:59:59Z").with(silent));
  CHECK(last.regime == vietnam_regime::decree_13);
  CHECK(last.has_finding("VN-12", "VN_D13_CONSENT_NO_COMPLAINT_MECH"));
  const auto first =
      standard().evaluate(kt::referral_context().at("2025-12-31T17:00:00Z").with(silent));
  CHECK(first.regime == vietnam_regime::law_91);
  CHECK_FALSE(first.has_finding("VN-12"));
}

TEST_CASE("VN-15: a withdrawal blocks from when it is received, never before",
          "[consent_rules][VN-15]") {
  // A transfer on day 0, a withdrawal received on day 3, another transfer tried on day 4.
  const consent_record c = kt::valid_consent().withdrawn_at("2026-03-04T00:00:00Z");
  CHECK(kt::allows(standard(), kt::referral_context().at("2026-03-01T00:00:00Z").with(c)));
  CHECK(kt::allows(standard(), kt::referral_context().at("2026-03-03T23:59:59Z").with(c)));
  CHECK(kt::blocks(standard(), kt::referral_context().at("2026-03-04T00:00:00Z").with(c), "VN-15",
                   "VN_CONSENT_WITHDRAWN"));
  CHECK(kt::blocks(standard(), kt::referral_context().at("2026-03-05T00:00:00Z").with(c), "VN-15"));
}

TEST_CASE("VN-17: an emergency basis needs a justification", "[consent_rules][VN-17]") {
  // An unconscious patient: no consent was given, an emergency basis is recorded.
  const consent_record justified =
      kt::valid_consent().status(consent_status::draft).given_by({}).emergency();
  const auto v = standard().evaluate(kt::referral_context().with(justified));
  CHECK(v.allowed());
  CHECK(v.basis == legal_basis::emergency);
  CHECK_THAT(v.basis_justification, Catch::Matchers::Contains("unconscious"));
  const consent_record unjustified =
      kt::valid_consent().status(consent_status::draft).given_by({}).emergency("");
  CHECK(kt::blocks(standard(), kt::referral_context().with(unjustified), "VN-17",
                   "VN_EMERGENCY_UNJUSTIFIED"));
  const consent_record practicable =
      kt::valid_consent().status(consent_status::draft).given_by({}).emergency("chest pain", false);
  CHECK(kt::blocks(standard(), kt::referral_context().with(practicable), "VN-17",
                   "VN_EMERGENCY_CONSENT_PRACTICABLE"));
}

TEST_CASE("VN-16: a justified emergency is not stopped by an earlier withdrawal",
          "[consent_rules][VN-16][VN-17][VN-15]") {
  // Given consent withdrawn and a later life-threatening event with an emergency justification,
  // when urgent data is sent, then ALLOW, flagged VN_ART19_OVERRIDES_WITHDRAWAL.
  const consent_record c = kt::valid_consent().withdrawn_at("2026-02-01T00:00:00Z").emergency();
  const auto v = standard().evaluate(kt::referral_context().with(c));
  CHECK(v.allowed());
  CHECK(v.basis == legal_basis::emergency);
  CHECK(kt::reports(standard(), kt::referral_context().with(c), "VN-16", rule_effect::warn,
                    "VN_ART19_OVERRIDES_WITHDRAWAL"));
  CHECK_FALSE(v.has_finding("VN-15"));
  // A withdrawal received after the step: nothing to override (the boundary: one second).
  const consent_record later = kt::valid_consent().withdrawn_at("2026-03-01T00:00:01Z").emergency();
  CHECK_FALSE(standard()
                  .evaluate(kt::referral_context().at("2026-03-01T00:00:00Z").with(later))
                  .has_finding("VN-16"));
  CHECK(standard()
            .evaluate(kt::referral_context().at("2026-03-01T00:00:01Z").with(later))
            .has_finding("VN-16"));
  // Without the emergency basis the withdrawal blocks (VN-15), and VN-16 says nothing.
  const consent_record plain = kt::valid_consent().withdrawn_at("2026-02-01T00:00:00Z");
  const auto blocked = standard().evaluate(kt::referral_context().with(plain));
  CHECK(blocked.has_finding("VN-15", "VN_CONSENT_WITHDRAWN"));
  CHECK_FALSE(blocked.has_finding("VN-16"));
}

TEST_CASE("VN-18: children under Decree 13", "[consent_rules][VN-18]") {
  const auto ctx = kt::referral_context().at("2025-12-01T00:00:00Z");
  const consent_record nine =
      decree13_consent().aged(9, "2025-12-01").given_by({grantor_role::parent});
  CHECK(kt::blocks(standard(), ctx.with(nine), "VN-18", "VN_D13_CHILD_CONSENT_MISSING"));
  // (The parent also decided the treatment referral: VN-25.)
  const consent_record six = decree13_consent()
                                 .aged(6, "2025-12-01")
                                 .given_by({grantor_role::parent})
                                 .treatment_decided_by(decision_maker_role::representative);
  CHECK(kt::allows(standard(), ctx.with(six)));
  const consent_record unverified =
      decree13_consent().aged(6, "2025-12-01").given_by({grantor_role::parent}).age_verified(false);
  CHECK(kt::blocks(standard(), ctx.with(unverified), "VN-18", "VN_D13_AGE_UNVERIFIED"));
  const consent_record nine_both = decree13_consent()
                                       .aged(9, "2025-12-01")
                                       .given_by({grantor_role::parent, grantor_role::child_assent})
                                       .treatment_decided_by(decision_maker_role::representative);
  CHECK(kt::allows(standard(), ctx.with(nine_both)));
}

TEST_CASE("VN-19: children and persons without capacity under Law 91", "[consent_rules][VN-19]") {
  const consent_record twelve = kt::valid_consent()
                                    .aged(12)
                                    .given_by({grantor_role::legal_representative})
                                    .treatment_decided_by(decision_maker_role::representative);
  CHECK(kt::blocks(standard(), kt::referral_context().with(twelve), "VN-19",
                   "VN_L91_CHILD_ASSENT_MISSING"));
  CHECK(kt::allows(with_flags([](policy_flags& f) { f.vn_child_assent_conservative = false; }),
                   kt::referral_context().with(twelve)));
  // The representative shows proof of authority.
  const consent_record no_proof =
      kt::valid_consent().aged(5).given_by({}).add_grantor(grantor_role::parent);
  CHECK(kt::blocks(standard(), kt::referral_context().with(no_proof), "VN-19",
                   "VN_L91_REP_CONSENT_MISSING"));
  const consent_record adult_ward = kt::valid_consent()
                                        .capacity(capacity_status::lost)
                                        .given_by({grantor_role::guardian})
                                        .treatment_decided_by(decision_maker_role::representative);
  CHECK(kt::allows(standard(), kt::referral_context().with(adult_ward)));
  const consent_record ward_alone = kt::valid_consent().capacity(capacity_status::lost);
  CHECK(kt::blocks(standard(), kt::referral_context().with(ward_alone), "VN-19",
                   "VN_L91_REP_CONSENT_MISSING"));
}

TEST_CASE("VN-25: who decides the treatment referral of a minor or of an adult without capacity",
          "[consent_rules][VN-25]") {
  using role = decision_maker_role;
  const auto ctx = kt::referral_context();  // 2026-03-01
  // Given an unaccompanied minor with no representative, when the facility's on-duty leader
  // decides the referral with proof of authority, then VN-25 is satisfied; the data consent is
  // still judged by VN-19 (no representative: blocked there).
  const consent_record unaccompanied =
      kt::valid_consent()
          .aged(12)
          .given_by({grantor_role::child_assent})
          .treatment_decided_by(role::facility_lead, "dr-duty-1", "DUTY-ROSTER-2026-03-01");
  const auto v = standard().evaluate(ctx.with(unaccompanied));
  CHECK_FALSE(v.has_finding("VN-25"));
  CHECK(v.blocked_by("VN-19", "VN_L91_REP_CONSENT_MISSING"));
  // With a representative who consented to the data, the leader's decision is flagged: the
  // leader decides only without a representative.
  const consent_record represented =
      kt::valid_consent()
          .aged(12)
          .given_by({})
          .add_grantor(grantor_role::guardian, "COURT-2026-17")
          .add_grantor(grantor_role::child_assent)
          .treatment_decided_by(role::facility_lead, "dr-duty-1", "DUTY-ROSTER-2026-03-01");
  CHECK(kt::allows(standard(), ctx.with(represented)));
  CHECK(kt::reports(standard(), ctx.with(represented), "VN-25", rule_effect::warn,
                    "VN_TREATMENT_DECISION_REPRESENTATIVE_AVAILABLE"));
  // Nothing recorded: the document is required; the patient or (for a minor) written wishes
  // cannot decide; a decision maker without proof of authority needs it.
  const auto minor = [](int age) {
    return kt::valid_consent()
        .aged(age)
        .given_by({})
        .add_grantor(grantor_role::parent, "BIRTH-CERT-1")
        .add_grantor(grantor_role::child_assent);
  };
  CHECK(
      kt::blocks(standard(), ctx.with(minor(12)), "VN-25", "VN_TREATMENT_DECISION_MAKER_MISSING"));
  CHECK(kt::blocks(standard(), ctx.with(minor(12).treatment_decided_by(role::patient)), "VN-25",
                   "VN_TREATMENT_DECISION_MAKER_INVALID"));
  CHECK(kt::blocks(standard(), ctx.with(minor(12).treatment_decided_by(role::prior_written_wishes)),
                   "VN-25", "VN_TREATMENT_DECISION_MAKER_INVALID"));
  CHECK(kt::blocks(standard(),
                   ctx.with(minor(12).treatment_decided_by(role::representative, "p-1", "")),
                   "VN-25", "VN_TREATMENT_DECISION_AUTHORITY_MISSING"));
  CHECK(kt::allows(standard(), ctx.with(minor(12).treatment_decided_by(role::representative))));
  // The boundary its age implies: 17 is a minor, 18 decides for themself (local date in Vietnam).
  CHECK(kt::blocks(standard(), ctx.with(minor(17)), "VN-25"));
  const consent_record adult = kt::valid_consent().aged(18);
  CHECK_FALSE(standard().evaluate(ctx.with(adult)).has_finding("VN-25"));
  // An adult who lost capacity: their prior lawful written wishes decide.
  const consent_record ward =
      kt::valid_consent()
          .capacity(capacity_status::lost)
          .given_by({grantor_role::guardian})
          .treatment_decided_by(role::prior_written_wishes, "p-ward", "WISHES-2024-05");
  CHECK(kt::allows(standard(), ctx.with(ward)));
  CHECK(kt::blocks(
      standard(),
      ctx.with(
          kt::valid_consent().capacity(capacity_status::lost).given_by({grantor_role::guardian})),
      "VN-25", "VN_TREATMENT_DECISION_MAKER_MISSING"));
  // Only when Vietnam sends: the results' return from Japan is not a treatment referral.
  CHECK_FALSE(standard()
                  .evaluate(kt::referral_context().flow(data_flow::results_return).with(minor(12)))
                  .has_finding("VN-25"));
}

TEST_CASE("VN-26: a transfer from Vietnam carries its transfer paper, recommended or required",
          "[consent_rules][VN-26]") {
  const consent_record c = kt::valid_consent();
  const auto none = kt::referral_context().documents({document_kind::referral_letter});
  const auto with_paper = kt::referral_context().documents(
      {document_kind::referral_letter, document_kind::transfer_paper});
  const auto strict = with_flags([](policy_flags& f) { f.vn_require_transfer_paper = true; });
  // Given the policy requires the paper and the referral has none, when the transfer is
  // evaluated, then REQUIRE-DOC VN_TRANSFER_PAPER_MISSING.
  CHECK(kt::blocks(strict, none.with(c), "VN-26", "VN_TRANSFER_PAPER_MISSING"));
  CHECK(kt::reports(strict, none.with(c), "VN-26", rule_effect::require_document,
                    "VN_TRANSFER_PAPER_MISSING"));
  CHECK(kt::allows(strict, with_paper.with(c)));
  CHECK_FALSE(strict.evaluate(with_paper.with(c)).has_finding("VN-26"));
  // By default (graded U: a recommended document for a transfer abroad) its absence warns.
  CHECK(kt::allows(standard(), none.with(c)));
  CHECK(kt::reports(standard(), none.with(c), "VN-26", rule_effect::warn,
                    "VN_TRANSFER_PAPER_RECOMMENDED"));
  // The boundaries: only the transfer itself, only when Vietnam sends, only when the documents
  // are known.
  auto consenting = none;
  CHECK_FALSE(strict.evaluate(consenting.action("record_consent").with(c)).has_finding("VN-26"));
  CHECK_FALSE(
      strict.evaluate(kt::referral_context().documents({}).flow(data_flow::results_return).with(c))
          .has_finding("VN-26"));
  CHECK_FALSE(strict.evaluate(kt::referral_context().with(c)).has_finding("VN-26"));
  // The flag in a policy file.
  const policy_settings file = load_policy(R"({"format": "kakehashi.policy/1",
      "flags": {"vn_require_transfer_paper": true}})");
  CHECK(kt::blocks(file.policy, none.with(c), "VN-26", "VN_TRANSFER_PAPER_MISSING"));
}

TEST_CASE("children of 6, 7 and 16 under each regime and the Japanese threshold",
          "[consent_rules][VN-18][VN-19][JP-08][JP-09]") {
  struct row {
    const char* at;
    int age;
    std::vector<grantor_role> grantors;
    const char* blocking_rule;  // nullptr: allowed
  };
  using g = grantor_role;
  const std::vector<row> rows{
      {"2025-12-01T00:00:00Z", 6, {g::parent}, nullptr},
      {"2025-12-01T00:00:00Z", 7, {g::parent}, "VN-18"},
      {"2025-12-01T00:00:00Z", 7, {g::parent, g::child_assent}, nullptr},
      {"2025-12-01T00:00:00Z", 16, {g::parent}, nullptr},
      {"2026-03-01T00:00:00Z", 6, {g::parent}, nullptr},
      {"2026-03-01T00:00:00Z", 7, {g::parent}, "VN-19"},
      {"2026-03-01T00:00:00Z", 7, {g::parent, g::child_assent}, nullptr},
      {"2026-03-01T00:00:00Z", 16, {g::parent}, nullptr},
      // The patient alone: a child under Vietnamese rules and under the Japanese threshold.
      {"2026-03-01T00:00:00Z", 14, {g::patient}, "JP-08"},
      {"2026-03-01T00:00:00Z", 16, {g::patient}, "JP-09"},  // no capacity assessment recorded
  };
  for (const auto& r : rows) {
    CAPTURE(r.at, r.age, r.grantors.size());
    const std::string day = std::string(r.at).substr(0, 10);
    // A representative decided the treatment referral (VN-25) in every row: the rows are about
    // who consents to the data.
    const consent_record c = kt::valid_consent()
                                 .captured_at("2025-11-20T09:00:00+07:00")
                                 .aged(r.age, day)
                                 .given_by(r.grantors)
                                 .treatment_decided_by(decision_maker_role::representative);
    const auto ctx = kt::referral_context().at(r.at).with(c);
    if (r.blocking_rule) {
      CHECK(kt::blocks(standard(), ctx, r.blocking_rule));
    } else {
      CHECK(kt::allows(standard(), ctx));
    }
  }
  const consent_record assessed = kt::valid_consent()
                                      .aged(16)
                                      .given_by({g::patient})
                                      .capacity_assessed(true)
                                      .treatment_decided_by(decision_maker_role::representative);
  CHECK(kt::allows(standard(), kt::referral_context().with(assessed)));
}

TEST_CASE("the Vietnamese regime switches at midnight of 1 January 2026 in Vietnam",
          "[consent_rules][VN-01][VN-05]") {
  CHECK(vietnam_regime_at(parse_instant("2025-12-31T16:59:59Z")) == vietnam_regime::decree_13);
  CHECK(vietnam_regime_at(parse_instant("2025-12-31T17:00:00Z")) == vietnam_regime::law_91);
  CHECK(vietnam_regime_at(parse_instant("2026-01-01T00:00:00+07:00")) == vietnam_regime::law_91);
  // The same consent without Decree 13's sensitive-data notice, one second apart.
  const consent_record c =
      kt::valid_consent().captured_at("2025-12-20T09:00:00+07:00").sensitive_notice(false);
  CHECK(kt::blocks(standard(), kt::referral_context().at("2025-12-31T16:59:59Z").with(c), "VN-05"));
  CHECK(kt::allows(standard(), kt::referral_context().at("2025-12-31T17:00:00Z").with(c)));
}

TEST_CASE("JP-02: the consent states the Japanese recipient's acquisition",
          "[consent_rules][JP-02]") {
  const consent_record c = kt::valid_consent().acquisition_notice(false);
  CHECK(kt::allows(standard(), kt::referral_context().with(c)));
  CHECK(kt::reports(standard(), kt::referral_context().with(c), "JP-02", rule_effect::warn,
                    "JP_ACQ_CONSENT_SCOPE"));
  CHECK(kt::blocks(with_flags([](policy_flags& f) { f.jp_strict_acquisition_consent = true; }),
                   kt::referral_context().with(c), "JP-02", "JP_ACQ_CONSENT_SCOPE"));
}

TEST_CASE("JP-04: returning results to Vietnam needs consent to the foreign provision",
          "[consent_rules][JP-04]") {
  const auto back = kt::referral_context().flow(data_flow::results_return);
  const consent_record without = kt::valid_consent().without_purpose(purpose::results_return);
  CHECK(kt::blocks(standard(), back.with(without), "JP-04", "JP_ART28_CONSENT_MISSING"));
  CHECK(kt::blocks(standard(), back.without_consent(), "JP-04", "JP_ART28_CONSENT_MISSING"));
  const consent_record with = kt::valid_consent();
  CHECK(kt::allows(standard(), back.with(with)));
}

TEST_CASE("JP-05: the Art. 28(2) information precedes consent to a foreign provision",
          "[consent_rules][JP-05]") {
  japan_foreign_provision_info info = kt::valid_consent().build().japan_art28_2.value();
  info.country_system_info.clear();
  const consent_record c = kt::valid_consent().japan_info(info);
  CHECK(kt::blocks(standard(), kt::referral_context().flow(data_flow::results_return).with(c),
                   "JP-05", "JP_ART28_2_INFO_MISSING"));
  // The consent is invalid for the return already when the referral goes out.
  CHECK(kt::blocks(standard(), kt::referral_context().with(c), "JP-05"));
  // A stated reason replaces an item that cannot be given (PPC Rules Art. 17(3)-(4)).
  info = kt::valid_consent().build().japan_art28_2.value();
  info.recipient_measures_info.clear();
  info.measures_unavailable_reason = "the recipient is chosen only after the first opinion";
  const consent_record substitute = kt::valid_consent().japan_info(info);
  CHECK(kt::allows(standard(), kt::referral_context().with(substitute)));
}

TEST_CASE("JP-06: the equivalent-system route needs a periodic check within the interval",
          "[consent_rules][JP-06]") {
  // Given route = EQUIVALENT_SYSTEM and last_periodic_check older than policy.check_interval,
  // when evaluated, then BLOCK JP_ART28_3_CHECK_OVERDUE. (The results going home from Shonan
  // Kamakura to Bach Mai: Japan provides abroad.)
  organisation_compliance jp;
  jp.jp_equivalent_system_contract = "SK-BM-2025-DPA";
  jp.jp_last_periodic_check_at = parse_instant("2025-03-01T00:00:00Z");
  const consent_record c = kt::valid_consent();
  const auto back = [&](const organisation_compliance& org, const char* when) {
    return kt::referral_context().flow(data_flow::results_return).compliance(org).at(when).with(c);
  };
  // The boundary: 365 days after the check is in time, one second more is overdue.
  CHECK(kt::allows(standard(), back(jp, "2026-03-01T00:00:00Z")));
  CHECK_FALSE(standard().evaluate(back(jp, "2026-03-01T00:00:00Z")).has_finding("JP-06"));
  CHECK(kt::blocks(standard(), back(jp, "2026-03-01T00:00:01Z"), "JP-06",
                   "JP_ART28_3_CHECK_OVERDUE"));
  const auto longer = with_flags([](policy_flags& f) { f.jp_check_interval_days = 400; });
  CHECK(kt::allows(longer, back(jp, "2026-03-01T00:00:01Z")));
  // Never checked: overdue from the start. A problem found stops the provision however recent
  // the check, and whatever the basis.
  organisation_compliance never = jp;
  never.jp_last_periodic_check_at.reset();
  CHECK(kt::blocks(standard(), back(never, "2026-03-01T00:00:00Z"), "JP-06",
                   "JP_ART28_3_CHECK_OVERDUE"));
  organisation_compliance problem = jp;
  problem.jp_last_periodic_check_at = parse_instant("2026-02-01T00:00:00Z");
  problem.jp_periodic_check_problem = true;
  CHECK(
      kt::blocks(standard(), back(problem, "2026-03-01T00:00:00Z"), "JP-06", "JP_ART28_3_PROBLEM"));
  const consent_record emergency = kt::valid_consent().given_by({}).emergency();
  CHECK(kt::blocks(
      standard(),
      kt::referral_context().flow(data_flow::results_return).compliance(problem).with(emergency),
      "JP-06", "JP_ART28_3_PROBLEM"));
  // Not this route (no contract named), or Japan not providing: nothing to check.
  CHECK_FALSE(standard()
                  .evaluate(back(organisation_compliance{}, "2026-03-01T00:00:01Z"))
                  .has_finding("JP-06"));
  CHECK_FALSE(
      standard().evaluate(kt::referral_context().compliance(never).with(c)).has_finding("JP-06"));
  // Read from a policy file.
  const auto settings = load_policy(R"({"format": "kakehashi.policy/1",
      "flags": {"jp_check_interval_days": 180},
      "compliance": {"shonan-kamakura": {"transfer_agreement": false,
          "jp_equivalent_system_contract": "SK-BM-2025-DPA",
          "jp_last_periodic_check_at": "2026-01-15T09:00:00+09:00",
          "jp_periodic_check_problem": false}}})");
  const auto& sk = settings.compliance.at(hospital_id{"shonan-kamakura"});
  CHECK(sk.jp_equivalent_system_contract == "SK-BM-2025-DPA");
  CHECK(sk.jp_last_periodic_check_at == parse_instant("2026-01-15T00:00:00Z"));
  CHECK(settings.policy.flags().jp_check_interval_days == 180);
}

TEST_CASE("JP-08: a minor consents through a representative in Japan", "[consent_rules][JP-08]") {
  const consent_record ten = kt::valid_consent().aged(10).given_by({grantor_role::patient});
  CHECK(kt::blocks(standard(), kt::referral_context().with(ten), "JP-08",
                   "JP_MINOR_REP_CONSENT_MISSING"));
  const consent_record fourteen = kt::valid_consent().aged(14).given_by({grantor_role::patient});
  CHECK(kt::blocks(standard(), kt::referral_context().with(fourteen), "JP-08"));
  const auto lower = with_flags([](policy_flags& f) { f.jp_minor_threshold = 12; });
  const consent_record assessed14 =
      kt::valid_consent().aged(14).given_by({grantor_role::patient}).capacity_assessed(true);
  CHECK_FALSE(lower.evaluate(kt::referral_context().with(assessed14)).has_finding("JP-08"));
  // A patient without capacity needs the representative whatever the age.
  const consent_record ward = kt::valid_consent().capacity(capacity_status::lost);
  CHECK(kt::blocks(standard(), kt::referral_context().flow(data_flow::results_return).with(ward),
                   "JP-08", "JP_MINOR_REP_CONSENT_MISSING"));
}

TEST_CASE("JP-09: the Japanese age threshold, and 16 and 17 year-olds with a capacity assessment",
          "[consent_rules][JP-09]") {
  const auto alone = [](int age) {
    return kt::valid_consent().aged(age).given_by({grantor_role::patient});
  };
  // Given age 14, jp.minor_threshold = 15 and no representative, then BLOCK (the representative
  // JP-08 asks for at or under the threshold).
  const consent_record fourteen = alone(14);
  CHECK(kt::blocks(standard(), kt::referral_context().with(fourteen), "JP-08",
                   "JP_MINOR_REP_CONSENT_MISSING"));
  // Given age 16 with a capacity assessment recorded, then ALLOW on the patient's consent (the
  // treatment referral itself decided by the representative: VN-25, a Vietnamese minor).
  const consent_record assessed =
      alone(16).capacity_assessed(true).treatment_decided_by(decision_maker_role::representative);
  CHECK(kt::allows(standard(), kt::referral_context().with(assessed)));
  // Without the assessment: BLOCK, for 16 and 17; 15 is at the threshold (JP-08's), 18 is adult.
  for (const int age : {16, 17}) {
    CAPTURE(age);
    const consent_record c = alone(age);
    CHECK(kt::blocks(standard(), kt::referral_context().with(c), "JP-09",
                     "JP_MINOR_CAPACITY_NOT_ASSESSED"));
  }
  for (const int age : {15, 18}) {
    CAPTURE(age);
    const consent_record c = alone(age);
    CHECK_FALSE(standard().evaluate(kt::referral_context().with(c)).has_finding("JP-09"));
  }
  // The threshold is a policy flag: at 16, a 16 year-old needs the representative (JP-08) and
  // JP-09 is silent; a representative's consent needs no assessment.
  const auto sixteen = with_flags([](policy_flags& f) { f.jp_minor_threshold = 16; });
  const consent_record c16 = alone(16);
  const auto v = sixteen.evaluate(kt::referral_context().with(c16));
  CHECK(v.blocked_by("JP-08", "JP_MINOR_REP_CONSENT_MISSING"));
  CHECK_FALSE(v.has_finding("JP-09"));
  const consent_record by_parent =
      kt::valid_consent().aged(16).given_by({grantor_role::parent, grantor_role::child_assent});
  CHECK_FALSE(standard().evaluate(kt::referral_context().with(by_parent)).has_finding("JP-09"));
}

TEST_CASE("JP-10: an emergency basis only when consent is difficult to obtain",
          "[consent_rules][JP-10]") {
  const auto back = kt::referral_context().flow(data_flow::results_return);
  const consent_record unconscious =
      kt::valid_consent().status(consent_status::draft).given_by({}).emergency();
  const auto v = standard().evaluate(back.with(unconscious));
  CHECK(v.allowed());
  CHECK(v.basis == legal_basis::emergency);
  const consent_record conscious = kt::valid_consent()
                                       .status(consent_status::draft)
                                       .given_by({})
                                       .emergency("urgent results", false);
  CHECK(kt::blocks(standard(), back.with(conscious), "JP-10", "JP_EMERGENCY_CONSENT_PRACTICABLE"));
}

TEST_CASE("VN-13: a recipient the impact assessment does not list needs the dossier updated",
          "[consent_rules][VN-13]") {
  // Given the TIA lists recipients = {Hospital X} and the referral goes to Shonan Kamakura, when
  // evaluated, then WARN VN_TIA_UPDATE_NEEDED.
  organisation_compliance org;
  org.transfer_agreement = true;
  org.withdrawal_clause = true;
  org.impact_assessment_filed_at = parse_instant("2026-01-05T00:00:00Z");
  org.impact_assessment_recipients = std::vector<hospital_id>{hospital_id{"hospital-x"}};
  const consent_record c = kt::valid_consent();
  const auto ctx = kt::referral_context().compliance(org).with(c);
  CHECK(kt::allows(standard(), ctx));  // a warning: the transfer goes ahead, flagged
  CHECK(kt::reports(standard(), ctx, "VN-13", rule_effect::warn, "VN_TIA_UPDATE_NEEDED"));
  CHECK_THAT(standard().evaluate(ctx).findings.at(0).message,
             Catch::Matchers::Contains("lists 'hospital-x', not 'shonan-kamakura'"));
  // Listed: nothing to say. Not recorded, or no assessment filed yet (VN-11's matter): nothing
  // this rule can tell.
  org.impact_assessment_recipients->push_back(hospital_id{"shonan-kamakura"});
  CHECK_FALSE(
      standard().evaluate(kt::referral_context().compliance(org).with(c)).has_finding("VN-13"));
  organisation_compliance unrecorded = org;
  unrecorded.impact_assessment_recipients.reset();
  CHECK_FALSE(standard()
                  .evaluate(kt::referral_context().compliance(unrecorded).with(c))
                  .has_finding("VN-13"));
  organisation_compliance not_filed = org;
  not_filed.impact_assessment_filed_at.reset();
  not_filed.impact_assessment_recipients = std::vector<hospital_id>{};
  CHECK_FALSE(standard()
                  .evaluate(kt::referral_context().compliance(not_filed).with(c))
                  .has_finding("VN-13"));
  // An empty dossier lists no one: every recipient is new.
  organisation_compliance empty = org;
  empty.impact_assessment_recipients = std::vector<hospital_id>{};
  CHECK(kt::reports(standard(), kt::referral_context().compliance(empty).with(c), "VN-13",
                    rule_effect::warn, "VN_TIA_UPDATE_NEEDED"));
  // Law 91's duty (Art. 22): not under Decree 13, the last instant before 2026 in Vietnam.
  const auto d13 = kt::referral_context().compliance(empty).at("2025-12-31T16:59:59Z");
  CHECK_FALSE(standard().evaluate(d13.with(decree13_consent())).has_finding("VN-13"));
  // U-graded: the policy flag turns it off.
  const auto off = with_flags([](policy_flags& f) { f.vn_new_recipient_needs_tia_update = false; });
  CHECK_FALSE(off.evaluate(kt::referral_context().compliance(empty).with(c)).has_finding("VN-13"));
  // Read from a policy file: the dossier's recipients, and the flag.
  const auto settings = load_policy(R"({"format": "kakehashi.policy/1",
      "flags": {"vn_new_recipient_needs_tia_update": false},
      "compliance": {"bach-mai": {"transfer_agreement": true,
                                  "impact_assessment_filed_at": "2026-01-05T00:00:00Z",
                                  "impact_assessment_recipients": ["shonan-kamakura"]}}})");
  CHECK(settings.compliance.at(hospital_id{"bach-mai"}).impact_assessment_recipients ==
        std::vector<hospital_id>{hospital_id{"shonan-kamakura"}});
  CHECK_FALSE(settings.policy.flags().vn_new_recipient_needs_tia_update);
  const auto bad = try_load_policy(R"({"format": "kakehashi.policy/1",
      "compliance": {"bach-mai": {"transfer_agreement": true,
                                  "impact_assessment_recipients": ["ok", "not an id"]}}})");
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].path == "compliance.bach-mai.impact_assessment_recipients[1]");
}

TEST_CASE("VN-14: a patient who carries their own record abroad needs no hospital TIA",
          "[consent_rules][VN-14]") {
  // Given initiator = PATIENT_SELF and the hospital released the record summary to the patient,
  // when the TIA check runs, then it is not applicable.
  organisation_compliance nothing_on_file;  // no agreement, no assessment, first transfer long ago
  nothing_on_file.first_cross_border_transfer = parse_instant("2025-06-01T00:00:00Z");
  const consent_record c = kt::valid_consent();
  const auto by_hospital = kt::referral_context().compliance(nothing_on_file).with(c);
  const auto hospital = standard().evaluate(by_hospital);
  CHECK(hospital.blocked_by("VN-10", "VN_TRANSFER_AGREEMENT_MISSING"));
  CHECK(hospital.blocked_by("VN-11", "VN_TIA_OVERDUE"));
  CHECK_FALSE(hospital.has_finding("VN-14"));
  const auto by_patient =
      kt::referral_context().compliance(nothing_on_file).patient_mediated().with(c);
  const auto patient = standard().evaluate(by_patient);
  CHECK(patient.allowed());
  for (const char* duty : {"VN-10", "VN-11", "VN-13", "VN-20"}) {
    CAPTURE(duty);
    CHECK_FALSE(patient.has_finding(duty));
  }
  // Said, never silent: the route is flagged for review.
  CHECK(
      kt::reports(standard(), by_patient, "VN-14", rule_effect::warn, "VN_PATIENT_MEDIATED_ROUTE"));
  // The consent the referral relies on is still judged (MOU-01 asks for it whatever the route).
  CHECK(kt::blocks(standard(),
                   kt::referral_context()
                       .compliance(nothing_on_file)
                       .patient_mediated()
                       .with(kt::valid_consent().recipients({})),
                   "MOU-01"));
  // Not Vietnam's data leaving: the route says nothing.
  CHECK_FALSE(
      standard()
          .evaluate(
              kt::referral_context().flow(data_flow::results_return).patient_mediated().with(c))
          .has_finding("VN-14"));
}

TEST_CASE("VN-20: the transfer agreement binds the recipient to honour a withdrawal",
          "[consent_rules][VN-20]") {
  // Given a transfer agreement without a withdrawal-propagation clause, when evaluated, then
  // WARN VN_RECIPIENT_NO_WITHDRAWAL_CLAUSE.
  organisation_compliance org;
  org.transfer_agreement = true;
  org.impact_assessment_filed_at = parse_instant("2026-01-05T00:00:00Z");
  const consent_record c = kt::valid_consent();
  const auto ctx = kt::referral_context().compliance(org).with(c);
  CHECK(kt::allows(standard(), ctx));
  CHECK(kt::reports(standard(), ctx, "VN-20", rule_effect::warn,
                    "VN_RECIPIENT_NO_WITHDRAWAL_CLAUSE"));
  // With the clause: nothing. Without any agreement, VN-10 speaks and this rule does not.
  org.withdrawal_clause = true;
  CHECK_FALSE(
      standard().evaluate(kt::referral_context().compliance(org).with(c)).has_finding("VN-20"));
  organisation_compliance none;
  none.impact_assessment_filed_at = org.impact_assessment_filed_at;
  const auto v = standard().evaluate(kt::referral_context().compliance(none).with(c));
  CHECK(v.has_finding("VN-10"));
  CHECK_FALSE(v.has_finding("VN-20"));
  // Only data leaving Vietnam: the results going home from Japan are not this law's transfer.
  organisation_compliance plain;
  plain.transfer_agreement = true;
  CHECK_FALSE(
      standard()
          .evaluate(
              kt::referral_context().compliance(plain).flow(data_flow::results_return).with(c))
          .has_finding("VN-20"));
  // Read from a policy file.
  const auto settings = load_policy(R"({"format": "kakehashi.policy/1", "compliance": {
      "bach-mai": {"transfer_agreement": true, "withdrawal_clause": true}}})");
  CHECK(settings.compliance.at(hospital_id{"bach-mai"}).withdrawal_clause);
}

TEST_CASE("VN-21: an authority's written stop order stops every transfer",
          "[consent_rules][VN-21]") {
  // Given authority_stop_order present, when evaluated, then BLOCK.
  organisation_compliance org;
  org.transfer_agreement = true;
  org.impact_assessment_filed_at = parse_instant("2026-01-05T00:00:00Z");
  org.authority_stop_order_at = parse_instant("2026-03-01T09:00:00+07:00");
  const auto at = [&](const char* when, const consent_record& c) {
    return kt::referral_context().compliance(org).at(when).with(c);
  };
  const consent_record c = kt::valid_consent();
  CHECK(kt::blocks(standard(), at("2026-03-02T00:00:00Z", c), "VN-21", "VN_AUTHORITY_STOP"));
  // From the instant it was received (the boundary: one second earlier is allowed).
  CHECK(kt::blocks(standard(), at("2026-03-01T02:00:00Z", c), "VN-21"));
  CHECK(kt::allows(standard(), at("2026-03-01T01:59:59Z", c)));
  // Whatever the basis: an emergency does not lift an authority's order.
  const consent_record emergency =
      kt::valid_consent().status(consent_status::draft).given_by({}).emergency();
  CHECK(kt::blocks(standard(), at("2026-03-02T00:00:00Z", emergency), "VN-21"));
  // Read from a policy file's compliance entry.
  const auto settings = load_policy(R"({"format": "kakehashi.policy/1", "compliance": {
      "bach-mai": {"transfer_agreement": true,
                   "authority_stop_order_at": "2026-03-01T09:00:00+07:00"}}})");
  CHECK(settings.compliance.at(hospital_id{"bach-mai"}).authority_stop_order_at ==
        org.authority_stop_order_at);
}

TEST_CASE(
    "VN-23: the medical record leaves a Vietnamese facility only with the patient's "
    "agreement",
    "[consent_rules][VN-23]") {
  // Given no patient agreement and no emergency, when the record is shared with Shonan
  // Kamakura, then BLOCK VN_MED_CONFIDENTIALITY.
  CHECK(kt::blocks(standard(), kt::referral_context().without_consent(), "VN-23",
                   "VN_MED_CONFIDENTIALITY"));
  // A consent naming no one who gave it is no agreement either; a consent entered in error is
  // none at all.
  const consent_record nobody = kt::valid_consent().given_by({});
  CHECK(kt::blocks(standard(), kt::referral_context().with(nobody), "VN-23",
                   "VN_MED_CONFIDENTIALITY"));
  const consent_record in_error = kt::valid_consent().status(consent_status::entered_in_error);
  CHECK(kt::blocks(standard(), kt::referral_context().with(in_error), "VN-23"));
  // A basis of its own: medical records that are not health data under the data-protection
  // law (demographics alone) still need the agreement, where VN-03 does not apply.
  const auto demographics =
      standard().evaluate(kt::referral_context().payload({"demographics"}).without_consent());
  CHECK(demographics.blocked_by("VN-23", "VN_MED_CONFIDENTIALITY"));
  CHECK_FALSE(demographics.has_finding("VN-03"));
  // The patient's (or a representative's) consent is the agreement; an emergency basis is an
  // exception (Art. 69); data going out of Japan is not this law's.
  CHECK_FALSE(
      standard().evaluate(kt::referral_context().with(kt::valid_consent())).has_finding("VN-23"));
  const consent_record emergency = kt::valid_consent().given_by({}).emergency();
  CHECK_FALSE(standard().evaluate(kt::referral_context().with(emergency)).has_finding("VN-23"));
  CHECK_FALSE(
      standard()
          .evaluate(kt::referral_context().flow(data_flow::results_return).without_consent())
          .has_finding("VN-23"));
}

TEST_CASE("JP-03: medical data never leaves a Japanese hospital on an opt-out notice",
          "[consent_rules][JP-03]") {
  // Given basis = opt-out notice and the payload is special care-required, when evaluated, then
  // BLOCK JP_OPTOUT_NOT_FOR_SCRPI: abroad (JP -> VN)...
  const consent_record notice = kt::valid_consent().method(expression_method::implied_notice);
  const auto back = kt::referral_context().flow(data_flow::results_return);
  CHECK(kt::blocks(standard(), back.with(notice), "JP-03", "JP_OPTOUT_NOT_FOR_SCRPI"));
  // ...and at home, to another Japanese hospital (JP-11 concerns only provision abroad).
  auto domestic =
      kt::referral_context().from("shonan-kamakura", "JP").to("another-jp-hospital", "JP");
  const auto at_home = standard().evaluate(domestic.with(notice));
  CHECK(at_home.blocked_by("JP-03", "JP_OPTOUT_NOT_FOR_SCRPI"));
  CHECK_FALSE(at_home.has_finding("JP-11"));
  // Demographics alone are not special care-required; a signed consent is prior consent; data
  // going out of Vietnam is VN-06's to judge.
  CHECK_FALSE(
      standard().evaluate(domestic.payload({"demographics"}).with(notice)).has_finding("JP-03"));
  CHECK_FALSE(standard().evaluate(back.with(kt::valid_consent())).has_finding("JP-03"));
  CHECK_FALSE(standard().evaluate(kt::referral_context().with(notice)).has_finding("JP-03"));
}

TEST_CASE("JP-11: implied consent through a notice is not consent to a provision abroad",
          "[consent_rules][JP-11]") {
  // Given basis = implied notice and direction JP -> VN, when evaluated, then BLOCK.
  const auto back = kt::referral_context().flow(data_flow::results_return);
  const consent_record notice = kt::valid_consent().method(expression_method::implied_notice);
  CHECK(kt::blocks(standard(), back.with(notice), "JP-11", "JP_IMPLIED_CONSENT_NOT_FOR_FOREIGN"));
  // A signed consent is not concerned; nor is the referral going out of Vietnam (VN-06 judges
  // that one).
  CHECK_FALSE(standard().evaluate(back.with(kt::valid_consent())).has_finding("JP-11"));
  const auto out = standard().evaluate(kt::referral_context().with(notice));
  CHECK_FALSE(out.has_finding("JP-11"));
  CHECK(out.has_finding("VN-06", "VN_CONSENT_NOT_VERIFIABLE"));
  // U-graded: the flag turns the block into a warning.
  const auto lenient =
      with_flags([](policy_flags& f) { f.jp_implied_consent_blocks_foreign = false; });
  CHECK(kt::reports(lenient, back.with(notice), "JP-11", rule_effect::warn,
                    "JP_IMPLIED_CONSENT_NOT_FOR_FOREIGN"));
}

TEST_CASE("JP-12: a withdrawal received in Japan stops every later provision from Japan",
          "[consent_rules][JP-12]") {
  // Given a withdrawal received by Shonan Kamakura, when another JP -> VN provision is
  // attempted, then BLOCK.
  const consent_record withdrawn = kt::valid_consent().withdrawn_at("2026-03-05T09:00:00+09:00");
  const auto back_at = [&](const char* t) {
    return kt::referral_context().flow(data_flow::results_return).at(t).with(withdrawn);
  };
  CHECK(kt::blocks(standard(), back_at("2026-03-06T00:00:00Z"), "JP-12",
                   "JP_CONSENT_WITHDRAWN_POLICY"));
  // From the instant it is received, never before (the boundary: one second earlier).
  CHECK(kt::blocks(standard(), back_at("2026-03-05T00:00:00Z"), "JP-12"));
  CHECK_FALSE(standard().evaluate(back_at("2026-03-04T23:59:59Z")).has_finding("JP-12"));
  // Only provision from Japan: the referral going out of Vietnam is VN-15's.
  const auto out = standard().evaluate(
      kt::referral_context().at("2026-03-06T00:00:00Z").with(withdrawn));
  CHECK_FALSE(out.has_finding("JP-12"));
  CHECK(out.has_finding("VN-15", "VN_CONSENT_WITHDRAWN"));
  // U-graded: the flag makes it a warning.
  const auto lenient = with_flags([](policy_flags& f) { f.jp_withdrawal_stops_provision = false; });
  CHECK(kt::reports(lenient, back_at("2026-03-06T00:00:00Z"), "JP-12", rule_effect::warn,
                    "JP_CONSENT_WITHDRAWN_POLICY"));
}

TEST_CASE("STD-05: a consent that lists its recipients permits only them",
          "[consent_rules][STD-05]") {
  // Given an actor list of {K Hospital, shonan-kamakura} and a recipient that is another
  // hospital, then BLOCK.
  const consent_record listed = kt::valid_consent().recipients(
      {{hospital_id{"k-hospital"}, "VN", true}, {hospital_id{"shonan-kamakura"}, "JP", true}});
  const auto elsewhere = kt::referral_context().to("tokushukai-other", "JP");
  CHECK(kt::blocks(standard(), elsewhere.with(listed), "STD-05", "FHIR_ACTOR_MISMATCH"));
  // A listed recipient is permitted; so is the hospital that obtained the consent, when results
  // come back to it.
  CHECK_FALSE(
      standard().evaluate(kt::referral_context().with(listed)).has_finding("STD-05"));
  const auto back = kt::referral_context().flow(data_flow::results_return);
  CHECK_FALSE(standard().evaluate(back.with(listed)).has_finding("STD-05"));
  // No actor listed: "no specific actor" in FHIR (the MoU rule still asks for the partner).
  const consent_record none = kt::valid_consent().recipients({});
  const auto v = standard().evaluate(kt::referral_context().with(none));
  CHECK_FALSE(v.has_finding("STD-05"));
  CHECK(v.has_finding("MOU-01", "MOU_RECIPIENT_NOT_NAMED"));
}

TEST_CASE("STD-06: a consent that lists purposes permits only those purposes",
          "[consent_rules][STD-06]") {
  // Given provision purposes that leave out the request's purpose, then BLOCK.
  const consent_record referral_only =
      kt::valid_consent().purposes({std::string(purpose::cross_border_referral)});
  const auto back = kt::referral_context().flow(data_flow::results_return);
  CHECK(kt::blocks(standard(), back.with(referral_only), "STD-06", "FHIR_PURPOSE_MISMATCH"));
  CHECK_FALSE(
      standard().evaluate(kt::referral_context().with(referral_only)).has_finding("STD-06"));
  const consent_record research_only = kt::valid_consent().purposes({"research"});
  CHECK(kt::blocks(standard(), kt::referral_context().with(research_only), "STD-06",
                   "FHIR_PURPOSE_MISMATCH"));
  // Every purpose the flows need: allowed.
  CHECK_FALSE(standard().evaluate(back.with(kt::valid_consent())).has_finding("STD-06"));
}

TEST_CASE("STD-07: a nested deny provision carves its data classes out",
          "[consent_rules][STD-07]") {
  // Given base OPTIN and a nested deny on code = genetic panel, when the payload is built, then
  // the genetic report is excluded and the rest is sent.
  const consent_record c =
      kt::valid_consent().data_classes({"diagnosis", "imaging", "genomic"}).excluding({"genomic"});
  const auto ctx = kt::referral_context().payload({"diagnosis", "imaging", "genomic"}).with(c);
  const auto v = standard().evaluate(ctx);
  CHECK(v.allowed());
  CHECK(kt::reports(standard(), ctx, "STD-07", rule_effect::filter, "FHIR_DENY_PROVISION"));
  CHECK(v.filtered_classes() == std::vector<std::string>{"genomic"});
  // A FHIR rule: on every flow and side, also where no Vietnamese rule filters (the results
  // going home from Japan).
  const auto back = kt::referral_context()
                        .flow(data_flow::results_return)
                        .payload({"diagnosis", "genomic"})
                        .with(c);
  const auto home = standard().evaluate(back);
  CHECK(home.has_finding("STD-07", "FHIR_DENY_PROVISION"));
  CHECK_FALSE(home.has_finding("VN-08"));
  CHECK(home.filtered_classes() == std::vector<std::string>{"genomic"});
  // Every class denied: nothing is left to send.
  CHECK(kt::blocks(standard(), kt::referral_context().payload({"genomic"}).with(c), "STD-07",
                   "FHIR_DENY_PROVISION"));
  // Nothing denied that is sent: no finding.
  CHECK_FALSE(standard().evaluate(kt::referral_context().with(c)).has_finding("STD-07"));
  // Also on FHIR Consent import: an EHR's nested deny on a data class is the same exclusion.
  fhir::import_options o;
  o.birth_date = date::year{1970} / 5 / 20;
  const auto imported = fhir::import_consent(fhir::consent_resource(c), o);
  REQUIRE(imported.ok());
  CHECK(imported.record->excluded_classes == std::vector<std::string>{"genomic"});
  CHECK(standard()
            .evaluate(kt::referral_context()
                          .payload({"diagnosis", "imaging", "genomic"})
                          .with(*imported.record))
            .filtered_classes() == std::vector<std::string>{"genomic"});
}

TEST_CASE("STD-01: only an active consent is followed", "[consent_rules][STD-01]") {
  for (auto s : {consent_status::draft, consent_status::proposed, consent_status::rejected,
                 consent_status::entered_in_error}) {
    CAPTURE(to_string(s));
    const consent_record c = kt::valid_consent().status(s);
    CHECK(
        kt::blocks(standard(), kt::referral_context().with(c), "STD-01", "FHIR_STATUS_NOT_ACTIVE"));
  }
}

TEST_CASE("STD-02: a revoked consent is inactive and blocks", "[consent_rules][STD-02]") {
  const consent_record active = kt::valid_consent();
  const consent_record revoked =
      revoke(active, parse_instant("2026-02-01T00:00:00Z"), withdrawal_channel::electronic);
  CHECK(revoked.status == consent_status::inactive);
  REQUIRE(revoked.withdrawal.has_value());
  CHECK(revoked.withdrawal->channel == withdrawal_channel::electronic);
  CHECK(kt::blocks(standard(), kt::referral_context().with(revoked), "STD-02", "FHIR_INACTIVE"));
  CHECK_THROWS_WITH(
      revoke(revoked, parse_instant("2026-02-02T00:00:00Z"), withdrawal_channel::written),
      "[kakehashi.failed_precondition] consent C-TEST-1: was already withdrawn at "
      "2026-02-01T00:00:00Z; a consent is withdrawn once; record a new consent to "
      "share again");
}

TEST_CASE("STD-03: a treatment consent does not authorise sharing", "[consent_rules][STD-03]") {
  const consent_record c = kt::valid_consent().scope(consent_scope::treatment);
  CHECK(
      kt::blocks(standard(), kt::referral_context().with(c), "STD-03", "FHIR_NO_PRIVACY_CONSENT"));
}

TEST_CASE("STD-04: the instant falls within the consent's period", "[consent_rules][STD-04]") {
  const consent_record c = kt::valid_consent().valid_until("2026-03-31T23:59:59+07:00");
  CHECK(kt::allows(standard(), kt::referral_context().at("2026-03-31T16:59:59Z").with(c)));
  CHECK(kt::blocks(standard(), kt::referral_context().at("2026-04-01T00:00:00+07:00").with(c),
                   "STD-04", "FHIR_PERIOD_EXPIRED"));
  const consent_record later = kt::valid_consent().valid_from("2026-04-01T00:00:00Z");
  CHECK(kt::blocks(standard(), kt::referral_context().with(later), "STD-04",
                   "FHIR_PERIOD_NOT_STARTED"));
}

TEST_CASE("MOU-01: explicit, per-referral, bilingual consent", "[consent_rules][MOU-01]") {
  CHECK(kt::blocks(standard(), kt::referral_context().without_consent(), "MOU-01",
                   "MOU_CONSENT_REQUIRED"));
  const consent_record vi_only = kt::valid_consent().languages({"vi"});
  const auto v = standard().evaluate(kt::referral_context().with(vi_only));
  CHECK(v.blocked_by("MOU-01", "MOU_CONSENT_NOT_BILINGUAL"));
  CHECK_THAT(v.findings.at(0).message, Catch::Matchers::Contains("was given in vi and not in ja"));
  const consent_record emergency =
      kt::valid_consent().status(consent_status::draft).given_by({}).emergency();
  CHECK(kt::blocks(with_flags([](policy_flags& f) { f.allow_emergency_basis = false; }),
                   kt::referral_context().with(emergency), "MOU-01", "MOU_EMERGENCY_NOT_ACCEPTED"));
}

TEST_CASE(
    "a complete consent for Bach Mai -> Shonan Kamakura in 2026 is allowed, and removing "
    "any one required element blocks it with the matching rule",
    "[consent_rules][done]") {
  using edit = std::function<void(kt::consent_builder&)>;
  struct row {
    const char* element;
    edit remove;
    const char* rule;
    const char* code;
  };
  const std::vector<row> rows{
      {"the recipient", [](kt::consent_builder& b) { b.recipients({}); }, "MOU-01",
       "MOU_RECIPIENT_NOT_NAMED"},
      {"the cross-border purpose",
       [](kt::consent_builder& b) { b.without_purpose(purpose::cross_border_referral); }, "VN-08",
       "VN_PURPOSE_NOT_COVERED"},
      {"the data classes", [](kt::consent_builder& b) { b.data_classes({}); }, "VN-04",
       "VN_CONSENT_UNINFORMED_PURPOSE"},
      {"the rights notice", [](kt::consent_builder& b) { b.rights_notice(false); }, "VN-04",
       "VN_CONSENT_UNINFORMED_RIGHTS"},
      {"the artifact hash", [](kt::consent_builder& b) { b.no_artifact(); }, "VN-06",
       "VN_CONSENT_NOT_VERIFIABLE"},
      {"the affirmative act", [](kt::consent_builder& b) { b.affirmative(false); }, "VN-07",
       "VN_SILENCE_NOT_CONSENT"},
      {"the written request", [](kt::consent_builder& b) { b.without_written_request(); }, "VN-09",
       "VN_ART26_2_WRITTEN_REQUEST_MISSING"},
      {"the Art. 28(2) information", [](kt::consent_builder& b) { b.without_japan_info(); },
       "JP-05", "JP_ART28_2_INFO_MISSING"},
      {"the Japanese language", [](kt::consent_builder& b) { b.languages({"vi"}); }, "MOU-01",
       "MOU_CONSENT_NOT_BILINGUAL"},
      {"the Vietnamese language", [](kt::consent_builder& b) { b.languages({"ja"}); }, "MOU-01",
       "MOU_CONSENT_NOT_BILINGUAL"},
      {"the patient as grantor", [](kt::consent_builder& b) { b.given_by({}); }, "VN-03",
       "VN_NO_CONSENT_HEALTH"},
      {"the active status", [](kt::consent_builder& b) { b.status(consent_status::proposed); },
       "STD-01", "FHIR_STATUS_NOT_ACTIVE"},
      {"the privacy scope", [](kt::consent_builder& b) { b.scope(consent_scope::treatment); },
       "STD-03", "FHIR_NO_PRIVACY_CONSENT"},
  };
  const consent_record complete = kt::valid_consent();
  REQUIRE(kt::allows(standard(), kt::referral_context().with(complete)));
  for (const auto& r : rows) {
    CAPTURE(r.element);
    kt::consent_builder b = kt::valid_consent();
    r.remove(b);
    const consent_record c = b.build();
    CHECK(kt::blocks(standard(), kt::referral_context().with(c), r.rule, r.code));
  }
}

TEST_CASE("a policy can add, remove and switch packs", "[consent_rules]") {
  consent_policy p = consent_policy::standard();
  const std::size_t all = p.rules().size();
  CHECK(all == 41);  // 41 rules; VN-02, JP-01 and STD-08 are not rules
  p.remove("VN-09");
  CHECK(p.rules().size() == all - 1);
  const consent_record c = kt::valid_consent().without_written_request();
  CHECK(kt::allows(p, kt::referral_context().with(c)));
  p.remove_pack("japan");
  CHECK(p.rules().size() == all - 1 - 10);  // the Japanese pack: 10 rules
  CHECK_THROWS_AS(p.remove("VN-09"), error);
  CHECK_THROWS_WITH(p.remove_pack("japan"),
                    Catch::Matchers::Contains("[kakehashi.not_found] rule pack japan"));
  CHECK_THROWS_WITH(p.add(vietnam_rules().at(0)),
                    "[kakehashi.already_exists] consent rule VN-01: the policy has it already; "
                    "choose another id, or remove() the existing rule first");
  CHECK_THROWS_WITH(
      p.add({"bad id", "mine", "", "",
             [](const consent_context&, const basis_info&, const policy_flags&, rule_report&) {}}),
      Catch::Matchers::Contains("[kakehashi.invalid_argument] consent rule: rule id 'bad id'"));
  CHECK_THROWS_WITH(p.add({"X-1", "mine", "", "", nullptr}),
                    Catch::Matchers::Contains("has no evaluate function"));
}

TEST_CASE("a rule that throws blocks instead of letting the step through",
          "[consent_rules][error]") {
  consent_policy p;
  p.add({"X-THROWS", "mine", "test", "throws",
         [](const consent_context&, const basis_info&, const policy_flags&, rule_report&) {
           throw std::runtime_error("boom");
         }});
  const consent_record c = kt::valid_consent();
  CHECK(kt::blocks(p, kt::referral_context().with(c), "X-THROWS", "RULE_FAILED"));
}

TEST_CASE("an empty policy still needs a legal basis", "[consent_rules]") {
  const consent_policy empty;
  const auto v = empty.evaluate(kt::referral_context().without_consent());
  CHECK_FALSE(v.allowed());
  CHECK(v.has_finding("policy", "NO_LEGAL_BASIS"));
  const consent_record c = kt::valid_consent();
  CHECK(kt::allows(empty, kt::referral_context().with(c)));
}

TEST_CASE("a malformed context is an error, a 'no' never is", "[consent_rules][error]") {
  const consent_record c = kt::valid_consent();
  auto ctx = kt::referral_context().with(c);
  ctx.destination_country = "Japan";
  CHECK_THROWS_WITH(standard().evaluate(ctx),
                    "[kakehashi.invalid_argument] context.destination_country: 'Japan' is not a "
                    "country code; expected ISO 3166-1 alpha-2 in capitals, e.g. 'VN' or 'JP'");
  ctx = kt::referral_context().with(c);
  ctx.origin = hospital_id{"bach mai"};
  CHECK_THROWS_AS(standard().evaluate(ctx), error);
}

TEST_CASE("no finding message contains the birth date", "[consent_rules]") {
  const consent_record c = kt::valid_consent()
                               .born(date::year{2013} / 7 / 14)
                               .given_by({grantor_role::patient})
                               .without_written_request();
  const auto v = standard().evaluate(kt::referral_context().with(c));
  REQUIRE_FALSE(v.allowed());
  const std::string all = to_json(v);
  CHECK(all.find("2013") == std::string::npos);
  CHECK(all.find("07-14") == std::string::npos);
  CHECK(all.find("aged 12") != std::string::npos);
}

TEST_CASE("the verdict serialises to JSON", "[consent_rules]") {
  const consent_record c = kt::valid_consent().excluding({"imaging"}).acquisition_notice(false);
  const auto j =
      nlohmann::json::parse(to_json(standard().evaluate(kt::referral_context().with(c))));
  CHECK(j["decision"] == "allow");
  CHECK(j["basis"] == "consent");
  CHECK(j["regime"] == "law_91");
  // In pack order (fhir, mou, vietnam, japan): the exclusion as FHIR's deny provision and as
  // Vietnam's per-class consent, then Japan's acquisition warning.
  REQUIRE(j["findings"].size() == 3);
  CHECK(j["findings"][0]["rule"] == "STD-07");
  CHECK(j["findings"][0]["effect"] == "filter");
  CHECK(j["findings"][0]["filtered_classes"] == nlohmann::json::array({"imaging"}));
  CHECK(j["findings"][1]["rule"] == "VN-08");
  CHECK(j["findings"][1]["effect"] == "filter");
  CHECK(j["findings"][1]["filtered_classes"] == nlohmann::json::array({"imaging"}));
  CHECK(j["findings"][2]["rule"] == "JP-02");
  CHECK(j["findings"][2]["effect"] == "warn");
  CHECK(j["findings"][2]["citation"] == "APPI Art. 20(2)");
}

// ---------------------------------------------------------------------------------------------
// The policy as data (docs/policy.md): what `--policy FILE` reads.

namespace {
std::string shipped_policy() {
  std::ifstream in(std::string(KAKEHASHI_SOURCE_DIR) + "/data/policy.example.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("the example policy file loads with every setting", "[consent][policy]") {
  const policy_settings s = load_policy(shipped_policy());
  CHECK(s.policy.rules().size() == consent_policy::standard().rules().size());
  CHECK(s.policy.flags().vn_impact_assessment_days == 60);
  CHECK(s.policy.flags().jp_minor_threshold == 15);
  REQUIRE(s.compliance.count(hospital_id{"bach-mai"}) == 1);
  const auto& bm = s.compliance.at(hospital_id{"bach-mai"});
  CHECK(bm.transfer_agreement);
  CHECK(bm.impact_assessment_filed_at == parse_instant("2025-12-01T02:00:00Z"));
  CHECK_FALSE(bm.first_cross_border_transfer.has_value());
  CHECK(s.payload_classes == std::vector<std::string>{"diagnosis", "imaging", "pathology"});
}

TEST_CASE("a policy file chooses packs, switches rules off and sets flags", "[consent][policy]") {
  const policy_settings s = load_policy(R"({"format": "kakehashi.policy/1",
      "packs": ["japan", "vietnam"], "disabled_rules": ["JP-02"],
      "flags": {"vn_transfer_agreement_warn_only": true, "jp_minor_threshold": 17}})");
  std::vector<std::string> ids;
  for (const auto& r : s.policy.rules()) ids.push_back(r.id);
  // In the standard order (vietnam before japan), whatever the file's order.
  CHECK(ids.front() == vietnam_rules().front().id);
  CHECK(std::find(ids.begin(), ids.end(), "JP-02") == ids.end());
  CHECK(std::find(ids.begin(), ids.end(), "JP-04") != ids.end());
  CHECK(std::none_of(ids.begin(), ids.end(), [](const std::string& id) { return id.rfind("STD-", 0) == 0; }));
  CHECK(s.policy.flags().vn_transfer_agreement_warn_only);
  CHECK(s.policy.flags().jp_minor_threshold == 17);
  CHECK(s.policy.flags().allow_emergency_basis);  // unset flags keep their defaults
  CHECK(s.compliance.empty());
  // Without "packs", every pack runs.
  CHECK(load_policy(R"({"format": "kakehashi.policy/1"})").policy.rules().size() ==
        consent_policy::standard().rules().size());
}

TEST_CASE("a bad policy file is refused with every problem at once", "[consent][policy][error]") {
  const auto r = try_load_policy(R"({"format": "kakehashi.policy/2", "colour": 1,
      "packs": ["vietnam", "klingon", "vietnam"], "disabled_rules": ["JP-02", "VN-99"],
      "flags": {"jp_minor_threshold": 99, "allow_emergency_basis": "yes", "loud": true},
      "compliance": {"bach mai": {"transfer_agreement": true},
                     "k-hospital": {"impact_assessment_filed_at": "2026-02-30T00:00:00Z"}},
      "payload_classes": []})");
  REQUIRE_FALSE(r.ok());
  std::vector<std::string> paths;
  for (const auto& p : r.problems) paths.push_back(p.path + ": " + p.message);
  CAPTURE(paths);
  const auto has = [&](const std::string& path, const std::string& says) {
    return std::any_of(r.problems.begin(), r.problems.end(), [&](const load_problem& p) {
      return p.path == path && p.message.find(says) != std::string::npos;
    });
  };
  CHECK(has("format", "'kakehashi.policy/2' is not a format this version reads"));
  CHECK(has("colour", "unknown key"));
  CHECK(has("packs[1]", "unknown pack 'klingon'; expected one of: fhir, mou, vietnam, japan"));
  CHECK(has("packs[2]", "listed twice"));
  CHECK(has("disabled_rules[0]", "no rule 'JP-02' in the chosen packs"));
  CHECK(has("disabled_rules[1]", "no rule 'VN-99'"));
  CHECK(has("flags.jp_minor_threshold", "out of range; expected an integer from 0 to 25"));
  CHECK(has("flags.allow_emergency_basis", "expected true or false"));
  CHECK(has("flags.loud", "unknown key"));
  CHECK(has("compliance.bach mai", "hospital id 'bach mai'"));
  CHECK(has("compliance.k-hospital.transfer_agreement", "is required but missing"));
  CHECK(has("compliance.k-hospital.impact_assessment_filed_at", "2026-02-30"));
  CHECK(has("payload_classes", "is empty"));
  CHECK(r.problems.size() == 13);
  CHECK_THROWS_WITH(load_policy("{", "p.json"), Catch::Matchers::Contains("[kakehashi.invalid_argument] p.json: 1 problem"));
  CHECK_THROWS_MATCHES(load_policy_file("/nonexistent.json"), error,
                       Catch::Matchers::Predicate<error>(
                           [](const error& e) { return e.code() == errc::not_found; }));
}

TEST_CASE("docs/sources.md lists every rule with the citation the code gives it", "[consent][docs]") {
  std::ifstream in(std::string(KAKEHASHI_SOURCE_DIR) + "/docs/sources.md");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  REQUIRE_FALSE(doc.empty());
  const consent_policy standard = consent_policy::standard();
  for (const auto& r : standard.rules()) {
    CAPTURE(r.id);
    CHECK(doc.find("| " + r.id + " | " + r.pack + " | " + r.citation + " |") != std::string::npos);
  }
}
