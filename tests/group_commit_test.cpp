// Group commit (issue 18): commands that threads submit while the engine is busy commit together
// in one transaction, in arrival order, each with its own result; refusals stay alone; a failed
// commit leaves each of them to be resolved by its own key.
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_fixture.hpp"
#include "support/fault_vfs.hpp"
#include "support/group.hpp"
#include "support/raw_database.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;

namespace {

using command = std::function<void(engine&)>;

command propose(const std::string& id, const std::string& key) {
  return [=](engine& e) { (void)e.propose(bm_proposal(id), key); };
}

// The code of a command's exception, or nullopt when it returned.
std::optional<errc> code_of(const std::exception_ptr& p) {
  if (!p) return std::nullopt;
  try {
    std::rethrow_exception(p);
  } catch (const kakehashi::error& e) {
    return e.code();
  }
}

// The audit rows' keys in log order.
std::vector<std::string> keys_in_order(const std::string& path) {
  raw_database db(path);
  std::vector<std::string> keys;
  for (const auto& row : db.rows("SELECT idempotency_key FROM audit ORDER BY seq")) {
    keys.push_back(row[0]);
  }
  return keys;
}

}  // namespace

TEST_CASE("commands submitted together commit in one transaction, in arrival order",
          "[engine][group][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  const engine_stats before = e.stats();
  const auto errors = run_as_group(
      e, {propose("G-1", "k1"), propose("G-2", "k2"), propose("G-3", "k3"), propose("G-4", "k4")});
  for (const auto& err : errors) CHECK_FALSE(code_of(err));
  const engine_stats after = e.stats();
  CHECK(after.commands - before.commands == 4);
  CHECK(after.transactions - before.transactions == 1);
  CHECK(after.largest_group == 4);
  CHECK(after.queued == 0);
  // The chain follows the order the commands arrived in; each referral is as its command left it.
  CHECK(keys_in_order(db.path()) == std::vector<std::string>{"k1", "k2", "k3", "k4"});
  for (const char* id : {"G-1", "G-2", "G-3", "G-4"}) {
    CHECK(e.get(referral_id{id}).state == referral_state::proposed);
  }
  const verify_result v = e.verify();
  CHECK(v.intact);
  CHECK(v.rows == 4);
  // A lone command afterwards is a group of one.
  (void)e.apply(referral_id{"G-1"},
                event::cancel{bm_coordinator(), parse_instant("2026-03-02T00:00:00Z"),
                              cancel_reason::patient_request},
                "k5");
  CHECK(e.stats().transactions - after.transactions == 1);
}

TEST_CASE("a refused command in a group is refused alone, with its audit row",
          "[engine][group][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  const instant t = parse_instant("2026-03-02T00:00:00Z");
  const auto errors = run_as_group(
      e, {propose("A", "a"),
          // Refused: no such referral, and a transition its state does not allow.
          [&](engine& x) {
            (void)x.apply(referral_id{"NOPE"}, event::accept{sk_clinician(), t}, "nope");
          },
          propose("B", "b"),
          [&](engine& x) {
            (void)x.apply(referral_id{"A"}, event::complete{sk_clinician(), t}, "a-complete");
          },
          [&](engine& x) {
            (void)x.apply(referral_id{"B"},
                          event::cancel{bm_coordinator(), t, cancel_reason::patient_request},
                          "b-cancel");
          }});
  REQUIRE(errors.size() == 5);
  CHECK_FALSE(code_of(errors[0]));
  CHECK(code_of(errors[1]) == errc::not_found);
  CHECK_FALSE(code_of(errors[2]));
  CHECK(code_of(errors[3]) == errc::failed_precondition);
  CHECK_FALSE(code_of(errors[4]));
  CHECK(e.stats().transactions == 1);
  CHECK(e.get(referral_id{"A"}).state == referral_state::proposed);
  CHECK(e.get(referral_id{"B"}).state == referral_state::closed);
  CHECK(keys_in_order(db.path()) ==
        std::vector<std::string>{"a", "nope", "b", "a-complete", "b-cancel"});
  const auto history = e.history(referral_id{"A"});
  REQUIRE(history.size() == 2);
  CHECK(history[1].outcome == audit_outcome::minor_failure);
  CHECK(history[1].state_after == "proposed");
  CHECK(e.verify().intact);
  // Each refusal is answered again from its row when repeated with its key.
  CHECK_THROWS_WITH(e.apply(referral_id{"A"}, event::complete{sk_clinician(), t}, "a-complete"),
                    Contains("[kakehashi.failed_precondition]"));
}

