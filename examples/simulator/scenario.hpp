#pragma once
// The simulator's scenario: every rate, share and delay of a simulated referral year, as a named
// setting of a JSON file (examples/simulator/scenario.json, documented in
// examples/simulator/README.md) rather than a constant in the code. Values; thread-safe as values.

#include <date/date.h>

#include <cstdint>
#include <kakehashi/kakehashi.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace simulator {

/// A delay in days drawn from a triangular distribution (min <= mode <= max).
struct delay_days {
  double min = 0;
  double mode = 0;
  double max = 0;
};

/// Named choices with relative weights (they need not sum to 1; at least one is positive).
template <class Key>
using weights = std::vector<std::pair<Key, double>>;

/// A referring hospital: how many of the referrals it sends, and in which specialties.
struct origin_mix {
  kakehashi::hospital_id hospital;
  double share = 0;
  weights<kakehashi::specialty_code> specialties;
};

/// An age band of the patients, in whole years at the proposal.
struct age_band {
  std::string name;
  int min_age = 0;
  int max_age = 0;
  double share = 0;
};

/// What happens to the consent of a referral.
enum class consent_plan {
  complete,                 ///< a complete consent from the start
  missing_japan_notice,     ///< without the APPI Art. 28(2) information (JP-05): blocked
  missing_written_request,  ///< without Law 91 Art. 26(2)'s written request: blocked from 2026
  refused,                  ///< the patient refuses; the referral is cancelled
  emergency,                ///< an emergency with a justification, no consent obtainable
};
std::string_view to_string(consent_plan p) noexcept;

/// Every setting of a run. load_scenario() fills all of them: the file is the one place their
/// values live (examples/simulator/scenario.json holds the defaults).
struct scenario {
  /// What the scenario is, shown in the report: by language ("en", "vi", "ja"), or under "" when
  /// the file gives one text without saying its language.
  std::map<std::string, std::string> description;

  // The run
  date::year_month_day start;  ///< the period starts at local midnight in Vietnam
  int days = 0;
  int referrals = 0;
  std::uint64_t seed = 0;
  kakehashi::durability sync = kakehashi::durability::normal;

  // The destination, and the terms the scenario adds to the shipped agreements for it (the seed
  // documents state no response deadline or capacity)
  kakehashi::hospital_id destination;
  std::optional<int> response_deadline_days;
  std::map<kakehashi::specialty_code, int> monthly_capacity;
  delay_days days_to_answer;  ///< counted from the recorded consent
  double no_answer = 0;       ///< the destination never answers: the referral expires
  double accept = 0;          ///< of the answers; the rest decline
  weights<kakehashi::decline_reason> decline_reasons;
  /// Documents the destination requires before it accepts (added to its agreements, refused
  /// when missing); empty: the agreements' own lists.
  std::vector<kakehashi::document_kind> required_documents;
  /// Milestones the destination requires before the journey (added to its agreements: the
  /// transfer is refused until they are recorded); empty: the agreements' own lists.
  std::vector<kakehashi::milestone> required_milestones;

  std::vector<origin_mix> origins;
  /// The referring hospitals' paperwork (VN-10, VN-11, VN-20): a data-transfer agreement with
  /// the destination, whether it binds the destination to honour withdrawals passed on, and the
  /// day their impact assessment was filed (nullopt: not filed).
  bool transfer_agreement = false;
  bool withdrawal_clause = false;
  std::optional<date::year_month_day> impact_assessment_filed;

  // Patients
  std::vector<age_band> ages;
  double lacks_capacity = 0;        ///< adults who consent through a representative
  double child_assent_missing = 0;  ///< children of 7..15 whose first consent lacks their assent

  // Consent
  delay_days days_to_consent;
  weights<consent_plan> consent_plans;
  double fixed_later = 0;  ///< a blocked consent is corrected and recorded again
  delay_days days_to_fix;
  delay_days days_to_cancel;  ///< after a refused consent, or one that is never fixed
  double withdraw_before_transfer = 0;
  double withdraw_after_transfer = 0;

  // Documents (the optional section "documents"; without it nothing is attached)
  /// Each kind the referring hospital attaches after the proposal, with its chance.
  std::vector<std::pair<kakehashi::document_kind, double>> documents_attached;
  delay_days days_to_attach;   ///< from the proposal
  double sent_when_asked = 0;  ///< an acceptance refused for missing documents: the origin
                               ///< sends them and the destination answers again; otherwise it
                               ///< declines for insufficient information
  delay_days days_to_send;     ///< from the refused acceptance

  // Milestones (the optional section "milestones"; without it none is recorded). Each is
  // recorded by the hospital that does the work: the treatment plan, the cost estimate and the
  // guarantor by the destination, the visa, the journey and the escort by the referring hospital.
  struct milestone_plan {
    kakehashi::milestone milestone = kakehashi::milestone::travel_arranged;
    double chance = 1;  ///< of the accepted referrals; the rest never get it
    delay_days days_after_acceptance;
  };
  std::vector<milestone_plan> milestones;

  // Results (the optional section "results"; without it none is returned): the destination
  // returns a discharge summary and a follow-up plan to the referring hospital, under the
  // recorded consent, some days before it completes the referral.
  double results_returned = 0;  ///< of the transferred referrals
  delay_days days_results_before_completion;
  /// Of the referrals whose results go back: the share whose consent did not grant the return
  /// (purpose results_return), so that the return is refused (JP-04) and the referring hospital
  /// records a newer consent after the transfer, `days_to_renew_consent` later, before the
  /// results go home.
  double results_consent_missing = 0;
  delay_days days_to_renew_consent;

  // Duties (the optional section "duties"; without it the duties withdrawals create are never
  // recorded as done, and the sweep reports them overdue): the referring hospital acknowledges
  // a withdrawal `days_to_acknowledge` after it, and completes it (the destination confirmed it
  // stopped) `days_to_complete` after it, for the share `completed` of them.
  bool duties = false;
  delay_days days_to_acknowledge_duty;
  double duty_completed = 0;
  delay_days days_to_complete_duty;

  // Emergency reviews (the optional section "emergency_reviews"; without it they are never
  // recorded): a second clinician reviews each step taken on an emergency basis
  // `days_to_review` after it, and finds the basis not justified for the share `not_justified`.
  bool reviews = false;
  delay_days days_to_review;
  double review_not_justified = 0;

  // The journey
  double cancel_before_transfer = 0;
  weights<kakehashi::cancel_reason> cancel_reasons;
  delay_days days_to_travel;
  delay_days days_of_treatment;
};

/// Parses the JSON of a scenario file strictly: unknown keys, wrong types, values out of range
/// and unknown names are reported all at once, each with its JSON path, the value found and
/// what would be valid. Throws kakehashi::error{errc::invalid_argument}.
scenario load_scenario(std::string_view json_text, std::string_view source_name = "scenario");
/// Reads a file; throws kakehashi::error{errc::not_found} if it cannot be read.
scenario load_scenario_file(const std::string& path);

/// "YYYY-MM-DD" naming a real calendar day, or nullopt.
std::optional<date::year_month_day> parse_day(std::string_view text);

/// The scenario with `referrals` referrals and each monthly capacity scaled in proportion (at
/// least 1), so that a smaller or larger run keeps the shipped mix of outcomes.
scenario scaled_to(scenario s, int referrals);

/// Checks a scenario against the agreements it will run on: the destination and every origin are
/// hospitals of the directory, every specialty is known. Throws {errc::invalid_argument}.
void check_against(const scenario& s, const kakehashi::agreement_directory& dir);

}  // namespace simulator
