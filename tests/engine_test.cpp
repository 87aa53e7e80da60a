#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/testing.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/caught.hpp"
#include "support/engine_fixture.hpp"
#include "support/fault_vfs.hpp"
#include "support/raw_database.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace kt = kakehashi::testing;

namespace {

instant at(const char* t) { return parse_instant(t); }

// Walks a referral to `accepted`.
void to_accepted(engine& e, const std::string& id = "R-1",
                 const std::optional<consent_record>& consent = std::nullopt) {
  e.propose(bm_proposal(id), id + "-propose");
  e.record_consent(referral_id{id}, consent ? *consent : good_consent(id), bm_coordinator(),
                   at("2026-03-01T01:00:00Z"), id + "-consent");
  e.apply(referral_id{id}, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")},
          id + "-accept");
}

}  // namespace

TEST_CASE("a referral goes its whole way through the engine and the log verifies",
          "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  to_accepted(e);
  e.transfer(referral_id{"R-1"}, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"),
             "k4");
  const auto done = e.apply(referral_id{"R-1"},
                            event::complete{sk_clinician(), at("2026-04-01T00:00:00Z")}, "k5");
  CHECK(done.state == referral_state::closed);
  CHECK(done.reason == close_reason::completed);
  CHECK(done.version == 5);
  const auto h = e.history(referral_id{"R-1"});
  REQUIRE(h.size() == 5);
  CHECK(h[0].command == "propose");
  CHECK(h[0].state_before.empty());
  CHECK(h[0].state_after == "proposed");
  CHECK(h[4].state_after == "closed:completed");
  CHECK(h[4].reason_code == "completed");
  for (const auto& row : h) CHECK(row.outcome == audit_outcome::success);
  CHECK(h[1].prev_hash == h[0].hash);
  const auto details = nlohmann::json::parse(h[0].details);
  CHECK(details["agreement"] == "mou-bach-mai-shonan-kamakura-2025");
  const auto v = e.verify();
  CHECK(v.intact);
  CHECK(v.rows == 5);
  CHECK(v.referrals == 1);
  CHECK(v.head_hash == h[4].hash);
}

TEST_CASE("every refused command changes nothing and is audited as a refused attempt",
          "[engine][error][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  const consent_record short_lived = kt::valid_consent().valid_until("2026-03-05T00:00:00Z");
  to_accepted(e, "R-1", short_lived);
  const referral_snapshot before = e.get(referral_id{"R-1"});
  struct refusal {
    const char* name;
    std::function<void()> command;
    errc code;
    const char* message;
    audit_outcome outcome;
  };
  const std::vector<refusal> cases{
      {"a destination that is not eligible",
       [&] {
         proposal p = bm_proposal("R-2");
         p.origin = hospital_id{"k-hospital"};
         p.by = {hospital_id{"k-hospital"}, actor_role::coordinator, {}};
         e.propose(p, "r-not-eligible");
       },
       errc::not_eligible,
       "[kakehashi.not_eligible] referral R-2: 'shonan-kamakura' is not eligible for 'cardiology' "
       "from 'k-hospital' at 2026-03-01T00:00:00Z: agreement 'mou-k-hospital-shonan-kamakura-2025' "
       "covers referral for oncology, not 'cardiology'",
       audit_outcome::serious_failure},
      {"an unknown destination",
       [&] {
         proposal p = bm_proposal("R-3");
         p.destination = hospital_id{"nowhere"};
         e.propose(p, "r-unknown-dest");
       },
       errc::not_found,
       "proposal.destination: hospital 'nowhere' is not in the agreements directory",
       audit_outcome::minor_failure},
      {"a referral id that exists", [&] { e.propose(bm_proposal("R-1"), "r-dup"); },
       errc::already_exists, "referral R-1: exists already", audit_outcome::minor_failure},
      {"a second open referral for the same patient, specialty and destination",
       [&] { e.propose(bm_proposal("R-4", "2026-03-03T00:00:00Z", "P-TEST-1"), "r-twice"); },
       errc::already_exists,
       "[kakehashi.already_exists] referral R-4: duplicates open referral R-1 (the same patient, "
       "specialty and destination); follow the open referral, or close it before proposing again",
       audit_outcome::minor_failure},
      {"a coordinator accepting",
       [&] {
         e.apply(referral_id{"R-1"}, event::decline{sk_coordinator(), at("2026-03-03T00:00:00Z")},
                 "r-state");
       },
       errc::failed_precondition, "is not allowed in state 'accepted'",
       audit_outcome::minor_failure},
      {"the wrong hospital",
       [&] {
         e.apply(referral_id{"R-1"}, event::cancel{sk_clinician(), at("2026-03-03T00:00:00Z")},
                 "r-rights");
       },
       errc::permission_denied, "only the referring hospital may fire it",
       audit_outcome::minor_failure},
      {"a transfer with another consent",
       [&] {
         const consent_record other =
             kt::valid_consent().id("C-OTHER").valid_until("2026-03-05T00:00:00Z");
         e.transfer(referral_id{"R-1"}, other, sk_coordinator(), at("2026-03-03T00:00:00Z"),
                    "r-consent-mismatch");
       },
       errc::consent_blocked,
       "consent C-OTHER is not the consent recorded for the referral (C-TEST-1)",
       audit_outcome::serious_failure},
      {"a transfer with the recorded consent altered",
       [&] {
         const consent_record altered =
             kt::valid_consent().valid_until("2026-03-05T00:00:00Z").excluding({"imaging"});
         e.transfer(referral_id{"R-1"}, altered, sk_coordinator(), at("2026-03-03T00:00:00Z"),
                    "r-consent-altered");
       },
       errc::consent_blocked, "is not the consent recorded", audit_outcome::serious_failure},
      {"a transfer the consent policy blocks",
       [&] {
         e.transfer(referral_id{"R-1"}, short_lived, sk_coordinator(), at("2026-03-10T00:00:00Z"),
                    "r-policy");
       },
       errc::consent_blocked,
       "the consent policy blocks the transfer: STD-04 FHIR_PERIOD_EXPIRED (consent C-TEST-1 was "
       "valid until 2026-03-05T00:00:00Z",
       audit_outcome::serious_failure},
      {"an unknown referral",
       [&] {
         e.apply(referral_id{"R-404"}, event::accept{sk_clinician(), at("2026-03-03T00:00:00Z")},
                 "r-404");
       },
       errc::not_found, "referral R-404: no such referral", audit_outcome::minor_failure},
      {"transfer through apply",
       [&] {
         e.apply(referral_id{"R-1"}, event::transfer{sk_coordinator(), at("2026-03-03T00:00:00Z")},
                 "r-apply-transfer");
       },
       errc::invalid_argument, "'transfer' needs the consent record", audit_outcome::minor_failure},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto rows = e.audit_rows();
    const error err = caught(c.command);
    CHECK(err.code() == c.code);
    CHECK_THAT(err.what(), Contains(c.message));
    CHECK(e.get(referral_id{"R-1"}) == before);
    CHECK(e.list().size() == 1);
    REQUIRE(e.audit_rows() == rows + 1);
  }
  // Each refusal is in the log with its outcome and reason code; the log still verifies.
  CHECK(e.verify().intact);
  const auto h = e.history(referral_id{"R-1"});
  CHECK(h.back().outcome == audit_outcome::minor_failure);
  CHECK(h.back().reason_code == "invalid_argument");
  CHECK(h.back().state_before == "accepted");
  CHECK(h.back().state_after == "accepted");
}

