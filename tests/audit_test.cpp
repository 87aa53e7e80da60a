// The audit log: tamper detection on copies of a real database, checkpoints and keyed MACs,
// concurrent writers (threads and processes), and crash consistency under SIGKILL.
#include <SQLiteCpp/Database.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/witness.hpp>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_fixture.hpp"
#include "support/raw_database.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;

namespace {

instant at(const char* t) { return parse_instant(t); }

const std::string audit_key = "a key the hospital keeps in its vault, not in the database";

// Walks referral `id` through `steps` commands (1..5), with keys derived from the id.
void walk(engine& e, const std::string& id, int steps, const std::string& when = "2026-03-01") {
  const auto t = [&](int h) { return parse_instant(when + "T0" + std::to_string(h) + ":00:00Z"); };
  e.propose(bm_proposal(id, when + "T00:00:00Z"), id + ":1");
  if (steps > 1)
    e.record_consent(referral_id{id}, good_consent(id), bm_coordinator(), t(1), id + ":2");
  if (steps > 2) e.apply(referral_id{id}, event::accept{sk_clinician(), t(2)}, id + ":3");
  if (steps > 3) e.transfer(referral_id{id}, good_consent(id), sk_coordinator(), t(3), id + ":4");
  if (steps > 4) e.apply(referral_id{id}, event::complete{sk_clinician(), t(4)}, id + ":5");
}

// A database of 10 referrals in various states (30 rows), closed so the WAL is checkpointed.
void build(const std::string& path, engine_options o = paperwork_on_file()) {
  engine e = open_engine(path, std::move(o));
  for (int i = 0; i < 10; ++i) walk(e, "R-" + std::to_string(i), 1 + i % 5);
}

// A copy of a closed database: the file, or the tables of its schema on the test server.
void copy_of(const temp_db& from, const temp_db& to) {
  if (!from.schema().empty()) {
    for (const char* table : {"kakehashi_meta", "referral", "audit"}) {
      postgres_exec(
          fmt::format("CREATE TABLE {1}.{2} (LIKE {0}.{2} INCLUDING ALL); "
                      "INSERT INTO {1}.{2} SELECT * FROM {0}.{2}",
                      from.schema(), to.schema(), table));
    }
    return;
  }
  const std::string bytes = slurp(from.path());
  std::FILE* f = std::fopen(to.path().c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

// The attacker's tool: the documented row encoding (docs/audit.md), recomputed independently.
std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

void recompute_chain(raw_database& db) {
  std::string prev(64, '0');
  const auto rows = db.rows(
      "SELECT seq, referral_id, recorded_at, actor_org, actor_role, actor_user, command, "
      "state_before, state_after, outcome, reason_code, details, idempotency_key FROM audit "
      "ORDER BY seq");
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> updates;
  for (const auto& r : rows) {
    std::string enc;
    const auto field = [&](const std::string& f) {
      const auto n = static_cast<unsigned long long>(f.size());
      for (int s = 56; s >= 0; s -= 8) enc.push_back(static_cast<char>((n >> s) & 0xff));
      enc += f;
    };
    field("kakehashi.audit/1");
    for (std::size_t c = 0; c <= 12; ++c) field(r[c]);
    field(prev);
    const std::string hash = sha256_hex(enc);
    updates.push_back({r[0], {prev, hash}});
    prev = hash;
  }
  for (const auto& [seq, hashes] : updates) {
    db.exec("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = " + seq,
            {hashes.first, hashes.second});
  }
}

// The attacker's forgery: a copy of the first proposal as a new referral's row at `seq`, with the
// matching referral row, and the chain recomputed (it knows the encoding, not the key).
void forge_referral(raw_database& raw, std::int64_t seq) {
  raw.exec(
      "INSERT INTO audit SELECT " + std::to_string(seq) +
      ", 'R-FORGED', recorded_at, actor_org, actor_role, actor_user, command, state_before, "
      "state_after, outcome, reason_code, details, 'forged', '', '', NULL FROM audit WHERE seq = 1;"
      "INSERT INTO referral SELECT 'R-FORGED', origin, destination, specialty, patient, "
      "agreement, state, close_reason, consent_withdrawn, consent_ref, consent_digest, "
      "proposed_at, updated_at, version, replaces FROM referral WHERE id = 'R-0'");
  recompute_chain(raw);
}

// `original` copied to `copy`, attacked with `sql` (and the chain recomputed, when the attacker
// knows the encoding), then verified.
verify_result attacked(const temp_db& original, const temp_db& copy, const std::string& sql,
                       bool recompute) {
  copy_of(original, copy);
  {
    raw_database raw(copy.path());
    raw.exec(sql);
    if (recompute) recompute_chain(raw);
  }
  return verify_database(copy.path());
}

}  // namespace

TEST_CASE("verify says intact for an honest database", "[audit][backends]") {
  temp_db db;
  build(db.path());
  const verify_result v = verify_database(db.path());
  CHECK(v.intact);
  CHECK(v.rows == 30);
  CHECK(v.referrals == 10);
  CHECK(v.problem.empty());
  CHECK_FALSE(v.first_bad_seq.has_value());
}

TEST_CASE("every kind of tampering is found, at the first bad row", "[audit][tamper][backends]") {
  temp_db original;
  build(original.path());
  struct attack {
    const char* name;
    const char* sql;
    std::int64_t first_bad;
    const char* problem;
  };
  const std::vector<attack> attacks{
      {"an edited row", "UPDATE audit SET actor_role = 'clinician' WHERE seq = 10", 10,
       "the row was edited"},
      {"a deleted row", "DELETE FROM audit WHERE seq = 15", 16, "sequence jumps from 14 to 16"},
      {"two rows swapped",
       "UPDATE audit SET seq = -1 WHERE seq = 20; UPDATE audit SET seq = 20 WHERE seq = 21; "
       "UPDATE audit SET seq = 21 WHERE seq = -1",
       20, "the previous-hash link does not match"},
      {"an inserted row",
       "UPDATE audit SET seq = seq + 1000 WHERE seq >= 12; UPDATE audit SET seq = seq - 999 WHERE "
       "seq >= 1012; INSERT INTO audit SELECT 12, referral_id, recorded_at, actor_org, actor_role, "
       "actor_user, command, state_before, state_after, outcome, reason_code, details, "
       "'forged-key', prev_hash, hash, mac FROM audit WHERE seq = 11",
       12, "the previous-hash link does not match"},
      {"an edited referral state", "UPDATE referral SET state = 'transferred' WHERE id = 'R-2'", 30,
       "referral R-2 as stored (transferred) differs from the log's replay (accepted)"},
      {"an unchained row appended",
       "INSERT INTO audit SELECT 31, referral_id, recorded_at, actor_org, actor_role, actor_user, "
       "command, state_before, state_after, outcome, reason_code, details, 'x', prev_hash, hash, "
       "mac FROM audit WHERE seq = 30",
       31, "the previous-hash link does not match"},
  };
  for (const auto& a : attacks) {
    CAPTURE(a.name);
    temp_db copy;
    const verify_result v = attacked(original, copy, a.sql, false);
    CHECK_FALSE(v.intact);
    CHECK(v.first_bad_seq == a.first_bad);
    CHECK_THAT(v.problem, Contains(a.problem));
  }
}

// JP-07 (APPI Art. 29 and 30: each side's record of a provision) and VN-22 (Decree 13 Art. 11(10):
// the controller proves the consent behind every transfer). The attacker edits a transfer's
// provision record and recomputes the chain, which only these checks can catch without a
// checkpoint. SQLite's json_set edits the row as an attacker with the file would.
TEST_CASE("verify resolves every provision record to the consent the referral recorded",
          "[audit][tamper][provision][JP-07][VN-22]") {
  temp_db original;
  build(original.path());  // transfers of R-3, R-4, R-8 and R-9 at rows 10, 14, 25 and 29
  {
    const verify_result v = verify_database(original.path());
    CHECK(v.intact);
    CHECK(v.provisions == 4);
    CHECK(v.provisions_without_record == 0);
  }
  const auto edit = [](const std::string& path, const std::string& value) {
    return "UPDATE audit SET details = json_set(details, '$.provision." + path + "', '" + value +
           "') WHERE seq = 14";
  };
  struct attack {
    std::string name, sql;
    std::int64_t first_bad;
    std::string problem;
  };
  const std::vector<attack> attacks{
      {"another artifact hash", edit("artifact_sha256", std::string(64, 'b')), 14,
       "VN-22 VN_CONSENT_PROOF_MISSING: the transfer of referral R-4 on consent C-R-4 names an "
       "artifact hash the recorded consent does not have"},
      {"no artifact hash", edit("artifact_sha256", ""), 14,
       "VN-22 VN_CONSENT_PROOF_MISSING: the transfer of referral R-4 on consent C-R-4 names no "
       "artifact hash: the consent cannot be proven"},
      {"another consent", edit("consent", "C-OTHER"), 14,
       "VN-22 VN_CONSENT_PROOF_MISSING: the transfer of referral R-4 names consent C-OTHER, which "
       "is not the consent the referral recorded (C-R-4)"},
      {"another digest", edit("consent_digest", std::string(64, 'c')), 14,
       "VN-22 VN_CONSENT_PROOF_MISSING: the transfer of referral R-4 names consent C-R-4 with "
       "another digest than the one recorded"},
      {"the recorded consent's artifact changed instead",
       "UPDATE audit SET details = json_set(details, '$.artifact', '" + std::string(64, 'd') +
           "') WHERE seq = 12",
       14, "names an artifact hash the recorded consent does not have"},
      {"another provider", edit("provider", "k-hospital"), 14,
       "JP-07 JP_PROVISION_RECORD_MISSING: the transfer of referral R-4 records a provision from "
       "k-hospital to shonan-kamakura, but the referral's data went from bach-mai to "
       "shonan-kamakura"},
      {"no confirmation of who provided it", edit("provider_name", ""), 14,
       "JP-07 JP_RECIPIENT_CONFIRMATION_MISSING: the transfer of referral R-4 to shonan-kamakura "
       "does not record who provided the data and how they acquired it"},
      {"a record without its basis",
       "UPDATE audit SET details = json_remove(details, '$.provision.basis') WHERE seq = 14", 14,
       "JP-07 JP_PROVISION_RECORD_MISSING: the transfer of referral R-4: the provision record "
       "lacks 'basis'"},
      {"a record removed after the log began keeping them",
       "UPDATE audit SET details = json_remove(details, '$.provision') WHERE seq = 25", 25,
       "JP-07/VN-22 JP_PROVISION_RECORD_MISSING: the transfer of referral R-8 has no provision "
       "record, though the log keeps them from row 10"},
  };
  for (const auto& a : attacks) {
    CAPTURE(a.name);
    temp_db copy;
    const verify_result v = attacked(original, copy, a.sql, true);
    CHECK_FALSE(v.intact);
    CHECK(v.first_bad_seq == a.first_bad);
    CHECK_THAT(v.problem, Contains(a.problem));
  }

  // A log written before the engine kept provision records (no transfer row has one) verifies,
  // and says how many transfers it could not check.
  temp_db older;
  copy_of(original, older);
  {
    raw_database raw(older.path());
    raw.exec(
        "UPDATE audit SET details = json_remove(details, '$.provision') "
        "WHERE command = 'transfer'");
    raw.exec(
        "UPDATE audit SET details = json_remove(details, '$.artifact') "
        "WHERE command = 'record_consent'");
    recompute_chain(raw);
  }
  const verify_result v = verify_database(older.path());
  CHECK(v.intact);
  CHECK(v.provisions == 0);
  CHECK(v.provisions_without_record == 4);
  const provision_report r = database_view::open(older.path()).provisions({bm, {}, {}});
  CHECK(r.provisions.empty());
  CHECK(r.without_record == 4);
}

TEST_CASE("a truncated tail and a recomputed chain are found with a checkpoint",
          "[audit][tamper][backends]") {
  temp_db original;
  checkpoint anchor;
  {
    engine e = open_engine(original.path());
    for (int i = 0; i < 10; ++i) walk(e, "R-" + std::to_string(i), 1 + i % 5);
    walk(e, "R-LAST", 1);
    anchor = e.make_checkpoint(audit_key, at("2026-03-02T00:00:00Z"));
  }
  REQUIRE(anchor.seq == 31);
  CHECK(parse_checkpoint(to_json(anchor)).head_hash == anchor.head_hash);
  CHECK(verify_database(original.path(), anchor, audit_key).intact);

  SECTION("truncated tail, referral table rebuilt to match") {
    temp_db copy;
    copy_of(original, copy);
    {
      raw_database raw(copy.path());
      raw.exec("DELETE FROM audit WHERE seq = 31; DELETE FROM referral WHERE id = 'R-LAST'");
    }
    CHECK(verify_database(copy.path()).intact);  // a chain alone cannot see it
    const verify_result v = verify_database(copy.path(), anchor, audit_key);
    CHECK_FALSE(v.intact);
    CHECK(v.first_bad_seq == 31);
    CHECK_THAT(v.problem, Contains("the log ends at row 30 but the checkpoint covers 31: the tail "
                                   "was truncated"));
  }
  SECTION("an edited row with the whole chain recomputed") {
    temp_db copy;
    copy_of(original, copy);
    {
      raw_database raw(copy.path());
      raw.exec("UPDATE audit SET actor_user = 'someone-else' WHERE seq = 5");
      recompute_chain(raw);
    }
    CHECK(verify_database(copy.path()).intact);  // a chain alone cannot see it
    const verify_result v = verify_database(copy.path(), anchor, audit_key);
    CHECK_FALSE(v.intact);
    CHECK(v.first_bad_seq == 31);
    CHECK_THAT(v.problem, Contains("the chain was rewritten"));
  }
  SECTION("a forged checkpoint") {
    checkpoint forged = anchor;
    forged.seq = 30;
    const verify_result v = verify_database(original.path(), forged, audit_key);
    CHECK_FALSE(v.intact);
    CHECK(v.key_mismatch);
    CHECK(v.problem == v.key_problem);
    CHECK_THAT(v.problem, Contains("the key does not match the checkpoint's MAC: a wrong key, or "
                                   "a forged checkpoint"));
  }
  SECTION("the right checkpoint with the wrong key: said apart from tampering") {
    const verify_result v =
        verify_database(original.path(), anchor, std::string("not the key of this log at all"));
    CHECK_FALSE(v.intact);
    CHECK(v.key_mismatch);
    CHECK(v.first_bad_seq == anchor.seq);
    CHECK_THAT(v.problem, Contains("the key does not match the checkpoint's MAC"));
    CHECK(v.rows == 31);  // the log was still checked, without the key
  }
  SECTION("the wrong key on a tampered log: the log's own problem comes first") {
    temp_db copy;
    copy_of(original, copy);
    {
      raw_database raw(copy.path());
      raw.exec("UPDATE audit SET actor_user = 'someone' WHERE seq = 7");
    }
    const verify_result v =
        verify_database(copy.path(), anchor, std::string("not the key of this log at all"));
    CHECK_FALSE(v.intact);
    CHECK(v.key_mismatch);
    CHECK(v.first_bad_seq == 7);
    CHECK_THAT(v.problem, Contains("the row was edited"));
  }
}

TEST_CASE("a forged appended row is found with the audit key", "[audit][tamper][backends]") {
  temp_db original;
  engine_options keyed = paperwork_on_file();
  keyed.audit_key = audit_key;
  build(original.path(), keyed);
  CHECK(verify_database(original.path(), std::nullopt, audit_key).intact);
  temp_db copy;
  copy_of(original, copy);
  {
    // A forgery that replays consistently: only the missing MAC gives it away.
    raw_database raw(copy.path());
    forge_referral(raw, 31);
  }
  CHECK(verify_database(copy.path()).intact);  // without the key it looks honest
  const verify_result v = verify_database(copy.path(), std::nullopt, audit_key);
  CHECK_FALSE(v.intact);
  CHECK(v.first_bad_seq == 31);
  CHECK_THAT(v.problem, Contains("the row's MAC does not verify with the audit key"));
}

TEST_CASE("a keyed log is never opened without its key, and nothing is written",
          "[audit][error][backends]") {
  temp_db db;
  engine_options keyed = paperwork_on_file();
  keyed.audit_key = audit_key;
  build(db.path(), keyed);
  const auto rows_before = database_view::open(db.path()).audit_rows();
  // Without the key, the next rows would carry no MAC and every keyed verify would fail on them.
  CHECK_THROWS_WITH(open_engine(db.path()),
                    Contains("[kakehashi.invalid_argument]") &&
                        Contains("its audit log is keyed (its rows carry MACs) and no audit_key "
                                 "was given"));
  CHECK(database_view::open(db.path()).audit_rows() == rows_before);
  CHECK(verify_database(db.path(), std::nullopt, audit_key).intact);
  // With it, it opens; an unkeyed log still opens without a key.
  CHECK_NOTHROW(open_engine(db.path(), keyed));
  temp_db plain;
  { open_engine(plain.path()); }
  CHECK_NOTHROW(open_engine(plain.path()));
}

TEST_CASE("a checkpoint needs a non-empty log and parses strictly", "[audit][error][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  CHECK_THROWS_WITH(e.make_checkpoint(audit_key, at("2026-03-01T00:00:00Z")),
                    Contains("[kakehashi.failed_precondition] audit log: is empty"));
  CHECK_THROWS_WITH(parse_checkpoint("{\"seq\": \"x\"}"),
                    Contains("[kakehashi.invalid_argument] checkpoint: expected an object"));
  CHECK_THROWS_WITH(parse_checkpoint("not json"), Contains("checkpoint: is not valid JSON"));
}

TEST_CASE("several threads on one file: no lost update, no busy error, one linear chain",
          "[audit][concurrency][backends]") {
  temp_db db;
  { open_engine(db.path()); }  // create the schema once
  constexpr int threads = 4;
  constexpr int per_thread = 15;
  std::vector<std::thread> pool;
  std::vector<std::string> failures(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        engine e = open_engine(db.path());
        for (int i = 0; i < per_thread; ++i) {
          walk(e, "T" + std::to_string(t) + "-" + std::to_string(i), 3);
        }
      } catch (const std::exception& ex) {
        failures[static_cast<std::size_t>(t)] = ex.what();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (const auto& f : failures) CHECK(f.empty());
  const verify_result v = verify_database(db.path());
  CHECK(v.intact);
  CHECK(v.rows == threads * per_thread * 3);
  CHECK(v.referrals == threads * per_thread);
}

// One engine shared by threads: its own mutex serialises every call (its SQLite connection is
// opened without SQLite's per-call mutex, so this is what keeps it safe; run under
// scripts/test.sh --sanitize=thread as well).
TEST_CASE("one engine shared by several threads: commands and queries interleave safely",
          "[audit][concurrency][backends]") {
  temp_db db;
  engine e = open_engine(db.path());
  constexpr int threads = 4;
  constexpr int per_thread = 10;
  std::vector<std::thread> pool;
  std::vector<std::string> failures(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (int i = 0; i < per_thread; ++i) {
          walk(e, "S" + std::to_string(t) + "-" + std::to_string(i), 5);
          (void)e.list(referral_state::closed);  // queries between other threads' commands
          (void)e.history(referral_id{"S0-0"});
          (void)e.audit_rows();
        }
      } catch (const std::exception& ex) {
        failures[static_cast<std::size_t>(t)] = ex.what();
      }
    });
  }
  for (auto& th : pool) th.join();
  for (const auto& f : failures) CHECK(f.empty());
  const verify_result v = e.verify();
  CHECK(v.intact);
  CHECK(v.rows == threads * per_thread * 5);
  CHECK(e.list(referral_state::closed).size() == threads * per_thread);
  // Commands that arrived while another group was committing were committed with others.
  const engine_stats s = e.stats();
  CAPTURE(s.transactions, s.largest_group);
  CHECK(s.commands == threads * per_thread * 5);
  CHECK(s.largest_group >= 2);
  CHECK(s.largest_group <= threads);  // each thread waits for its own command
  CHECK(s.transactions < s.commands);
}

