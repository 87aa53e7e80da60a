// libFuzzer target: the agreements loader, then an eligibility query from every hospital of a
// directory that loads. Bad input must give problems (never an exception other than a
// kakehashi::error from a query, never a crash).
#include <cstddef>
#include <cstdint>
#include <kakehashi/eligibility.hpp>
#include <kakehashi/error.hpp>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kakehashi;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = agreement_directory::try_load(text);
  if (!r.ok()) {
    if (r.problems.empty()) __builtin_trap();  // a refusal must say why
    return 0;
  }
  const instant at = parse_instant("2026-03-01T00:00:00Z");
  for (const auto& h : r.directory->hospitals()) {
    for (const auto& s : h.specialties) {
      const auto e = check_eligibility(*r.directory, {h.id, s, at, {}});
      for (const auto& d : e.ineligible) {
        if (d.reasons.empty()) __builtin_trap();  // every "no" explains itself
      }
      (void)to_json(e);
    }
  }
  return 0;
}
