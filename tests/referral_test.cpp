#include <algorithm>
#include <catch2/catch.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/referral.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/referral_fixtures.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;
using ek = event_kind;

namespace {

const std::vector<event_kind> all_kinds{
    ek::record_consent,   ek::attach_document, ek::accept,
    ek::decline,          ek::cancel,          ek::withdraw_consent,
    ek::record_milestone, ek::transfer,        ek::return_results,
    ek::complete,         ek::expire};

// Every situation a referral can be in, reached through the real lifecycle.
const std::vector<situation>& situations() {
  static const std::vector<situation> all{
      {"proposed", {}},
      {"consent_recorded", {ek::record_consent}},
      {"accepted", {ek::record_consent, ek::accept}},
      {"transferred", {ek::record_consent, ek::accept, ek::transfer}},
      {"transferred, consent withdrawn",
       {ek::record_consent, ek::accept, ek::transfer, ek::withdraw_consent}},
      {"closed (completed)", {ek::record_consent, ek::accept, ek::transfer, ek::complete}},
      {"closed (declined)", {ek::record_consent, ek::decline}},
      {"closed (cancelled)", {ek::cancel}},
      {"closed (consent_withdrawn)", {ek::record_consent, ek::withdraw_consent}},
      {"closed (expired)", {ek::expire}},
  };
  return all;
}

struct outcome {
  referral_state state;
  std::optional<close_reason> reason;
  bool consent_withdrawn;
};

// The specification's transition table, written out independently of the implementation.
// Returns the outcome of firing `kind` in situation `name`, or nullopt when it must be refused.
std::optional<outcome> expected(const std::string& name, event_kind kind) {
  using rs = referral_state;
  using cr = close_reason;
  if (name == "proposed") {
    if (kind == ek::record_consent) return outcome{rs::consent_recorded, {}, false};
    if (kind == ek::attach_document) return outcome{rs::proposed, {}, false};
    if (kind == ek::cancel) return outcome{rs::closed, cr::cancelled, false};
    if (kind == ek::expire) return outcome{rs::closed, cr::expired, false};
  } else if (name == "consent_recorded") {
    if (kind == ek::record_consent) return outcome{rs::consent_recorded, {}, false};
    if (kind == ek::attach_document) return outcome{rs::consent_recorded, {}, false};
    if (kind == ek::accept) return outcome{rs::accepted, {}, false};
    if (kind == ek::decline) return outcome{rs::closed, cr::declined, false};
    if (kind == ek::withdraw_consent) return outcome{rs::closed, cr::consent_withdrawn, true};
    if (kind == ek::cancel) return outcome{rs::closed, cr::cancelled, false};
    if (kind == ek::expire) return outcome{rs::closed, cr::expired, false};
  } else if (name == "accepted") {
    if (kind == ek::record_consent) return outcome{rs::accepted, {}, false};  // a replacement
    if (kind == ek::attach_document) return outcome{rs::accepted, {}, false};
    if (kind == ek::record_milestone) return outcome{rs::accepted, {}, false};
    if (kind == ek::transfer) return outcome{rs::transferred, {}, false};
    if (kind == ek::withdraw_consent) return outcome{rs::closed, cr::consent_withdrawn, true};
    if (kind == ek::cancel) return outcome{rs::closed, cr::cancelled, false};
  } else if (name == "transferred") {
    if (kind == ek::record_consent) return outcome{rs::transferred, {}, false};  // for the return
    if (kind == ek::return_results) return outcome{rs::transferred, {}, false};
    if (kind == ek::complete) return outcome{rs::closed, cr::completed, false};
    if (kind == ek::withdraw_consent) return outcome{rs::transferred, {}, true};
  } else if (name == "transferred, consent withdrawn") {
    if (kind == ek::complete) return outcome{rs::closed, cr::completed, true};
  }
  return std::nullopt;  // every closed situation, and every other pair
}

template <class F>
errc code_of(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("expected a kakehashi::error");
  return errc::invalid_argument;
}

}  // namespace