TEST_CASE("record_consent is refused with the findings when the policy blocks",
          "[engine][error][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1"), "p1");
  const consent_record no_request = kt::valid_consent().without_written_request();
  const error err = caught([&] {
    e.record_consent(referral_id{"R-1"}, no_request, bm_coordinator(), at("2026-03-01T01:00:00Z"),
                     "c1");
  });
  CHECK(err.code() == errc::consent_blocked);
  CHECK_THAT(err.what(), Contains("VN-09 VN_ART26_2_WRITTEN_REQUEST_MISSING"));
  CHECK(e.get(referral_id{"R-1"}).state == referral_state::proposed);
  const auto h = e.history(referral_id{"R-1"});
  REQUIRE(h.size() == 2);
  CHECK(h[1].outcome == audit_outcome::serious_failure);
  CHECK_THAT(h[1].details, Contains("\"rule\":\"VN-09\""));
  // A consent for another patient is refused as such.
  const consent_record other_patient = kt::valid_consent();
  e.propose(bm_proposal("R-2", "2026-03-01T00:00:00Z", "P-OTHER"), "p2");
  CHECK_THROWS_WITH(e.record_consent(referral_id{"R-2"}, other_patient, bm_coordinator(),
                                     at("2026-03-01T01:00:00Z"), "c2"),
                    Contains("consent C-TEST-1 is for another patient"));
}

TEST_CASE("an accepted referral takes a replacement consent, and the transfer checks the newest",
          "[engine][consent][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  // A consent that allows acceptance but has lapsed by the day of the journey.
  const consent_record lapsing = kt::valid_consent().valid_until("2026-03-05T00:00:00Z").build();
  to_accepted(e, "R-1", lapsing);
  const error blocked = caught([&] {
    e.transfer(referral_id{"R-1"}, lapsing, sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1");
  });
  CHECK(blocked.code() == errc::consent_blocked);
  CHECK_THAT(blocked.what(), Contains("record a consent that satisfies these rules"));
  // The refusal's hint can be followed: the referring hospital records a new consent.
  const consent_record renewed = kt::valid_consent().id("C-TEST-2").build();
  const auto replaced = e.record_consent(referral_id{"R-1"}, renewed, bm_coordinator(),
                                         at("2026-03-10T01:00:00Z"), "c2");
  CHECK(replaced.state == referral_state::accepted);
  CHECK(replaced.consent == consent_ref{"C-TEST-2"});
  CHECK(replaced.version == 4);
  const auto h = e.history(referral_id{"R-1"});
  REQUIRE(h.size() == 5);  // propose, consent, accept, the refused transfer, the replacement
  CHECK(h[4].command == "record_consent");
  CHECK(h[4].state_before == "accepted");
  CHECK(h[4].state_after == "accepted");
  const auto details = nlohmann::json::parse(h[4].details);
  CHECK(details["replaces"] == "C-TEST-1");
  CHECK(details["consent"] == "C-TEST-2");
  // The old consent is no longer the one recorded; a replacement the policy blocks is refused
  // and changes nothing.
  CHECK(caught([&] {
          e.transfer(referral_id{"R-1"}, lapsing, sk_coordinator(), at("2026-03-11T00:00:00Z"),
                     "t2");
        }).code() == errc::consent_blocked);
  const consent_record no_request =
      kt::valid_consent().id("C-TEST-3").without_written_request().build();
  CHECK(caught([&] {
          e.record_consent(referral_id{"R-1"}, no_request, bm_coordinator(),
                           at("2026-03-11T00:00:00Z"), "c3");
        }).code() == errc::consent_blocked);
  CHECK(e.get(referral_id{"R-1"}).consent == consent_ref{"C-TEST-2"});
  CHECK(e.get(referral_id{"R-1"}).version == 4);
  // Only the destination's rights are unchanged: the destination cannot record a consent.
  CHECK(caught([&] {
          e.record_consent(referral_id{"R-1"}, renewed, sk_coordinator(),
                           at("2026-03-11T00:00:00Z"), "c4");
        }).code() == errc::permission_denied);
  const auto done =
      e.transfer(referral_id{"R-1"}, renewed, sk_coordinator(), at("2026-03-12T00:00:00Z"), "t3");
  CHECK(done.state == referral_state::transferred);
  // Replay (verify) reaches the same referral.
  const verify_result v = e.verify();
  CHECK(v.intact);
  CHECK(v.referrals == 1);
}

TEST_CASE("a repeated command returns the first result and writes nothing", "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  const auto first = e.propose(bm_proposal("R-1"), "key-1");
  const auto rows = e.audit_rows();
  const auto again = e.propose(bm_proposal("R-1"), "key-1");
  CHECK(again == first);
  CHECK(e.audit_rows() == rows);
  // The first result, even after the referral moved on.
  e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"),
                   "key-2");
  CHECK(e.propose(bm_proposal("R-1"), "key-1") == first);
  // A refusal repeats as the same refusal, still writing nothing.
  const auto refused = [&] {
    e.apply(referral_id{"R-1"}, event::complete{sk_clinician(), at("2026-03-02T00:00:00Z")},
            "key-3");
  };
  const std::string message = caught(refused).what();
  const auto rows2 = e.audit_rows();
  const error twice = caught(refused);
  CHECK(twice.code() == errc::failed_precondition);
  CHECK(std::string(twice.what()) == message);
  CHECK(e.audit_rows() == rows2);
  // The same key for another command is refused without writing.
  const error reuse = caught([&] {
    e.apply(referral_id{"R-1"}, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "key-1");
  });
  CHECK(reuse.code() == errc::already_exists);
  CHECK_THAT(reuse.what(), Contains("idempotency key key-1: was used for propose on referral R-1"));
  CHECK(e.audit_rows() == rows2);
  // A malformed key is refused before anything happens.
  CHECK_THROWS_WITH(e.propose(bm_proposal("R-9"), "bad key"),
                    Contains("[kakehashi.invalid_argument] idempotency_key: 'bad key'"));
  CHECK(e.audit_rows() == rows2);
}

TEST_CASE("a storage failure in the middle of a command leaves nothing behind", "[engine][error]") {
  temp_db db;
  {
    engine e = open_engine(db.path());
    e.propose(bm_proposal("R-1"), "p1");
  }
  {
    SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
    raw.exec(
        "CREATE TRIGGER boom BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT,'injected'); END");
  }
  engine e = open_engine(db.path());
  const referral_snapshot before = e.get(referral_id{"R-1"});
  const auto rows = e.audit_rows();
  const error err = caught([&] {
    e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                     at("2026-03-01T01:00:00Z"), "c1");
  });
  CHECK(err.code() == errc::storage);
  CHECK_THAT(err.what(), Contains("injected"));
  CHECK_THAT(err.what(), Contains("nothing was applied"));
  CHECK(e.get(referral_id{"R-1"}) == before);
  CHECK(e.audit_rows() == rows);
  {
    SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
    CHECK(raw.execAndGet("SELECT count(*) FROM audit WHERE idempotency_key = 'c1'").getInt() == 0);
    raw.exec("DROP TRIGGER boom");
  }
  // After the fault, the same command with the same key succeeds.
  CHECK(e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                         at("2026-03-01T01:00:00Z"), "c1")
            .state == referral_state::consent_recorded);
  CHECK(e.verify().intact);
}

