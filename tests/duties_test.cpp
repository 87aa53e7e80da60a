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

namespace {

// Bach Mai's emergency basis for R-1's patient: no consent obtainable, decided by dr-em-1.
consent_record emergency_consent() {
  return testing::valid_consent().given_by({}).emergency().build();
}

const actor bm_second_clinician{bm, actor_role::clinician, user_id{"dr-bm-2"}};

duty review_of(const engine& e, const std::string& command) {
  duty_query q;
  q.open_only = false;
  for (const auto& d : e.duties(q)) {
    if (d.kind == duty_kind::emergency_review && d.command == command) return d;
  }
  FAIL("no emergency review for " << command);
  return {};
}

}  // namespace

TEST_CASE("a step on an emergency basis opens a review for the hospital that provides the data",
          "[engine][duties][emergency][VN-17][JP-10][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1"), "p1");
  // Thursday 12 March 2026, 10:00 in Hanoi: the consent policy allows it on the emergency basis.
  e.record_consent(r1, emergency_consent(), bm_coordinator(), withdrawn_at, "c1");
  const auto history = e.history(r1);
  CHECK(history.back().command == "record_consent");
  CHECK(history.back().reason_code == "emergency");
  const duty d = only_duty(e);
  CHECK(d.kind == duty_kind::emergency_review);
  CHECK(d.rule == "VN-17");
  CHECK(d.command == "record_consent");
  CHECK(d.id == history.back().seq);
  CHECK(d.responsible == bm);
  CHECK(d.must_stop.empty());
  // No acknowledgement; 3 working days (Friday 13, Monday 16, Tuesday 17 March) to review it.
  CHECK_FALSE(d.acknowledge_by);
  CHECK(d.complete_by == at("2026-03-18T00:00:00+07:00"));
  CHECK(d.decided_by == std::vector<user_id>{user_id{"io-bm-1"}, user_id{"dr-em-1"}});
  CHECK_FALSE(d.finding);
  CHECK_FALSE(d.overdue(at("2026-03-17T16:59:59Z")));
  CHECK(d.overdue(at("2026-03-17T17:00:00Z")));

  // A consent given by the patient opens none: only the emergency basis is reviewed.
  e.propose(bm_proposal("R-2", "2026-03-01T00:00:00Z", "P-OTHER"), "p2");
  consent_record given = good_consent();
  given.patient = patient_ref{"P-OTHER"};
  given.id = consent_ref{"C-OTHER"};
  e.record_consent(referral_id{"R-2"}, given, bm_coordinator(), withdrawn_at, "c2");
  CHECK(e.history(referral_id{"R-2"}).back().reason_code.empty());
  CHECK(e.duties().size() == 1);

  // The transfer the destination records on the same basis: the review is still the referring
  // hospital's, which provides the data; the destination's coordinator decided nothing there.
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-13T00:00:00Z")}, "a1");
  e.transfer(r1, emergency_consent(), sk_coordinator(), at("2026-03-16T00:00:00Z"), "t1");
  const duty t = review_of(e, "transfer");
  CHECK(t.responsible == bm);
  CHECK(t.decided_by == std::vector<user_id>{user_id{"dr-em-1"}});

  // The results the destination returns on it: Shonan Kamakura's review, on Japan's calendar.
  e.return_results(r1, emergency_consent(),
                   {sample_document("D-R1", document_kind::discharge_summary)}, sk_clinician(),
                   at("2026-04-28T01:00:00Z"), "r1");
  const duty r = review_of(e, "return_results");
  CHECK(r.responsible == sk);
  CHECK(r.rule == "JP-10");
  CHECK(r.decided_by == std::vector<user_id>{user_id{"dr-sk-1"}, user_id{"dr-em-1"}});
  // Tuesday 28 April 2026 in Kamakura: Golden Week's 29 April and 3-6 May are days off, so
  // Thursday 30 April, Friday 1 and Thursday 7 May.
  CHECK(r.complete_by == at("2026-05-08T00:00:00+09:00"));
  // A review is the responsible hospital's own: the other party is not notified of it.
  duty_query q;
  q.hospital = sk;
  CHECK(e.duties(q).size() == 1);
  q.hospital = bm;
  CHECK(e.duties(q).size() == 2);
  CHECK(e.verify().intact);
}