TEST_CASE("every state and event pair moves or is refused as the transition table says",
          "[referral]") {
  for (const auto& s : situations()) {
    for (event_kind kind : all_kinds) {
      CAPTURE(s.name, kind);
      referral r = referral_after(s.path);
      const referral_snapshot before = r.snapshot();
      const event::any e = rightful_event(kind, t(100));
      const auto want = expected(s.name, kind);
      REQUIRE(r.can_apply(e) == want.has_value());
      if (want) {
        r.apply(e);
        CHECK(r.state() == want->state);
        CHECK(r.reason() == want->reason);
        CHECK(r.consent_withdrawn() == want->consent_withdrawn);
        CHECK(r.version() == before.version + 1);
        CHECK(r.updated_at() == t(100));
      } else {
        try {
          r.apply(e);
          FAIL("the event was not refused");
        } catch (const error& err) {
          CHECK(err.code() == errc::failed_precondition);
          const std::string msg = err.what();
          CHECK_THAT(msg, Contains("[kakehashi.failed_precondition] referral R-TEST-1"));
          CHECK_THAT(msg, Contains(std::string("'") + std::string(to_string(kind)) + "'"));
          if (before.state == referral_state::closed) {
            CHECK_THAT(msg, Contains("the referral is closed (" +
                                     std::string(to_string(*before.reason)) + ")"));
          } else {
            CHECK_THAT(
                msg, Contains(std::string("state '") + std::string(to_string(before.state)) + "'"));
          }
        }
        CHECK(r.snapshot() == before);
      }
    }
  }
}

TEST_CASE("a refused event's message lists what the state would have allowed",
          "[referral][error]") {
  referral r = proposed_referral();
  REQUIRE_THROWS_WITH(
      r.apply(rightful_event(ek::accept, t(1))),
      "[kakehashi.failed_precondition] referral R-TEST-1: event 'accept' by 'shonan-kamakura' is "
      "not allowed in state 'proposed'; allowed in state 'proposed': record_consent, "
      "attach_document, cancel, expire");
}

TEST_CASE("allowed_events follows the transition table in every situation", "[referral]") {
  for (const auto& s : situations()) {
    CAPTURE(s.name);
    const referral r = referral_after(s.path);
    std::vector<event_kind> want;
    for (event_kind kind : all_kinds) {
      if (expected(s.name, kind)) want.push_back(kind);
    }
    CHECK(r.allowed_events() == want);
  }
}

namespace {
enum class who { origin, destination, outsider };

// The specification's rights table, written out independently of the implementation.
bool may_fire(event_kind kind, who org, actor_role role) {
  using r = actor_role;
  if (org == who::outsider) return false;
  const bool clin_or_coord = role == r::clinician || role == r::coordinator;
  switch (kind) {
    case ek::record_consent:
    case ek::attach_document:
    case ek::cancel:
      return org == who::origin && clin_or_coord;
    case ek::accept:
    case ek::complete:
      return org == who::destination && role == r::clinician;
    case ek::decline:
    case ek::transfer:
    case ek::return_results:
      return org == who::destination && clin_or_coord;
    case ek::withdraw_consent:
    case ek::record_milestone:
      return clin_or_coord;
    case ek::expire:
      return role == r::system;
  }
  return false;
}

// A situation in which the state allows `kind`, so that only the actor decides.
std::vector<event_kind> path_allowing(event_kind kind) {
  switch (kind) {
    case ek::record_consent:
    case ek::attach_document:
    case ek::cancel:
      return {};
    case ek::accept:
    case ek::decline:
    case ek::expire:
      return {ek::record_consent};
    case ek::transfer:
    case ek::withdraw_consent:
    case ek::record_milestone:
      return {ek::record_consent, ek::accept};
    case ek::complete:
    case ek::return_results:
      return {ek::record_consent, ek::accept, ek::transfer};
  }
  return {};
}
}  // namespace

