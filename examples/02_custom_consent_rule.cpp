// Example 02: a hospital adds a consent rule of its own and unit-tests it with Catch2.
//
// Bach Mai's compliance office decides that a consent older than 90 days must be reconfirmed with
// the patient before the referral goes out (rule BM-01). The rule is a few lines; the tests state
// only what matters, because kakehashi/testing.hpp starts from a complete, valid consent.
//
// Run: build/test/examples/02_custom_consent_rule   (also run by scripts/test.sh through ctest)
#include <catch2/catch.hpp>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/testing.hpp>

namespace kh = kakehashi;
namespace kt = kakehashi::testing;

// The hospital's rule: ids, citation and message are its own.
kh::consent_rule consent_not_stale(int max_days) {
  return {"BM-01", "bach-mai", "Bach Mai compliance office circular 2026/07",
          "a consent older than the limit is reconfirmed before a transfer",
          [max_days](const kh::consent_context& ctx, const kh::basis_info& basis,
                     const kh::policy_flags&, kh::rule_report& out) {
            if (!ctx.consent || basis.basis == kh::legal_basis::emergency) return;
            const auto age = date::floor<date::days>(ctx.at - ctx.consent->captured_at);
            if (age.count() > max_days) {
              out.block("BM_CONSENT_STALE", "consent " + ctx.consent->id.value() + " is " +
                                                std::to_string(age.count()) +
                                                " days old; reconfirm it with the patient");
            }
          }};
}

// The hospital's policy: the standard packs plus its own rule.
kh::consent_policy bach_mai_policy() {
  auto policy = kh::consent_policy::standard();
  policy.add(consent_not_stale(90));
  return policy;
}

TEST_CASE("BM-01: a consent of 90 days or less is fine", "[BM-01]") {
  const kh::consent_record c = kt::valid_consent().captured_at("2026-01-10T09:00:00+07:00");
  CHECK(kt::allows(bach_mai_policy(), kt::referral_context().at("2026-04-09T00:00:00Z").with(c)));
}

TEST_CASE("BM-01: an older consent blocks the transfer", "[BM-01]") {
  const kh::consent_record c = kt::valid_consent().captured_at("2026-01-10T09:00:00+07:00");
  CHECK(kt::blocks(bach_mai_policy(), kt::referral_context().at("2026-05-01T00:00:00Z").with(c),
                   "BM-01", "BM_CONSENT_STALE"));
}

TEST_CASE("BM-01: an emergency is not held up", "[BM-01]") {
  const kh::consent_record c =
      kt::valid_consent().captured_at("2025-06-01T09:00:00+07:00").emergency();
  CHECK(kt::allows(bach_mai_policy(), kt::referral_context().with(c)));
}
