// Storage fault injection (reliability plan T8), on both backends. On SQLite: a workload of engine
// commands runs with the Nth write, sync or truncate failing (an I/O error, or a full disk for
// writes), once or persistently, for N from 0 until the workload no longer reaches the fault,
// under synchronous=FULL and NORMAL. On PostgreSQL: the same workload with the connection dropped
// at the Nth round trip (support/cutting_proxy.hpp), before the server sees the message or after
// it ran it and before the answer arrives (at COMMIT: committed, and the engine cannot know);
// the engine connects again by itself and serves the next command.
// After each run, with faults off and the database reopened: it opens, verify passes, every
// command that committed (returned, or was refused and audited) is in the log exactly once, every
// command that failed with `storage` is entirely absent, and every `outcome_unknown` is resolved
// by a retry with its idempotency key.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>
#include <kakehashi/engine.hpp>
#include <string>
#include <vector>

#include "support/cutting_proxy.hpp"
#include "support/engine_fixture.hpp"
#include "support/fault_vfs.hpp"
#include "support/group.hpp"
#include "support/raw_database.hpp"

using namespace kakehashi;
using namespace kakehashi::test;

namespace {

instant at_hour(int h) { return parse_instant("2026-03-01T00:00:00Z") + std::chrono::hours{h}; }

// One step of the workload: what it runs, and the idempotency keys it writes (a batch has more).
// A grouped step runs its commands from threads as one group commit (support/group.hpp): each
// key has its own fate, and `run` retries one of them by `keys` position.
struct step {
  std::vector<std::string> keys;
  std::function<void(engine&)> run;
  std::vector<std::function<void(engine&)>> group = {};  // one per key, when grouped
};

std::vector<step> workload() {
  std::vector<step> steps;
  int hour = 0;
  for (int r = 0; r < 2; ++r) {
    const std::string id = "F-" + std::to_string(r);
    const referral_id rid{id};
    const auto add = [&](const std::string& what, std::function<void(engine&, instant)> body) {
      const instant t = at_hour(hour++);
      steps.push_back({{id + ":" + what}, [body, t](engine& e) { body(e, t); }});
    };
    const std::string key = id + ":";
    add("propose", [=](engine& e, instant t) {
      (void)e.propose({rid, bm, sk, specialty_code{"cardiology"}, patient_ref{test_patient(id)},
                       bm_coordinator(), t},
                      key + "propose");
    });
    add("consent", [=](engine& e, instant t) {
      (void)e.record_consent(rid, good_consent(id), bm_coordinator(), t, key + "consent");
    });
    add("accept", [=](engine& e, instant t) {
      (void)e.apply(rid, event::accept{sk_clinician(), t}, key + "accept");
    });
    add("transfer", [=](engine& e, instant t) {
      (void)e.transfer(rid, good_consent(id), sk_coordinator(), t, key + "transfer");
    });
    add("complete", [=](engine& e, instant t) {
      (void)e.apply(rid, event::complete{sk_clinician(), t}, key + "complete");
    });
  }
  // A batch: both commands commit together or neither does.
  const instant t = at_hour(hour);
  steps.push_back({{"B:propose", "B:consent"}, [t](engine& e) {
                     e.batch([&] {
                       (void)e.propose({referral_id{"B"}, bm, sk, specialty_code{"oncology"},
                                        patient_ref{test_patient("B")}, bm_coordinator(), t},
                                       "B:propose");
                       (void)e.record_consent(referral_id{"B"}, good_consent("B"), bm_coordinator(),
                                              t + std::chrono::minutes{5}, "B:consent");
                     });
                   }});
  // A group: three commands from three threads, committed together (one of them refused).
  const instant g = at_hour(hour + 1);
  std::vector<std::function<void(engine&)>> group;
  for (const char* id : {"G-1", "G-2"}) {
    group.push_back([id, g](engine& e) {
      (void)e.propose({referral_id{id}, bm, sk, specialty_code{"cardiology"},
                       patient_ref{test_patient(id)}, bm_coordinator(), g},
                      std::string(id) + ":propose");
    });
  }
  group.push_back([g](engine& e) {  // refused: G-1 has no consent yet; audited all the same
    (void)e.apply(referral_id{"G-1"}, event::accept{sk_clinician(), g}, "G-1:accept");
  });
  steps.push_back({{"G-1:propose", "G-2:propose", "G-1:accept"}, nullptr, group});
  return steps;
}

enum class fate { committed, failed, unknown };

fate fate_of(const std::exception_ptr& p) {
  if (!p) return fate::committed;
  try {
    std::rethrow_exception(p);
  } catch (const kakehashi::error& err) {
    if (err.code() == errc::storage) return fate::failed;
    if (err.code() == errc::outcome_unknown) return fate::unknown;
  }
  return fate::committed;  // refused, and the refusal audited
}

int rows_with_key(raw_database& raw, const std::string& key) {
  return std::stoi(raw.rows("SELECT count(*) FROM audit WHERE idempotency_key = ?", {key})[0][0]);
}

// What the runs of one plan saw: commands whose outcome was unknown, and among them those the
// database had in fact committed (found before their retry).
struct unknowns {
  int seen = 0;
  int committed = 0;
};

// Runs the workload on `db` opened as `opened_as` with `options`, the fault armed by `arm` once
// the engine is open; `disarm` turns it off and says whether it fired, which run_once returns.
// With `recovers`, the engine that met the fault must serve a command once it is disarmed (a
// server connection lost is made again), before it closes.
bool run_once(const temp_db& db, const std::string& opened_as, const engine_options& options,
              const std::function<void()>& arm, const std::function<bool()>& disarm,
              unknowns& unknown, bool recovers = false) {
  const auto steps = workload();
  std::vector<fate> fates;  // one per key
  bool fired = false;
  {
    engine e = open_engine(opened_as, options);
    arm();
    for (const auto& s : steps) {
      if (!s.group.empty()) {
        for (const auto& p : run_as_group(e, s.group)) fates.push_back(fate_of(p));
        continue;
      }
      fate f = fate::committed;
      try {
        s.run(e);
      } catch (const kakehashi::error&) {
        f = fate_of(std::current_exception());
      }
      // Nothing but kakehashi::error may escape: anything else fails the test case here.
      fates.insert(fates.end(), s.keys.size(), f);
    }
    if (recovers) {
      fired = disarm();
      (void)e.propose({referral_id{"PROBE"}, bm, sk, specialty_code{"cardiology"},
                       patient_ref{test_patient("PROBE")}, bm_coordinator(), at_hour(100)},
                      "PROBE:propose");
    }
  }  // closing the engine checkpoints the WAL into the database: under the fault too
  if (!recovers) fired = disarm();

  // Faults off, the database reopened as it is.
  engine e = open_engine(db.path());
  const verify_result v = e.verify();
  CAPTURE(v.problem);
  REQUIRE(v.intact);
  // Each key with its step and (for a group) its command, in the order of `fates`.
  struct keyed {
    std::string key;
    std::function<void(engine&)> retry;
  };
  std::vector<keyed> keys;
  for (const auto& s : steps) {
    for (std::size_t k = 0; k < s.keys.size(); ++k) {
      keys.push_back({s.keys[k], s.group.empty() ? s.run : s.group[k]});
    }
  }
  REQUIRE(keys.size() == fates.size());
  raw_database raw(db.path());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i].key);
    const int rows = rows_with_key(raw, keys[i].key);
    if (fates[i] == fate::committed) CHECK(rows == 1);
    if (fates[i] == fate::failed) CHECK(rows == 0);
    if (fates[i] == fate::unknown) {
      ++unknown.seen;
      unknown.committed += rows;
    }
    CHECK(rows <= 1);
  }
  // A batch retried for each of its keys: the second retry is answered from the log.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (fates[i] != fate::unknown) continue;
    try {
      keys[i].retry(e);  // the retry answers from the log, or runs the command now
    } catch (const kakehashi::error& err) {
      CAPTURE(err.what());
      CHECK(err.code() != errc::storage);
      CHECK(err.code() != errc::outcome_unknown);
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (fates[i] != fate::unknown) continue;
    CAPTURE(keys[i].key);
    CHECK(rows_with_key(raw, keys[i].key) == 1);
  }
  if (recovers) CHECK(rows_with_key(raw, "PROBE:propose") == 1);
  CHECK(e.verify().intact);
  return fired;
}

