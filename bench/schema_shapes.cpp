// What a `cancel` costs in SQLite alone, hand-written, on the engine's schema and on reshaped
// ones (issue 18's item 2: "at most half today's instructions with the same guarantees"). Each
// shape starts from the same file, written by the engine (5,000 proposals), reshaped by SQL
// where the shape asks for it; then the cancels run in run_cancels(), 100 per transaction,
// synchronous=NORMAL, which callgrind collects alone:
//
//   bench/instructions.sh build/bench 5000 100 SHAPE
//
// Shapes (every one hashes the same audit row encoding with SHA-256 and chains it; the table
// `shapes` below says what each changes): engine (the engine's statements on its schema, a
// savepoint per command: what bench/engine_bench.cpp's raw_engine_sql runs), the candidates
// issue 18 names one at a time (precheck, counter, link; partial, a candidate of our own), all
// of them together (reshaped, reshaped_intkey), and floor (no secondary index and no savepoint:
// no engine that keeps the library's promises does less). README "Performance" gives the counts.
//
// Usage: kakehashi_schema_shapes SHAPE [COMMANDS=5000] [PER_TRANSACTION=100]
#include <openssl/evp.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <kakehashi/engine.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace {

using namespace kakehashi;


// What a shape changes; shapes combine them.
struct shape {
  const char* name;
  bool savepoint;  // a savepoint per command (the engine in a batch)
  bool precheck;   // the idempotency key looked up before writing
  bool counter;    // capacity as a counter row per destination, specialty and month
  bool partial;    // capacity as a partial index of the referrals that count
  bool link;       // history as a link from each audit row to the referral's previous one
  bool intkey;     // the idempotency key's unique index on a 64-bit hash of the key
  bool floor;      // no secondary index at all
};
constexpr shape shapes[] = {
    // name              savepoint precheck counter partial link  intkey floor
    {"engine",           true,     false,   false,  false,  false, false, false},
    {"precheck",         false,    true,    false,  false,  false, false, false},
    {"counter",          true,     false,   true,   false,  false, false, false},
    {"partial",          true,     false,   false,  true,   false, false, false},
    {"link",             true,     false,   false,  false,  true,  false, false},
    {"reshaped",         false,    true,    true,   false,  true,  false, false},
    {"reshaped_intkey",  false,    true,    true,   false,  true,  true,  false},
    {"floor",            false,    false,   false,  false,  false, false, true},
};

// clang-format off
const char* const counter_sql =
    "DROP INDEX referral_destination;"
    "CREATE INDEX referral_destination ON referral(destination, specialty, proposed_at);"
    "CREATE TABLE capacity (destination TEXT NOT NULL, specialty TEXT NOT NULL,"
    "  month INTEGER NOT NULL, counted INTEGER NOT NULL,"
    "  PRIMARY KEY (destination, specialty, month)) WITHOUT ROWID;"
    "INSERT INTO capacity SELECT destination, specialty, proposed_at / 2592000, count(*)"
    "  FROM referral WHERE close_reason IS NULL GROUP BY 1, 2, 3;";
// The listing by hospital keeps a full index on destination; the count reads the partial one.
const char* const partial_sql =
    "DROP INDEX referral_destination;"
    "CREATE INDEX referral_destination ON referral(destination, proposed_at);"
    "CREATE INDEX referral_capacity ON referral(destination, specialty, proposed_at)"
    "  WHERE close_reason IS NULL OR close_reason NOT IN"
    "  ('declined', 'cancelled', 'expired', 'consent_withdrawn');";
const char* const link_sql =
    "DROP INDEX audit_referral;"
    "ALTER TABLE referral ADD COLUMN last_seq INTEGER;"
    "UPDATE referral SET last_seq = (SELECT max(seq) FROM audit WHERE referral_id = referral.id);"
    "ALTER TABLE audit ADD COLUMN referral_prev INTEGER;";
const char* const intkey_sql =
    "DROP INDEX audit_key;"
    "ALTER TABLE audit ADD COLUMN key_hash INTEGER;"
    "CREATE UNIQUE INDEX audit_key ON audit(key_hash);";
const char* const floor_sql =
    "DROP INDEX audit_referral; DROP INDEX audit_key; DROP INDEX referral_destination;"
    "DROP INDEX referral_open; DROP INDEX referral_origin;";
// clang-format on

std::int64_t key_hash(const std::string& key) {  // FNV-1a; a real design would use SipHash
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return static_cast<std::int64_t>(h);
}

struct runner {
  sqlite3* db = nullptr;
  shape kind;
  std::vector<sqlite3_stmt*> st;
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  long long head_seq = -1;
  std::string head_hash;
  enum { key_check, ref_get, ref_update, capacity, head, audit_ins, savepoint, release };