TEST_CASE("a second clinician of the responsible hospital closes an emergency review",
          "[engine][duties][emergency][VN-17][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, emergency_consent(), bm_coordinator(), withdrawn_at, "c1");
  const duty d = only_duty(e);
  const referral_snapshot before = e.get(r1);
  const auto rows = e.audit_rows();
  const instant later = at("2026-03-13T02:00:00Z");

  SECTION("refusals change nothing but the audit row, and say what would be valid") {
    const auto refused = [&](const actor& by, instant when, const std::string& key) {
      return caught(
          [&] { e.review_emergency(r1, d.id, review_finding::justified, by, when, key); });
    };
    error err = refused(bm_coordinator(), later, "k1");
    CHECK(err.code() == errc::permission_denied);
    CHECK_THAT(err.what(), Contains("is reviewed by a clinician, not a coordinator"));
    err = refused({bm, actor_role::clinician, user_id{"dr-em-1"}}, later, "k2");
    CHECK(err.code() == errc::permission_denied);
    CHECK_THAT(err.what(), Contains("second clinician") &&
                               Contains("another clinician of bach-mai reviews it"));
    err = refused({bm, actor_role::clinician, user_id{}}, later, "k3");
    CHECK(err.code() == errc::permission_denied);
    CHECK_THAT(err.what(), Contains("named clinician"));
    err = refused(sk_clinician(), later, "k4");
    CHECK(err.code() == errc::permission_denied);
    CHECK_THAT(err.what(), Contains("is bach-mai's to record, not shonan-kamakura's"));
    err = refused(bm_second_clinician, at("2026-03-12T02:59:59Z"), "k5");
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("cannot be reviewed at 2026-03-12T02:59:59Z, before it was "
                                    "created"));
    err = caught(
        [&] { e.record_duty(r1, d.id, duty_step::completed, bm_second_clinician, later, "k6"); });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("is an emergency review") && Contains("review_emergency"));
    err = caught([&] {
      e.review_emergency(r1, d.id + 1, review_finding::justified, bm_second_clinician, later, "k7");
    });
    CHECK(err.code() == errc::not_found);
    CHECK(e.audit_rows() == rows + 7);
    CHECK(e.get(r1) == before);
    CHECK(only_duty(e).open());
    CHECK(e.verify().intact);
  }

  SECTION("reviewed once, with its finding; the referral does not change") {
    CHECK(e.review_emergency(r1, d.id, review_finding::not_justified, bm_second_clinician, later,
                             "k1") == before);
    CHECK(e.get(r1) == before);
    CHECK(e.audit_rows() == rows + 1);
    const duty now = only_duty(e);
    CHECK_FALSE(now.open());
    CHECK(now.completed_at == later);
    CHECK(now.completed_seq == rows + 1);
    CHECK(now.finding == review_finding::not_justified);
    CHECK(now.reviewer == user_id{"dr-bm-2"});
    CHECK_FALSE(now.overdue(at("2026-04-01T00:00:00Z")));
    const auto history = e.history(r1);
    CHECK(history.back().command == "review_emergency");
    CHECK(json::parse(history.back().details) ==
          json{{"duty", d.id}, {"finding", "not_justified"}});
    // The same key answers from the log; another is refused, naming the review.
    CHECK(e.review_emergency(r1, d.id, review_finding::not_justified, bm_second_clinician, later,
                             "k1") == before);
    CHECK(e.audit_rows() == rows + 1);
    const error err = caught([&] {
      e.review_emergency(r1, d.id, review_finding::justified,
                         {bm, actor_role::clinician, user_id{"dr-bm-3"}}, later, "k2");
    });
    CHECK(err.code() == errc::already_exists);
    CHECK_THAT(err.what(),
               Contains("was already reviewed at 2026-03-13T02:00:00Z (not_justified)"));
    CHECK(e.verify().intact);
  }
}

TEST_CASE("a withdrawal's duty is not reviewed, and the review period is an engine option",
          "[engine][duties][emergency]") {
  temp_db db;
  {
    engine_options o = paperwork_on_file();
    o.emergency_review_days = 0;
    const error err = caught([&] { open_engine(db.path(), o); });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("engine_options.emergency_review_days") &&
                               Contains("give 1 to 30 working days"));
  }
  engine_options o = paperwork_on_file();
  o.emergency_review_days = 5;
  engine e = open_engine(db.path(), o);
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, emergency_consent(), bm_coordinator(), withdrawn_at, "c1");
  // Five working days from Thursday 12 March: Thursday 19 March.
  CHECK(only_duty(e).complete_by == at("2026-03-20T00:00:00+07:00"));
  e.apply(r1, event::withdraw_consent{bm_coordinator(), at("2026-03-12T04:00:00Z")}, "w1");
  duty_query q;
  q.open_only = false;
  const auto all = e.duties(q);
  REQUIRE(all.size() == 2);
  CHECK(all[1].kind == duty_kind::withdrawal);
  const error err = caught([&] {
    e.review_emergency(r1, all[1].id, review_finding::justified, bm_second_clinician,
                       at("2026-03-13T00:00:00Z"), "k1");
  });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("is a duty of kind withdrawal, not an emergency review"));
  namespace kt = kakehashi::testing;
  CHECK(kt::due(duty_kind::emergency_review, "VN", "2026-03-12T10:00:00+07:00", "",
                "2026-03-18T00:00:00+07:00"));
  CHECK_FALSE(
      deadlines_for(duty_kind::emergency_review, "VN", withdrawn_at, nullptr, 31).complete_by);
}
