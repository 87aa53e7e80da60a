#pragma once
// The steps between a destination's acceptance and the patient's arrival that make a referral
// cross-border: the treatment plan and cost estimate the patient accepts, Japan's medical-stay
// visa (which needs a guarantor), the journey and a medical escort. An agreement lists those its
// referrals need (agreement::required_milestones); each is recorded with its date and who
// recorded it (event::record_milestone), and the transfer is refused until all are recorded.
//
// Coded, never free text. urn:kakehashi:milestone lists them with their displays in English,
// Vietnamese and Japanese.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi {

// clang-format off
enum class milestone {
  treatment_plan_accepted,  ///< the patient accepted the destination's treatment plan
  cost_estimate_accepted,   ///< the patient (or the payer) accepted the cost estimate
  guarantor_confirmed,      ///< a guarantor in Japan for the medical-stay visa is confirmed
  medical_visa_issued,      ///< the visa for medical stay is issued
  travel_arranged,          ///< the journey is booked
  escort_arranged,          ///< a medical escort for the journey is arranged
};
// clang-format on

std::string_view to_string(milestone v) noexcept;
/// Inverse of to_string(); std::nullopt for an unknown name.
std::optional<milestone> parse_milestone(std::string_view name) noexcept;
/// Every milestone, in declaration order; and their names joined by ", ".
const std::vector<milestone>& all_milestones();
std::string milestone_names();

}  // namespace kakehashi
