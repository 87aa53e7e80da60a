#pragma once
// A cross-border referral and its lifecycle:
//
//   proposed -> consent_recorded -> accepted -> transferred -> closed(completed)
//
// with the side exits closed(declined | cancelled | consent_withdrawn | expired). Events are values
// in namespace kakehashi::event; each carries the acting organisation and role and the instant it
// happened. `referral::apply()` either moves the referral or throws and leaves it exactly as it
// was (strong guarantee). The state machine itself (Boost.MSM) is private to the library.
//
// Thread safety: a referral is a value. Distinct objects may be used from distinct threads; one
// object needs external synchronisation if any thread modifies it.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kakehashi/document.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/milestone.hpp"
#include "kakehashi/time.hpp"

namespace kakehashi {

// clang-format off
/// Where a referral stands.
enum class referral_state {
  proposed,          ///< the referring hospital has proposed it; no consent on file yet
  consent_recorded,  ///< the patient's (or representative's) consent is on file
  accepted,          ///< the destination hospital has agreed to take the patient
  transferred,       ///< the patient has arrived at the destination
  closed,            ///< finished; see close_reason
};

/// Why a closed referral closed.
enum class close_reason {
  completed,          ///< treatment at the destination completed
  declined,           ///< the destination declined (see decline_reason)
  cancelled,          ///< the referring hospital cancelled (see cancel_reason)
  consent_withdrawn,  ///< the patient withdrew consent before arrival
  expired,            ///< the destination did not answer in time (fired by the engine)
};

/// The role of the person or process acting for an organisation.
enum class actor_role {
  clinician,    ///< a physician: may make clinical decisions (accept, complete)
  coordinator,  ///< an international-office or referral coordinator: administrative steps
  system,       ///< the engine itself (deadline sweeps); fires only `expire`
};

/// Coded reasons a destination declines (HL7 v2 table 0283 "R", FHIR Task.statusReason).
enum class decline_reason {
  capacity_full,               ///< no capacity in the period
  specialty_unavailable,       ///< the service is not available at present
  not_clinically_appropriate,  ///< the destination judges the referral not indicated
  insufficient_information,    ///< the referral lacks documents needed to decide
  patient_not_fit_to_travel,   ///< the patient's condition does not allow the journey
  other,
};

/// Coded reasons the referring hospital cancels.
enum class cancel_reason {
  patient_request,     ///< the patient no longer wishes to be referred
  clinical_change,     ///< the patient's condition changed
  treated_locally,     ///< treatment will happen at the referring hospital
  referred_elsewhere,  ///< another destination was chosen
  entered_in_error,    ///< the referral should never have existed
  other,
};

/// How the patient's withdrawal of consent reached the hospital.
enum class withdrawal_channel { written, verbal, electronic };

/// The kinds of event, for listings and error messages.
enum class event_kind {
  record_consent, attach_document, accept, decline, cancel, withdraw_consent, record_milestone,
  transfer, return_results, complete, expire,
};
// clang-format on

std::string_view to_string(referral_state v) noexcept;
std::string_view to_string(close_reason v) noexcept;
std::string_view to_string(actor_role v) noexcept;
std::string_view to_string(decline_reason v) noexcept;
std::string_view to_string(cancel_reason v) noexcept;
std::string_view to_string(withdrawal_channel v) noexcept;
std::string_view to_string(event_kind v) noexcept;

/// Inverse of to_string(); std::nullopt for an unknown name. Names are exact (lower case).
std::optional<referral_state> parse_referral_state(std::string_view name) noexcept;
std::optional<close_reason> parse_close_reason(std::string_view name) noexcept;
std::optional<actor_role> parse_actor_role(std::string_view name) noexcept;
std::optional<decline_reason> parse_decline_reason(std::string_view name) noexcept;
std::optional<cancel_reason> parse_cancel_reason(std::string_view name) noexcept;
std::optional<withdrawal_channel> parse_withdrawal_channel(std::string_view name) noexcept;
std::optional<event_kind> parse_event_kind(std::string_view name) noexcept;

/// Every value of one of the enumerations above (referral_state, close_reason, actor_role,
/// decline_reason, cancel_reason, withdrawal_channel, event_kind), in declaration order: for
/// listings, completions and the "expected one of" part of messages, so that none of them writes
/// the list out again.
template <class E>
const std::vector<E>& all_values();
/// Their names joined by `separator`: all_names<decline_reason>() is "capacity_full,
/// specialty_unavailable, not_clinically_appropriate, insufficient_information,
/// patient_not_fit_to_travel, other".
template <class E>
std::string all_names(std::string_view separator = ", ");

std::ostream& operator<<(std::ostream& os, referral_state v);
std::ostream& operator<<(std::ostream& os, close_reason v);
std::ostream& operator<<(std::ostream& os, actor_role v);
std::ostream& operator<<(std::ostream& os, event_kind v);

/// Who acts: an organisation, the role of the person (or process) acting for it, and optionally
/// that person's pseudonymous staff id.
struct actor {
  hospital_id organisation;
  actor_role role = actor_role::coordinator;
  user_id user;  ///< optional; empty when not known
};

/// The events of the referral lifecycle. Reasons are coded, never free text, so that nothing typed
/// by hand (a patient's name, say) can reach the audit log through an event.
namespace event {
/// The patient's consent is on file. A newer one replaces the old: before acceptance, in
/// `accepted` (when the recorded one does not allow the transfer), and in `transferred` while
/// consent stands (for the results coming back: the engine judges it by the return flow).
struct record_consent {
  actor by;
  instant at;
  consent_ref consent;  ///< which consent record the referral now relies on
};
/// The referring hospital attaches a document to the referral (by reference: see document.hpp),
/// before acceptance (the agreement's required documents are a checklist for `accept`) or after
/// it (documents the journey needs). Its id is unique within the referral.
struct attach_document {
  actor by;
  instant at;
  document_ref document;
};
struct accept {
  actor by;
  instant at;
};
struct decline {
  actor by;
  instant at;
  decline_reason reason = decline_reason::other;
};
struct cancel {
  actor by;
  instant at;
  cancel_reason reason = cancel_reason::other;
};
struct withdraw_consent {  ///< on the patient's word; prospective, never retroactive
  actor by;
  instant at;
  withdrawal_channel channel = withdrawal_channel::written;
};
/// A step before the journey is done (milestone.hpp), recorded by either hospital after
/// acceptance; each milestone once. The agreement's required_milestones gate `transfer`.
struct record_milestone {
  actor by;
  instant at;
  kakehashi::milestone milestone = kakehashi::milestone::travel_arranged;
};
struct transfer {
  actor by;
  instant at;
};  ///< the patient arrived at the destination
/// The destination returns results to the referring hospital after the transfer (a discharge
/// summary, a follow-up plan...): the references of the documents sent (1 to 32, ids unique
/// within the referral), never their content. Gated by the consent policy in the return flow
/// (APPI Art. 28: JP-04, JP-05); refused once the patient has withdrawn consent.
struct return_results {
  actor by;
  instant at;
  std::vector<document_ref> documents;
};
struct complete {
  actor by;
  instant at;
};  ///< treatment at the destination completed
struct expire {
  actor by;
  instant at;
};  ///< the answer deadline passed (engine only)

using any = std::variant<record_consent, attach_document, accept, decline, cancel, withdraw_consent,
                         record_milestone, transfer, return_results, complete, expire>;
}  // namespace event

/// The kind of an event value.
event_kind kind_of(const event::any& e) noexcept;
/// The actor and instant every event carries.
const actor& actor_of(const event::any& e) noexcept;
instant instant_of(const event::any& e) noexcept;

/// Who may fire each event (the actor-rights matrix). An actor must belong to the referring
/// (origin) or the destination hospital; then:
///
///   event              side          roles
///   (propose)          origin        clinician, coordinator
///   record_consent     origin        clinician, coordinator
///   attach_document    origin        clinician, coordinator
///   cancel             origin        clinician, coordinator
///   accept             destination   clinician
///   decline            destination   clinician, coordinator
///   transfer           destination   clinician, coordinator
///   return_results     destination   clinician, coordinator
///   complete           destination   clinician
///   withdraw_consent   either        clinician, coordinator
///   record_milestone   either        clinician, coordinator
///   expire             either        system
enum class party_side { origin, destination, either };
std::string_view to_string(party_side v) noexcept;

struct event_rights {
  party_side side;
  std::vector<actor_role> roles;
};
/// The rights row for `kind`.
event_rights rights_for(event_kind kind);

/// Everything needed to open a referral.
struct proposal {
  referral_id id;
  hospital_id origin;        ///< the referring hospital
  hospital_id destination;   ///< the receiving hospital
  specialty_code specialty;  ///< "oncology", "cardiology", ...
  patient_ref patient;       ///< pseudonymous id only
  actor by;                  ///< must act for `origin`
  instant at;
  /// Onward referral: the declined or expired referral this one sends on to another destination
  /// (same origin, patient and specialty). A referral is sent on at most once. (Initialised, so
  /// that code written before the field, as proposal{id, ..., at}, compiles without warnings.)
  std::optional<referral_id> replaces = std::nullopt;
};

/// A referral's complete stored form: what a storage layer saves and restores. Equality compares
/// every field, which is how tests show that a refused event changed nothing.
struct referral_snapshot {
  referral_id id;
  hospital_id origin;
  hospital_id destination;
  specialty_code specialty;
  patient_ref patient;
  referral_state state = referral_state::proposed;
  std::optional<kakehashi::close_reason> reason;  ///< set iff state == closed
  bool consent_withdrawn = false;  ///< withdrawn (closed with that reason, or after transfer)
  consent_ref consent;             ///< empty until consent is recorded
  instant proposed_at;
  instant updated_at;         ///< the instant of the last applied event
  std::uint64_t version = 1;  ///< 1 at proposal, +1 for every applied event
  /// Onward referral: the referral this one was proposed to replace (FHIR
  /// ServiceRequest.replaces), and the one that replaced this one. The link is part of the
  /// proposal of the newer referral: proposing it changes neither version nor updated_at here.
  std::optional<referral_id> replaces = std::nullopt;
  std::optional<referral_id> replaced_by = std::nullopt;

