// The engine on PostgreSQL (issue 17): commands per second with 1, 4 and 16 clients, each client
// a connection of its own (an engine each, as several service processes on one database), all
// cancelling proposed referrals at full durability:
//   pg_engine/backend:1        the engine on PostgreSQL (synchronous_commit on);
//   pg_handwritten/design:0    hand-written libpq code running the engine's SQL for the same
//                              command: BEGIN and the writers' lock on the audit table, read the
//                              referral, update it under its version, read the chain head, hash
//                              the row (SHA-256 of the same encoding), insert it, COMMIT;
//   pg_engine/backend:0        the engine on SQLite with the same clients (an engine each on one
//                              file, synchronous FULL);
//   pg_engine_shared           one engine on PostgreSQL shared by the clients' threads (one
//                              service process): its group commit at work.
// And the chain designs issue 17 asks to compare, each hand-written the same way:
//   pg_handwritten/design:0    one chain, writers serialised by LOCK TABLE audit IN SHARE ROW
//                              EXCLUSIVE MODE (the engine's design);
//   pg_handwritten/design:1    one chain whose head is a row, locked FOR UPDATE by each writer,
//                              read from it and updated in it;
//   pg_handwritten/design:2    a chain per hospital (8 here: referral i belongs to hospital
//                              i % 8), each head a row locked FOR UPDATE, so writers of different
//                              hospitals proceed at once; every 500 commands a client writes a
//                              block: the SHA-256 over every chain's head (what would be signed
//                              and given to the partners).
// Needs KAKEHASHI_BENCH_POSTGRES, a connection URI ("postgresql://" with PGHOST and friends set);
// each benchmark gets a schema of its own. bench/postgres_ratios.sh runs it under pg_virtualenv
// and prints the ratios within one run.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <kakehashi/engine.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"

using namespace kakehashi;

namespace {

const char* server() { return std::getenv("KAKEHASHI_BENCH_POSTGRES"); }

void pg_exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const auto status = PQresultStatus(r);
  PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQerrorMessage(c));
  }
}

// A fresh schema on the server, dropped at scope exit; uri() names it.
class schema {
 public:
  explicit schema(const std::string& tag) : name_("kakehashi_bench_" + tag) {
    admin_ = PQconnectdb(server());
    pg_exec(admin_, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS " + name_ +
                        " CASCADE; CREATE SCHEMA " + name_);
  }
  ~schema() {
    PQclear(PQexec(admin_, ("DROP SCHEMA IF EXISTS " + name_ + " CASCADE").c_str()));
    PQfinish(admin_);
  }
  std::string uri() const {
    const std::string base = server();
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           name_;
  }

 private:
  std::string name_;
  PGconn* admin_;
};

const instant t0 = parse_instant("2026-03-01T00:00:00Z");
const actor coordinator{hospital_id{"bach-mai"}, actor_role::coordinator, user_id{"io-bm-1"}};

// `n` proposed referrals R-0 .. R-(n-1), in one batch.
void propose(const std::string& db, int n) {
  engine e = engine::open(db, bench::shipped_agreements(), consent_policy::standard());
  e.batch([&] {
    for (int i = 0; i < n; ++i) {
      e.propose({referral_id{"R-" + std::to_string(i)}, hospital_id{"bach-mai"},
                 hospital_id{"shonan-kamakura"}, specialty_code{"cardiology"},
                 patient_ref{"P-" + std::to_string(i)}, coordinator, t0 + std::chrono::minutes{i}},
                "p-" + std::to_string(i));
    }
  });
}

// The measured command: cancel referral R-i.
void cancel(engine& e, int i) {
  const std::string id = std::to_string(i);
  e.apply(referral_id{"R-" + id},
          event::cancel{coordinator, t0 + std::chrono::hours{i}, cancel_reason::patient_request},
          "c-" + id);
}

// Runs `clients` threads, each taking the next referral number until `total`; the benchmark's
// one iteration is the whole run. The clients connect (and an engine opens) before the clock
// starts.
template <class Client>
void run_clients(benchmark::State& state, int clients, int total, Client&& make_client) {
  std::vector<decltype(make_client())> made;
  for (int t = 0; t < clients; ++t) made.push_back(make_client());
  for (auto _ : state) {
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < clients; ++t) {
      pool.emplace_back([&, t] {
        auto& client = made[static_cast<std::size_t>(t)];
        for (int i; (i = next++) < total;) client(i);
      });
    }
    for (auto& th : pool) th.join();
  }
  state.counters["commands_per_second"] =
      benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

constexpr int total = 3000;

void pg_engine(benchmark::State& state) {
  const bool postgres = state.range(0) == 1;
  const int clients = static_cast<int>(state.range(1));
  if (postgres && !server()) {
    state.SkipWithError("KAKEHASHI_BENCH_POSTGRES is not set (bench/postgres_ratios.sh)");
    return;
  }
  const std::string tag = std::to_string(clients);
  std::optional<schema> s;
  std::string db;
  if (postgres) {
    s.emplace("engine_" + tag);
    db = s->uri();
  } else {
    db = bench::db_path(("clients-" + tag).c_str());
  }
  propose(db, total);
  run_clients(state, clients, total, [&] {
    auto e = std::make_shared<engine>(
        engine::open(db, bench::shipped_agreements(), consent_policy::standard()));
    return [e](int i) { cancel(*e, i); };
  });
  state.SetLabel(postgres ? "PostgreSQL" : "SQLite");
  if (!postgres) bench::remove_db(db);
}