TEST_CASE("two processes on one file: every command lands once, one linear chain",
          "[audit][concurrency][backends]") {
  temp_db db;
  { open_engine(db.path()); }
  constexpr int processes = 2;
  constexpr int threads_per_process = 3;
  constexpr int per_process = 10;  // per thread
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {
        engine e = open_engine(db.path());  // opened after fork: never shared across it
        // Three threads on the process's one engine: grouped commits from both processes.
        std::vector<std::thread> pool;
        std::atomic<int> failed{0};
        for (int t = 0; t < threads_per_process; ++t) {
          pool.emplace_back([&, t] {
            try {
              for (int i = 0; i < per_process; ++i) {
                walk(e, fmt::format("P{}-{}-{}", p, t, i), 3);
              }
            } catch (...) {
              ++failed;
            }
          });
        }
        for (auto& th : pool) th.join();
        if (failed > 0) code = 1;
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const verify_result v = verify_database(db.path());
  CHECK(v.intact);
  CHECK(v.rows == processes * threads_per_process * per_process * 3);
  CHECK(v.referrals == processes * threads_per_process * per_process);
}

namespace {
// Writers killed with SIGKILL mid-load, `rounds` times: every acknowledged command is present,
// the chain verifies, and replay equals the stored state. With threads > 1, the writer is one
// engine driven by that many threads: its commands commit in groups (group commit).
void crash_rounds(int rounds, durability sync, int threads = 1) {
  temp_db db;
  { open_engine(db.path()); }
  std::mt19937 rng(12345);
  std::map<std::string, std::uint64_t> acked;  // referral id -> highest acknowledged version
  for (int round = 0; round < rounds; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      engine_options o = paperwork_on_file();
      o.sync = sync;
      engine e = open_engine(db.path(), o);
      const auto writer = [&](int t) {
        for (int i = 0;; ++i) {
          const std::string id =
              "C" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i);
          walk(e, id, 3);
          // Acknowledged: all three commands returned. (One write of a short line: atomic.)
          const std::string line = id + "\n";
          if (write(fds[1], line.data(), line.size()) < 0) _exit(2);
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(writer, t);
      writer(0);  // never returns: the parent kills the process
    }
    close(fds[1]);
    // Kill at a random moment once the writer is under way (its first acknowledgement), so that
    // every round crashes mid-load however slowly the child starts (a sanitizer build is slow).
    std::string buffer;
    char chunk[4096];
    ssize_t n = 0;
    while (buffer.find('\n') == std::string::npos && (n = read(fds[0], chunk, sizeof chunk)) > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0)
      buffer.append(chunk, static_cast<std::size_t>(n));
    close(fds[0]);
    for (std::size_t pos = 0, next = 0; (next = buffer.find('\n', pos)) != std::string::npos;
         pos = next + 1) {
      acked[buffer.substr(pos, next - pos)] = 3;
    }
    const verify_result v = verify_database(db.path());
    CAPTURE(round, v.problem);
    REQUIRE(v.intact);
  }
  engine e = open_engine(db.path());
  for (const auto& [id, version] : acked) {
    CAPTURE(id);
    const auto s = e.find(referral_id{id});
    REQUIRE(s.has_value());
    CHECK(s->version >= version);
  }
  CHECK_FALSE(acked.empty());
}
}  // namespace

TEST_CASE("writers killed mid-load lose no acknowledged command and leave a verifiable log",
          "[audit][crash][backends]") {
  crash_rounds(20, durability::full);
  crash_rounds(20, durability::normal);
  crash_rounds(10, durability::full, 4);  // grouped commits
  crash_rounds(10, durability::normal, 4);
}

TEST_CASE("crash consistency, long run", "[.slow][audit][crash]") {
  crash_rounds(300, durability::full);
  crash_rounds(300, durability::normal);
  crash_rounds(100, durability::full, 4);
  crash_rounds(100, durability::normal, 4);
}

TEST_CASE("stripping every MAC does not make a keyed log pass as unkeyed under a checkpoint",
          "[audit][tamper]") {
  temp_db original;
  engine_options keyed = paperwork_on_file();
  keyed.audit_key = audit_key;
  checkpoint anchor;
  {
    engine e = open_engine(original.path(), keyed);
    for (int i = 0; i < 4; ++i) walk(e, "R-" + std::to_string(i), 2);
    anchor = e.make_checkpoint(audit_key, at("2026-03-02T00:00:00Z"));
  }
  CHECK(anchor.rows_keyed);
  temp_db copy;
  copy_of(original, copy);
  {
    raw_database raw(copy.path());
    raw.exec("UPDATE audit SET mac = NULL");
    forge_referral(raw, 9);
  }
  const verify_result v = verify_database(copy.path(), anchor, audit_key);
  CHECK_FALSE(v.intact);
  CHECK(v.first_bad_seq == 1);
  CHECK_THAT(v.problem, Contains("MAC does not verify"));
}

// ---------------------------------------------------------------------------------------------
// Read-only auditing (issue 14, defect 3): a view reads an auditor's evidence copy in a read-only
// directory, the rows still in a -wal file included, and leaves the directory as it was.

namespace {

namespace fs = std::filesystem;

// Every file of a directory, by name, with its bytes and permissions.
std::map<std::string, std::pair<std::string, fs::perms>> contents_of(const fs::path& dir) {
  std::map<std::string, std::pair<std::string, fs::perms>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out[e.path().filename().string()] = {slurp(e.path().string()), e.status().permissions()};
  }
  return out;
}

// A new directory holding copies of `path` with the given suffixes ("", "-wal", "-shm").
fs::path evidence_copy(const std::string& path, const std::vector<std::string>& suffixes) {
  std::string dir = (fs::temp_directory_path() / "kakehashi-evidence-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  for (const auto& s : suffixes) {
    REQUIRE(fs::exists(path + s));
    fs::copy_file(path + s, fs::path(dir) / ("audit.db" + s));
  }
  return dir;
}

void make_read_only(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    fs::permissions(e.path(),
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  }
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                           fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
}

void remove_evidence(const fs::path& dir) {
  fs::permissions(dir, fs::perms::owner_all);
  fs::remove_all(dir);
}

// What a view reads, as one line to compare.
std::string read_through_view(const std::string& db) {
  const auto view = database_view::open(db);
  const verify_result v = view.verify();
  const auto all = view.list();
  const auto history = view.history(referral_id{"R-4"});
  (void)view.make_checkpoint(audit_key, at("2026-03-02T00:00:00Z"));
  return fmt::format("intact={} rows={} referrals={} listed={} R-4 history={} head={}", v.intact,
                     v.rows, v.referrals, all.size(), history.size(), v.head_hash);
}

// Runs read_through_view in a child process that cannot write `dir` (as nobody when the tests
// run as root, whom permissions do not stop); returns what it read, or what went wrong.
std::string read_as_an_auditor(const fs::path& dir) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    std::string out;
    if (geteuid() == 0 &&
        (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
      out = "could not become nobody";
    } else if (const int probe = ::open((dir / "probe").c_str(), O_CREAT | O_WRONLY, 0600);
               probe >= 0) {
      out = "the directory is writable: the test would prove nothing";
    } else {
      try {
        out = read_through_view((dir / "audit.db").string());
      } catch (const std::exception& e) {
        out = std::string("error: ") + e.what();
      }
    }
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return out;
}

}  // namespace