  friend bool operator==(const referral_snapshot& a, const referral_snapshot& b);
  friend bool operator!=(const referral_snapshot& a, const referral_snapshot& b) {
    return !(a == b);
  }
};

/// The snapshot as one JSON object: {"id", "origin", "destination", "specialty", "patient",
/// "state", "close_reason" (or null), "consent_withdrawn", "consent" (or null), "proposed_at",
/// "updated_at" (RFC 3339 UTC), "version", "replaces" and "replaced_by" (or null)}, as
/// `kakehashi referral show --json` prints it. (Objects without the last two, as releases before
/// onward referral wrote them, are read with both unset.)
std::string to_json(const referral_snapshot& s, int indent = -1);
/// The inverse of to_json(). Throws kakehashi::error{errc::invalid_argument} naming the field if
/// the text is not such an object.
referral_snapshot referral_snapshot_from_json(std::string_view json_text);

/// One referral, driven by its state machine.
///
/// Example:
///   auto r = referral::propose({referral_id{"R-1"}, hospital_id{"k-hospital"},
///                               hospital_id{"shonan-kamakura"}, specialty_code{"oncology"},
///                               patient_ref{"P-7f3a"}, {hospital_id{"k-hospital"}}, t0});
///   r.apply(event::record_consent{{hospital_id{"k-hospital"}}, t1, consent_ref{"C-1"}});
///   r.apply(event::accept{{hospital_id{"shonan-kamakura"}, actor_role::clinician}, t2});
///   assert(r.state() == referral_state::accepted);
class referral {
 public:
  /// Opens a referral in state `proposed`.
  /// Throws kakehashi::error{errc::invalid_argument} if an id is malformed or origin equals
  /// destination; {errc::permission_denied} if `p.by` does not act for the origin as a clinician
  /// or coordinator.
  static referral propose(const proposal& p);