  runner(const std::string& path, shape k) : kind(k) {
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    if (kind.counter) exec(counter_sql);
    if (kind.partial) exec(partial_sql);
    if (kind.link) exec(link_sql);
    if (kind.intkey) exec(intkey_sql);
    if (kind.floor) exec(floor_sql);
    const std::string columns =
        "id, origin, destination, specialty, patient, agreement, state, close_reason, "
        "consent_withdrawn, consent_ref, consent_digest, proposed_at, updated_at, version";
    std::string insert =
        "INSERT INTO audit (seq, referral_id, recorded_at, actor_org, actor_role, actor_user, "
        "command, state_before, state_after, outcome, reason_code, details, idempotency_key, "
        "prev_hash, hash, mac, referral_prev, key_hash) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?16,?17)";
    if (!kind.intkey) insert.replace(insert.find(", key_hash"), 10, "").replace(insert.find(",?17"), 4, "");
    if (!kind.link) insert.replace(insert.find(", referral_prev"), 15, "").replace(insert.find(",?16"), 4, "");
    const std::vector<std::string> sql{
        kind.intkey ? "SELECT 1 FROM audit WHERE key_hash = ?"
                    : "SELECT 1 FROM audit WHERE idempotency_key = ?",
        "SELECT " + columns + (kind.link ? ", last_seq" : "") + " FROM referral WHERE id = ?",
        std::string("UPDATE referral SET state = ?1, close_reason = ?2, consent_withdrawn = ?3, "
                    "consent_ref = ?4, consent_digest = ?5, updated_at = ?6, version = ?7") +
            (kind.link ? ", last_seq = ?10" : "") + " WHERE id = ?8 AND version = ?9",
        "UPDATE capacity SET counted = counted - 1 WHERE destination = ? AND specialty = ? "
        "AND month = ?",
        "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
        insert,
        "SAVEPOINT command",
        "RELEASE command"};
    for (std::size_t q = 0; q < sql.size(); ++q) {
      sqlite3_stmt* s = nullptr;
      const bool needed = q != capacity || kind.counter;
      if (sqlite3_prepare_v2(db, sql[q].c_str(), -1, &s, nullptr) != SQLITE_OK && needed) {
        std::fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        std::exit(1);
      }
      st.push_back(s);
    }
  }
  ~runner() {
    for (auto* s : st) sqlite3_finalize(s);
    sqlite3_close(db);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::fprintf(stderr, "reshaping: %s\n", err);
      std::exit(1);
    }
  }
  void step(int which) {
    const int rc = sqlite3_step(st[static_cast<std::size_t>(which)]);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      std::fprintf(stderr, "step %d: %s\n", which, sqlite3_errmsg(db));
      std::exit(1);
    }
    sqlite3_reset(st[static_cast<std::size_t>(which)]);
  }
  void text(int which, int col, const std::string& v) {
    sqlite3_bind_text(st[static_cast<std::size_t>(which)], col, v.c_str(),
                      static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

  void command(int i) {
    const std::string id = "R-" + std::to_string(i);
    const std::string key = "c-" + std::to_string(i);
    if (kind.savepoint) step(savepoint);
    if (kind.precheck) {  // a repeated key is answered from the log before anything is written
      sqlite3_stmt* k = st[key_check];
      if (kind.intkey) {
        sqlite3_bind_int64(k, 1, key_hash(key));
      } else {
        text(key_check, 1, key);
      }
      if (sqlite3_step(k) == SQLITE_ROW) std::abort();  // every key is new here
      sqlite3_reset(k);
    }
    text(ref_get, 1, id);
    sqlite3_stmt* g = st[ref_get];
    long long version = 1;
    long long proposed_at = 0;
    long long last_seq = 0;
    std::string destination, specialty;
    if (sqlite3_step(g) == SQLITE_ROW) {
      version = sqlite3_column_int64(g, 13);
      proposed_at = sqlite3_column_int64(g, 11);
      destination = reinterpret_cast<const char*>(sqlite3_column_text(g, 2));
      specialty = reinterpret_cast<const char*>(sqlite3_column_text(g, 3));
      if (kind.link) last_seq = sqlite3_column_int64(g, 14);
    }
    sqlite3_reset(g);
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
    if (kind.link) sqlite3_bind_int64(u, 10, seq);
    step(ref_update);
    if (sqlite3_changes(db) != 1) {
      std::fprintf(stderr, "%s: the update changed %d rows\n", kind.name, sqlite3_changes(db));
      std::exit(1);
    }
    if (kind.counter) {
      text(capacity, 1, destination);
      text(capacity, 2, specialty);
      sqlite3_bind_int64(st[capacity], 3, proposed_at / 2592000);
      step(capacity);
    }
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
    if (kind.link) sqlite3_bind_int64(a, 16, last_seq);  // the referral's previous row
    if (kind.intkey) sqlite3_bind_int64(a, 17, key_hash(key));
    step(audit_ins);
    head_seq = seq;
    head_hash = hash;
    if (kind.savepoint) step(release);
  }
};

// Not inlined, so that callgrind can collect exactly this call.
__attribute__((noinline)) void run_cancels(runner& r, int n, int per_txn) {
  for (int i = 0; i < n;) {
    sqlite3_exec(r.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    r.head_seq = -1;
    for (int k = 0; k < per_txn && i < n; ++k, ++i) r.command(i);
    sqlite3_exec(r.db, "COMMIT", nullptr, nullptr, nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const shape* which = nullptr;
  for (const shape& k : shapes) {
    if (argc > 1 && std::strcmp(argv[1], k.name) == 0) which = &k;
  }
  const int n = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int per_txn = argc > 3 ? std::atoi(argv[3]) : 100;
  if (which == nullptr || n <= 0 || per_txn <= 0) {
    std::fprintf(stderr, "usage: kakehashi_schema_shapes SHAPE [COMMANDS>0] [PER_TRANSACTION>0]\n"
                         "shapes:");
    for (const shape& k : shapes) std::fprintf(stderr, " %s", k.name);
    std::fprintf(stderr, "\n");
    return 2;
  }
  const std::string path = bench::db_path("schema-shapes");
  bench::propose_referrals(path, n);  // closed: the WAL is checkpointed before the measured part
  {
    runner r(path, *which);
    sqlite3_exec(r.db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    run_cancels(r, n, per_txn);
    sqlite3_stmt* c = nullptr;
    sqlite3_prepare_v2(r.db, "SELECT count(*) FROM audit", -1, &c, nullptr);
    sqlite3_step(c);
    std::printf("%s: %d cancels, %d per transaction, %lld audit rows\n", which->name, n, per_txn,
                static_cast<long long>(sqlite3_column_int64(c, 0)));
    sqlite3_finalize(c);
  }
  bench::remove_db(path);
  return 0;
}
