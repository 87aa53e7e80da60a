// libFuzzer target: the consent loader, then the standard policy's evaluation of a record that
// loads, for both flows and both Vietnamese regimes, with the referral's documents unknown and
// known (a transfer paper or none, under a policy that requires it). A "no" is a verdict, never
// an exception.
#include <cstddef>
#include <cstdint>
#include <kakehashi/consent_rules.hpp>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kakehashi;
  static const consent_policy standard = consent_policy::standard();
  static const consent_policy strict = [] {
    policy_flags f;
    f.vn_require_transfer_paper = true;
    return consent_policy::standard(f);
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = try_load_consent(text);
  if (!r.ok()) {
    if (r.problems.empty()) __builtin_trap();
    return 0;
  }
  for (const char* at : {"2025-12-01T00:00:00Z", "2026-03-01T00:00:00Z"}) {
    for (const data_flow flow : {data_flow::outbound, data_flow::results_return}) {
      consent_context ctx;
      ctx.consent = &*r.record;
      ctx.origin = hospital_id{"bach-mai"};
      ctx.destination = hospital_id{"shonan-kamakura"};
      ctx.origin_country = "VN";
      ctx.destination_country = "JP";
      ctx.flow = flow;
      ctx.at = parse_instant(at);
      const consent_verdict v = standard.evaluate(ctx);
      if (!v.allowed() && v.findings.empty() && v.basis != legal_basis::none) __builtin_trap();
      (void)to_json(v);
      // The documents known (VN-26): the strict policy never allows a transfer from Vietnam
      // without the paper, and the paper never adds a finding of its own.
      ctx.documents = std::vector<document_kind>{};
      if (flow == data_flow::outbound && strict.evaluate(ctx).allowed()) __builtin_trap();
      ctx.documents->push_back(document_kind::transfer_paper);
      if (strict.evaluate(ctx).has_finding("VN-26")) __builtin_trap();
    }
  }
  return 0;
}