TEST_CASE("a second engine on the same file continues every referral where it stood",
          "[engine][backends]") {
  temp_db db;
  {
    engine e = open_engine(db.path());
    to_accepted(e, "R-1");
    e.propose(bm_proposal("R-2"), "R-2-propose");
  }
  engine e = open_engine(db.path());
  CHECK(e.get(referral_id{"R-1"}).state == referral_state::accepted);
  CHECK(e.get(referral_id{"R-2"}).state == referral_state::proposed);
  e.transfer(referral_id{"R-1"}, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"), "t");
  CHECK(e.get(referral_id{"R-1"}).state == referral_state::transferred);
  CHECK(e.verify().intact);
}

TEST_CASE("a batch commits its commands together, or none of them", "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.batch([&] {
    for (int i = 0; i < 5; ++i)
      e.propose(bm_proposal("R-" + std::to_string(i)), "b" + std::to_string(i));
  });
  CHECK(e.list().size() == 5);
  CHECK_THROWS_AS(e.batch([&] {
    e.propose(bm_proposal("R-10"), "b10");
    throw std::runtime_error("the importer gave up");
  }),
                  std::runtime_error);
  CHECK_FALSE(e.find(referral_id{"R-10"}).has_value());
  // A refused command inside a batch is undone alone; its refusal row stays.
  const auto rows = e.audit_rows();
  e.batch([&] {
    e.propose(bm_proposal("R-11"), "b11");
    CHECK_THROWS_AS(e.propose(bm_proposal("R-11"), "b11-dup"), error);
    e.propose(bm_proposal("R-12"), "b12");
  });
  CHECK(e.list().size() == 7);
  CHECK(e.audit_rows() == rows + 3);
  CHECK(e.verify().intact);
}

TEST_CASE("the sweep expires referrals the destination did not answer in time",
          "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1", "2026-03-01T00:00:00Z"), "p1");
  e.propose(bm_proposal("R-2", "2026-03-10T00:00:00Z"), "p2");
  to_accepted(e, "R-3");  // answered: never expires
  const actor sweeper{sk, actor_role::system, user_id{"sweeper"}};
  CHECK(e.overdue(at("2026-03-14T23:59:59Z")).empty());
  CHECK(e.overdue(at("2026-03-15T00:00:00Z")).size() == 1);
  const auto expired = e.expire_overdue(sweeper, at("2026-03-20T00:00:00Z"));
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == referral_id{"R-1"});
  CHECK(e.get(referral_id{"R-1"}).reason == close_reason::expired);
  CHECK(e.get(referral_id{"R-2"}).state == referral_state::proposed);
  // Sweeping again changes nothing.
  CHECK(e.expire_overdue(sweeper, at("2026-03-20T00:00:00Z")).empty());
  CHECK(e.verify().intact);
}

// Found by fuzz/engine_fuzz.cpp: a sweep at an instant before an overdue referral's last change
// (its consent was recorded after the deadline, later than the sweep's clock) threw the expiry's
// time-order refusal out of expire_overdue(), after the referrals before it had been expired.
TEST_CASE("the sweep skips what it may not expire and never stops half-way", "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1", "2026-03-01T00:00:00Z"), "p1");
  e.propose(bm_proposal("R-2", "2026-03-01T00:00:00Z"), "p2");
  // R-2's consent arrives after its deadline (2026-03-15), at 09:00 on the 16th.
  e.record_consent(referral_id{"R-2"}, good_consent("R-2"), bm_coordinator(),
                   at("2026-03-16T09:00:00Z"), "c2");
  const actor sweeper{sk, actor_role::system, user_id{"sweeper"}};
  const auto rows = e.audit_rows();
  // A sweep whose clock reads 07:00 on the 16th: R-1 expires, R-2 waits, nothing is thrown.
  const auto expired = e.expire_overdue(sweeper, at("2026-03-16T07:00:00Z"));
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].id == referral_id{"R-1"});
  CHECK(e.get(referral_id{"R-2"}).state == referral_state::consent_recorded);
  CHECK(e.audit_rows() == rows + 1);
  // The next sweep expires it.
  CHECK(e.expire_overdue(sweeper, at("2026-03-16T18:00:00Z")).size() == 1);
  CHECK(e.get(referral_id{"R-2"}).reason == close_reason::expired);
  CHECK(e.verify().intact);
}

TEST_CASE("the sweep acts for its own hospital, as the system", "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  e.propose(bm_proposal("R-1", "2026-03-01T00:00:00Z"), "p1");
  const auto rows = e.audit_rows();
  const error wrong_role = caught([&] {
    (void)e.expire_overdue({sk, actor_role::clinician, user_id{"dr"}}, at("2026-03-20T00:00:00Z"));
  });
  CHECK(wrong_role.code() == errc::permission_denied);
  CHECK_THAT(wrong_role.what(), Contains("clinician") && Contains("role system"));
  // Another hospital's sweep leaves the referral to its parties.
  CHECK(e.expire_overdue({hospital_id{"k-hospital"}, actor_role::system, user_id{}},
                         at("2026-03-20T00:00:00Z"))
            .empty());
  CHECK(e.audit_rows() == rows);
  CHECK(e.get(referral_id{"R-1"}).state == referral_state::proposed);
}

TEST_CASE("queries by id, state, hospital and history", "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  to_accepted(e, "R-1");
  e.propose(bm_proposal("R-2"), "p2");
  CHECK(e.list(referral_state::accepted).size() == 1);
  CHECK(e.list(referral_state::proposed).size() == 1);
  CHECK(e.list().size() == 2);
  CHECK(e.by_hospital(sk).size() == 2);
  CHECK(e.by_hospital(hospital_id{"k-hospital"}).empty());
  CHECK_FALSE(e.find(referral_id{"R-404"}).has_value());
  CHECK_THROWS_WITH(e.get(referral_id{"R-404"}), Contains("[kakehashi.not_found] referral R-404"));
  CHECK(e.history(referral_id{"R-1"}).size() == 3);
}

TEST_CASE("a file that is not a kakehashi database is refused and left untouched",
          "[engine][error]") {
  temp_db db;
  SECTION("another application's SQLite database") {
    {
      SQLite::Database other(db.path(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      other.exec("CREATE TABLE patients(name TEXT)");
    }
    const std::string bytes = slurp(db.path());
    const error err = caught([&] { open_engine(db.path()); });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains("is an SQLite database but not a kakehashi one"));
    CHECK(slurp(db.path()) == bytes);
  }
  SECTION("a newer schema") {
    { open_engine(db.path()); }
    {
      SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
      raw.exec("PRAGMA user_version = 99");
    }
    const std::string bytes = slurp(db.path());
    const error err = caught([&] { open_engine(db.path()); });
    CHECK(err.code() == errc::failed_precondition);
    CHECK_THAT(err.what(), Contains("has schema version 99, newer than this library's " +
                                    std::to_string(current_schema)));
    CHECK(slurp(db.path()) == bytes);
  }
  SECTION(
      "a negative schema version (found by fuzz/database_fuzz.cpp: it indexed the migrations "
      "with it)") {
    { open_engine(db.path()); }
    {
      SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
      raw.exec("PRAGMA user_version = -15");
    }
    const std::string bytes = slurp(db.path());
    for (const auto& open : std::vector<std::function<void()>>{
             [&] { open_engine(db.path()); }, [&] { (void)database_view::open(db.path()); }}) {
      const error err = caught(open);
      CHECK(err.code() == errc::invalid_argument);
      CHECK_THAT(err.what(), Contains("has schema version -15, which no kakehashi release writes"));
      CHECK(slurp(db.path()) == bytes);
    }
  }
  SECTION("not a database at all") {
    {
      std::ofstream out(db.path());
      out << "hello, this is a text file and not a database; nothing to see here";
    }
    const std::string bytes = slurp(db.path());
    // Bad input (the wrong file), not a storage failure: the tool exits 2 for it, not 4.
    for (const auto& open : std::vector<std::function<void()>>{
             [&] { open_engine(db.path()); }, [&] { (void)database_view::open(db.path()); }}) {
      const error err = caught(open);
      CHECK(err.code() == errc::invalid_argument);
      CHECK_THAT(err.what(), Contains("is not an SQLite database"));
      CHECK(slurp(db.path()) == bytes);
    }
  }
}

TEST_CASE("a version 1 database is read as it is and migrated by an engine", "[engine][schema]") {
  temp_db db;
  {
    auto e = open_engine(db.path());
    (void)e.propose(bm_proposal("R-V1"), "k-v1");
  }
  {
    // Version 1 as released: the capacity index without close_reason, no patient index.
    SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
    raw.exec(back_to_version_4(false));
    raw.exec("DROP INDEX referral_patient");
    raw.exec("DROP INDEX referral_destination");
    raw.exec("CREATE INDEX referral_destination ON referral(destination, specialty, proposed_at)");
    raw.exec("PRAGMA user_version = 1");
  }
  const auto index_sql = [&] {
    SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
    return raw.execAndGet("SELECT sql FROM sqlite_master WHERE name = 'referral_destination'")
        .getString();
  };
  {
    auto view = database_view::open(db.path());  // read-only: no migration
    CHECK(view.find(referral_id{"R-V1"}));
    CHECK(view.verify().intact);
  }
  CHECK_THAT(index_sql(), !Contains("close_reason"));
  {
    auto e = open_engine(db.path());
    CHECK(e.get(referral_id{"R-V1"}).state == referral_state::proposed);
    CHECK(e.verify().intact);
    (void)e.propose(bm_proposal("R-V2", "2026-03-02T00:00:00Z", "P-TEST-2"), "k-v2");
  }
  CHECK_THAT(index_sql(), Contains("close_reason"));
  SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("PRAGMA user_version").getInt() == current_schema);
}