TEST_CASE("an auditor reads a read-only copy, -wal rows included, and changes nothing",
          "[audit][read-only]") {
  temp_db db;
  engine e = open_engine(db.path(), paperwork_on_file());
  for (int i = 0; i < 10; ++i) walk(e, "R-" + std::to_string(i), 1 + i % 5);
  // The engine is open: its last commits are in the -wal file, not yet in the database file.
  const std::string expected = read_through_view(db.path());
  CHECK_THAT(expected, Contains("intact=true rows=30 referrals=10 listed=10 R-4 history=5"));

  // A read-only copy of the database with `suffixes` ("-wal", "-shm") beside it, read by an
  // auditor who cannot write there: every row seen, the directory unchanged.
  const auto check_copy = [&](const std::vector<std::string>& suffixes) {
    const auto dir = evidence_copy(db.path(), suffixes);
    make_read_only(dir);
    const auto before = contents_of(dir);
    CHECK(read_as_an_auditor(dir) == expected);
    CHECK(contents_of(dir) == before);
    remove_evidence(dir);
  };
  SECTION("the database with its -wal and -shm files") { check_copy({"", "-wal", "-shm"}); }
  SECTION("the database with its -wal file only") { check_copy({"", "-wal"}); }
  SECTION("the database alone, after the engine closed") {
    e = open_engine(":memory:");  // closes the file's engine: the -wal is checkpointed and gone
    REQUIRE_FALSE(fs::exists(db.path() + "-wal"));
    check_copy({""});
  }
}

