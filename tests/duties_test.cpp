// Duties with deadlines (issue 19, item 2): a withdrawal of consent creates the referring
// hospital's duty to acknowledge it within 2 working days and complete it, with the stop notice
// to the destination, within 20 days (VN-15), counted on Vietnam's calendar; the responsible
// hospital records each step; open and overdue duties are listed.

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/testing.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "support/caught.hpp"
#include "support/engine_fixture.hpp"
#include "support/referral_fixtures.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

instant at(const char* t) { return parse_instant(t); }

const referral_id r1{"R-1"};

// R-1 proposed, consented, accepted and transferred on 10 March 2026.
void transferred(engine& e) {
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  e.attach_document(r1, sample_document("D-1"), bm_coordinator(), at("2026-03-01T02:00:00Z"), "d1");
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");
  e.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1");
}

// The patient withdraws on Thursday 12 March 2026, 10:00 in Hanoi.
const instant withdrawn_at = at("2026-03-12T03:00:00Z");

duty only_duty(const engine& e, duty_query q = {}) {
  q.open_only = false;
  const auto all = e.duties(q);
  REQUIRE(all.size() == 1);
  return all.front();
}

}  // namespace

TEST_CASE("a withdrawal creates the referring hospital's duty, with its deadlines",
          "[engine][duties][VN-15][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  transferred(e);
  CHECK(e.duties().empty());
  e.apply(r1, event::withdraw_consent{bm_coordinator(), withdrawn_at}, "w1");

  const duty d = only_duty(e);
  CHECK(d.kind == duty_kind::withdrawal);
  CHECK(d.rule == "VN-15");
  CHECK(d.referral == r1);
  CHECK(d.patient == patient_ref{"P-TEST-1"});
  CHECK(d.responsible == bm);
  CHECK(d.must_stop == std::vector<hospital_id>{sk});
  CHECK(d.created_at == withdrawn_at);
  // 2 working days after Thursday 12 March: Friday 13 and Monday 16 March, to the end of the
  // day in Hanoi; 20 days: Wednesday 1 April.
  CHECK(d.acknowledge_by == at("2026-03-17T00:00:00+07:00"));
  CHECK(d.complete_by == at("2026-04-02T00:00:00+07:00"));
  CHECK(d.deadline_problem.empty());
  CHECK_FALSE(d.provisional);
  CHECK(d.open());
  CHECK_FALSE(d.acknowledged_at);
  // Its number is the withdrawal's audit row, which records it.
  const auto history = e.history(r1);
  CHECK(history.back().seq == d.id);
  CHECK(history.back().command == "withdraw_consent");
  const json details = json::parse(history.back().details);
  CHECK(details.at("duty").at("acknowledge_by") == "2026-03-16T17:00:00Z");
  CHECK(details.at("duty").at("must_stop") == json::array({"shonan-kamakura"}));

  // Both parties see it; nobody else does.
  duty_query q;
  q.hospital = bm;
  CHECK(e.duties(q).size() == 1);
  q.hospital = sk;
  CHECK(e.duties(q).size() == 1);
  q.hospital = hospital_id{"k-hospital"};
  CHECK(e.duties(q).empty());
  q = {};
  q.referral = referral_id{"R-2"};
  CHECK(e.duties(q).empty());

  // Overdue once a deadline has passed, not a second before.
  q = {};
  q.overdue_at = at("2026-03-16T16:59:59Z");
  CHECK(e.duties(q).empty());
  q.overdue_at = at("2026-03-16T17:00:00Z");
  CHECK(e.duties(q).size() == 1);
  CHECK(d.overdue(at("2026-03-16T17:00:00Z")));
  CHECK(e.verify().intact);
}