TEST_CASE("birth dates and names given to the library never reach the database or a message",
          "[engine][canary][backends]") {
  temp_db db;
  const std::string canary_name = "ZZCANARY-NGUYEN-VAN-A";
  const consent_record c = kt::valid_consent()
                               .born(date::year{1961} / 4 / 2)
                               .add_grantor(grantor_role::legal_representative, canary_name);
  std::vector<std::string> messages;
  {
    engine e = open_engine(db.path());
    e.propose(bm_proposal("R-1"), "p1");
    e.record_consent(referral_id{"R-1"}, c, bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
    const consent_record blocked = kt::valid_consent()
                                       .born(date::year{1961} / 4 / 2)
                                       .add_grantor(grantor_role::legal_representative, canary_name)
                                       .without_written_request();
    e.propose(bm_proposal("R-2"), "p2");
    try {
      e.record_consent(referral_id{"R-2"}, blocked, bm_coordinator(), at("2026-03-01T01:00:00Z"),
                       "c2");
    } catch (const error& err) {
      messages.emplace_back(err.what());
    }
    try {
      e.transfer(referral_id{"R-1"}, blocked, sk_coordinator(), at("2026-03-03T00:00:00Z"), "t1");
    } catch (const error& err) {
      messages.emplace_back(err.what());
    }
    REQUIRE(messages.size() == 2);
    // Everything the engine returns about R-1, too.
    for (const auto& row : e.history(referral_id{"R-1"})) messages.push_back(row.details);
  }
  std::string everything = stored_bytes(db.path());
  REQUIRE(everything.find("R-1") != std::string::npos);  // it read the stored rows
  for (const auto& m : messages) everything += m;
  for (const std::string& needle :
       {std::string("1961-04-02"), std::string("19610402"), canary_name}) {
    CAPTURE(needle);
    CHECK(everything.find(needle) == std::string::npos);
  }
}

TEST_CASE("an I/O error at commit is outcome_unknown, and a retry with the same key resolves it",
          "[engine][error]") {
  fault_vfs::install();
  for (const bool persistent : {false, true}) {
    CAPTURE(persistent);
    temp_db db;
    engine_options o = paperwork_on_file();
    o.vfs = "kakehashi-fault";
    engine e = open_engine(db.path(), o);
    e.propose(bm_proposal("R-1"), "p1");
    const auto rows = e.audit_rows();
    fault_vfs::fail_sync(0, persistent);  // the commit's WAL sync fails
    const error err = caught([&] {
      e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                       at("2026-03-01T01:00:00Z"), "c1");
    });
    fault_vfs::disarm();
    CHECK(err.code() == errc::outcome_unknown);
    CHECK_THAT(err.what(), Contains("retry the command with the same idempotency key"));
    // The retry tells: the command is there exactly once, whichever way the commit went.
    const auto after = e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                                        at("2026-03-01T01:00:00Z"), "c1");
    CHECK(after.state == referral_state::consent_recorded);
    CHECK(after.version == 2);
    CHECK(e.audit_rows() == rows + 1);
    CHECK(e.verify().intact);
  }
  CHECK(fault_vfs::faults_injected >= 2);
}

TEST_CASE("propose counts the destination's month against its capacity", "[engine][backends]") {
  temp_db db;
  auto dir = seed_agreements();
  auto agreements = dir.agreements();
  for (auto& a : agreements) {
    if (a.covers_specialty(specialty_code{"cardiology"})) {
      a.monthly_capacity[specialty_code{"cardiology"}] = 2;
    }
  }
  engine e = engine::open(db.path(), agreement_directory::from_values(dir.hospitals(), agreements),
                          consent_policy::standard(), paperwork_on_file());
  // Tokyo's March: from 2026-02-28T15:00Z to 2026-03-31T15:00Z.
  e.propose(bm_proposal("R-1", "2026-02-28T15:00:00Z"), "p1");
  e.propose(bm_proposal("R-2", "2026-03-31T14:59:59Z"), "p2");
  const error full = caught([&] { e.propose(bm_proposal("R-3", "2026-03-15T00:00:00Z"), "p3"); });
  CHECK(full.code() == errc::not_eligible);
  CHECK_THAT(full.what(),
             Contains("allows 2 'cardiology' referral(s) a month to 'shonan-kamakura'; "
                      "2 counted this month"));
  // A cancelled referral frees its place; the next month starts afresh.
  e.apply(referral_id{"R-1"}, event::cancel{bm_coordinator(), at("2026-03-16T00:00:00Z")}, "c1");
  CHECK(e.propose(bm_proposal("R-4", "2026-03-16T00:00:00Z"), "p4").state ==
        referral_state::proposed);
  CHECK(e.propose(bm_proposal("R-5", "2026-03-31T15:00:00Z"), "p5").state ==
        referral_state::proposed);
}

// ---------------------------------------------------------------------------------------------
// Issue 14, defect 9: the consent digest covers every field of the record (version 2); a
// referral recorded by kakehashi 0.1.0 keeps its version-1 digest.