TEST_CASE("every event fired by an organisation or role without the right is refused",
          "[referral][error]") {
  const std::vector<std::pair<who, hospital_id>> orgs{
      {who::origin, k_hospital}, {who::destination, shonan}, {who::outsider, bach_mai}};
  const std::vector<actor_role> roles{actor_role::clinician, actor_role::coordinator,
                                      actor_role::system};
  for (event_kind kind : all_kinds) {
    for (const auto& [org, hospital] : orgs) {
      for (actor_role role : roles) {
        CAPTURE(kind, hospital, role);
        referral r = referral_after(path_allowing(kind));
        const referral_snapshot before = r.snapshot();
        const event::any e = with_actor(rightful_event(kind, t(100)), {hospital, role, {}});
        if (may_fire(kind, org, role)) {
          REQUIRE_NOTHROW(r.apply(e));
          CHECK(r.version() == before.version + 1);
        } else {
          try {
            r.apply(e);
            FAIL("the actor was not refused");
          } catch (const error& err) {
            CHECK(err.code() == errc::permission_denied);
            const std::string msg = err.what();
            CHECK_THAT(msg, Contains("[kakehashi.permission_denied] referral R-TEST-1: event '" +
                                     std::string(to_string(kind)) + "' by '" + hospital.value() +
                                     "' as " + std::string(to_string(role))));
            CHECK_THAT(msg, Contains("may be fired by"));
          }
          CHECK(r.snapshot() == before);
        }
      }
    }
  }
}

TEST_CASE("permission messages say what is wrong and who may fire the event", "[referral][error]") {
  SECTION("an organisation that is not a party") {
    referral r = referral_after({ek::record_consent});
    REQUIRE_THROWS_WITH(
        r.apply(event::accept{{bach_mai, actor_role::clinician, {}}, t(5)}),
        "[kakehashi.permission_denied] referral R-TEST-1: event 'accept' by 'bach-mai' as "
        "clinician: the organisation is not a party to this referral; 'accept' may be fired by "
        "the destination hospital 'shonan-kamakura' as clinician");
  }
  SECTION("the wrong side") {
    referral r = referral_after({ek::record_consent});
    REQUIRE_THROWS_WITH(r.apply(event::accept{origin_as(actor_role::clinician), t(5)}),
                        Contains("only the destination hospital may fire it"));
  }
  SECTION("the wrong role") {
    referral r = referral_after({ek::record_consent});
    REQUIRE_THROWS_WITH(r.apply(event::accept{destination_as(actor_role::coordinator), t(5)}),
                        Contains("the role 'coordinator' may not fire it; 'accept' may be fired "
                                 "by the destination hospital 'shonan-kamakura' as clinician"));
  }
}

TEST_CASE("allowed_events for an actor combines the state and the rights", "[referral]") {
  const referral r = referral_after({ek::record_consent});
  CHECK(r.allowed_events(destination_as(actor_role::clinician)) ==
        std::vector<event_kind>{ek::accept, ek::decline, ek::withdraw_consent});
  CHECK(r.allowed_events(destination_as(actor_role::coordinator)) ==
        std::vector<event_kind>{ek::decline, ek::withdraw_consent});
  CHECK(r.allowed_events(origin_as(actor_role::coordinator)) ==
        std::vector<event_kind>{ek::record_consent, ek::attach_document, ek::cancel,
                                ek::withdraw_consent});
  CHECK(r.allowed_events(destination_as(actor_role::system)) ==
        std::vector<event_kind>{ek::expire});
  CHECK(r.allowed_events({bach_mai, actor_role::clinician, {}}).empty());
}

TEST_CASE("rights_for matches the documented rights table", "[referral]") {
  for (event_kind kind : all_kinds) {
    CAPTURE(kind);
    const event_rights rights = rights_for(kind);
    for (actor_role role : {actor_role::clinician, actor_role::coordinator, actor_role::system}) {
      const bool listed =
          std::find(rights.roles.begin(), rights.roles.end(), role) != rights.roles.end();
      const bool origin_ok = rights.side != party_side::destination && listed;
      const bool destination_ok = rights.side != party_side::origin && listed;
      CHECK(origin_ok == may_fire(kind, who::origin, role));
      CHECK(destination_ok == may_fire(kind, who::destination, role));
    }
  }
}

TEST_CASE("a referral walks the whole happy path from K Hospital to Shonan Kamakura",
          "[referral]") {
  referral r = proposed_referral();
  CHECK(r.state() == referral_state::proposed);
  CHECK(r.version() == 1);
  CHECK(r.consent().empty());
  r.apply(event::record_consent{origin_as(actor_role::coordinator), t(1), consent_ref{"C-1"}});
  CHECK(r.state() == referral_state::consent_recorded);
  CHECK(r.consent() == consent_ref{"C-1"});
  r.apply(event::accept{destination_as(actor_role::clinician), t(2)});
  CHECK(r.state() == referral_state::accepted);
  r.apply(event::transfer{destination_as(actor_role::coordinator), t(3)});
  CHECK(r.state() == referral_state::transferred);
  r.apply(event::complete{destination_as(actor_role::clinician), t(4)});
  CHECK(r.state() == referral_state::closed);
  CHECK(r.reason() == close_reason::completed);
  CHECK_FALSE(r.consent_withdrawn());
  CHECK(r.version() == 5);
  CHECK(r.proposed_at() == t(0));
  CHECK(r.updated_at() == t(4));
  CHECK(r.is_closed());
}