TEST_CASE("a view creates no file beside a database in a writable directory",
          "[audit][read-only]") {
  temp_db db;
  engine e = open_engine(db.path(), paperwork_on_file());
  for (int i = 0; i < 10; ++i) walk(e, "R-" + std::to_string(i), 1 + i % 5);
  const std::string expected = read_through_view(db.path());
  SECTION("the -wal without its -shm is read from a private copy") {
    const auto dir = evidence_copy(db.path(), {"", "-wal"});
    const auto before = contents_of(dir);
    CHECK(read_through_view((dir / "audit.db").string()) == expected);
    CHECK(contents_of(dir) == before);
    fs::remove_all(dir);
  }
  SECTION("a closed database is read as it is") {
    e = open_engine(":memory:");
    REQUIRE_FALSE(fs::exists(db.path() + "-wal"));
    const auto dir = evidence_copy(db.path(), {""});
    const auto before = contents_of(dir);
    CHECK(read_through_view((dir / "audit.db").string()) == expected);
    CHECK(contents_of(dir) == before);
    fs::remove_all(dir);
  }
}

TEST_CASE("a view of a closed database sees what a writer adds after it opened",
          "[audit][read-only]") {
  temp_db db;
  build(db.path());
  const auto view = database_view::open(db.path());  // no -wal: read as it is, without locks
  CHECK(view.list().size() == 10);
  engine e = open_engine(db.path(), paperwork_on_file());
  walk(e, "R-NEW", 2);
  // A writer came: the view reads again through the -wal and -shm.
  CHECK(view.list().size() == 11);
  CHECK(view.find(referral_id{"R-NEW"}).has_value());
  const verify_result v = view.verify();
  CHECK(v.intact);
  CHECK(v.rows == 32);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints the partner keeps (kakehashi/witness.hpp): signed by the host, checked by anyone.

namespace {

// A fresh Ed25519 key pair, as PEM: {private, public}.
std::pair<std::string, std::string> ed25519_keys() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  REQUIRE(key != nullptr);
  const auto pem = [&](bool is_private) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (is_private) {
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, key);
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  };
  auto keys = std::make_pair(pem(true), pem(false));
  EVP_PKEY_free(key);
  return keys;
}

}  // namespace