namespace {

using edit = std::function<void(consent_record&)>;

// One change to each field of consent_record (a field added to the struct belongs here too).
std::vector<std::pair<const char*, edit>> every_field_changed() {
  const instant later = parse_instant("2026-01-20T00:00:00Z");
  return {
      {"patient", [](consent_record& c) { c.patient = patient_ref{"P-OTHER"}; }},
      {"controller", [](consent_record& c) { c.controller = hospital_id{"k-hospital"}; }},
      {"status", [](consent_record& c) { c.status = consent_status::draft; }},
      {"scope", [](consent_record& c) { c.scope = consent_scope::treatment; }},
      {"captured_at", [=](consent_record& c) { c.captured_at = c.captured_at - date::days{1}; }},
      {"valid_from", [=](consent_record& c) { c.valid_from = c.captured_at; }},
      {"valid_until",
       [=](consent_record& c) { c.valid_until = parse_instant("2027-06-01T00:00:00Z"); }},
      {"birth_date", [](consent_record& c) { c.birth_date = date::year{1960} / 1 / 1; }},
      {"age_verified", [](consent_record& c) { c.age_verified = !c.age_verified; }},
      {"capacity", [](consent_record& c) { c.capacity = capacity_status::restricted; }},
      {"capacity_assessed", [](consent_record& c) { c.capacity_assessed = !c.capacity_assessed; }},
      {"grantors.role", [](consent_record& c) { c.grantors.at(0).role = grantor_role::guardian; }},
      {"grantors.person", [](consent_record& c) { c.grantors.at(0).person = "someone-else"; }},
      {"grantors.authority_evidence",
       [](consent_record& c) { c.grantors.at(0).authority_evidence = "court order 12"; }},
      {"purposes", [](consent_record& c) { c.purposes.push_back("research"); }},
      {"recipients.organisation",
       [](consent_record& c) { c.recipients.at(0).organisation = hospital_id{"cho-ray"}; }},
      {"recipients.country", [](consent_record& c) { c.recipients.at(0).country = "KR"; }},
      {"recipients.healthcare_provider",
       [](consent_record& c) {
         c.recipients.at(0).healthcare_provider = !c.recipients.at(0).healthcare_provider;
       }},
      {"data_classes", [](consent_record& c) { c.data_classes.push_back("genomic"); }},
      {"excluded_classes", [](consent_record& c) { c.excluded_classes.push_back("imaging"); }},
      {"method", [](consent_record& c) { c.method = expression_method::checkbox; }},
      {"affirmative_action",
       [](consent_record& c) { c.affirmative_action = !c.affirmative_action; }},
      {"pre_ticked", [](consent_record& c) { c.pre_ticked = !c.pre_ticked; }},
      {"artifact_sha256", [](consent_record& c) { c.artifact_sha256 = std::string(64, 'f'); }},
      {"sensitive_data_notice",
       [](consent_record& c) { c.sensitive_data_notice = !c.sensitive_data_notice; }},
      {"complaint_mechanism_notice",
       [](consent_record& c) { c.complaint_mechanism_notice = !c.complaint_mechanism_notice; }},
      {"rights_notice", [](consent_record& c) { c.rights_notice = !c.rights_notice; }},
      {"recipient_acquisition_notice",
       [](consent_record& c) { c.recipient_acquisition_notice = !c.recipient_acquisition_notice; }},
      {"languages", [](consent_record& c) { c.languages.push_back("en"); }},
      {"japan_art28_2 (absent)", [](consent_record& c) { c.japan_art28_2.reset(); }},
      {"japan_art28_2.country", [](consent_record& c) { c.japan_art28_2.value().country = "TH"; }},
      {"japan_art28_2.country_unidentified_reason",
       [](consent_record& c) { c.japan_art28_2.value().country_unidentified_reason = "x"; }},
      {"japan_art28_2.country_system_info",
       [](consent_record& c) { c.japan_art28_2.value().country_system_info = "another edition"; }},
      {"japan_art28_2.recipient_measures_info",
       [](consent_record& c) { c.japan_art28_2.value().recipient_measures_info = "another one"; }},
      {"japan_art28_2.measures_unavailable_reason",
       [](consent_record& c) { c.japan_art28_2.value().measures_unavailable_reason = "x"; }},
      {"written_request (absent)", [](consent_record& c) { c.written_request.reset(); }},
      {"written_request.reference",
       [](consent_record& c) { c.written_request.value().reference = "WR-OTHER"; }},
      {"written_request.date",
       [](consent_record& c) { c.written_request.value().date = date::year{2026} / 1 / 2; }},
      {"written_request.recipient",
       [](consent_record& c) { c.written_request.value().recipient = hospital_id{"cho-ray"}; }},
      {"withdrawal",
       [=](consent_record& c) {
         c.withdrawal = consent_withdrawal{later, withdrawal_channel::verbal};
       }},
      {"emergency",
       [=](consent_record& c) {
         c.emergency = emergency_basis{"unconscious on arrival", user_id{"dr-x"}, later, true, ""};
       }},
      {"privacy_policies",
       [](consent_record& c) { c.privacy_policies.push_back("urn:oid:1.2.3.4.5.1"); }},
      {"treatment_decision",
       [](consent_record& c) {
         c.treatment_decision =
             treatment_decision{decision_maker_role::representative, "rep-1", "DOC-1"};
       }},
      {"treatment_decision.role",
       [](consent_record& c) {
         c.treatment_decision =
             treatment_decision{decision_maker_role::facility_lead, "rep-1", "DOC-1"};
       }},
  };
}

}  // namespace

TEST_CASE("a consent edited in any field is not the consent recorded",
          "[engine][consent][backends]") {
  temp_db db;
  auto e = open_engine(db.path());
  const consent_record recorded = good_consent();
  REQUIRE(recorded.japan_art28_2.has_value());
  REQUIRE(recorded.written_request.has_value());
  REQUIRE_FALSE(recorded.grantors.empty());
  REQUIRE_FALSE(recorded.recipients.empty());
  int n = 0;
  for (const auto& [field, change] : every_field_changed()) {
    CAPTURE(field);
    const std::string id = "R-D" + std::to_string(++n);
    const consent_record mine = good_consent(id);  // the toolkit's consent, for R-Dn's patient
    (void)e.propose(bm_proposal(id), id + ":1");
    (void)e.record_consent(referral_id{id}, mine, bm_coordinator(),
                           parse_instant("2026-03-01T01:00:00Z"), id + ":2");
    (void)e.apply(referral_id{id},
                  event::accept{sk_clinician(), parse_instant("2026-03-01T02:00:00Z")}, id + ":3");
    consent_record edited = mine;
    change(edited);
    const auto before = e.get(referral_id{id});
    try {
      (void)e.transfer(referral_id{id}, edited, sk_coordinator(),
                       parse_instant("2026-03-01T03:00:00Z"), id + ":4");
      FAIL("an edited consent passed as the recorded one");
    } catch (const error& err) {
      CHECK(err.code() == errc::consent_blocked);
      CHECK_THAT(err.what(), Contains("is not the consent recorded for the referral"));
    }
    CHECK(e.get(referral_id{id}) == before);
  }
  // The recorded consent itself still goes through.
  const auto done = e.transfer(referral_id{"R-D1"}, good_consent("R-D1"), sk_coordinator(),
                               parse_instant("2026-03-01T04:00:00Z"), "R-D1:5");
  CHECK(done.state == referral_state::transferred);
  const auto history = e.history(referral_id{"R-D1"});
  CHECK(history.at(1).details.find("\"digest\":\"2:") != std::string::npos);  // the version named
  CHECK(e.verify().intact);
}

