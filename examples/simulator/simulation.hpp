#pragma once
// The referral simulator: a scenario's referrals, proposed over its period and driven through
// the real kakehashi engine (eligibility, consent rules, audit log) one simulated day per
// transaction, summarised as it goes. Nothing bypasses the library: every number in the summary
// comes from what the engine accepted or refused.
//
// Deterministic: the same scenario (seed included) and agreements give the same summary and the
// same audit head hash. Memory holds only the referrals still open; finished ones are counted
// and dropped. Not thread-safe: one simulation per thread.

#include <cstdint>
#include <functional>
#include <kakehashi/kakehashi.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scenario.hpp"

namespace simulator {

/// Where a referral ended up when the period ended. "not_eligible" never opened: its proposal
/// was refused. The open states are the referrals still under way at the end of the period.
inline constexpr const char* outcome_names[] = {
    "not_eligible", "proposed",  "consent_recorded", "accepted",          "transferred",
    "completed",    "declined",  "cancelled",        "consent_withdrawn", "expired"};
inline constexpr int outcome_count = 10;

/// The stages a referral can reach, in order.
inline constexpr const char* stage_names[] = {"referred",    "opened",      "consent_recorded",
                                              "accepted",    "transferred", "completed"};
inline constexpr int stage_count = 6;

struct origin_specialty_row {
  std::string origin;
  std::string specialty;
  long referrals = 0;
  long opened = 0;
  long transferred = 0;
  long completed = 0;
};

/// A refused command's reason: an ineligibility code ("eligibility") or a consent rule's finding
/// code ("consent"), with how many refusals fell under each Vietnamese regime.
struct refusal_row {
  std::string kind;
  std::string code;
  std::string rule;     ///< the consent rule's id; "" for eligibility
  std::string command;  ///< the refused command: propose, record_consent, transfer
  long count = 0;
  long decree_13 = 0;
  long law_91 = 0;
};

/// Referrals proposed in a month (in the referring hospitals' time zone), by outcome.
struct month_row {
  std::string month;  ///< "YYYY-MM"
  long by_outcome[outcome_count] = {};
  int days = 0;  ///< the period's days in this month: fewer than days_in_month when partial
  int days_in_month = 0;  ///< 28 to 31
};

/// A specialty whose monthly capacity at the destination was reached.
struct capacity_row {
  std::string specialty;
  std::string first_month;  ///< "YYYY-MM" in the destination's time zone
  int months = 0;           ///< how many months it was reached in
  long refused = 0;         ///< proposals refused for it
};

/// One step of the example referral, with its time in the acting hospital's zone.
struct example_step {
  std::string command;
  std::string utc;
  std::string local;  ///< "2026-01-12 09:00 +07"
  std::string organisation;
  std::string role;
  std::string state_after;
};

struct summary {
  // What was run
  std::uint64_t seed = 0;
  std::string start;  ///< YYYY-MM-DD
  int days = 0;
  long referrals = 0;
  std::string destination;
  std::string durability;
  std::string period_utc[2];    ///< first and one-past-last instant, ISO 8601 UTC
  std::string period_local[2];  ///< the same in Vietnam ... and in Japan for [1]

  long outcomes[outcome_count] = {};
  long funnel[stage_count] = {};
  std::vector<origin_specialty_row> by_origin_specialty;
  std::vector<refusal_row> refusals;  ///< most frequent first
  std::vector<month_row> months;
  std::vector<capacity_row> capacity;

  // Days from proposal to transfer
  long transferred = 0;
  std::optional<double> lead_median_days;
  std::optional<double> lead_p90_days;
  std::vector<long> lead_weeks;  ///< histogram: transfers by week of lead time
  /// Days each phase took, over the referrals that went through it, in lifecycle order:
  /// "consent" (proposal to the first consent recorded), "accept" (to acceptance), "transfer"
  /// (acceptance to arrival) and "results" (arrival to results returned).
  struct phase_row {
    std::string phase;
    long referrals = 0;
    std::optional<double> median_days;
    std::optional<double> p90_days;
  };
  std::vector<phase_row> phases;

  long commands = 0;          ///< commands given to the engine (each one audit row)
  long refused_commands = 0;  ///< of which refused
  long withdrawn_after_transfer = 0;
  /// Accepted referrals whose consent no longer allowed the journey (a stricter regime in force
  /// by then), given a replacement consent and transferred after all.
  long consents_replaced = 0;
  /// Documents attached (by reference), acceptances refused because documents the agreement
  /// requires were missing, the times the referring hospital then sent them, and the referrals
  /// declined for insufficient information after such a refusal.
  long documents_attached = 0;
  long accepts_refused_for_documents = 0;
  long documents_sent_when_asked = 0;
  long declined_for_documents = 0;
  /// Milestones recorded between acceptance and the journey, the journeys that waited for the
  /// last one the agreement requires, and the referrals cancelled because one never came.
  long milestones_recorded = 0;
  long journeys_delayed_for_milestones = 0;
  long cancelled_for_milestones = 0;
  /// Results returned to the referring hospital (a discharge summary and a follow-up plan, by
  /// reference), and the completed referrals whose results went back: the closed loop.
  long results_returned = 0;
  long completed_with_results = 0;
  /// Newer consents recorded after the transfer because the first did not grant the return of
  /// results (JP-04 refused it); the results then went home on them.
  long consents_renewed_for_return = 0;
  /// The duties withdrawals created (VN-15: the referring hospital acknowledges within 2 working
  /// days and completes within 20 days, with the stop notice to the destination): those
  /// acknowledged and completed before their deadlines, completed after, reported overdue by
  /// the daily sweep (each once), and still open when the period ended.
  long duties_created = 0;
  long duties_acknowledged_in_time = 0;
  long duties_completed_in_time = 0;
  long duties_completed_late = 0;
  long duties_reported_overdue = 0;
  long duties_open = 0;
  /// The emergency reviews steps on an emergency basis opened (VN-17, JP-10: a second clinician
  /// of the hospital that provided the data reviews each within 3 working days): reviewed
  /// before and after the deadline, found not justified, and still open when the period ended.
  long reviews_opened = 0;
  long reviews_in_time = 0;
  long reviews_late = 0;
  long reviews_not_justified = 0;
  long reviews_open = 0;

  // The audit log of the database written
  bool audit_intact = false;
  long audit_rows = 0;
  std::string head_hash;
  std::string audit_problem;

  std::vector<example_step> example;  ///< the first referral to complete, step by step
};

/// Called once per simulated day: (day, days, referrals proposed so far).
using progress_fn = std::function<void(int, int, long)>;

/// Wall-clock figures of a run: not part of the (deterministic) summary.
struct run_timing {
  double seconds = 0;         ///< the whole run, opening the engine included
  double engine_seconds = 0;  ///< inside the engine: commands, commits, the sweep, verify
};

/// Runs the scenario on a new engine database at `db_path` (":memory:" for none on disk; the
/// caller decides about an existing file). The scenario's destination terms are applied to the
/// agreements involving the destination. With `policy` (a policy file's settings, as production
/// loads them: docs/policy.md), its rules, flags and payload classes are used, and its paperwork
/// for every hospital it lists replaces the scenario's; without it, the standard policy and the
/// scenario's paperwork. Throws kakehashi::error for a scenario that does not fit the
/// agreements, and lets any unexpected engine refusal through (it would be a defect).
summary simulate(const scenario& s, const kakehashi::agreement_directory& agreements,
                 const std::string& db_path, const progress_fn& progress = {},
                 run_timing* timing = nullptr, const kakehashi::policy_settings* policy = nullptr);

}  // namespace simulator