TEST_CASE("a newer consent replaces the old one", "[referral]") {
  referral r = referral_after({ek::record_consent});
  REQUIRE(r.consent() == consent_ref{"C-1"});
  r.apply(event::record_consent{origin_as(actor_role::clinician), t(9), consent_ref{"C-2"}});
  CHECK(r.state() == referral_state::consent_recorded);
  CHECK(r.consent() == consent_ref{"C-2"});
  CHECK(r.version() == 3);
}

TEST_CASE("consent withdrawn after transfer marks the referral and cannot be withdrawn twice",
          "[referral][error]") {
  referral r = referral_after({ek::record_consent, ek::accept, ek::transfer});
  r.apply(event::withdraw_consent{destination_as(actor_role::clinician), t(10),
                                  withdrawal_channel::verbal});
  CHECK(r.state() == referral_state::transferred);
  CHECK(r.consent_withdrawn());
  CHECK_FALSE(r.reason().has_value());
  const referral_snapshot before = r.snapshot();
  REQUIRE_THROWS_WITH(r.apply(event::withdraw_consent{origin_as(actor_role::clinician), t(11)}),
                      Contains("consent was already withdrawn; allowed in state 'transferred' "
                               "now: complete"));
  CHECK(r.snapshot() == before);
  // Treatment can still complete; the withdrawal stays on record.
  r.apply(event::complete{destination_as(actor_role::clinician), t(12)});
  CHECK(r.reason() == close_reason::completed);
  CHECK(r.consent_withdrawn());
}

TEST_CASE("events must arrive in time order", "[referral][error]") {
  referral r = referral_after({ek::record_consent});  // updated at t(1)
  const referral_snapshot before = r.snapshot();
  CHECK(code_of([&] {
          r.apply(event::accept{destination_as(actor_role::clinician), t(0)});
        }) == errc::invalid_argument);
  REQUIRE_THROWS_WITH(
      r.apply(event::accept{destination_as(actor_role::clinician), t(0)}),
      "[kakehashi.invalid_argument] referral R-TEST-1: event 'accept' at 2026-03-01T00:00:00Z is "
      "before the referral's last change at 2026-03-01T01:00:00Z; events arrive in time order: at "
      "or after 2026-03-01T01:00:00Z");
  CHECK(r.snapshot() == before);
  // The same instant is fine: two steps may happen within one second.
  r.apply(event::accept{destination_as(actor_role::clinician), t(1)});
  CHECK(r.state() == referral_state::accepted);
}

TEST_CASE("a late event within the tolerance is applied, and time does not go back", "[referral]") {
  referral r = referral_after({ek::record_consent});  // updated at t(1)
  const referral_snapshot before = r.snapshot();
  // An hour late, half an hour allowed: refused, saying from when it would be taken.
  REQUIRE_THROWS_WITH(
      r.apply(event::accept{destination_as(actor_role::clinician), t(0)}, std::chrono::minutes(30)),
      "[kakehashi.invalid_argument] referral R-TEST-1: event 'accept' at 2026-03-01T00:00:00Z is "
      "before the referral's last change at 2026-03-01T01:00:00Z by more than the 1800 s a late "
      "event may be; events arrive in time order: at or after 2026-03-01T00:30:00Z");
  CHECK(r.snapshot() == before);
  CHECK_FALSE(r.can_apply(event::accept{destination_as(actor_role::clinician), t(0)}));
  CHECK(r.can_apply(event::accept{destination_as(actor_role::clinician), t(0)},
                    std::chrono::hours(1)));
  r.apply(event::accept{destination_as(actor_role::clinician), t(0)}, std::chrono::hours(1));
  CHECK(r.state() == referral_state::accepted);
  CHECK(r.version() == before.version + 1);
  CHECK(r.updated_at() == t(1));  // the later of the two
}

