// Built against an installed kakehashi (or through add_subdirectory) by the package test: walks
// one referral to `accepted` and exits 0 only if every step did what it should.
#include <iostream>
#include <kakehashi/kakehashi.hpp>

int main() {
  using namespace kakehashi;
  const hospital_id k{"k-hospital"};
  const hospital_id shonan{"shonan-kamakura"};
  const instant t0 = parse_instant("2026-03-01T00:00:00Z");
  auto r = referral::propose({referral_id{"R-PKG-1"},
                              k,
                              shonan,
                              specialty_code{"oncology"},
                              patient_ref{"P-0001"},
                              {k, actor_role::coordinator, {}},
                              t0});
  r.apply(event::record_consent{{k, actor_role::coordinator, {}}, t0, consent_ref{"C-1"}});
  try {
    r.apply(event::complete{{shonan, actor_role::clinician, {}}, t0});
    std::cerr << "consumer: complete from consent_recorded was not refused\n";
    return 1;
  } catch (const error& e) {
    if (e.code() != errc::failed_precondition) return 1;
  }
  r.apply(event::accept{{shonan, actor_role::clinician, {}}, t0});
  std::cout << "kakehashi " << version_string << ": " << r.id() << " is " << r.state() << '\n';
  return r.state() == referral_state::accepted ? 0 : 1;
}