TEST_CASE("a signed checkpoint verifies with the host's public key only", "[audit][witness]") {
  const auto [private_key, public_key] = ed25519_keys();
  const auto [other_private, other_public] = ed25519_keys();
  const log_head head{12, std::string(64, 'a')};
  const signed_checkpoint c = sign_checkpoint(bm, head, at("2026-03-01T00:00:00Z"), private_key);
  CHECK(c.signature.size() == 128);
  CHECK(signature_valid(c, public_key));
  CHECK_FALSE(signature_valid(c, other_public));
  CHECK(parse_signed_checkpoint(to_json(c)).signature == c.signature);
  CHECK(signature_valid(parse_signed_checkpoint(to_json(c)), public_key));
  for (const auto& edit : std::vector<std::function<void(signed_checkpoint&)>>{
           [](signed_checkpoint& x) { x.seq = 13; },
           [](signed_checkpoint& x) { x.head_hash[0] = 'b'; },
           [](signed_checkpoint& x) { x.at = x.at + std::chrono::seconds(1); },
           [](signed_checkpoint& x) { x.signer = sk; },
           [](signed_checkpoint& x) { x.signature[5] = x.signature[5] == '0' ? '1' : '0'; }}) {
    signed_checkpoint edited = c;
    edit(edited);
    CHECK_FALSE(signature_valid(edited, public_key));
  }
  CHECK_THROWS_WITH(
      sign_checkpoint(bm, head, at("2026-03-01T00:00:00Z"), public_key),
      Contains("[kakehashi.invalid_argument] signing key: is not an Ed25519 private key"));
  CHECK_THROWS_WITH(signature_valid(c, "not a key"),
                    Contains("public key: is not an Ed25519 public key"));
  CHECK_THROWS_WITH(parse_signed_checkpoint(R"({"signer": "bach-mai", "seq": 0})"),
                    Contains("seq") && Contains("head: is required but missing"));
}

