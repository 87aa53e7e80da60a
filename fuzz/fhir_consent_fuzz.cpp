// libFuzzer target: FHIR R4 Consent import, then (for a Consent that imports) the standard
// policy's evaluation of the record and the record's own JSON read back by the consent loader.
// Whatever the bytes: problems or a record, never both, never an exception, and a record that
// imports is one the strict loader accepts.
#include <cstddef>
#include <cstdint>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/fhir.hpp>
#include <kakehashi/testing.hpp>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kakehashi;
  static const consent_policy policy = consent_policy::standard();
  fhir::import_options o;
  o.birth_date = date::year{1970} / 5 / 20;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = fhir::import_consent(text, o);
  if (r.ok() == !r.problems.empty()) __builtin_trap();  // exactly one of record and problems
  if (!r.ok()) return 0;
  if (!try_load_consent(r.consent_json).ok()) __builtin_trap();
  (void)to_json(
      policy.evaluate(testing::referral_context().at("2026-03-01T00:00:00Z").with(*r.record)));
  // Exported again, it imports again.
  if (!fhir::import_consent(fhir::consent_resource(*r.record), o).ok()) __builtin_trap();
  return 0;
}