// SQLite: the workload with the Nth write, sync or truncate failing.
bool run_on_sqlite(durability sync, fault_vfs::op op, fault_vfs::kind kind, bool persistent,
                   int nth) {
  temp_db db;
  engine_options o = paperwork_on_file();
  o.sync = sync;
  o.vfs = "kakehashi-fault";
  int injected_before = 0;
  unknowns unknown;
  return run_once(
      db, db.path(), o,
      [&] {
        injected_before = fault_vfs::faults_injected;
        fault_vfs::reset_counts();
        fault_vfs::fail(op, nth, persistent, kind);
      },
      [&] {
        fault_vfs::disarm();
        return fault_vfs::faults_injected > injected_before;
      },
      unknown);
}

}  // namespace

TEST_CASE("storage faults at every point leave nothing half-applied", "[engine][fault][backends]") {
  if (!test_postgres().empty()) {
    // PostgreSQL: the connection dropped at every round trip of the workload, before the server
    // sees the message or before its answer arrives.
    const char* server_port = std::getenv("PGPORT");
    cutting_proxy proxy(server_port ? std::atoi(server_port) : 5432);
    for (const auto w : {cutting_proxy::when::before_sending, cutting_proxy::when::before_answer}) {
      CAPTURE(w == cutting_proxy::when::before_sending ? "before sending" : "before the answer");
      int nth = 0;
      unknowns unknown;
      for (;; ++nth) {
        CAPTURE(nth);
        temp_db db;
        const bool fired = run_once(
            db, proxy.uri(db.path()), paperwork_on_file(), [&] { proxy.arm(nth, w); },
            [&] {
              proxy.disarm();
              return proxy.fired();
            },
            unknown, true);
        if (!fired) break;
        REQUIRE(nth < 2000);  // the workload is finite: the loop must end
      }
      // How many round trips the workload made (124 at the time of writing): the connection was
      // cut at every statement of every command.
      CHECK(nth > 100);
      // A COMMIT cut before the server saw it was not applied (its retry applied it); one cut
      // after the server ran it was (its retry was answered from the log). Both happened.
      CAPTURE(unknown.seen, unknown.committed);
      CHECK(unknown.seen > 0);
      if (w == cutting_proxy::when::before_sending) CHECK(unknown.committed == 0);
      if (w == cutting_proxy::when::before_answer) CHECK(unknown.committed > 0);
    }
    return;
  }
  fault_vfs::install();
  struct plan {
    fault_vfs::op op;
    fault_vfs::kind kind;
  };
  const plan plans[] = {{fault_vfs::op::write, fault_vfs::kind::io_error},
                        {fault_vfs::op::write, fault_vfs::kind::disk_full},
                        {fault_vfs::op::sync, fault_vfs::kind::io_error},
                        {fault_vfs::op::truncate, fault_vfs::kind::io_error}};
  for (const durability sync : {durability::full, durability::normal}) {
    for (const plan& p : plans) {
      for (const bool persistent : {false, true}) {
        CAPTURE(sync == durability::full ? "FULL" : "NORMAL", static_cast<int>(p.op),
                static_cast<int>(p.kind), persistent);
        int nth = 0;
        while (run_on_sqlite(sync, p.op, p.kind, persistent, nth)) {
          ++nth;
          REQUIRE(nth < 1000);  // the workload is finite: the loop must end
        }
        CAPTURE(nth);
        // How many faults the workload reached (138 writes, 14 syncs under FULL and 3 under
        // NORMAL, 1 truncate when the engine closes, at the time of writing): each kind of fault
        // was really exercised.
        if (p.op == fault_vfs::op::write) CHECK(nth > 100);
        if (p.op == fault_vfs::op::sync) CHECK(nth >= (sync == durability::full ? 12 : 1));
        if (p.op == fault_vfs::op::truncate) CHECK(nth >= 1);
      }
    }
  }
}