TEST_CASE("malformed event fields are refused before anything else", "[referral][error]") {
  referral r = proposed_referral();
  const referral_snapshot before = r.snapshot();
  SECTION("a hostile organisation id") {
    const event::any e = event::cancel{
        {hospital_id{"k-hospital'; DROP TABLE audit;--"}, actor_role::coordinator, {}}, t(1)};
    CHECK(code_of([&] { r.apply(e); }) == errc::invalid_argument);
    REQUIRE_THROWS_WITH(r.apply(e), Contains("event.by.organisation: hospital id "
                                             "'k-hospital'; DROP TABLE audit;--' has a character"));
  }
  SECTION("a user id with a newline") {
    const event::any e =
        event::cancel{{k_hospital, actor_role::coordinator, user_id{"u1\nforged log line"}}, t(1)};
    // A staff pseudonym is not quoted at all (it may be a name), so nothing can be forged.
    REQUIRE_THROWS_WITH(r.apply(e), Contains("event.by.user: user id (the value is not shown") &&
                                        !Contains("forged"));
  }
  SECTION("an empty consent reference") {
    const event::any e =
        event::record_consent{origin_as(actor_role::clinician), t(1), consent_ref{}};
    CHECK(code_of([&] { r.apply(e); }) == errc::invalid_argument);
    REQUIRE_THROWS_WITH(r.apply(e), Contains("event.consent: consent reference '' is empty"));
  }
  CHECK(r.snapshot() == before);
}

TEST_CASE("propose validates its input and who proposes", "[referral][error]") {
  const proposal good{referral_id{"R-1"},
                      k_hospital,
                      shonan,
                      specialty_code{"cardiology"},
                      patient_ref{"P-1"},
                      origin_as(actor_role::clinician),
                      t(0)};
  REQUIRE_NOTHROW(referral::propose(good));

  SECTION("origin equals destination") {
    proposal p = good;
    p.destination = k_hospital;
    REQUIRE_THROWS_WITH(referral::propose(p),
                        "[kakehashi.invalid_argument] referral R-1: origin and destination are "
                        "both 'k-hospital'; a referral goes from one hospital to another");
  }
  SECTION("a malformed field names the field") {
    proposal p = good;
    p.patient = patient_ref{"Nguyen Van A"};
    CHECK(code_of([&] { referral::propose(p); }) == errc::invalid_argument);
    REQUIRE_THROWS_WITH(referral::propose(p), Contains("proposal.patient: patient pseudonym"));
    p = good;
    p.id = referral_id{};
    REQUIRE_THROWS_WITH(referral::propose(p), Contains("proposal.id: referral id '' is empty"));
    p = good;
    p.specialty = specialty_code{std::string(200, 'a')};
    REQUIRE_THROWS_WITH(referral::propose(p), Contains("is longer than 128 characters"));
  }
  SECTION("the destination may not propose") {
    proposal p = good;
    p.by = destination_as(actor_role::clinician);
    CHECK(code_of([&] { referral::propose(p); }) == errc::permission_denied);
    REQUIRE_THROWS_WITH(referral::propose(p),
                        Contains("only the referring hospital may propose; a referral may be "
                                 "proposed by the referring hospital 'k-hospital'"));
  }
  SECTION("the system role may not propose") {
    proposal p = good;
    p.by = origin_as(actor_role::system);
    CHECK(code_of([&] { referral::propose(p); }) == errc::permission_denied);
  }
}

TEST_CASE("a copy of a referral that has moved keeps its state (Boost 1.74 copy trap)",
          "[referral]") {
  referral r = referral_after({ek::record_consent, ek::accept, ek::transfer});
  REQUIRE(r.state() == referral_state::transferred);

  referral copy(r);  // from a non-const lvalue: the case the MSM forwarding constructor steals
  CHECK(copy.state() == referral_state::transferred);
  CHECK(copy.snapshot() == r.snapshot());

  referral assigned = proposed_referral("R-OTHER");
  assigned = r;
  CHECK(assigned.state() == referral_state::transferred);

  // The copies are independent values.
  copy.apply(rightful_event(ek::complete, t(50)));
  CHECK(copy.state() == referral_state::closed);
  CHECK(r.state() == referral_state::transferred);
  CHECK(assigned.state() == referral_state::transferred);

  // And the copy still runs the machine from where it stood, not from the initial state.
  referral copy2(r);
  CHECK_FALSE(copy2.can_apply(rightful_event(ek::cancel, t(50))));  // allowed when proposed
  CHECK(copy2.can_apply(rightful_event(ek::complete, t(50))));

  referral moved(std::move(copy2));
  CHECK(moved.state() == referral_state::transferred);
}

