// Milestones before the journey (issue 16, item 3): recorded by either hospital after
// acceptance, each once; the agreement's required milestones gate the transfer.

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/milestone.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/caught.hpp"
#include "support/engine_fixture.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

instant at(const char* t) { return parse_instant(t); }

// The seed agreements with the Bach Mai MoU requiring the visa and the travel before transfer.
agreement_directory requiring_milestones() {
  return with_bach_mai_terms([](agreement& a) {
    a.required_milestones = {milestone::medical_visa_issued, milestone::travel_arranged};
  });
}

}  // namespace

TEST_CASE("milestone names go both ways", "[milestone]") {
  for (const auto m : all_milestones()) CHECK(parse_milestone(to_string(m)) == m);
  CHECK_FALSE(parse_milestone("visa"));
  CHECK(milestone_names() ==
        "treatment_plan_accepted, cost_estimate_accepted, guarantor_confirmed, "
        "medical_visa_issued, travel_arranged, escort_arranged");
}

TEST_CASE("the transfer waits for the milestones the agreement requires",
          "[engine][milestone][backends]") {
  temp_db db;
  engine e = engine::open(db.path(), requiring_milestones(), consent_policy::standard(),
                          paperwork_on_file());
  const referral_id r1{"R-1"};
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  const auto record = [&](const actor& by, milestone m, const char* when, const std::string& key) {
    return e.apply(r1, event::record_milestone{by, at(when), m}, key);
  };
  // Before acceptance there is no journey to prepare.
  error err = caught(
      [&] { record(bm_coordinator(), milestone::travel_arranged, "2026-03-01T02:00:00Z", "m0"); });
  CHECK(err.code() == errc::failed_precondition);
  CHECK_THAT(err.what(), Contains("event 'record_milestone' by 'bach-mai' is not allowed in "
                                  "state 'consent_recorded'"));
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");

  // Nothing recorded: the transfer is refused naming both; nothing changes.
  const referral_snapshot accepted = e.get(r1);
  const auto rows = e.audit_rows();
  const auto transfer = [&](const char* when, const std::string& key) {
    return e.transfer(r1, good_consent(), sk_coordinator(), at(when), key);
  };
  err = caught([&] { transfer("2026-03-03T00:00:00Z", "t1"); });
  CHECK(err.code() == errc::failed_precondition);
  CHECK(std::string(err.what()) ==
        "[kakehashi.failed_precondition] referral R-1: cannot be transferred: the agreement "
        "mou-bach-mai-shonan-kamakura-2025 requires milestones that are not recorded: "
        "medical_visa_issued, travel_arranged; either hospital records them (record_milestone) "
        "before the journey");
  CHECK(e.get(r1) == accepted);
  CHECK(e.audit_rows() == rows + 1);
  CHECK(json::parse(e.history(r1).back().details)["missing_milestones"] ==
        json::array({"medical_visa_issued", "travel_arranged"}));

  // The destination records the visa (it is the guarantor's side), the origin the travel; each
  // once; a hospital that is not a party may not.
  CHECK(record(sk_coordinator(), milestone::medical_visa_issued, "2026-03-04T00:00:00Z", "m1")
            .version == accepted.version + 1);
  err = caught([&] {
    record(bm_coordinator(), milestone::medical_visa_issued, "2026-03-04T01:00:00Z", "m2");
  });
  CHECK(err.code() == errc::already_exists);
  CHECK_THAT(err.what(), Contains("referral R-1 milestone medical_visa_issued: was recorded "
                                  "already (by 'shonan-kamakura' at 2026-03-04T00:00:00Z"));
  err = caught([&] {
    e.apply(r1,
            event::record_milestone{{hospital_id{"k-hospital"}, actor_role::coordinator, {}},
                                    at("2026-03-04T02:00:00Z"),
                                    milestone::travel_arranged},
            "m3");
  });
  CHECK(err.code() == errc::permission_denied);
  milestone_checklist c = e.milestones(r1);
  CHECK(c.missing == std::vector<milestone>{milestone::travel_arranged});
  REQUIRE(c.recorded.size() == 1);
  CHECK(c.recorded[0].by.organisation == sk);
  err = caught([&] { transfer("2026-03-05T00:00:00Z", "t2"); });
  CHECK_THAT(err.what(), Contains("requires milestones that are not recorded: travel_arranged;"));

  record(bm_coordinator(), milestone::travel_arranged, "2026-03-06T00:00:00Z", "m4");
  // A milestone the agreement does not require may be recorded too.
  record(bm_coordinator(), milestone::escort_arranged, "2026-03-06T01:00:00Z", "m5");
  c = e.milestones(r1);
  CHECK(c.complete());
  CHECK(c.recorded.size() == 3);
  CHECK(transfer("2026-03-10T00:00:00Z", "t3").state == referral_state::transferred);
  // After arrival the journey is over.
  err = caught([&] {
    record(bm_coordinator(), milestone::cost_estimate_accepted, "2026-03-11T00:00:00Z", "m6");
  });
  CHECK(err.code() == errc::failed_precondition);

  CHECK(e.verify().intact);
  if (db.schema().empty()) {
    const auto view = database_view::open(db.path());
    const auto listed = view.milestones(r1);
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].milestone == milestone::medical_visa_issued);
    CHECK(listed[2].milestone == milestone::escort_arranged);
  }
}

TEST_CASE("without required milestones the transfer reads none", "[engine][milestone]") {
  temp_db db;
  engine e = open_engine(db.path());
  const referral_id r1{"R-1"};
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");
  CHECK(e.milestones(r1).required.empty());
  CHECK(e.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1").state ==
        referral_state::transferred);
}
