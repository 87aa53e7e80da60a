#pragma once
// Test fixtures: the seed hospitals, actors, a fixed clock, and referrals driven into any state
// through the real lifecycle (never through restore()).

#include <kakehashi/referral.hpp>
#include <string>
#include <vector>

namespace kakehashi::test {

inline const hospital_id k_hospital{"k-hospital"};
inline const hospital_id shonan{"shonan-kamakura"};
inline const hospital_id bach_mai{"bach-mai"};  // a party to neither test referral

/// A fixed clock: t(0) is 2026-03-01T00:00:00Z, t(n) is n hours later.
inline instant t(int hours) {
  return instant{date::sys_days{date::year{2026} / 3 / 1}} + std::chrono::hours{hours};
}

inline actor origin_as(actor_role role) { return {k_hospital, role, user_id{"u-origin"}}; }
inline actor destination_as(actor_role role) { return {shonan, role, user_id{"u-dest"}}; }

inline referral proposed_referral(const std::string& id = "R-TEST-1") {
  return referral::propose({referral_id{id}, k_hospital, shonan, specialty_code{"oncology"},
                            patient_ref{"P-5a1c"}, origin_as(actor_role::coordinator), t(0)});
}

/// A well-formed document reference (`id` and `kind` chosen by the caller).
inline document_ref sample_document(const std::string& id = "D-1",
                                    document_kind kind = document_kind::referral_letter) {
  return {
      document_id{id},   kind,   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "application/pdf", 48'213, "vi"};
}

/// An event of `kind` at `at`, fired by an actor who has the right to fire it.
inline event::any rightful_event(event_kind kind, instant at) {
  switch (kind) {
    case event_kind::record_consent:
      return event::record_consent{origin_as(actor_role::coordinator), at, consent_ref{"C-1"}};
    case event_kind::attach_document:
      return event::attach_document{origin_as(actor_role::coordinator), at, sample_document()};
    case event_kind::accept:
      return event::accept{destination_as(actor_role::clinician), at};
    case event_kind::decline:
      return event::decline{destination_as(actor_role::clinician), at,
                            decline_reason::capacity_full};
    case event_kind::cancel:
      return event::cancel{origin_as(actor_role::coordinator), at, cancel_reason::patient_request};
    case event_kind::withdraw_consent:
      return event::withdraw_consent{origin_as(actor_role::clinician), at,
                                     withdrawal_channel::written};
    case event_kind::record_milestone:
      return event::record_milestone{origin_as(actor_role::coordinator), at,
                                     milestone::travel_arranged};
    case event_kind::transfer:
      return event::transfer{destination_as(actor_role::coordinator), at};
    case event_kind::return_results:
      return event::return_results{destination_as(actor_role::clinician),
                                   at,
                                   {sample_document("D-R1", document_kind::discharge_summary)}};
    case event_kind::complete:
      return event::complete{destination_as(actor_role::clinician), at};
    case event_kind::expire:
      return event::expire{destination_as(actor_role::system), at};
  }
  return event::accept{};
}

/// The same event with another actor.
inline event::any with_actor(event::any e, const actor& who) {
  std::visit([&](auto& ev) { ev.by = who; }, e);
  return e;
}

/// A referral brought to a named situation by firing rightful events in order.
struct situation {
  const char* name;
  std::vector<event_kind> path;
};

inline referral referral_after(const std::vector<event_kind>& path) {
  referral r = proposed_referral();
  int hour = 1;
  for (event_kind k : path) r.apply(rightful_event(k, t(hour++)));
  return r;
}

}  // namespace kakehashi::test