TEST_CASE("restore maps every stored state to the machine and back", "[referral]") {
  for (const auto& s : situations()) {
    CAPTURE(s.name);
    const referral original = referral_after(s.path);
    const referral_snapshot snap = original.snapshot();
    const referral restored = referral::restore(snap);
    CHECK(restored.state() == original.state());
    CHECK(restored.snapshot() == snap);
    CHECK(restored.allowed_events() == original.allowed_events());
    // The restored machine continues exactly like the original.
    for (event_kind kind : all_kinds) {
      const event::any e = rightful_event(kind, t(100));
      CHECK(restored.can_apply(e) == original.can_apply(e));
    }
  }
}

TEST_CASE("restore refuses an inconsistent snapshot and names the field", "[referral][error]") {
  const referral_snapshot good = referral_after({ek::record_consent, ek::accept}).snapshot();
  struct bad_case {
    const char* name;
    void (*edit)(referral_snapshot&);
    const char* message;
  };
  const std::vector<bad_case> cases{
      {"closed without reason", [](referral_snapshot& s) { s.state = referral_state::closed; },
       "snapshot.reason: is missing for a closed referral"},
      {"reason on an open referral",
       [](referral_snapshot& s) { s.reason = close_reason::declined; },
       "snapshot.reason: is 'declined' but the state is 'accepted'"},
      {"withdrawal flag on accepted", [](referral_snapshot& s) { s.consent_withdrawn = true; },
       "snapshot.consent_withdrawn: is set in state 'accepted'"},
      {"withdrawal flag on declined",
       [](referral_snapshot& s) {
         s.state = referral_state::closed;
         s.reason = close_reason::declined;
         s.consent_withdrawn = true;
       },
       "snapshot.consent_withdrawn: is set in state 'closed' (declined)"},
      {"closed for withdrawal without the flag",
       [](referral_snapshot& s) {
         s.state = referral_state::closed;
         s.reason = close_reason::consent_withdrawn;
       },
       "snapshot.consent_withdrawn: is not set although the close reason is consent_withdrawn"},
      {"accepted without consent", [](referral_snapshot& s) { s.consent = consent_ref{}; },
       "snapshot.consent: is empty in state 'accepted'"},
      {"time running backwards", [](referral_snapshot& s) { s.updated_at = t(-5); },
       "snapshot.updated_at: 2026-02-28T19:00:00Z is before proposed_at 2026-03-01T00:00:00Z"},
      {"version zero", [](referral_snapshot& s) { s.version = 0; }, "snapshot.version: is 0"},
      {"same origin and destination", [](referral_snapshot& s) { s.destination = s.origin; },
       "snapshot.destination: equals the origin 'k-hospital'"},
      {"malformed id", [](referral_snapshot& s) { s.id = referral_id{"R 1"}; },
       "snapshot.id: referral id 'R 1' has a character outside"},
  };
  REQUIRE_NOTHROW(referral::restore(good));
  for (const auto& c : cases) {
    CAPTURE(c.name);
    referral_snapshot s = good;
    c.edit(s);
    CHECK(code_of([&] { referral::restore(s); }) == errc::invalid_argument);
    CHECK_THROWS_WITH(referral::restore(s), Contains(c.message));
  }
}

TEST_CASE("a snapshot closed as cancelled or expired before consent restores", "[referral]") {
  for (const auto& path :
       {std::vector<event_kind>{ek::cancel}, std::vector<event_kind>{ek::expire}}) {
    const referral_snapshot s = referral_after(path).snapshot();
    REQUIRE(s.consent.empty());
    CHECK(referral::restore(s).snapshot() == s);
  }
}