TEST_CASE("the responsible hospital records a duty's steps, each once",
          "[engine][duties][VN-15][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  transferred(e);
  e.apply(r1, event::withdraw_consent{bm_coordinator(), withdrawn_at}, "w1");
  const duty d = only_duty(e);
  const referral_snapshot before = e.get(r1);
  auto rows = e.audit_rows();

  SECTION("refusals change nothing but the audit row, and say what would be valid") {
    error err = caught([&] {
      e.record_duty(r1, d.id, duty_step::acknowledged, sk_coordinator(), at("2026-03-13T00:00:00Z"),
                    "k1");
    });
    CHECK(err.code() == errc::permission_denied);
    CHECK_THAT(err.what(), Contains("is bach-mai's to record, not shonan-kamakura's"));
    err = caught([&] {
      e.record_duty(r1, d.id + 1, duty_step::acknowledged, bm_coordinator(),
                    at("2026-03-13T00:00:00Z"), "k2");
    });
    CHECK(err.code() == errc::not_found);
    CHECK_THAT(err.what(), Contains("has no duty " + std::to_string(d.id + 1)) &&
                               Contains("its duties are " + std::to_string(d.id)));
    err = caught([&] {
      e.record_duty(r1, d.id, duty_step::acknowledged, bm_coordinator(), at("2026-03-12T02:59:59Z"),
                    "k3");
    });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("before it was created at 2026-03-12T03:00:00Z"));
    err = caught([&] {
      e.record_duty(referral_id{"R-404"}, d.id, duty_step::acknowledged, bm_coordinator(),
                    at("2026-03-13T00:00:00Z"), "k4");
    });
    CHECK(err.code() == errc::not_found);
    CHECK(e.audit_rows() == rows + 4);
    CHECK(e.get(r1) == before);
    CHECK_FALSE(only_duty(e).acknowledged_at);
    CHECK(e.verify().intact);
  }

  SECTION("acknowledged, then completed: the referral does not change") {
    const referral_snapshot s = e.record_duty(r1, d.id, duty_step::acknowledged, bm_coordinator(),
                                              at("2026-03-13T01:00:00Z"), "k1");
    CHECK(s == before);
    CHECK(e.get(r1) == before);
    CHECK(e.audit_rows() == rows + 1);
    duty now = only_duty(e);
    CHECK(now.acknowledged_at == at("2026-03-13T01:00:00Z"));
    CHECK(now.acknowledged_seq == rows + 1);
    CHECK(now.open());
    // Acknowledged in time: only the completion deadline is left.
    CHECK_FALSE(now.overdue(at("2026-03-20T00:00:00Z")));
    CHECK(now.overdue(at("2026-04-01T17:00:00Z")));

    // The same key again answers from the log and writes nothing; the same step with a new key
    // is refused, naming when it was recorded.
    CHECK(e.record_duty(r1, d.id, duty_step::acknowledged, bm_coordinator(),
                        at("2026-03-13T01:00:00Z"), "k1") == before);
    CHECK(e.audit_rows() == rows + 1);
    error err = caught([&] {
      e.record_duty(r1, d.id, duty_step::acknowledged, bm_coordinator(), at("2026-03-14T00:00:00Z"),
                    "k2");
    });
    CHECK(err.code() == errc::already_exists);
    CHECK_THAT(err.what(), Contains("was already acknowledged at 2026-03-13T01:00:00Z"));

    e.record_duty(r1, d.id, duty_step::completed, bm_coordinator(), at("2026-03-20T00:00:00Z"),
                  "k3");
    now = only_duty(e);
    CHECK(now.completed_at == at("2026-03-20T00:00:00Z"));
    CHECK_FALSE(now.open());
    CHECK_FALSE(now.overdue(at("2026-05-01T00:00:00Z")));
    CHECK(e.duties().empty());  // open only, by default
    CHECK(e.get(r1) == before);
    const auto history = e.history(r1);
    CHECK(history.back().command == "record_duty");
    CHECK(history.back().state_before == "transferred");
    CHECK(history.back().state_after == "transferred");
    CHECK(json::parse(history.back().details) == json{{"duty", d.id}, {"step", "completed"}});
    CHECK(e.verify().intact);
  }
}

