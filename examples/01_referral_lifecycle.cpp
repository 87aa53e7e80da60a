// Example 01: one referral from Vietnam National Cancer Hospital (K Hospital, Hanoi) to Shonan
// Kamakura General Hospital (Kanagawa), through every state of its lifecycle.
//
// Each step prints the instant in UTC and in the acting hospital's local time (Vietnam is UTC+7,
// Japan UTC+9), the state it moved to, and what could happen next. Two wrong steps show how a
// refused event explains itself and leaves the referral as it was.
#include <date/tz.h>

#include <iostream>
#include <kakehashi/kakehashi.hpp>
#include <string>

namespace kh = kakehashi;

namespace {

const kh::hospital_id k_hospital{"k-hospital"};
const kh::hospital_id shonan{"shonan-kamakura"};

std::string local_time(const kh::hospital_id& h, kh::instant at) {
  const char* zone = h == k_hospital ? "Asia/Ho_Chi_Minh" : "Asia/Tokyo";
  return date::format("%F %R %Z", date::make_zoned(zone, at));
}

std::string join(const std::vector<kh::event_kind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ", ") + std::string(kh::to_string(k));
  return out.empty() ? "nothing (closed)" : out;
}

void show(const kh::referral& r, const std::string& step, const kh::actor& by) {
  std::cout << "  " << kh::to_iso8601(r.updated_at()) << "  ("
            << local_time(by.organisation, r.updated_at()) << " at " << by.organisation << ")\n"
            << "    " << step << " by " << by.organisation << " " << by.role << "\n"
            << "    -> state " << r.state();
  if (r.reason()) std::cout << " (" << *r.reason() << ")";
  std::cout << ", version " << r.version() << "; next: " << join(r.allowed_events()) << "\n";
}

void try_wrong_step(kh::referral& r, const kh::event::any& e) {
  const auto before = r.snapshot();
  try {
    r.apply(e);
    std::cout << "    (unexpectedly allowed)\n";
  } catch (const kh::error& err) {
    std::cout << "  refused, as it should be:\n    " << err.what() << "\n"
              << "    referral unchanged: " << (r.snapshot() == before ? "yes" : "NO") << "\n";
  }
}

}  // namespace

int main() {
  using kh::actor_role;
  const kh::actor k_coordinator{k_hospital, actor_role::coordinator, kh::user_id{"staff-k-017"}};
  const kh::actor shonan_clinician{shonan, actor_role::clinician, kh::user_id{"dr-sk-042"}};
  const kh::actor shonan_coordinator{shonan, actor_role::coordinator, kh::user_id{"io-sk-003"}};

  std::cout << "kakehashi " << kh::version_string
            << ": a referral from K Hospital (Hanoi) to Shonan Kamakura (Kanagawa)\n\n";

  // The patient is known only by a pseudonymous id: never a name or a record number.
  auto r = kh::referral::propose({kh::referral_id{"R-2026-0001"}, k_hospital, shonan,
                                  kh::specialty_code{"oncology"}, kh::patient_ref{"P-3f9c1a"},
                                  k_coordinator, kh::parse_instant("2026-01-12T09:00:00+07:00")});
  show(r, "propose (oncology)", k_coordinator);

  r.apply(kh::event::record_consent{k_coordinator, kh::parse_instant("2026-01-12T10:30:00+07:00"),
                                    kh::consent_ref{"C-2026-0001"}});
  show(r, "record_consent C-2026-0001", k_coordinator);

  // A coordinator may not make the clinical decision to accept.
  try_wrong_step(
      r, kh::event::accept{shonan_coordinator, kh::parse_instant("2026-01-14T13:00:00+09:00")});

  r.apply(kh::event::accept{shonan_clinician, kh::parse_instant("2026-01-14T14:00:00+09:00")});
  show(r, "accept", shonan_clinician);

  // The patient cannot be discharged before arriving.
  try_wrong_step(
      r, kh::event::complete{shonan_clinician, kh::parse_instant("2026-01-20T09:00:00+09:00")});

  r.apply(kh::event::transfer{shonan_coordinator, kh::parse_instant("2026-02-02T16:45:00+09:00")});
  show(r, "transfer (patient arrived)", shonan_coordinator);

  r.apply(kh::event::complete{shonan_clinician, kh::parse_instant("2026-03-20T11:00:00+09:00")});
  show(r, "complete", shonan_clinician);

  std::cout << "\nR-2026-0001 closed as " << *r.reason() << " after " << r.version() - 1
            << " events.\n";
  return r.reason() == kh::close_reason::completed ? 0 : 1;
}
