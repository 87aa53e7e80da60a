// When an event happened and when the engine recorded it (issue 16, item 7): with an injected
// clock each audit row keeps both; an event from a partner may arrive late, within the engine's
// tolerance, and is recorded in arrival order; the FHIR export carries both.

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/fhir.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "support/caught.hpp"
#include "support/engine_fixture.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

instant at(const char* t) { return parse_instant(t); }

const referral_id r1{"R-1"};

}  // namespace

TEST_CASE("with a clock, a row keeps when its event happened and when it was recorded",
          "[engine][timing][backends]") {
  temp_db db;
  instant now = at("2026-03-05T00:00:00Z");
  engine_options o = paperwork_on_file();
  o.clock = [&now] { return now; };
  o.late_event_tolerance = std::chrono::hours(48);
  engine e = open_engine(db.path(), o);

  // Proposed on 1 March, recorded on 5 March (a partner's system catching up).
  e.propose(bm_proposal("R-1", "2026-03-01T00:00:00Z"), "p1");
  CHECK(e.get(r1).proposed_at == at("2026-03-01T00:00:00Z"));
  now = at("2026-03-05T01:00:00Z");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-03T00:00:00Z"), "c1");
  auto history = e.history(r1);
  REQUIRE(history.size() == 2);
  CHECK(history[0].occurred_at == at("2026-03-01T00:00:00Z"));
  CHECK(history[0].recorded_at == at("2026-03-05T00:00:00Z"));
  CHECK(json::parse(history[0].details).at("occurred_at") == "2026-03-01T00:00:00Z");
  CHECK(history[1].occurred_at == at("2026-03-03T00:00:00Z"));
  CHECK(history[1].recorded_at == at("2026-03-05T01:00:00Z"));

  // The destination's acceptance happened on 2 March at noon but arrives now: 12 hours before
  // the last change, within the 48 allowed. It is recorded after the consent (arrival order);
  // the referral's last change stays the later one.
  now = at("2026-03-05T02:00:00Z");
  const referral_snapshot accepted =
      e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T12:00:00Z")}, "a1");
  CHECK(accepted.state == referral_state::accepted);
  CHECK(accepted.updated_at == at("2026-03-03T00:00:00Z"));
  history = e.history(r1);
  REQUIRE(history.size() == 3);
  CHECK(history[2].command == "accept");
  CHECK(history[2].seq > history[1].seq);
  CHECK(history[2].occurred_at == at("2026-03-02T12:00:00Z"));
  CHECK(history[2].recorded_at == at("2026-03-05T02:00:00Z"));
  // A retry with the same key is answered from the log, by a replay that accepts it too.
  CHECK(e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T12:00:00Z")}, "a1") == accepted);
  const auto rows = e.audit_rows();

  SECTION("an event later than the tolerance is refused, saying what would be valid") {
    const error err = caught([&] {
      e.apply(r1, event::withdraw_consent{bm_coordinator(), at("2026-02-28T23:59:59Z")}, "w1");
    });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("before the referral's last change at 2026-03-03T00:00:00Z by "
                                    "more than the 172800 s a late event may be") &&
                               Contains("at or after 2026-03-01T00:00:00Z"));
    CHECK(e.audit_rows() == rows + 1);
    CHECK(json::parse(e.history(r1).back().details).at("occurred_at") == "2026-02-28T23:59:59Z");
    CHECK(e.get(r1) == accepted);
  }

  SECTION("an event after the engine's clock, beyond the skew, is refused") {
    const error err = caught([&] {
      e.apply(r1, event::withdraw_consent{bm_coordinator(), at("2026-03-05T02:05:01Z")}, "w1");
    });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("happened at 2026-03-05T02:05:01Z, after the engine's clock "
                                    "at 2026-03-05T02:00:00Z (more than the 300 s clock skew") &&
                               Contains("at or before 2026-03-05T02:05:00Z"));
    CHECK(e.audit_rows() == rows + 1);
    // Within the skew it is taken: the partner's clock runs a little ahead.
    e.apply(r1, event::withdraw_consent{bm_coordinator(), at("2026-03-05T02:05:00Z")}, "w2");
    CHECK(e.get(r1).updated_at == at("2026-03-05T02:05:00Z"));
  }

  SECTION("the log verifies, and the FHIR export carries both instants") {
    CHECK(e.verify().intact);
    const auto view = database_view::open(db.path());
    CHECK(view.history(r1).at(2).occurred_at == at("2026-03-02T12:00:00Z"));
    const json bundle =
        json::parse(fhir::referral_bundle({e.get(r1), e.history(r1), seed_agreements(), nullptr}));
    std::vector<json> events;
    for (const auto& entry : bundle["entry"]) {
      if (entry["resource"]["resourceType"] == "AuditEvent") events.push_back(entry["resource"]);
    }
    REQUIRE(events.size() == 3);
    CHECK(events[2]["period"]["start"] == "2026-03-02T12:00:00Z");
    CHECK(events[2]["recorded"] == "2026-03-05T02:00:00Z");
    CHECK(events[0]["period"]["start"] == "2026-03-01T00:00:00Z");
  }
}

TEST_CASE("without a clock an event is recorded at its own instant, in time order by default",
          "[engine][timing]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  const auto h = e.history(r1);
  CHECK(h[1].occurred_at == h[1].recorded_at);
  CHECK_FALSE(json::parse(h[1].details).contains("occurred_at"));
  // No tolerance: an event before the last change is refused, as it always was.
  const error err = caught([&] {
    e.apply(r1, event::accept{sk_clinician(), at("2026-03-01T00:30:00Z")}, "a1");
  });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("events arrive in time order: at or after 2026-03-01T01:00:00Z"));
}

TEST_CASE("the timing options are checked when the engine opens", "[engine][timing]") {
  temp_db db;
  engine_options o = paperwork_on_file();
  o.late_event_tolerance = std::chrono::hours(24 * 31);
  error err = caught([&] { open_engine(db.path(), o); });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("engine_options.late_event_tolerance") &&
                             Contains("is 2678400 s") && Contains("to 2592000 s (30 days)"));
  o = paperwork_on_file();
  o.clock_skew = std::chrono::seconds(-1);
  err = caught([&] { open_engine(db.path(), o); });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("engine_options.clock_skew"));
}