TEST_CASE("a withdrawal before the transfer creates the same duty",
          "[engine][duties][VN-15][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  // Received on Friday 24 April 2026: Monday 27 April (the Hung Kings' day, given for Sunday
  // 26 April) is no working day, so the two are 28 and 29 April; 20 days end on Thursday 14 May.
  e.apply(r1, event::withdraw_consent{bm_coordinator(), at("2026-04-24T02:00:00Z")}, "w1");
  CHECK(e.get(r1).reason == close_reason::consent_withdrawn);
  const duty d = only_duty(e);
  CHECK(d.acknowledge_by == at("2026-04-30T00:00:00+07:00"));
  CHECK(d.complete_by == at("2026-05-15T00:00:00+07:00"));
}

TEST_CASE("a withdrawal is recorded even when its deadlines cannot be counted",
          "[engine][duties][VN-15]") {
  temp_db db;
  // A calendar of 2026 only: the 20 days from 20 December run past it.
  engine_options o = paperwork_on_file();
  o.calendars.emplace("VN", working_calendar::load(R"({
    "format": "kakehashi.calendar/1", "country": "VN", "time_zone": "Asia/Ho_Chi_Minh",
    "years": [2026, 2026], "weekly_rest_days": ["saturday", "sunday"], "days_off": []})"));
  engine e = open_engine(db.path(), o);
  e.propose(bm_proposal("R-1", "2026-12-01T00:00:00Z"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-12-01T01:00:00Z"), "c1");
  e.apply(r1, event::withdraw_consent{bm_coordinator(), at("2026-12-20T02:00:00Z")}, "w1");
  const duty d = only_duty(e);
  CHECK_FALSE(d.acknowledge_by);
  CHECK_FALSE(d.complete_by);
  CHECK_THAT(d.deadline_problem,
             Contains("2027-01-09 is outside the years it covers, 2026 to 2026"));
  CHECK_FALSE(d.overdue(at("2030-01-01T00:00:00Z")));  // no deadline: listed, never overdue
  CHECK(e.verify().intact);
}

TEST_CASE("VN-24: a written request for the record summary is due in 10 days",
          "[engine][duties][VN-24][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1"), "p1");
  const referral_snapshot before = e.get(r1);
  // Given a written request from the patient, received by Bach Mai on Tuesday 3 March 2026,
  // when it is recorded, then the summary is due 10 days later (Friday 13 March), acknowledged
  // within 2 working days (Thursday 5 March).
  CHECK(e.request_summary(r1, bm_coordinator(), at("2026-03-03T03:00:00Z"), "s1") == before);
  CHECK(e.get(r1) == before);
  const duty d = only_duty(e);
  CHECK(d.kind == duty_kind::record_summary);
  CHECK(d.rule == "VN-24");
  CHECK(d.responsible == bm);
  CHECK(d.must_stop.empty());
  CHECK(d.acknowledge_by == at("2026-03-06T00:00:00+07:00"));
  CHECK(d.complete_by == at("2026-03-14T00:00:00+07:00"));
  CHECK(e.history(r1).back().command == "request_summary");

  // The summary given: the duty is done; the referral never changed.
  e.record_duty(r1, d.id, duty_step::completed, bm_coordinator(), at("2026-03-10T03:00:00Z"), "s2");
  CHECK_FALSE(only_duty(e).open());
  CHECK(e.get(r1) == before);

  // Only a party to the referral receives one, as a person, not a process.
  const auto rows = e.audit_rows();
  error err = caught([&] {
    e.request_summary(r1, {hospital_id{"k-hospital"}, actor_role::coordinator, user_id{"io-k"}},
                      at("2026-03-11T03:00:00Z"), "s3");
  });
  CHECK(err.code() == errc::permission_denied);
  CHECK_THAT(err.what(), Contains("received by a party to the referral (bach-mai or "
                                  "shonan-kamakura), not by k-hospital"));
  err = caught([&] { e.request_summary(r1, bm_coordinator(), at("2026-02-28T00:00:00Z"), "s4"); });
  CHECK(err.code() == errc::invalid_argument);
  CHECK(e.audit_rows() == rows + 2);
  CHECK(e.get(r1) == before);

  // The Japanese hospital receives one too, with no period: APPI Art. 33 sets none.
  e.request_summary(r1, sk_coordinator(), at("2026-03-12T01:00:00Z"), "s5");
  duty_query q;
  q.hospital = sk;
  const auto jp = e.duties(q);
  REQUIRE(jp.size() == 1);
  CHECK_FALSE(jp[0].complete_by);
  CHECK_THAT(jp[0].deadline_problem, Contains("shonan-kamakura: a hospital in JP"));
  CHECK(e.verify().intact);
}