// How concurrent writers extend the hash chain (see the top of this file).
enum class chain_design { table_lock = 0, head_row = 1, per_hospital = 2 };
constexpr int hospitals = 8;      // chains of design per_hospital
constexpr int block_every = 500;  // commands between two blocks over the heads (per client)

// The tables designs head_row and per_hospital add to the engine's schema.
void add_chain_heads(const std::string& uri, chain_design design) {
  if (design == chain_design::table_lock) return;
  PGconn* c = PQconnectdb(uri.c_str());
  pg_exec(c,
          "CREATE TABLE chain_head (chain TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
          "hash TEXT NOT NULL); CREATE TABLE chain_block (id BIGSERIAL PRIMARY KEY, "
          "heads_hash TEXT NOT NULL); ALTER TABLE audit ADD COLUMN chain TEXT, ADD COLUMN "
          "chain_seq BIGINT; CREATE SEQUENCE audit_seq START 1000000");
  const int chains = design == chain_design::head_row ? 1 : hospitals;
  for (int h = 0; h < chains; ++h) {
    pg_exec(c, "INSERT INTO chain_head VALUES ('H-" + std::to_string(h) + "', 0, '" +
                   std::string(64, '0') + "')");
  }
  PQfinish(c);
}

// One engine on PostgreSQL shared by `clients` threads (one service process with concurrent
// requests): its group commit puts the commands waiting behind one transaction into the next,
// one lock and one commit for all of them.
void pg_engine_shared(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  if (!server()) {
    state.SkipWithError("KAKEHASHI_BENCH_POSTGRES is not set (bench/postgres_ratios.sh)");
    return;
  }
  schema s("shared_" + std::to_string(clients));
  propose(s.uri(), total);
  auto e = std::make_shared<engine>(
      engine::open(s.uri(), bench::shipped_agreements(), consent_policy::standard()));
  run_clients(state, clients, total, [&] {
    return [e](int i) { cancel(*e, i); };
  });
  state.SetLabel("PostgreSQL, one engine, group commit");
}