TEST_CASE("a partner's checkpoints catch a truncated, a rewritten and a forked log",
          "[audit][witness][tamper]") {
  const auto [private_key, public_key] = ed25519_keys();
  temp_db original;
  std::vector<signed_checkpoint> kept;  // what the partner keeps, as the host hands them over
  {
    engine e = open_engine(original.path());
    for (int i = 0; i < 6; ++i) {
      walk(e, "R-" + std::to_string(i), 2);
      kept.push_back(sign_checkpoint(bm, e.head(), at("2026-03-02T00:00:00Z"), private_key));
    }
  }
  REQUIRE(kept.back().seq == 12);
  {
    const auto view = database_view::open(original.path());
    const witness_result ok = check_witnessed(view, kept, public_key);
    CHECK(ok.consistent);
    CHECK(ok.checked == 6);
  }
  SECTION("truncated, and the referrals rebuilt to match") {
    temp_db copy;
    copy_of(original, copy);
    {
      raw_database raw(copy.path());
      raw.exec("DELETE FROM audit WHERE seq > 10; DELETE FROM referral WHERE id = 'R-5'");
    }
    CHECK(verify_database(copy.path()).intact);  // the log alone cannot tell
    const witness_result r = check_witnessed(database_view::open(copy.path()), kept, public_key);
    CHECK_FALSE(r.consistent);
    CHECK(r.bad_seq == 12);
    CHECK_THAT(r.problem, Contains("the log ends at row 10: it was truncated"));
  }
  SECTION("an early row edited and the chain recomputed") {
    temp_db copy;
    copy_of(original, copy);
    {
      raw_database raw(copy.path());
      raw.exec("UPDATE audit SET actor_user = 'someone-else' WHERE seq = 3");
      recompute_chain(raw);
    }
    CHECK(verify_database(copy.path()).intact);  // without a key or a checkpoint
    const witness_result r = check_witnessed(database_view::open(copy.path()), kept, public_key);
    CHECK_FALSE(r.consistent);
    CHECK(r.bad_seq == 4);  // the first checkpoint at or after row 3
    CHECK_THAT(r.problem, Contains("row 4 has another hash than the host signed"));
  }
  SECTION("two partners shown two histories") {
    // The same log up to row 12, then one command shown to one partner and another to the other.
    temp_db fork_a, fork_b;
    copy_of(original, fork_a);
    copy_of(original, fork_b);
    std::vector<signed_checkpoint> a = kept, b = kept;
    {
      engine e = open_engine(fork_a.path());
      (void)e.apply(referral_id{"R-0"},
                    event::cancel{bm_coordinator(), at("2026-03-03T00:00:00Z"),
                                  cancel_reason::treated_locally},
                    "fork-a");
      a.push_back(sign_checkpoint(bm, e.head(), at("2026-03-03T00:00:00Z"), private_key));
    }
    {
      engine e = open_engine(fork_b.path());
      (void)e.apply(referral_id{"R-1"},
                    event::cancel{bm_coordinator(), at("2026-03-03T00:00:00Z"),
                                  cancel_reason::clinical_change},
                    "fork-b");
      b.push_back(sign_checkpoint(bm, e.head(), at("2026-03-03T00:00:00Z"), private_key));
    }
    // Each log agrees with its own partner; the partners' checkpoints disagree at row 13.
    CHECK(check_witnessed(database_view::open(fork_a.path()), a, public_key).consistent);
    CHECK_FALSE(check_witnessed(database_view::open(fork_a.path()), b, public_key).consistent);
    const witness_result r = compare_witnesses(a, b);
    CHECK_FALSE(r.consistent);
    CHECK(r.bad_seq == 13);
    CHECK_THAT(r.problem, Contains("row 13 has two heads"));
    CHECK(compare_witnesses(kept, kept).consistent);
  }
  SECTION("a checkpoint not signed by the host") {
    const auto [forger_private, forger_public] = ed25519_keys();
    std::vector<signed_checkpoint> forged = kept;
    forged.push_back(sign_checkpoint(bm, {99, std::string(64, 'f')}, at("2026-03-03T00:00:00Z"),
                                     forger_private));
    const witness_result r =
        check_witnessed(database_view::open(original.path()), forged, public_key);
    CHECK_FALSE(r.consistent);
    CHECK_THAT(r.problem, Contains("is not signed by the host's key"));
  }
}