TEST_CASE("VN-24's periods start with Decree 356, on 1 January 2026 in Hanoi",
          "[engine][duties][VN-24]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1", "2025-12-20T00:00:00Z"), "p1");
  e.request_summary(r1, bm_coordinator(), at("2025-12-31T23:59:59+07:00"), "s1");
  e.request_summary(r1, bm_coordinator(), at("2026-01-01T00:00:00+07:00"), "s2");
  duty_query q;
  q.open_only = false;
  const auto both = e.duties(q);
  REQUIRE(both.size() == 2);
  CHECK_FALSE(both[0].acknowledge_by);
  CHECK_THAT(both[0].deadline_problem, Contains("before Decree 356/2025 took effect"));
  // 1 January is New Year's Day: Friday 2 and Monday 5 January are the working days; the 10
  // days end on Sunday 11 January, so on Monday 12 January (Civil Code Art. 148(5)).
  CHECK(both[1].acknowledge_by == at("2026-01-06T00:00:00+07:00"));
  CHECK(both[1].complete_by == at("2026-01-13T00:00:00+07:00"));
}

TEST_CASE("the toolkit checks a duty's deadlines as the engine counts them",
          "[duties][testing][VN-15][VN-24]") {
  namespace kt = kakehashi::testing;
  // The withdrawal above, without a database.
  CHECK(kt::due(duty_kind::withdrawal, "VN", "2026-03-12T10:00:00+07:00",
                "2026-03-17T00:00:00+07:00", "2026-04-02T00:00:00+07:00"));
  // On the eve of Tết 2026 (Friday 13 February): the nine days off come first.
  CHECK(kt::due(duty_kind::withdrawal, "VN", "2026-02-13T16:00:00+07:00",
                "2026-02-25T00:00:00+07:00", "2026-03-06T00:00:00+07:00"));
  // Received on Friday 1 May 2026 in Kamakura: Golden Week, then Thursday 7 and Friday 8 May.
  CHECK(kt::due(duty_kind::withdrawal, "JP", "2026-05-01T10:00:00+09:00",
                "2026-05-09T00:00:00+09:00", "2026-05-22T00:00:00+09:00"));
  CHECK(kt::due(duty_kind::record_summary, "VN", "2026-03-03T10:00:00+07:00",
                "2026-03-06T00:00:00+07:00", "2026-03-14T00:00:00+07:00"));
  CHECK(kt::due(duty_kind::record_summary, "JP", "2026-03-03T10:00:00+09:00", "", ""));
  // A wrong expectation says what the engine records instead, and why there is none.
  const auto wrong = kt::due(duty_kind::record_summary, "VN", "2025-12-30T10:00:00+07:00",
                             "2026-01-02T00:00:00+07:00", "2026-01-10T00:00:00+07:00");
  CHECK_FALSE(wrong);
  CHECK_THAT(wrong.explanation, Contains("the engine records none and none") &&
                                    Contains("before Decree 356/2025 took effect"));
  const duty_deadlines beyond =
      deadlines_for(duty_kind::withdrawal, "VN", at("2027-12-20T00:00:00Z"));
  CHECK_FALSE(beyond.complete_by);
  CHECK_THAT(beyond.problem, Contains("outside the years it covers"));
  CHECK_THAT(deadlines_for(duty_kind::withdrawal, "TH", at("2026-03-01T00:00:00Z")).problem,
             Contains("no working-day calendar for country 'TH'"));
}