TEST_CASE("a database written by release 0.1.0 is migrated and its consent digests still check",
          "[engine][schema][consent]") {
  temp_db db;
  {
    const std::string bytes =
        slurp(std::string(KAKEHASHI_SOURCE_DIR) + "/tests/data/release-0.1.0.db");
    std::ofstream(db.path(), std::ios::binary) << bytes;
  }
  const consent_record consent = load_consent_file(std::string(KAKEHASHI_SOURCE_DIR) +
                                                   "/data/consents/bach-mai-2026-complete.json");
  {
    const auto view = database_view::open(db.path());  // schema 2 is read as it is
    CHECK(view.verify().intact);
    CHECK(view.find(referral_id{"R-0.1-1"})->state == referral_state::accepted);
  }
  auto e = engine::open(
      db.path(),
      agreement_directory::load_file(std::string(KAKEHASHI_SOURCE_DIR) + "/data/agreements.json"),
      consent_policy::standard(), paperwork_on_file());
  {
    SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("PRAGMA user_version").getInt() == current_schema);
    CHECK(raw.execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'referral_patient'")
              .getInt() == 1);
    CHECK(raw.execAndGet("SELECT count(*) FROM sqlite_master WHERE name = 'referral_replaces'")
              .getInt() == 1);
  }
  const instant arrival = parse_instant("2026-03-10T01:00:00Z");
  // The same consent: its version-1 digest matches.
  CHECK(e.transfer(referral_id{"R-0.1-1"}, consent, sk_coordinator(), arrival, "t-1").state ==
        referral_state::transferred);
  // A field version 1 covered: refused.
  consent_record other = consent;
  other.languages.push_back("en");
  CHECK_THROWS_WITH(e.transfer(referral_id{"R-0.1-2"}, other, sk_coordinator(), arrival, "t-2"),
                    Contains("is not the consent recorded"));
  // A field only version 2 covers (the APPI Art. 28(2) information): a referral recorded under
  // version 1 cannot tell (docs/audit.md says so); one recorded now can (the test above).
  other = consent;
  other.japan_art28_2.value().country_system_info = "another summary";
  CHECK(e.transfer(referral_id{"R-0.1-2"}, other, sk_coordinator(), arrival, "t-3").state ==
        referral_state::transferred);
  CHECK(e.verify().intact);
}

TEST_CASE("the change feed numbers a hospital's events once and for all",
          "[engine][changes][backends]") {
  temp_db db;
  auto e = open_engine(db.path());
  const auto t = [](const char* s) { return parse_instant(s); };
  // proposed and consented by Bach Mai, refused then accepted by Shonan Kamakura.
  (void)e.propose(bm_proposal("R-1"), "k1");
  (void)e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                         t("2026-03-01T01:00:00Z"), "k2");
  CHECK_THROWS_AS(
      e.apply(referral_id{"R-1"}, event::accept{sk_coordinator(), t("2026-03-01T02:00:00Z")}, "k3"),
      error);
  (void)e.apply(referral_id{"R-1"}, event::accept{sk_clinician(), t("2026-03-01T03:00:00Z")}, "k4");
  (void)e.propose(bm_proposal("R-2", "2026-03-02T00:00:00Z"), "k5");

  change_query shonan{sk, 0, std::nullopt, 100, false};
  const auto feed = e.changes(shonan);  // what Bach Mai did: propose, consent, propose
  REQUIRE(feed.size() == 3);
  CHECK(feed[0].event == 1);
  CHECK(feed[0].row.command == "propose");
  CHECK(feed[1].row.command == "record_consent");
  CHECK(feed[2].event == 3);
  CHECK(feed[2].row.referral.value() == "R-2");
  // Bach Mai's feed without its own commands: the accept only (the refused one is not an event).
  const auto bach_mai = e.changes({bm, 0, std::nullopt, 100, false});
  REQUIRE(bach_mai.size() == 1);
  CHECK(bach_mai[0].row.command == "accept");
  CHECK(bach_mai[0].row.outcome == audit_outcome::success);
  // With its own: the four accepted commands on its referrals.
  CHECK(e.changes({bm, 0, std::nullopt, 100, true}).size() == 4);
  // After event 1, by counting or by the seq of event 1: the same events, the same numbers.
  const auto counted = e.changes({sk, 1, std::nullopt, 100, false});
  const auto from_seq = e.changes({sk, 1, feed[0].row.seq, 100, false});
  REQUIRE(counted.size() == 2);
  REQUIRE(from_seq.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(counted[i].event == from_seq[i].event);
    CHECK(counted[i].row.seq == from_seq[i].row.seq);
  }
  CHECK(e.changes({sk, 0, std::nullopt, 2, false}).size() == 2);  // the limit
  // A hospital that is party to nothing has no events; the view reads the same feed.
  CHECK(e.changes({hospital_id{"k-hospital"}, 0, std::nullopt, 100, true}).empty());
  e = open_engine(":memory:");
  CHECK(database_view::open(db.path()).changes(shonan).size() == 3);
}

TEST_CASE("a command can require a version and bind its key to a request",
          "[engine][options][backends]") {
  temp_db db;
  auto e = open_engine(db.path());
  (void)e.propose(bm_proposal("R-1"), "k1", {std::nullopt, "digest-of-propose"});
  (void)e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                         parse_instant("2026-03-01T01:00:00Z"), "k2");
  const auto accept = [&](std::optional<std::uint64_t> version, const std::string& key) {
    return e.apply(referral_id{"R-1"},
                   event::accept{sk_clinician(), parse_instant("2026-03-01T02:00:00Z")}, key,
                   {version, ""});
  };
  SECTION("a stale version is refused in the command's transaction, and audited") {
    const auto before = e.get(referral_id{"R-1"});
    const auto rows = e.audit_rows();
    CHECK_THROWS_WITH(accept(1, "k3"),
                      Contains("[kakehashi.failed_precondition] referral R-1: is at "
                               "version 2, not the expected 1"));
    CHECK(e.get(referral_id{"R-1"}) == before);
    CHECK(e.audit_rows() == rows + 1);
    CHECK(accept(2, "k4").state == referral_state::accepted);
  }
  SECTION("a key repeated with another request is refused; with the same one, answered") {
    const auto rows = e.audit_rows();
    CHECK(e.propose(bm_proposal("R-1"), "k1", {std::nullopt, "digest-of-propose"}).version == 1);
    CHECK_THROWS_WITH(
        e.propose(bm_proposal("R-1"), "k1", {std::nullopt, "another-request"}),
        Contains("[kakehashi.already_exists] idempotency key k1: was used for another "
                 "request"));
    CHECK(e.propose(bm_proposal("R-1"), "k1").version == 1);  // no digest given: answered
    CHECK(e.audit_rows() == rows);
    CHECK(e.verify().intact);
  }
}

// The [backends] cases run twice: on SQLite files, and (ctest postgres.engine_suite) on
// PostgreSQL with KAKEHASHI_TEST_POSTGRES set. This one checks that each run is on the backend
// it says: a schema of the test server holding the engine's tables, or a file.
TEST_CASE("the backend tests run on the backend they name", "[engine][backends]") {
  temp_db db;
  { open_engine(db.path()); }
  if (!test_postgres().empty()) {
    REQUIRE_THAT(db.path(), StartsWith("postgresql://"));
    raw_database raw(db.path());
    const auto tables =
        raw.rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1");
    REQUIRE(tables.size() == 3);
    CHECK(tables[0][0] == "audit");
    CHECK(tables[1][0] == "kakehashi_meta");
    CHECK(tables[2][0] == "referral");
    CHECK(raw.rows("SELECT current_schema()")[0][0] == db.schema());
    CHECK_FALSE(std::ifstream(db.path()).good());  // no file of that name was made
  } else {
    CHECK(std::ifstream(db.path()).good());
    CHECK(db.schema().empty());
  }
}