  /// Rebuilds a referral from its stored form, without running any transition (storage layers).
  /// Throws kakehashi::error{errc::invalid_argument} naming the field if the snapshot is
  /// inconsistent (a closed referral without a reason, a reason on an open one, a withdrawal flag
  /// outside transferred/closed, updated_at before proposed_at, version 0, a malformed id).
  static referral restore(const referral_snapshot& s);

  referral(const referral& other);
  referral& operator=(const referral& other);
  referral(referral&&) noexcept;
  referral& operator=(referral&&) noexcept;
  ~referral();

  const referral_id& id() const noexcept;
  const hospital_id& origin() const noexcept;
  const hospital_id& destination() const noexcept;
  const specialty_code& specialty() const noexcept;
  const patient_ref& patient() const noexcept;
  referral_state state() const noexcept;
  /// Set iff state() == closed.
  std::optional<kakehashi::close_reason> reason() const noexcept;
  /// True once the patient has withdrawn consent: the referral closed for that reason, or it was
  /// withdrawn after transfer, when further cross-border data sharing for it must be refused.
  bool consent_withdrawn() const noexcept;
  const consent_ref& consent() const noexcept;
  instant proposed_at() const noexcept;
  instant updated_at() const noexcept;
  std::uint64_t version() const noexcept;
  bool is_closed() const noexcept { return state() == referral_state::closed; }

  referral_snapshot snapshot() const;

  /// Fires `e`. On success the referral is in its new state and version() grew by one, and
  /// updated_at() is the later of the event's instant and the last change (it never goes back).
  /// Throws kakehashi::error with
  ///  - errc::invalid_argument if the actor's ids or the consent reference are malformed, or the
  ///    event's instant is before updated_at() by more than `late_tolerance` (events arrive in
  ///    time order, or late by at most that much: a partner's message delayed on its way);
  ///  - errc::permission_denied if the actor may not fire this kind of event (see rights_for());
  ///  - errc::failed_precondition if the current state does not allow the event.
  /// The message names the referral, the state, the event and the actor, and lists what would have
  /// been allowed. Strong guarantee: on throw, nothing is changed.
  void apply(const event::any& e, std::chrono::seconds late_tolerance = std::chrono::seconds{0});

  /// True when apply(e, late_tolerance) would succeed. Never throws.
  [[nodiscard]] bool can_apply(const event::any& e,
                               std::chrono::seconds late_tolerance = std::chrono::seconds{
                                   0}) const noexcept;

  /// The kinds of event the current state accepts, whoever fires them, in event_kind order.
  [[nodiscard]] std::vector<event_kind> allowed_events() const;
  /// The kinds of event `who` may fire now (state and rights both allow).
  [[nodiscard]] std::vector<event_kind> allowed_events(const actor& who) const;

 private:
  struct impl;
  explicit referral(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

}  // namespace kakehashi