// One client's hand-written command: the engine's SQL on its own connection.
class handwritten {
 public:
  handwritten(const std::string& uri, chain_design design)
      : c_(PQconnectdb(uri.c_str())), design_(design) {
    pg_exec(c_, "SET synchronous_commit = on");
    prepare("get",
            "SELECT id, origin, destination, specialty, patient, agreement, state, close_reason, "
            "consent_withdrawn, consent_ref, consent_digest, proposed_at, updated_at, version "
            "FROM referral WHERE id = $1");
    prepare("update",
            "UPDATE referral SET state = $1, consent_withdrawn = $2, consent_ref = $3, "
            "consent_digest = $4, updated_at = $5, version = $6, close_reason = $9 "
            "WHERE id = $7 AND version = $8");
    prepare("head", "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    prepare("insert",
            "INSERT INTO audit (seq, referral_id, recorded_at, actor_org, actor_role, "
            "actor_user, command, state_before, state_after, outcome, reason_code, details, "
            "idempotency_key, prev_hash, hash, mac) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,NULL)");
    if (design_ != chain_design::table_lock) {
      prepare("head_row", "SELECT seq, hash FROM chain_head WHERE chain = $1 FOR UPDATE");
      prepare("insert_chained",
              "INSERT INTO audit (seq, referral_id, recorded_at, actor_org, actor_role, "
              "actor_user, command, state_before, state_after, outcome, reason_code, details, "
              "idempotency_key, prev_hash, hash, mac, chain, chain_seq) VALUES "
              "(nextval('audit_seq'),$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,NULL,$15,$16)");
      prepare("move_head", "UPDATE chain_head SET seq = $2, hash = $3 WHERE chain = $1");
      prepare("heads", "SELECT chain, seq, hash FROM chain_head ORDER BY chain");
      prepare("block", "INSERT INTO chain_block (heads_hash) VALUES ($1)");
    }
  }
  ~handwritten() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
    PQfinish(c_);
  }
  handwritten(const handwritten&) = delete;
  handwritten& operator=(const handwritten&) = delete;

  void command(int i) {
    const std::string id = "R-" + std::to_string(i);
    const std::string key = "c-" + std::to_string(i);
    const std::string chain =
        "H-" + std::to_string(design_ == chain_design::per_hospital ? i % hospitals : 0);
    pg_exec(c_, design_ == chain_design::table_lock
                    ? "BEGIN; LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE"
                    : "BEGIN");
    PGresult* g = run("get", {id.c_str()});
    const std::string version = PQntuples(g) ? PQgetvalue(g, 0, 13) : "1";
    PQclear(g);
    const std::string next = std::to_string(std::stoll(version) + 1);
    const std::string updated = std::to_string(1772323200 + i * 3600LL);
    PQclear(run("update", {"closed", "0", "", "", updated.c_str(), next.c_str(), id.c_str(),
                           version.c_str(), "cancelled"}));
    PGresult* h =
        design_ == chain_design::table_lock ? run("head", {}) : run("head_row", {chain.c_str()});
    long long seq = 1;
    std::string prev(64, '0');
    if (PQntuples(h)) {
      seq = std::stoll(PQgetvalue(h, 0, 0)) + 1;
      prev = PQgetvalue(h, 0, 1);
    }
    PQclear(h);
    const std::string seq_text = std::to_string(seq);
    const std::string fields[] = {"kakehashi.audit/1",
                                  seq_text,
                                  id,
                                  "2026-03-01T00:00:00Z",
                                  "bach-mai",
                                  "coordinator",
                                  "io-bm-1",
                                  "cancel",
                                  "proposed",
                                  "closed:cancelled",
                                  "0",
                                  "cancelled",
                                  "{\"reason\":\"patient_request\"}",
                                  key,
                                  prev};
    const std::string hash = bench::sha256_hex(ctx_, md_, bench::length_prefixed(fields));
    if (design_ == chain_design::table_lock) {
      PQclear(run("insert", {seq_text.c_str(), id.c_str(), fields[3].c_str(), fields[4].c_str(),
                             fields[5].c_str(), fields[6].c_str(), fields[7].c_str(),
                             fields[8].c_str(), fields[9].c_str(), "0", fields[11].c_str(),
                             fields[12].c_str(), key.c_str(), prev.c_str(), hash.c_str()}));
    } else {
      PQclear(run("insert_chained",
                  {id.c_str(), fields[3].c_str(), fields[4].c_str(), fields[5].c_str(),
                   fields[6].c_str(), fields[7].c_str(), fields[8].c_str(), fields[9].c_str(), "0",
                   fields[11].c_str(), fields[12].c_str(), key.c_str(), prev.c_str(), hash.c_str(),
                   chain.c_str(), seq_text.c_str()}));
      PQclear(run("move_head", {chain.c_str(), seq_text.c_str(), hash.c_str()}));
    }
    pg_exec(c_, "COMMIT");
    if (design_ != chain_design::table_lock && ++commands_ % block_every == 0) block();
  }

 private:
  void prepare(const char* name, const char* sql) {
    PGresult* r = PQprepare(c_, name, sql, 0, nullptr);
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) throw std::runtime_error(std::string(name) + ": " + PQerrorMessage(c_));
  }
  PGresult* run(const char* name, const std::vector<const char*>& values) {
    PGresult* r = PQexecPrepared(c_, name, static_cast<int>(values.size()), values.data(), nullptr,
                                 nullptr, 0);
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      PQclear(r);
      throw std::runtime_error(std::string(name) + ": " + PQerrorMessage(c_));
    }
    return r;
  }
  // A block over every chain's head, in its own transaction: what would be signed.
  void block() {
    PGresult* r = run("heads", {});
    std::vector<std::string> heads;
    for (int row = 0; row < PQntuples(r); ++row) {
      for (int col = 0; col < 3; ++col) heads.emplace_back(PQgetvalue(r, row, col));
    }
    PQclear(r);
    const std::string hash = bench::sha256_hex(ctx_, md_, bench::length_prefixed(heads));
    PQclear(run("block", {hash.c_str()}));
  }

  PGconn* c_;
  chain_design design_;
  int commands_ = 0;
  EVP_MD_CTX* ctx_ = EVP_MD_CTX_new();
  EVP_MD* md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
};

void pg_handwritten(benchmark::State& state) {
  const auto design = static_cast<chain_design>(state.range(0));
  const int clients = static_cast<int>(state.range(1));
  if (!server()) {
    state.SkipWithError("KAKEHASHI_BENCH_POSTGRES is not set (bench/postgres_ratios.sh)");
    return;
  }
  schema s("handwritten_" + std::to_string(state.range(0)) + "_" + std::to_string(clients));
  propose(s.uri(), total);  // the engine's schema and the same referrals
  add_chain_heads(s.uri(), design);
  run_clients(state, clients, total, [&] {
    auto h = std::make_shared<handwritten>(s.uri(), design);
    return [h](int i) { h->command(i); };
  });
  state.SetLabel(design == chain_design::table_lock ? "one chain, table lock"
                 : design == chain_design::head_row ? "one chain, head row FOR UPDATE"
                                                    : "a chain per hospital (8), head rows");
}

}  // namespace

BENCHMARK(pg_engine)
    ->ArgNames({"backend", "clients"})
    ->ArgsProduct({{1, 0}, {1, 4, 16}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(pg_engine_shared)
    ->ArgNames({"clients"})
    ->Arg(4)
    ->Arg(16)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(pg_handwritten)
    ->ArgNames({"design", "clients"})
    ->ArgsProduct({{0, 1, 2}, {1, 4, 16}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