// issue 16, item 6: one open referral per patient, specialty and destination. Once it is closed,
// whatever the reason, the patient can be referred again; another specialty or destination is
// another referral.
TEST_CASE("a patient has one open referral per specialty and destination", "[engine][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  const auto proposed = [&](const std::string& id, const std::string& when,
                            const std::string& specialty, const std::string& to) {
    proposal p = bm_proposal(id, when, "P-TEST-1");
    p.specialty = specialty_code{specialty};
    p.destination = hospital_id{to};
    return e.propose(p, "p-" + id);
  };
  to_accepted(e, "R-1");
  for (const char* state : {"accepted", "transferred"}) {
    CAPTURE(state);
    const std::string id = std::string("R-again-") + state;
    const auto rows = e.audit_rows();
    const error err =
        caught([&] { proposed(id, "2026-03-03T00:00:00Z", "cardiology", "shonan-kamakura"); });
    CHECK(err.code() == errc::already_exists);
    CHECK_THAT(err.what(), Contains("duplicates open referral R-1"));
    CHECK_FALSE(e.find(referral_id{id}));
    CHECK(e.audit_rows() == rows + 1);  // the refusal, audited
    if (std::string(state) == "accepted") {
      e.transfer(referral_id{"R-1"}, good_consent(), sk_coordinator(), at("2026-03-04T00:00:00Z"),
                 "t-1");
    }
  }
  // Another specialty is another referral (the shipped MoU covers oncology too).
  CHECK(proposed("R-onc", "2026-03-05T00:00:00Z", "oncology", "shonan-kamakura").state ==
        referral_state::proposed);
  // Closed, the patient may be referred again for the same care.
  e.apply(referral_id{"R-1"}, event::complete{sk_clinician(), at("2026-03-20T00:00:00Z")}, "c-1");
  CHECK(proposed("R-2", "2026-03-21T00:00:00Z", "cardiology", "shonan-kamakura").state ==
        referral_state::proposed);
  e.apply(
      referral_id{"R-2"},
      event::cancel{bm_coordinator(), at("2026-03-22T00:00:00Z"), cancel_reason::treated_locally},
      "x-2");
  CHECK(proposed("R-3", "2026-03-23T00:00:00Z", "cardiology", "shonan-kamakura").state ==
        referral_state::proposed);
  CHECK(e.verify().intact);
}

// Onward referral (issue 16, item 6): a declined or expired referral is sent on to another
// eligible destination as a new referral; each names the other; a referral is sent on once.
TEST_CASE("a declined or expired referral is sent on as a linked onward referral",
          "[engine][onward][backends]") {
  temp_db db;
  engine e = engine::open(db.path(), with_second_partner(), consent_policy::standard(),
                          paperwork_on_file());
  const hospital_id second{"jp-second"};
  const auto onward = [&](const std::string& id, const std::string& replaces, const hospital_id& to,
                          const std::string& when = "2026-03-05T00:00:00Z") {
    proposal p = bm_proposal(id, when, "P-TEST-1");
    p.destination = to;
    p.replaces = referral_id{replaces};
    return p;
  };
  int refusals = 0;
  const auto refused = [&](const proposal& p, errc code, const std::string& says) {
    CAPTURE(says);
    const auto rows = e.audit_rows();
    const auto r1 = e.find(referral_id{"R-1"});
    const error err = caught([&] { e.propose(p, "refused-" + std::to_string(++refusals)); });
    CHECK(err.code() == code);
    CHECK_THAT(err.what(), Contains(says));
    CHECK_FALSE(e.find(p.id));
    CHECK(e.find(referral_id{"R-1"}) == r1);  // nothing changed
    CHECK(e.audit_rows() == rows + 1);        // the refusal, audited
  };

  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"),
                   "c1");
  // Only a declined or expired referral is sent on.
  refused(onward("R-2", "R-1", second), errc::failed_precondition,
          "cannot replace referral R-1, which is consent_recorded");
  e.apply(
      referral_id{"R-1"},
      event::decline{sk_coordinator(), at("2026-03-03T00:00:00Z"), decline_reason::capacity_full},
      "d1");
  refused(onward("R-2", "R-9", second), errc::not_found,
          "names referral R-9, which does not exist");
  refused(onward("R-2", "R-1", sk), errc::invalid_argument,
          "is 'shonan-kamakura', the destination that declined referral R-1");
  {
    proposal other = onward("R-2", "R-1", second);
    other.patient = patient_ref{"P-OTHER"};
    refused(other, errc::invalid_argument, "proposal.patient");
    other = onward("R-2", "R-1", second);
    other.specialty = specialty_code{"oncology"};
    refused(other, errc::invalid_argument, "proposal.specialty");
  }
  {
    proposal self = onward("R-2", "R-2", second);
    refused(self, errc::invalid_argument, "replaces itself");
  }

  const referral_snapshot r2 = e.propose(onward("R-2", "R-1", second), "p2");
  CHECK(r2.replaces == referral_id{"R-1"});
  CHECK_FALSE(r2.replaced_by);
  CHECK(r2.destination == second);
  CHECK(r2.state == referral_state::proposed);
  const referral_snapshot r1 = e.get(referral_id{"R-1"});
  CHECK(r1.replaced_by == referral_id{"R-2"});
  CHECK(r1.version == 3);  // the link is the onward proposal's: R-1 itself is unchanged
  CHECK(r1.updated_at == at("2026-03-03T00:00:00Z"));
  CHECK_THAT(e.history(referral_id{"R-2"}).front().details, Contains("\"replaces\":\"R-1\""));
  // A repeat of the command answers from the log; a second onward referral is refused.
  CHECK(e.propose(onward("R-2", "R-1", second), "p2") == r2);
  refused(onward("R-3", "R-1", second, "2026-03-06T00:00:00Z"), errc::already_exists,
          "it was sent on as referral R-2");
  CHECK_THAT(e.history(referral_id{"R-3"}).back().details, Contains("\"onward_referral\":\"R-2\""));

  // The consent names its recipients: the one naming Shonan Kamakura does not cover the second
  // partner; one that names it does.
  CHECK(caught([&] {
          e.record_consent(referral_id{"R-2"}, good_consent(), bm_coordinator(),
                           at("2026-03-05T01:00:00Z"), "c2-old");
        }).code() == errc::consent_blocked);
  const consent_record for_second = kt::valid_consent()
                                        .id("C-TEST-2")
                                        .recipients({{second, "JP", true}})
                                        .written_request_for("jp-second")
                                        .build();
  CHECK(e.record_consent(referral_id{"R-2"}, for_second, bm_coordinator(),
                         at("2026-03-05T02:00:00Z"), "c2")
            .state == referral_state::consent_recorded);

  // An expired onward referral is sent on in its turn (back to Shonan Kamakura: another
  // referral, the first being closed).
  const actor sweeper{second, actor_role::system, user_id{"sweeper"}};
  REQUIRE(e.expire_overdue(sweeper, at("2026-03-20T00:00:00Z")).size() == 1);
  const referral_snapshot r4 = e.propose(onward("R-4", "R-2", sk, "2026-03-21T00:00:00Z"), "p4");
  CHECK(r4.replaces == referral_id{"R-2"});
  CHECK(e.get(referral_id{"R-2"}).replaces == referral_id{"R-1"});
  CHECK(e.get(referral_id{"R-2"}).replaced_by == referral_id{"R-4"});
  CHECK(e.verify().intact);
  const auto view = database_view::open(db.path());
  CHECK(view.find(referral_id{"R-2"}) == e.get(referral_id{"R-2"}));
  CHECK(view.verify().intact);
}

