#include "kakehashi/referral.hpp"

#include <algorithm>
#include <cassert>
#include <nlohmann/json.hpp>
#include <ostream>
#include <type_traits>
#include <utility>

#include "common/enum_names.hpp"
#include "common/fail.hpp"
#include "lifecycle/referral_machine.hpp"

namespace kakehashi {
namespace {
// clang-format off
constexpr detail::name_table<referral_state, 5> state_names{{
  {referral_state::proposed,         "proposed"},
  {referral_state::consent_recorded, "consent_recorded"},
  {referral_state::accepted,         "accepted"},
  {referral_state::transferred,      "transferred"},
  {referral_state::closed,           "closed"},
}};
constexpr detail::name_table<close_reason, 5> close_reason_names{{
  {close_reason::completed,         "completed"},
  {close_reason::declined,          "declined"},
  {close_reason::cancelled,         "cancelled"},
  {close_reason::consent_withdrawn, "consent_withdrawn"},
  {close_reason::expired,           "expired"},
}};
constexpr detail::name_table<actor_role, 3> role_names{{
  {actor_role::clinician,   "clinician"},
  {actor_role::coordinator, "coordinator"},
  {actor_role::system,      "system"},
}};
constexpr detail::name_table<decline_reason, 6> decline_reason_names{{
  {decline_reason::capacity_full,              "capacity_full"},
  {decline_reason::specialty_unavailable,      "specialty_unavailable"},
  {decline_reason::not_clinically_appropriate, "not_clinically_appropriate"},
  {decline_reason::insufficient_information,   "insufficient_information"},
  {decline_reason::patient_not_fit_to_travel,  "patient_not_fit_to_travel"},
  {decline_reason::other,                      "other"},
}};
constexpr detail::name_table<cancel_reason, 6> cancel_reason_names{{
  {cancel_reason::patient_request,    "patient_request"},
  {cancel_reason::clinical_change,    "clinical_change"},
  {cancel_reason::treated_locally,    "treated_locally"},
  {cancel_reason::referred_elsewhere, "referred_elsewhere"},
  {cancel_reason::entered_in_error,   "entered_in_error"},
  {cancel_reason::other,              "other"},
}};
constexpr detail::name_table<withdrawal_channel, 3> channel_names{{
  {withdrawal_channel::written,    "written"},
  {withdrawal_channel::verbal,     "verbal"},
  {withdrawal_channel::electronic, "electronic"},
}};
constexpr detail::name_table<event_kind, 11> event_names{{
  {event_kind::record_consent,   "record_consent"},
  {event_kind::attach_document,  "attach_document"},
  {event_kind::accept,           "accept"},
  {event_kind::decline,          "decline"},
  {event_kind::cancel,           "cancel"},
  {event_kind::withdraw_consent, "withdraw_consent"},
  {event_kind::record_milestone, "record_milestone"},
  {event_kind::transfer,         "transfer"},
  {event_kind::return_results,   "return_results"},
  {event_kind::complete,         "complete"},
  {event_kind::expire,           "expire"},
}};
constexpr detail::name_table<party_side, 3> side_names{{
  {party_side::origin,      "origin"},
  {party_side::destination, "destination"},
  {party_side::either,      "either"},
}};
// clang-format on

// One sample event of each kind, in event_kind order, to ask the machine what it accepts. The
// machine looks only at an event's type (and its own data), never at the event's fields.
const std::vector<event::any>& sample_events() {
  static const std::vector<event::any> samples{
      event::record_consent{},   event::attach_document{}, event::accept{},
      event::decline{},          event::cancel{},          event::withdraw_consent{},
      event::record_milestone{}, event::transfer{},        event::return_results{},
      event::complete{},         event::expire{}};
  return samples;
}

std::string join_kinds(const std::vector<event_kind>& kinds) {
  if (kinds.empty()) return "none";
  std::string out;
  for (auto k : kinds) {
    if (!out.empty()) out += ", ";
    out += to_string(k);
  }
  return out;
}

std::string join_roles(const std::vector<actor_role>& roles) {
  std::string out;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (i > 0) out += i + 1 == roles.size() ? " or " : ", ";
    out += to_string(roles[i]);
  }
  return out;
}

bool has_role(const event_rights& r, actor_role role) {
  return std::find(r.roles.begin(), r.roles.end(), role) != r.roles.end();
}

bool side_allows(party_side side, bool is_origin, bool is_destination) {
  switch (side) {
    case party_side::origin:
      return is_origin;
    case party_side::destination:
      return is_destination;
    case party_side::either:
      return is_origin || is_destination;
  }
  return false;
}

// Results returned: 1 to 32 documents, each well-formed, their ids distinct.
void validate_results(const event::return_results& r) {
  constexpr std::size_t most = 32;
  if (r.documents.empty() || r.documents.size() > most) {
    detail::fail(errc::invalid_argument, "event.documents",
                 fmt::format("has {} documents", r.documents.size()),
                 fmt::format("return 1 to {} document references (a discharge summary, a "
                             "follow-up plan...); send more in another return_results",
                             most));
  }
  for (std::size_t i = 0; i < r.documents.size(); ++i) {
    const std::string field = fmt::format("event.documents[{}]", i);
    validate(field, r.documents[i]);
    for (std::size_t j = 0; j < i; ++j) {
      if (r.documents[j].id != r.documents[i].id) continue;
      detail::fail(errc::invalid_argument, field + ".id",
                   fmt::format("'{}' is also documents[{}]", r.documents[i].id.value(), j),
                   "give each document its own id");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names

std::string_view to_string(referral_state v) noexcept { return detail::name_of(state_names, v); }
std::string_view to_string(close_reason v) noexcept {
  return detail::name_of(close_reason_names, v);
}
std::string_view to_string(actor_role v) noexcept { return detail::name_of(role_names, v); }
std::string_view to_string(decline_reason v) noexcept {
  return detail::name_of(decline_reason_names, v);
}
std::string_view to_string(cancel_reason v) noexcept {
  return detail::name_of(cancel_reason_names, v);
}
std::string_view to_string(withdrawal_channel v) noexcept {
  return detail::name_of(channel_names, v);
}
std::string_view to_string(event_kind v) noexcept { return detail::name_of(event_names, v); }
std::string_view to_string(party_side v) noexcept { return detail::name_of(side_names, v); }

std::optional<referral_state> parse_referral_state(std::string_view n) noexcept {
  return detail::value_of(state_names, n);
}
std::optional<close_reason> parse_close_reason(std::string_view n) noexcept {
  return detail::value_of(close_reason_names, n);
}
std::optional<actor_role> parse_actor_role(std::string_view n) noexcept {
  return detail::value_of(role_names, n);
}
std::optional<decline_reason> parse_decline_reason(std::string_view n) noexcept {
  return detail::value_of(decline_reason_names, n);
}
std::optional<cancel_reason> parse_cancel_reason(std::string_view n) noexcept {
  return detail::value_of(cancel_reason_names, n);
}
std::optional<withdrawal_channel> parse_withdrawal_channel(std::string_view n) noexcept {
  return detail::value_of(channel_names, n);
}
std::optional<event_kind> parse_event_kind(std::string_view n) noexcept {
  return detail::value_of(event_names, n);
}

template <class E>
std::string all_names(std::string_view separator) {
  std::string out;
  for (E e : all_values<E>()) {
    if (!out.empty()) out += separator;
    out += to_string(e);
  }
  return out;
}

// One list per enumeration, from its name table.
#define KAKEHASHI_ALL_VALUES(E, table)                             \
  template <>                                                      \
  const std::vector<E>& all_values<E>() {                          \
    static const std::vector<E> values = detail::values_in(table); \
    return values;                                                 \
  }                                                                \
  template std::string all_names<E>(std::string_view);
KAKEHASHI_ALL_VALUES(referral_state, state_names)
KAKEHASHI_ALL_VALUES(close_reason, close_reason_names)
KAKEHASHI_ALL_VALUES(actor_role, role_names)
KAKEHASHI_ALL_VALUES(decline_reason, decline_reason_names)
KAKEHASHI_ALL_VALUES(cancel_reason, cancel_reason_names)
KAKEHASHI_ALL_VALUES(withdrawal_channel, channel_names)
KAKEHASHI_ALL_VALUES(event_kind, event_names)
#undef KAKEHASHI_ALL_VALUES

std::ostream& operator<<(std::ostream& os, referral_state v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, close_reason v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, actor_role v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, event_kind v) { return os << to_string(v); }

// ---------------------------------------------------------------------------------------------
// Events and rights

event_kind kind_of(const event::any& e) noexcept {
  // The variant's alternatives are declared in event_kind order.
  return static_cast<event_kind>(e.index());
}

const actor& actor_of(const event::any& e) noexcept {
  return std::visit([](const auto& ev) -> const actor& { return ev.by; }, e);
}

instant instant_of(const event::any& e) noexcept {
  return std::visit([](const auto& ev) { return ev.at; }, e);
}

event_rights rights_for(event_kind kind) {
  using r = actor_role;
  // clang-format off
  switch (kind) {
    //                               side                      roles
    case event_kind::record_consent:   return {party_side::origin,      {r::clinician, r::coordinator}};
    case event_kind::attach_document:  return {party_side::origin,      {r::clinician, r::coordinator}};
    case event_kind::cancel:           return {party_side::origin,      {r::clinician, r::coordinator}};
    case event_kind::accept:           return {party_side::destination, {r::clinician}};
    case event_kind::decline:          return {party_side::destination, {r::clinician, r::coordinator}};
    case event_kind::transfer:         return {party_side::destination, {r::clinician, r::coordinator}};
    case event_kind::complete:         return {party_side::destination, {r::clinician}};
    case event_kind::withdraw_consent: return {party_side::either,      {r::clinician, r::coordinator}};
    case event_kind::record_milestone: return {party_side::either,      {r::clinician, r::coordinator}};
    case event_kind::return_results:   return {party_side::destination, {r::clinician, r::coordinator}};
    case event_kind::expire:           return {party_side::either,      {r::system}};
  }
  // clang-format on
  return {party_side::either, {}};
}

bool operator==(const referral_snapshot& a, const referral_snapshot& b) {
  return a.id == b.id && a.origin == b.origin && a.destination == b.destination &&
         a.specialty == b.specialty && a.patient == b.patient && a.state == b.state &&
         a.reason == b.reason && a.consent_withdrawn == b.consent_withdrawn &&
         a.consent == b.consent && a.proposed_at == b.proposed_at && a.updated_at == b.updated_at &&
         a.version == b.version && a.replaces == b.replaces && a.replaced_by == b.replaced_by;
}

std::string to_json(const referral_snapshot& s, int indent) {
  using nlohmann::json;
  return json{{"id", s.id.value()},
              {"origin", s.origin.value()},
              {"destination", s.destination.value()},
              {"specialty", s.specialty.value()},
              {"patient", s.patient.value()},
              {"state", std::string(to_string(s.state))},
              {"close_reason", s.reason ? json(std::string(to_string(*s.reason))) : json(nullptr)},
              {"consent_withdrawn", s.consent_withdrawn},
              {"consent", s.consent.empty() ? json(nullptr) : json(s.consent.value())},
              {"proposed_at", to_iso8601(s.proposed_at)},
              {"updated_at", to_iso8601(s.updated_at)},
              {"version", s.version},
              {"replaces", s.replaces ? json(s.replaces->value()) : json(nullptr)},
              {"replaced_by", s.replaced_by ? json(s.replaced_by->value()) : json(nullptr)}}
      .dump(indent);
}

referral_snapshot referral_snapshot_from_json(std::string_view text) {
  using nlohmann::json;
  const auto bad = [&](const std::string& field) {
    detail::fail(errc::invalid_argument, "referral snapshot." + field, "is missing or malformed",
                 "expected the object to_json(referral_snapshot) writes");
  };
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) bad("(document)");
  const auto str = [&](const char* key) -> std::string {
    if (!j.contains(key) || !j[key].is_string()) bad(key);
    return j[key].get<std::string>();
  };
  referral_snapshot s;
  s.id = referral_id{str("id")};
  s.origin = hospital_id{str("origin")};
  s.destination = hospital_id{str("destination")};
  s.specialty = specialty_code{str("specialty")};
  s.patient = patient_ref{str("patient")};
  const auto state = parse_referral_state(str("state"));
  if (!state) bad("state");
  s.state = *state;
  if (!j.contains("close_reason")) bad("close_reason");
  if (!j["close_reason"].is_null()) {
    s.reason = parse_close_reason(str("close_reason"));
    if (!s.reason) bad("close_reason");
  }
  if (!j.contains("consent_withdrawn") || !j["consent_withdrawn"].is_boolean()) {
    bad("consent_withdrawn");
  }
  s.consent_withdrawn = j["consent_withdrawn"].get<bool>();
  if (!j.contains("consent")) bad("consent");
  if (!j["consent"].is_null()) s.consent = consent_ref{str("consent")};
  s.proposed_at = parse_instant(str("proposed_at"), "referral snapshot.proposed_at");
  s.updated_at = parse_instant(str("updated_at"), "referral snapshot.updated_at");
  if (!j.contains("version") || !j["version"].is_number_unsigned()) bad("version");
  s.version = j["version"].get<std::uint64_t>();
  // Absent in objects written before onward referral: unset.
  for (auto [key, field] : {std::pair{"replaces", &s.replaces}, {"replaced_by", &s.replaced_by}}) {
    if (j.contains(key) && !j[key].is_null()) *field = referral_id{str(key)};
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// referral

struct referral::impl {
  referral_id id;
  hospital_id origin;
  hospital_id destination;
  specialty_code specialty;
  patient_ref patient;
  consent_ref consent;
  instant proposed_at;
  instant updated_at;
  std::uint64_t version = 1;
  std::optional<referral_id> replaces;
  std::optional<referral_id> replaced_by;
  detail::referral_machine machine;

  impl() { machine.start(); }
  // The implicit copy constructor copies `machine` from a const&: the copy keeps its state.
  impl(const impl&) = default;

  std::string subject() const { return "referral " + id.value(); }

  // Throws permission_denied unless `who` may fire `kind` on this referral.
  void check_rights(event_kind kind, const actor& who) const {
    const event_rights rights = rights_for(kind);
    const bool is_origin = who.organisation == origin;
    const bool is_destination = who.organisation == destination;
    if (side_allows(rights.side, is_origin, is_destination) && has_role(rights, who.role)) return;
    // Refused: the messages are built only now (the allowed path is hot in the engine).
    const std::string allowed_by = [&] {
      const std::string roles = join_roles(rights.roles);
      switch (rights.side) {
        case party_side::origin:
          return fmt::format("the referring hospital '{}' as {}", origin.value(), roles);
        case party_side::destination:
          return fmt::format("the destination hospital '{}' as {}", destination.value(), roles);
        case party_side::either:
          break;
      }
      return fmt::format("'{}' or '{}' as {}", origin.value(), destination.value(), roles);
    }();
    const std::string valid = fmt::format("'{}' may be fired by {}", to_string(kind), allowed_by);
    const std::string by = fmt::format("event '{}' by '{}' as {}", to_string(kind),
                                       who.organisation.value(), to_string(who.role));
    if (!is_origin && !is_destination) {
      detail::fail(errc::permission_denied, subject(),
                   by + ": the organisation is not a party to this referral", valid);
    }
    if (!side_allows(rights.side, is_origin, is_destination)) {
      detail::fail(
          errc::permission_denied, subject(),
          by + (rights.side == party_side::origin ? ": only the referring hospital may fire it"
                                                  : ": only the destination hospital may fire it"),
          valid);
    }
    detail::fail(errc::permission_denied, subject(),
                 fmt::format("{}: the role '{}' may not fire it", by, to_string(who.role)), valid);
  }

  bool may_fire(event_kind kind, const actor& who) const {
    const event_rights rights = rights_for(kind);
    return side_allows(rights.side, who.organisation == origin, who.organisation == destination) &&
           has_role(rights, who.role);
  }

  std::vector<event_kind> allowed_by_state() const {
    std::vector<event_kind> out;
    for (const auto& sample : sample_events()) {
      detail::referral_machine probe = std::as_const(machine);  // copy from const&
      const auto handled =
          std::visit([&](const auto& ev) { return probe.process_event(ev); }, sample);
      if (handled == boost::msm::back::HANDLED_TRUE) out.push_back(kind_of(sample));
    }
    return out;
  }
};

referral::referral(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
referral::referral(const referral& other) : impl_(std::make_unique<impl>(*other.impl_)) {}
referral& referral::operator=(const referral& other) {
  if (this != &other) impl_ = std::make_unique<impl>(*other.impl_);
  return *this;
}
referral::referral(referral&&) noexcept = default;
referral& referral::operator=(referral&&) noexcept = default;
referral::~referral() = default;

referral referral::propose(const proposal& p) {
  validate("proposal.id", p.id);
  validate("proposal.origin", p.origin);
  validate("proposal.destination", p.destination);
  validate("proposal.specialty", p.specialty);
  validate("proposal.patient", p.patient);
  if (p.replaces) validate("proposal.replaces", *p.replaces);
  validate("proposal.by.organisation", p.by.organisation);
  if (!p.by.user.empty()) validate("proposal.by.user", p.by.user);
  const std::string subject = "referral " + p.id.value();
  if (p.origin == p.destination) {
    detail::fail(errc::invalid_argument, subject,
                 fmt::format("origin and destination are both '{}'", p.origin.value()),
                 "a referral goes from one hospital to another");
  }
  if (p.replaces == p.id) {
    detail::fail(errc::invalid_argument, subject, "replaces itself",
                 "an onward referral names the declined or expired referral it sends on");
  }
  const std::string valid = fmt::format(
      "a referral may be proposed by the referring hospital '{}' as clinician or coordinator",
      p.origin.value());
  if (p.by.organisation != p.origin) {
    detail::fail(errc::permission_denied, subject,
                 fmt::format("proposal by '{}': only the referring hospital may propose",
                             p.by.organisation.value()),
                 valid);
  }
  if (p.by.role != actor_role::clinician && p.by.role != actor_role::coordinator) {
    detail::fail(errc::permission_denied, subject,
                 fmt::format("proposal by '{}' as {}: the role may not propose",
                             p.by.organisation.value(), to_string(p.by.role)),
                 valid);
  }
  auto state = std::make_unique<impl>();
  state->id = p.id;
  state->origin = p.origin;
  state->destination = p.destination;
  state->specialty = p.specialty;
  state->patient = p.patient;
  state->proposed_at = p.at;
  state->updated_at = p.at;
  state->replaces = p.replaces;
  return referral(std::move(state));
}

referral referral::restore(const referral_snapshot& s) {
  validate("snapshot.id", s.id);
  validate("snapshot.origin", s.origin);
  validate("snapshot.destination", s.destination);
  validate("snapshot.specialty", s.specialty);
  validate("snapshot.patient", s.patient);
  const std::string subject = "referral " + s.id.value();
  const auto inconsistent = [&](std::string_view field, std::string problem,
                                std::string_view valid) {
    detail::fail(errc::invalid_argument, fmt::format("{} snapshot.{}", subject, field), problem,
                 valid);
  };
  if (s.origin == s.destination) {
    inconsistent("destination", fmt::format("equals the origin '{}'", s.origin.value()),
                 "a referral goes from one hospital to another");
  }
  if (s.state == referral_state::closed && !s.reason) {
    inconsistent("reason", "is missing for a closed referral",
                 "a closed referral has a close reason");
  }
  if (s.state != referral_state::closed && s.reason) {
    inconsistent(
        "reason",
        fmt::format("is '{}' but the state is '{}'", to_string(*s.reason), to_string(s.state)),
        "only a closed referral has a close reason");
  }
  // Withdrawal shows in transferred, in closed(consent_withdrawn), and in closed(completed) when
  // the patient withdrew after arriving: no other path reaches those states with the flag.
  const bool withdrawn_ok =
      s.state == referral_state::transferred ||
      (s.state == referral_state::closed &&
       (s.reason == close_reason::consent_withdrawn || s.reason == close_reason::completed));
  if (s.consent_withdrawn && !withdrawn_ok) {
    inconsistent("consent_withdrawn",
                 fmt::format("is set in state '{}'{}", to_string(s.state),
                             s.reason ? fmt::format(" ({})", to_string(*s.reason)) : ""),
                 "consent can be marked withdrawn only in transferred, closed (consent_withdrawn) "
                 "or closed (completed)");
  }
  if (s.state == referral_state::closed && s.reason == close_reason::consent_withdrawn &&
      !s.consent_withdrawn) {
    inconsistent("consent_withdrawn", "is not set although the close reason is consent_withdrawn",
                 "a referral closed for consent_withdrawn has consent_withdrawn set");
  }
  if (s.state != referral_state::proposed && s.consent.empty() &&
      !(s.state == referral_state::closed &&
        (s.reason == close_reason::cancelled || s.reason == close_reason::expired))) {
    inconsistent("consent", fmt::format("is empty in state '{}'", to_string(s.state)),
                 "every state after proposed needs the consent record it relies on");
  }
  if (!s.consent.empty()) validate("snapshot.consent", s.consent);
  if (s.updated_at < s.proposed_at) {
    inconsistent("updated_at",
                 fmt::format("{} is before proposed_at {}", to_iso8601(s.updated_at),
                             to_iso8601(s.proposed_at)),
                 "updated_at is at or after proposed_at");
  }
  if (s.version == 0) inconsistent("version", "is 0", "versions start at 1");
  if (s.replaces) validate("snapshot.replaces", *s.replaces);
  if (s.replaced_by) validate("snapshot.replaced_by", *s.replaced_by);
  if (s.replaces == s.id || s.replaced_by == s.id) {
    inconsistent(s.replaces == s.id ? "replaces" : "replaced_by", "names the referral itself",
                 "an onward referral links two different referrals");
  }
  if (s.replaced_by &&
      !(s.state == referral_state::closed &&
        (s.reason == close_reason::declined || s.reason == close_reason::expired))) {
    inconsistent("replaced_by",
                 fmt::format("is set in state '{}'{}", to_string(s.state),
                             s.reason ? fmt::format(" ({})", to_string(*s.reason)) : ""),
                 "only a declined or expired referral is sent on");
  }

  auto state = std::make_unique<impl>();
  state->id = s.id;
  state->origin = s.origin;
  state->destination = s.destination;
  state->specialty = s.specialty;
  state->patient = s.patient;
  state->consent = s.consent;
  state->proposed_at = s.proposed_at;
  state->updated_at = s.updated_at;
  state->version = s.version;
  state->replaces = s.replaces;
  state->replaced_by = s.replaced_by;
  if (s.state != referral_state::proposed) {
    const auto handled =
        state->machine.process_event(detail::restore_to{s.state, s.reason, s.consent_withdrawn});
    assert(handled == boost::msm::back::HANDLED_TRUE);
    static_cast<void>(handled);
  }
  assert(detail::state_of(state->machine) == s.state);
  return referral(std::move(state));
}

const referral_id& referral::id() const noexcept { return impl_->id; }
const hospital_id& referral::origin() const noexcept { return impl_->origin; }
const hospital_id& referral::destination() const noexcept { return impl_->destination; }
const specialty_code& referral::specialty() const noexcept { return impl_->specialty; }
const patient_ref& referral::patient() const noexcept { return impl_->patient; }
referral_state referral::state() const noexcept { return detail::state_of(impl_->machine); }
std::optional<close_reason> referral::reason() const noexcept { return impl_->machine.reason; }
bool referral::consent_withdrawn() const noexcept { return impl_->machine.consent_withdrawn; }
const consent_ref& referral::consent() const noexcept { return impl_->consent; }
instant referral::proposed_at() const noexcept { return impl_->proposed_at; }
instant referral::updated_at() const noexcept { return impl_->updated_at; }
std::uint64_t referral::version() const noexcept { return impl_->version; }

referral_snapshot referral::snapshot() const {
  return {
      impl_->id,         impl_->origin,  impl_->destination,  impl_->specialty,  impl_->patient,
      state(),           reason(),       consent_withdrawn(), impl_->consent,    impl_->proposed_at,
      impl_->updated_at, impl_->version, impl_->replaces,     impl_->replaced_by};
}

void referral::apply(const event::any& e, std::chrono::seconds late_tolerance) {
  const impl& now = *impl_;
  const event_kind kind = kind_of(e);
  const actor& who = actor_of(e);
  const instant at = instant_of(e);

  // 1. Validate the input.
  validate("event.by.organisation", who.organisation);
  if (!who.user.empty()) validate("event.by.user", who.user);
  if (const auto* rc = std::get_if<event::record_consent>(&e)) {
    validate("event.consent", rc->consent);
  }
  if (const auto* ad = std::get_if<event::attach_document>(&e))
    validate("event.document", ad->document);
  if (const auto* rr = std::get_if<event::return_results>(&e)) validate_results(*rr);
  if (at < now.updated_at && now.updated_at - at > late_tolerance) {
    const instant earliest = now.updated_at - late_tolerance;
    detail::fail(errc::invalid_argument, now.subject(),
                 fmt::format("event '{}' at {} is before the referral's last change at {}{}",
                             to_string(kind), to_iso8601(at), to_iso8601(now.updated_at),
                             late_tolerance.count() > 0
                                 ? fmt::format(" by more than the {} s a late event may be",
                                               late_tolerance.count())
                                 : std::string()),
                 fmt::format("events arrive in time order: at or after {}", to_iso8601(earliest)));
  }

  // 2. Rights: who may fire this kind of event at all.
  now.check_rights(kind, who);

  // 3. Plan on a copy of the machine, copied from a const& (the Boost 1.74 copy trap).
  auto next = std::make_unique<impl>(now);
  const auto handled =
      std::visit([&](const auto& ev) { return next->machine.process_event(ev); }, e);
  if (handled != boost::msm::back::HANDLED_TRUE) {
    const referral_state state = detail::state_of(now.machine);
    if (state == referral_state::closed) {
      detail::fail(errc::failed_precondition, now.subject(),
                   fmt::format("event '{}' by '{}' refused: the referral is closed ({})",
                               to_string(kind), who.organisation.value(),
                               to_string(now.machine.reason.value_or(close_reason::completed))),
                   "a closed referral accepts no event; propose a new referral instead");
    }
    if (kind == event_kind::return_results && now.machine.consent_withdrawn) {
      detail::fail(errc::failed_precondition, now.subject(),
                   fmt::format("event 'return_results' by '{}' refused in state '{}': the "
                               "patient withdrew consent after the transfer",
                               who.organisation.value(), to_string(state)),
                   "results go back through kakehashi only while consent stands; "
                   "complete the referral");
    }
    if (kind == event_kind::withdraw_consent && now.machine.consent_withdrawn) {
      detail::fail(errc::failed_precondition, now.subject(),
                   fmt::format("event 'withdraw_consent' by '{}' refused in state '{}': consent "
                               "was already withdrawn",
                               who.organisation.value(), to_string(state)),
                   fmt::format("allowed in state '{}' now: {}", to_string(state),
                               join_kinds(now.allowed_by_state())));
    }
    detail::fail(errc::failed_precondition, now.subject(),
                 fmt::format("event '{}' by '{}' is not allowed in state '{}'", to_string(kind),
                             who.organisation.value(), to_string(state)),
                 fmt::format("allowed in state '{}': {}", to_string(state),
                             join_kinds(now.allowed_by_state())));
  }
  next->updated_at = std::max(now.updated_at, at);
  next->version = now.version + 1;
  if (const auto* rc = std::get_if<event::record_consent>(&e)) next->consent = rc->consent;

  // 4. Commit: nothing below can throw.
  impl_.swap(next);
}

bool referral::can_apply(const event::any& e, std::chrono::seconds late_tolerance) const noexcept {
  try {
    referral copy(*this);
    copy.apply(e, late_tolerance);
    return true;
  } catch (...) {
    return false;
  }
}

std::vector<event_kind> referral::allowed_events() const { return impl_->allowed_by_state(); }

std::vector<event_kind> referral::allowed_events(const actor& who) const {
  std::vector<event_kind> out;
  for (event_kind kind : impl_->allowed_by_state()) {
    if (impl_->may_fire(kind, who)) out.push_back(kind);
  }
  return out;
}

}  // namespace kakehashi