TEST_CASE("a key repeated inside a group is answered from the first command's row",
          "[engine][group][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  const auto errors = run_as_group(
      e, {propose("R", "same"), propose("R", "same"),
          [](engine& x) {  // the same key for another command
            (void)x.apply(referral_id{"R"},
                          event::cancel{bm_coordinator(), parse_instant("2026-03-02T00:00:00Z"),
                                        cancel_reason::patient_request},
                          "same");
          }});
  CHECK_FALSE(code_of(errors[0]));
  CHECK_FALSE(code_of(errors[1]));
  CHECK(code_of(errors[2]) == errc::already_exists);
  CHECK(e.audit_rows() == 1);
  CHECK(e.get(referral_id{"R"}).state == referral_state::proposed);
  CHECK(e.stats().transactions == 1);
}

TEST_CASE("a group whose commit fails leaves every command to be resolved by its key",
          "[engine][group][fault]") {
  fault_vfs::install();
  temp_db db;
  engine_options o = paperwork_on_file();
  o.vfs = "kakehashi-fault";
  engine e = open_engine(db.path(), o);
  (void)e.propose(bm_proposal("before"), "before");  // the schema and a first row are on disk
  const std::vector<command> group{propose("U-1", "u1"), propose("U-2", "u2"),
                                   propose("U-3", "u3")};
  fault_vfs::reset_counts();
  fault_vfs::fail(fault_vfs::op::sync, 0);  // the group's commit is the next sync
  const auto errors = run_as_group(e, group);
  fault_vfs::disarm();
  REQUIRE(fault_vfs::calls(fault_vfs::op::sync) >= 1);
  for (const auto& err : errors) CHECK(code_of(err) == errc::outcome_unknown);
  CHECK(e.stats().largest_group == 3);
  // Each retry with its own key learns the outcome (or runs the command now): exactly one row.
  for (const auto& c : group) CHECK_NOTHROW(c(e));
  CHECK(e.audit_rows() == 4);
  CHECK(e.verify().intact);
}

TEST_CASE("a storage error in one command of a group runs the others again without it",
          "[engine][group]") {
  temp_db db;
  { (void)open_engine(db.path()).propose(bm_proposal("before"), "before"); }
  {
    // A statement that fails in the middle of a command, as a failing disk would make it: a
    // trigger aborts the audit row of the command keyed "s2".
    SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
    raw.exec(
        "CREATE TRIGGER fail_s2 BEFORE INSERT ON audit WHEN NEW.idempotency_key = 's2' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  }
  engine e = open_engine(db.path());
  const auto errors =
      run_as_group(e, {propose("S-1", "s1"), propose("S-2", "s2"), propose("S-3", "s3")});
  CHECK_FALSE(code_of(errors[0]));
  CHECK(code_of(errors[1]) == errc::storage);
  CHECK_FALSE(code_of(errors[2]));
  CHECK(e.stats().largest_group == 3);
  CHECK(keys_in_order(db.path()) == std::vector<std::string>{"before", "s1", "s3"});
  CHECK_FALSE(e.find(referral_id{"S-2"}));
  CHECK(e.get(referral_id{"S-1"}).state == referral_state::proposed);
  CHECK(e.get(referral_id{"S-3"}).state == referral_state::proposed);
  CHECK(e.verify().intact);
}