// verify reads the link from the onward referral's proposal: a link edited in the table is found.
TEST_CASE("an onward referral's link edited in the table fails verify",
          "[engine][onward][tamper][backends]") {
  temp_db db;
  {
    engine e = engine::open(db.path(), with_second_partner(), consent_policy::standard(),
                            paperwork_on_file());
    e.propose(bm_proposal("R-1"), "p1");
    e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                     at("2026-03-01T01:00:00Z"), "c1");
    e.apply(referral_id{"R-1"}, event::decline{sk_coordinator(), at("2026-03-03T00:00:00Z")}, "d1");
    proposal p = bm_proposal("R-2", "2026-03-04T00:00:00Z", "P-TEST-1");
    p.destination = hospital_id{"jp-second"};
    p.replaces = referral_id{"R-1"};
    e.propose(p, "p2");
    e.propose(bm_proposal("R-3", "2026-03-04T00:00:00Z"), "p3");
    CHECK(e.verify().intact);
  }
  raw_database(db.path()).exec("UPDATE referral SET replaces = NULL WHERE id = 'R-2'");
  const verify_result v = database_view::open(db.path()).verify();
  CHECK_FALSE(v.intact);
  CHECK_THAT(v.problem, Contains("referral R-2 as stored"));
  CHECK_THAT(v.problem, Contains("replacing R-1"));
}

// Versions 3 (the first on PostgreSQL), 4, 5 and 6: version 3 without the index by patient, 3
// and 4 without onward referral's column, 3 to 5 without the duties' index, 6 with it before
// emergency reviews (a review's row is read the same without the index). An engine
// migrates them, in the transaction that checks the schema; a read-only view reads them as they
// are (no links); the log still verifies, and the duties are read the same with the index or
// without it.
TEST_CASE("a version 3, 4, 5 or 6 database is migrated to the current version on either backend",
          "[engine][schema][backends]") {
  const bool server = !test_postgres().empty();
  const int from = GENERATE(3, 4, 5, 6);
  CAPTURE(from);
  temp_db db;
  {
    engine e = open_engine(db.path());
    e.propose(bm_proposal("R-1"), "k1");
    e.propose(bm_proposal("R-9"), "k9");
    e.record_consent(referral_id{"R-9"}, good_consent("R-9"), bm_coordinator(),
                     parse_instant("2026-03-01T01:00:00Z"), "c9");
    e.apply(referral_id{"R-9"},
            event::withdraw_consent{bm_coordinator(), parse_instant("2026-03-01T02:00:00Z")}, "w9");
  }
  raw_database(db.path()).exec(from == 6   ? back_to_version_6(server)
                               : from == 5 ? back_to_version_5(server)
                                           : back_to_version_4(server));
  if (from == 3) {
    raw_database(db.path()).exec(server ? "DROP INDEX referral_patient; "
                                          "UPDATE kakehashi_meta SET schema_version = 3"
                                        : "DROP INDEX referral_patient; PRAGMA user_version = 3");
  }
  {
    const auto view = database_view::open(db.path());  // read as it is
    CHECK(view.verify().intact);
    CHECK(view.duties().size() == 1);
    const auto r1 = view.find(referral_id{"R-1"});
    REQUIRE(r1);
    CHECK_FALSE(r1->replaces);
    CHECK_FALSE(r1->replaced_by);
  }
  engine e = engine::open(db.path(), with_second_partner(), consent_policy::standard(),
                          paperwork_on_file());
  raw_database raw(db.path());
  CHECK(raw.rows(server ? "SELECT schema_version FROM kakehashi_meta" : "PRAGMA user_version") ==
        std::vector<std::vector<std::string>>{{std::to_string(current_schema)}});
  CHECK(e.duties().size() == 1);
  for (const char* index : {"referral_patient", "referral_replaces", "audit_duties"}) {
    CAPTURE(index);
    CHECK(raw.rows(server ? std::string("SELECT count(*) FROM pg_indexes WHERE indexname = '") +
                                index + "'"
                          : std::string("SELECT count(*) FROM sqlite_master WHERE name = '") +
                                index + "'") == std::vector<std::vector<std::string>>{{"1"}});
  }
  // The duties' index covers emergency reviews (version 7).
  const auto duties_index =
      raw.rows(server ? "SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_duties'"
                      : "SELECT sql FROM sqlite_master WHERE name = 'audit_duties'");
  REQUIRE(duties_index.size() == 1);
  CHECK_THAT(duties_index[0][0], Contains("review_emergency") && Contains("'emergency'"));
  CHECK(e.verify().intact);
  const error err =
      caught([&] { e.propose(bm_proposal("R-2", "2026-03-02T00:00:00Z", "P-TEST-1"), "k2"); });
  CHECK(err.code() == errc::already_exists);
  CHECK_THAT(err.what(), Contains("duplicates open referral R-1"));
  // The migrated table takes onward referrals.
  e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"),
                   "c1");
  e.apply(referral_id{"R-1"}, event::decline{sk_coordinator(), at("2026-03-03T00:00:00Z")}, "d1");
  proposal onward = bm_proposal("R-3", "2026-03-04T00:00:00Z", "P-TEST-1");
  onward.replaces = referral_id{"R-1"};
  onward.destination = hospital_id{"jp-second"};
  CHECK(e.propose(onward, "k3").replaces == referral_id{"R-1"});
  CHECK(e.get(referral_id{"R-1"}).replaced_by == referral_id{"R-3"});
  CHECK(e.verify().intact);
}

// What a newer release or another application wrote is refused and left as it was, on either
// backend (on SQLite the version is PRAGMA user_version; on PostgreSQL kakehashi_meta's row).
TEST_CASE("a newer schema, or another application's tables, are refused untouched",
          "[engine][backends]") {
  const bool server = !test_postgres().empty();
  const auto refused_untouched = [](const temp_db& db, errc code, const std::string& says) {
    const std::string before = stored_bytes(db.path()) + schema_text(db.path());
    const error err = caught([&] { open_engine(db.path()); });
    CHECK(err.code() == code);
    CHECK_THAT(err.what(), Contains(says));
    CHECK(stored_bytes(db.path()) + schema_text(db.path()) == before);
  };
  SECTION("a newer schema version") {
    temp_db db;
    {
      engine e = open_engine(db.path());
      e.propose(bm_proposal("R-1"), "k1");
    }
    raw_database(db.path()).exec(server ? "UPDATE kakehashi_meta SET schema_version = 99"
                                        : "PRAGMA user_version = 99");
    refused_untouched(
        db, errc::failed_precondition,
        "has schema version 99, newer than this library's " + std::to_string(current_schema));
  }
  SECTION("another application's tables") {
    temp_db db;
    if (!server) SQLite::Database(db.path(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw_database(db.path()).exec(
        "CREATE TABLE patients (name TEXT); "
        "INSERT INTO patients VALUES ('someone')");
    refused_untouched(db, errc::invalid_argument,
                      server ? "not a kakehashi database" : "not a kakehashi one");
  }
}

// A PostgreSQL URI can carry a password (postgresql://user:password@host/db, or ?password=):
// messages name the database without it. Port 1 on the loopback refuses at once.
TEST_CASE("a PostgreSQL URI's password never reaches a message", "[engine][error][privacy]") {
  for (const std::string& uri :
       {std::string("postgresql://kakehashi:s3cret-Pa55@127.0.0.1:1/referrals"),
        std::string("postgres://127.0.0.1:1/referrals?password=s3cret-Pa55&connect_timeout=2")}) {
    CAPTURE(uri);
    const error opened = caught([&] { open_engine(uri); });
    CHECK(opened.code() == errc::storage);
    CHECK_THAT(opened.what(), Contains("cannot be opened as a database"));
    CHECK_THAT(opened.what(), Contains("127.0.0.1:1/referrals"));
    CHECK_THAT(opened.what(), !Contains("s3cret"));
    const error viewed = caught([&] { database_view::open(uri); });
    CHECK(viewed.code() == errc::storage);
    CHECK_THAT(viewed.what(), !Contains("s3cret"));
  }
}
