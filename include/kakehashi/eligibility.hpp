#pragma once
// Eligibility: which partner hospitals may take a patient from a referring hospital, for a
// specialty, at an instant, under the loaded agreements; and, for every other hospital, every
// reason it may not. The answer is a value (a "no" is never an exception) that can be shown to a
// clinician and stored in the audit log (to_json). Pure functions: thread-safe.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/agreement.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/time.hpp"

namespace kakehashi {

/// Why a destination is not eligible. Stable codes: they are stored and shown.
enum class ineligibility_code {
  no_agreement,           ///< no agreement has both hospitals as parties
  not_yet_effective,      ///< the instant is before the agreement's effective_from
  expired,                ///< the instant is after the agreement's effective_until
  suspended,              ///< the agreement is suspended at the instant
  terminated,             ///< the agreement was terminated before the instant
  referral_not_in_scope,  ///< the agreement does not cover patient referral
  specialty_not_covered,  ///< the agreement's referral terms do not list the specialty
  specialty_not_offered,  ///< the destination does not offer the specialty
  direction_not_allowed,  ///< the agreement does not allow referrals from origin to destination
  capacity_reached,       ///< the month's count reached the agreement's monthly capacity
};
std::string_view to_string(ineligibility_code v) noexcept;
std::optional<ineligibility_code> parse_ineligibility_code(std::string_view name) noexcept;

/// Which hospitals a query evaluates as destinations.
enum class eligibility_scope {
  /// Every hospital in the directory other than the origin: every "no" in the network explained,
  /// a hospital without an agreement as no_agreement. Its cost grows with the directory.
  directory,
  /// The origin's partners only (the hospitals it shares an agreement with): every "no" among
  /// them is still explained in full; hospitals without an agreement are left out. Its cost grows
  /// with the origin's agreements, not with the directory.
  partners,
  /// The one hospital in `eligibility_query::destination` (for a proposal to it).
  destination,
};

struct eligibility_query {
  hospital_id from;          ///< the referring hospital
  specialty_code specialty;  ///< "oncology", ...
  instant at;                ///< when the referral would be proposed (UTC)
  /// Optional: referrals already counted against capacity this month, per destination, for this
  /// specialty (the caller decides what counts, e.g. accepted referrals in the destination's local
  /// calendar month). Destinations missing here are not checked for capacity.
  std::map<hospital_id, int> month_counts;
  eligibility_scope scope = eligibility_scope::directory;
  std::optional<hospital_id> destination = std::nullopt;  ///< with scope destination only
};

struct ineligibility_reason {
  ineligibility_code code;
  std::optional<agreement_id> agreement;  ///< the agreement the reason is about, if any
  std::string message;                    ///< readable, names the agreement and the date
};

struct eligible_destination {
  hospital_id hospital;
  agreement_id agreement;                     ///< the agreement that allows it
  std::optional<int> remaining_capacity;      ///< nullopt: no capacity term, or no count given
  std::optional<int> response_deadline_days;  ///< from the agreement
};

struct ineligible_destination {
  hospital_id hospital;
  std::optional<agreement_id> agreement;      ///< nullopt for no_agreement
  std::vector<ineligibility_reason> reasons;  ///< every reason that applies, never empty
};

struct [[nodiscard]] eligibility_result {
  eligibility_query query;
  /// Ranked: (1) most remaining capacity first, an agreement without a capacity term counting as
  /// unlimited and a capacity term without a count as its full capacity; (2) shorter response
  /// deadline first, none last; (3) hospital id, then agreement id, ascending.
  std::vector<eligible_destination> eligible;
  /// One entry per (hospital, agreement) that does not allow the referral, or per hospital with no
  /// agreement; ordered by hospital id, then agreement id. A hospital that is eligible under one
  /// agreement does not appear here for its other agreements.
  std::vector<ineligible_destination> ineligible;

  bool ok() const noexcept { return !eligible.empty(); }
  bool is_eligible(const hospital_id& h) const noexcept;
  /// The best-ranked agreement allowing `h`, or nullptr.
  const eligible_destination* find_eligible(const hospital_id& h) const noexcept;
  /// Every reason `h` is not eligible (across its agreements); empty if it is eligible.
  std::vector<ineligibility_reason> reasons_for(const hospital_id& h) const;
};

/// Evaluates the hospitals of `q.scope` (by default every hospital in `dir` other than `q.from`)
/// as destinations.
/// Throws kakehashi::error{errc::invalid_argument} if an id in the query is malformed, a month
/// count is negative, or scope destination comes without a destination (or names the origin),
/// and {errc::not_found} if `q.from` or that destination is not in the directory. A destination
/// that is not eligible is never an error.
eligibility_result check_eligibility(const agreement_directory& dir, const eligibility_query& q);

/// The result as one JSON object, as `kakehashi eligible --json` prints it:
/// {"from", "specialty", "at", "eligible": [{"hospital", "agreement", "remaining_capacity",
///  "response_deadline_days"}], "ineligible": [{"hospital", "agreement", "reasons": [{"code",
///  "agreement", "message"}]}]}. Absent optional values are null.
std::string to_json(const eligibility_result& r, int indent = -1);

}  // namespace kakehashi