TEST_CASE("every enum name round-trips through to_string and parse", "[referral]") {
  for (event_kind k : all_kinds) CHECK(parse_event_kind(to_string(k)) == k);
  for (auto s : {referral_state::proposed, referral_state::consent_recorded,
                 referral_state::accepted, referral_state::transferred, referral_state::closed}) {
    CHECK(parse_referral_state(to_string(s)) == s);
  }
  for (auto c : {close_reason::completed, close_reason::declined, close_reason::cancelled,
                 close_reason::consent_withdrawn, close_reason::expired}) {
    CHECK(parse_close_reason(to_string(c)) == c);
  }
  for (auto r : {actor_role::clinician, actor_role::coordinator, actor_role::system}) {
    CHECK(parse_actor_role(to_string(r)) == r);
  }
  for (auto d :
       {decline_reason::capacity_full, decline_reason::specialty_unavailable,
        decline_reason::not_clinically_appropriate, decline_reason::insufficient_information,
        decline_reason::patient_not_fit_to_travel, decline_reason::other}) {
    CHECK(parse_decline_reason(to_string(d)) == d);
  }
  for (auto c : {cancel_reason::patient_request, cancel_reason::clinical_change,
                 cancel_reason::treated_locally, cancel_reason::referred_elsewhere,
                 cancel_reason::entered_in_error, cancel_reason::other}) {
    CHECK(parse_cancel_reason(to_string(c)) == c);
  }
  for (auto w :
       {withdrawal_channel::written, withdrawal_channel::verbal, withdrawal_channel::electronic}) {
    CHECK(parse_withdrawal_channel(to_string(w)) == w);
  }
  CHECK_FALSE(parse_referral_state("Proposed").has_value());
  CHECK_FALSE(parse_event_kind("").has_value());
}

TEST_CASE("all_values lists every value in declaration order, all_names their names", "[referral]") {
  // Written out here on purpose: a value the library's list drops is caught.
  CHECK(all_values<referral_state>() ==
        std::vector<referral_state>{referral_state::proposed, referral_state::consent_recorded,
                                    referral_state::accepted, referral_state::transferred,
                                    referral_state::closed});
  CHECK(all_values<close_reason>() ==
        std::vector<close_reason>{close_reason::completed, close_reason::declined,
                                  close_reason::cancelled, close_reason::consent_withdrawn,
                                  close_reason::expired});
  CHECK(all_values<actor_role>() == std::vector<actor_role>{actor_role::clinician,
                                                            actor_role::coordinator,
                                                            actor_role::system});
  CHECK(all_values<event_kind>() == std::vector<event_kind>(std::begin(all_kinds),
                                                            std::end(all_kinds)));
  CHECK(all_names<decline_reason>() ==
        "capacity_full, specialty_unavailable, not_clinically_appropriate, "
        "insufficient_information, patient_not_fit_to_travel, other");
  CHECK(all_names<cancel_reason>(" ") ==
        "patient_request clinical_change treated_locally referred_elsewhere entered_in_error "
        "other");
  CHECK(all_names<withdrawal_channel>("|") == "written|verbal|electronic");
}

TEST_CASE("kind_of, actor_of and instant_of read any event", "[referral]") {
  for (event_kind kind : all_kinds) {
    CAPTURE(kind);
    const event::any e = rightful_event(kind, t(7));
    CHECK(kind_of(e) == kind);
    CHECK(instant_of(e) == t(7));
    const actor someone{bach_mai, actor_role::system, user_id{"u-9"}};
    const event::any moved = with_actor(e, someone);
    CHECK(actor_of(moved).organisation == bach_mai);
    CHECK(actor_of(moved).role == actor_role::system);
    CHECK(actor_of(moved).user == user_id{"u-9"});
    CHECK(kind_of(moved) == kind);
  }
}

TEST_CASE("a snapshot round-trips through its JSON", "[referral]") {
  for (const auto& s : situations()) {
    CAPTURE(s.name);
    const referral_snapshot snap = referral_after(s.path).snapshot();
    CHECK(referral_snapshot_from_json(to_json(snap)) == snap);
  }
  CHECK_THROWS_WITH(referral_snapshot_from_json("{\"id\": 3}"),
                    Catch::Matchers::Contains("[kakehashi.invalid_argument] referral snapshot.id"));
  CHECK_THROWS_AS(referral_snapshot_from_json("not json"), error);
}
