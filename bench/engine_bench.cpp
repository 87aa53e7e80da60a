// The engine's durable command throughput beside four baselines measured in the same run, all
// through the SQLite C API:
//  - raw_engine_sql: the engine's own statements on the engine's own schema, hand-written (read
//    the referral, versioned UPDATE, chain head, SHA-256 of the same encoding, INSERT the audit
//    row with its unique idempotency key; a savepoint per command in batches). This is the
//    "hand-written baseline doing the same SQL" that the NORMAL targets compare against;
//  - raw_audit_insert: a bare INSERT of the same audit row into the engine's audit table (its
//    idempotency and per-referral indexes included): the FULL target's "bare insert";
//  - raw_transition and raw_insert: the same two shapes on a minimal schema with no index at
//    all (what SQLite does without the engine's promises): floors, reported, not targets.
// Each in three regimes: synchronous=FULL one command per commit, NORMAL one per commit, and
// NORMAL with 100 commands per transaction. The command is `cancel` on a proposed referral.
//
//   build/release/bench/kakehashi_bench --benchmark_filter='engine_cancel|raw'
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <kakehashi/engine.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace {

using namespace kakehashi;

struct regime {
  const char* name;
  bool full;
  int per_txn;
};
constexpr regime regimes[] = {
    {"FULL/1", true, 1}, {"NORMAL/1", false, 1}, {"NORMAL/100", false, 100}};

const hospital_id bm{"bach-mai"};
const actor coordinator{bm, actor_role::coordinator, user_id{"io-bm-1"}};
const instant t0{std::chrono::seconds{1772323200}};  // 2026-03-01T00:00:00Z

// The engine benchmark and the baselines on the engine's schema start from the same file:
// bench::propose_referrals.
using bench::propose_referrals;

void engine_cancel(benchmark::State& state) {
  const regime& r = regimes[state.range(0)];
  const std::string path = bench::db_path("engine");
  engine_options o;
  o.sync = r.full ? durability::full : durability::normal;
  const auto n = static_cast<int>(state.max_iterations);
  propose_referrals(path, n);
  engine e = engine::open(path, bench::shipped_agreements(), consent_policy::standard(), o);
  int i = 0;
  const auto one = [&] {
    const std::string id = std::to_string(i);
    e.apply(referral_id{"R-" + id},
            event::cancel{coordinator, t0 + std::chrono::hours{i}, cancel_reason::patient_request},
            "c-" + id);
    ++i;
  };
  for (auto _ : state) {
    if (r.per_txn == 1) {
      one();
    } else if (i % r.per_txn == 0 && i < n) {
      // The batch opens with the first command of each group and covers the next per_txn - 1
      // (the loop's later iterations find nothing left to do: no empty transactions).
      e.batch([&] {
        for (int k = 0; k < r.per_txn && i < n; ++k) one();
      });
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(r.name);
  bench::remove_db(path);
}

// The raw SQLite baselines share one schema shaped like the engine's.
struct raw_db {
  sqlite3* db = nullptr;
  sqlite3_stmt* update = nullptr;
  sqlite3_stmt* head = nullptr;
  sqlite3_stmt* insert = nullptr;
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string path;

  explicit raw_db(bool full, int n) : path(bench::db_path("raw")) {
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    sqlite3_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr,
                 nullptr, nullptr);
    sqlite3_exec(db,
                 "CREATE TABLE referral(id TEXT PRIMARY KEY, state TEXT, updated_at INTEGER, "
                 "version INTEGER);"
                 "CREATE TABLE audit(seq INTEGER PRIMARY KEY, referral_id TEXT, recorded_at TEXT, "
                 "actor_org TEXT, actor_role TEXT, actor_user TEXT, command TEXT, state_before "
                 "TEXT, state_after TEXT, outcome INTEGER, reason_code TEXT, details TEXT, "
                 "idempotency_key TEXT, prev_hash TEXT, hash TEXT, mac TEXT)",
                 nullptr, nullptr, nullptr);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* ins = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO referral VALUES(?, 'proposed', 0, 1)", -1, &ins, nullptr);
    for (int i = 0; i < n; ++i) {
      const std::string id = "R-" + std::to_string(i);
      sqlite3_bind_text(ins, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(
        db,
        "UPDATE referral SET state = 'closed', updated_at = ?, version = version + 1 "
        "WHERE id = ? AND version = ?",
        -1, &update, nullptr);
    sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &head,
                       nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO audit VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)", -1,
                       &insert, nullptr);
  }
  ~raw_db() {
    sqlite3_finalize(update);
    sqlite3_finalize(head);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    bench::remove_db(path);
  }

  std::string sha256(const std::string& data) { return bench::sha256_hex(ctx, md, data); }

  void insert_audit(long long seq, const std::string& id, const std::string& prev,
                    const std::string& hash) {
    const char* text[] = {
        id.c_str(), "2026-03-01T00:00:00Z", "bach-mai", "coordinator", "io-bm-1", "cancel",
        "proposed", "closed:cancelled"};
    sqlite3_bind_int64(insert, 1, seq);
    for (int k = 0; k < 8; ++k) sqlite3_bind_text(insert, k + 2, text[k], -1, SQLITE_STATIC);
    sqlite3_bind_int(insert, 10, 0);
    sqlite3_bind_text(insert, 11, "cancelled", -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 12, "{\"reason\":\"patient_request\"}", -1, SQLITE_STATIC);
    const std::string key = "c-" + id;
    sqlite3_bind_text(insert, 13, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 14, prev.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 15, hash.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(insert);
    sqlite3_reset(insert);
  }

  void transition(int i) {
    const std::string id = "R-" + std::to_string(i);
    sqlite3_bind_int64(update, 1, 1772323200);
    sqlite3_bind_text(update, 2, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(update, 3, 1);
    sqlite3_step(update);
    sqlite3_reset(update);
    long long seq = 1;
    std::string prev(64, '0');
    if (sqlite3_step(head) == SQLITE_ROW) {
      seq = sqlite3_column_int64(head, 0) + 1;
      prev = reinterpret_cast<const char*>(sqlite3_column_text(head, 1));
    }
    sqlite3_reset(head);
    insert_audit(seq, id, prev, sha256(std::to_string(seq) + id + "cancel" + prev));
  }
};

template <class Body>
void run_raw(benchmark::State& state, Body body) {
  const regime& r = regimes[state.range(0)];
  raw_db raw(r.full, static_cast<int>(state.max_iterations));
  int i = 0;
  for (auto _ : state) {
    if (i % r.per_txn == 0) sqlite3_exec(raw.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    body(raw, i);
    ++i;
    if (i % r.per_txn == 0) sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  }
  if (i % r.per_txn != 0) sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(r.name);
}

void raw_transition(benchmark::State& state) {
  run_raw(state, [](raw_db& raw, int i) { raw.transition(i); });
}

void raw_insert(benchmark::State& state) {
  const std::string hash(64, 'a');
  run_raw(state, [&](raw_db& raw, int i) {
    raw.insert_audit(i + 1, "R-" + std::to_string(i), hash, hash);
  });
}

// The same statements the engine runs, hand-written against the engine's own schema: read the
// referral, update it under its version, read the chain head, hash, insert the audit row (whose
// unique idempotency key makes a repeated command conflict); in batches, one savepoint per
// command (the engine undoes a failed command alone). The ratio engine / this is what the library
// itself costs over hand-written code that keeps the same promises.
struct engine_sql {
  sqlite3* db = nullptr;
  std::vector<sqlite3_stmt*> st;
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string path;
  enum { ref_get, ref_update, head, audit_ins, savepoint, release };

  engine_sql(bool full, int n) : path(bench::db_path("enginesql")) {
    propose_referrals(path, n);  // the engine's schema and the same referrals
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr,
                 nullptr, nullptr);
    for (const char* sql :
         {"SELECT id, origin, destination, specialty, patient, agreement, state, close_reason, "
          "consent_withdrawn, consent_ref, consent_digest, proposed_at, updated_at, version FROM "
          "referral WHERE id = ?",
          "UPDATE referral SET state = ?, close_reason = ?, consent_withdrawn = ?, consent_ref = "
          "?, consent_digest = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?",
          "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
          "INSERT INTO audit (seq, referral_id, recorded_at, actor_org, actor_role, actor_user, "
          "command, state_before, state_after, outcome, reason_code, details, idempotency_key, "
          "prev_hash, hash, mac) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)",
          "SAVEPOINT command", "RELEASE command"}) {
      sqlite3_stmt* s = nullptr;
      sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
      st.push_back(s);
    }
    if (sqlite3_step(st[head]) == SQLITE_ROW) next_seq = sqlite3_column_int64(st[head], 0) + 1;
    sqlite3_reset(st[head]);
  }
  ~engine_sql() {
    for (auto* s : st) sqlite3_finalize(s);
    sqlite3_close(db);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    bench::remove_db(path);
  }
  void step(int which) {
    sqlite3_step(st[static_cast<std::size_t>(which)]);
    sqlite3_reset(st[static_cast<std::size_t>(which)]);
  }
  void text(int which, int col, const std::string& v) {
    sqlite3_bind_text(st[static_cast<std::size_t>(which)], col, v.c_str(), -1, SQLITE_TRANSIENT);
  }

  void command(int i, bool in_batch) {
    const std::string id = "R-" + std::to_string(i);
    const std::string key = "c-" + std::to_string(i);
    if (in_batch) step(savepoint);
    text(ref_get, 1, id);
    sqlite3_stmt* g = st[ref_get];
    long long version = 1;
    if (sqlite3_step(g) == SQLITE_ROW) version = sqlite3_column_int64(g, 13);
    sqlite3_reset(g);
    sqlite3_stmt* u = st[ref_update];
    text(ref_update, 1, "closed");
    text(ref_update, 2, "cancelled");
    sqlite3_bind_int(u, 3, 0);
    text(ref_update, 4, "");
    text(ref_update, 5, "");
    sqlite3_bind_int64(u, 6, 1772323200 + i * 3600LL);
    sqlite3_bind_int64(u, 7, version + 1);
    text(ref_update, 8, id);
    sqlite3_bind_int64(u, 9, version);
    step(ref_update);
    // The chain head: read once per transaction, then the row this code inserted last (as the
    // engine does: no other connection can write until the transaction ends).
    if (head_seq < 0) {
      head_seq = 0;
      head_hash.assign(64, '0');
      sqlite3_stmt* h = st[head];
      if (sqlite3_step(h) == SQLITE_ROW) {
        head_seq = sqlite3_column_int64(h, 0);
        head_hash = reinterpret_cast<const char*>(sqlite3_column_text(h, 1));
      }
      sqlite3_reset(h);
    }
    const long long seq = head_seq + 1;
    const std::string prev = head_hash;
    const auto fields = bench::cancel_row(id, key, prev);
    const std::string hash = bench::sha256_hex(ctx, md, bench::length_prefixed(fields));
    sqlite3_stmt* a = st[audit_ins];
    sqlite3_bind_int64(a, 1, seq);
    for (std::size_t c = 0; c < 8; ++c) text(audit_ins, static_cast<int>(c) + 2, fields[c]);
    sqlite3_bind_int(a, 10, 0);
    text(audit_ins, 11, fields[9]);
    text(audit_ins, 12, fields[10]);
    text(audit_ins, 13, key);
    text(audit_ins, 14, prev);
    text(audit_ins, 15, hash);
    step(audit_ins);
    head_seq = seq;
    head_hash = hash;
    if (in_batch) step(release);
  }
  long long head_seq = -1;  // -1: not read in this transaction yet
  std::string head_hash;

  // The bare INSERT of the same audit row into the engine's audit table (its unique idempotency
  // index and per-referral index included): no read, no update, no hashing.
  void bare_insert(int i) {
    static const std::string hash(64, 'a');
    const std::string id = "R-" + std::to_string(i);
    const std::string key = "c-" + std::to_string(i);
    sqlite3_stmt* a = st[audit_ins];
    sqlite3_bind_int64(a, 1, next_seq++);
    const char* fields[] = {
        "2026-03-01T00:00:00Z", "bach-mai", "coordinator", "io-bm-1", "cancel", "proposed",
        "closed:cancelled"};
    text(audit_ins, 2, id);
    for (int c = 0; c < 7; ++c) sqlite3_bind_text(a, c + 3, fields[c], -1, SQLITE_STATIC);
    sqlite3_bind_int(a, 10, 0);
    sqlite3_bind_text(a, 11, "cancelled", -1, SQLITE_STATIC);
    sqlite3_bind_text(a, 12, "{\"reason\":\"patient_request\"}", -1, SQLITE_STATIC);
    text(audit_ins, 13, key);
    text(audit_ins, 14, hash);
    text(audit_ins, 15, hash);
    step(audit_ins);
  }
  long long next_seq = 1;  // bare_insert's next row: after the setup's proposals
};

template <class Body>
void run_engine_sql(benchmark::State& state, Body body) {
  const regime& r = regimes[state.range(0)];
  engine_sql raw(r.full, static_cast<int>(state.max_iterations));
  int i = 0;
  for (auto _ : state) {
    if (i % r.per_txn == 0) {
      sqlite3_exec(raw.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      raw.head_seq = -1;
    }
    body(raw, i, r.per_txn > 1);
    ++i;
    if (i % r.per_txn == 0) sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  }
  if (i % r.per_txn != 0) sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(r.name);
}

void raw_engine_sql(benchmark::State& state) {
  run_engine_sql(state, [](engine_sql& raw, int i, bool in_batch) { raw.command(i, in_batch); });
}

void raw_audit_insert(benchmark::State& state) {
  run_engine_sql(state, [](engine_sql& raw, int i, bool) { raw.bare_insert(i); });
}

// Group commit (issue 18): `submitters` threads share one engine, each cancelling its next
// proposed referral as soon as its previous command returned. Commands that arrive while a
// group is committing commit together. 1 submitter is the engine's own single-submitter
// baseline of the same run. At FULL (the target) with 1, 2, 4, 8 and 16 submitters; at NORMAL
// with 1 and 16, where no fsync is waited for: what the same commands cost in CPU alone, the
// ceiling group commit at FULL approaches. Counters: commands per second, p50 and p99 latency
// of one command, and the mean number of commands per transaction (engine::stats()).
//
//   build/release/bench/kakehashi_bench --benchmark_filter=engine_group_commit
//   bench/group_commit_ratios.py   (rounds, ratios within each round, the JS peer beside)
void engine_group_commit(benchmark::State& state) {
  const bool full = state.range(0) == 1;
  const int submitters = static_cast<int>(state.range(1));
  constexpr int per_iteration = 3000;
  const auto iterations = static_cast<int>(state.max_iterations);
  const std::string path = bench::db_path("group");
  propose_referrals(path, per_iteration * iterations);
  engine_options o;
  o.sync = full ? durability::full : durability::normal;
  engine e = engine::open(path, bench::shipped_agreements(), consent_policy::standard(), o);
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(per_iteration * iterations));
  std::mutex latencies_mutex;
  int base = 0;
  for (auto _ : state) {
    std::atomic<int> next{base};
    const int end = base + per_iteration;
    std::vector<std::thread> workers;
    for (int t = 0; t < submitters; ++t) {
      workers.emplace_back([&] {
        std::vector<double> mine;
        for (int i; (i = next++) < end;) {
          const std::string id = std::to_string(i);
          const auto start = std::chrono::steady_clock::now();
          e.apply(referral_id{"R-" + id},
                  event::cancel{coordinator, t0 + std::chrono::hours{i},
                                cancel_reason::patient_request},
                  "c-" + id);
          mine.push_back(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        std::lock_guard<std::mutex> lock(latencies_mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& w : workers) w.join();
    base = end;
  }
  const engine_stats s = e.stats();
  const auto percentile = [&](double p) {
    const auto k = static_cast<std::size_t>(p * static_cast<double>(latencies.size() - 1));
    std::nth_element(latencies.begin(), latencies.begin() + static_cast<long>(k), latencies.end());
    return latencies[k] * 1e3;
  };
  state.counters["commands_per_second"] =
      benchmark::Counter(static_cast<double>(base), benchmark::Counter::kIsRate);
  state.counters["p50_ms"] = percentile(0.50);
  state.counters["p99_ms"] = percentile(0.99);
  state.counters["per_commit"] = static_cast<double>(s.commands) /
                                 static_cast<double>(std::max<std::uint64_t>(1, s.transactions));
  state.SetLabel(full ? "FULL" : "NORMAL");
  bench::remove_db(path);
}
BENCHMARK(engine_group_commit)
    ->ArgNames({"full", "submitters"})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Args({1, 4})
    ->Args({1, 8})
    ->Args({1, 16})
    ->Args({0, 1})
    ->Args({0, 16})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Interleaved per regime, so each engine figure sits beside its baselines from the same moment.
void register_all() {
  const int iterations[] = {3000, 20000, 50000};
  for (int r = 0; r < 3; ++r) {
    for (auto [name, fn] :
         {std::pair{"raw_insert", &raw_insert}, std::pair{"raw_transition", &raw_transition},
          std::pair{"raw_audit_insert", &raw_audit_insert},
          std::pair{"raw_engine_sql", &raw_engine_sql},
          std::pair{"engine_cancel", &engine_cancel}}) {
      benchmark::RegisterBenchmark(name, fn)
          ->Arg(r)
          ->Iterations(iterations[r])
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
}

const bool registered = (register_all(), true);

}  // namespace
