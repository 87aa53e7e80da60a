// The engine on PostgreSQL (issue 17): commands per second with 1, 4 and 16 clients, each client
// a connection of its own (an engine each, as several service processes on one database), all
// cancelling proposed referrals at full durability:
//   pg_engine/backend:1        the engine on PostgreSQL (synchronous_commit on);
//   pg_handwritten             hand-written libpq code running the engine's SQL for the same
//                              command: BEGIN and the writers' lock on the audit table, read the
//                              referral, update it under its version, read the chain head, hash
//                              the row (SHA-256 of the same encoding), insert it, COMMIT;
//   pg_engine/backend:0        the engine on SQLite with the same clients (an engine each on one
//                              file, synchronous FULL).
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
    return [e](int i) {
      const std::string id = std::to_string(i);
      e->apply(
          referral_id{"R-" + id},
          event::cancel{coordinator, t0 + std::chrono::hours{i}, cancel_reason::patient_request},
          "c-" + id);
    };
  });
  state.SetLabel(postgres ? "PostgreSQL" : "SQLite");
  if (!postgres) bench::remove_db(db);
}

// One client's hand-written command: the engine's SQL on its own connection.
class handwritten {
 public:
  explicit handwritten(const std::string& uri) : c_(PQconnectdb(uri.c_str())) {
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
    pg_exec(c_, "BEGIN; LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE");
    PGresult* g = run("get", {id.c_str()});
    const std::string version = PQntuples(g) ? PQgetvalue(g, 0, 13) : "1";
    PQclear(g);
    const std::string next = std::to_string(std::stoll(version) + 1);
    const std::string updated = std::to_string(1772323200 + i * 3600LL);
    PQclear(run("update", {"closed", "0", "", "", updated.c_str(), next.c_str(), id.c_str(),
                           version.c_str(), "cancelled"}));
    PGresult* h = run("head", {});
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
    PQclear(run("insert", {seq_text.c_str(), id.c_str(), fields[3].c_str(), fields[4].c_str(),
                           fields[5].c_str(), fields[6].c_str(), fields[7].c_str(),
                           fields[8].c_str(), fields[9].c_str(), "0", fields[11].c_str(),
                           fields[12].c_str(), key.c_str(), prev.c_str(), hash.c_str()}));
    pg_exec(c_, "COMMIT");
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
  PGconn* c_;
  EVP_MD_CTX* ctx_ = EVP_MD_CTX_new();
  EVP_MD* md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
};

void pg_handwritten(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  if (!server()) {
    state.SkipWithError("KAKEHASHI_BENCH_POSTGRES is not set (bench/postgres_ratios.sh)");
    return;
  }
  schema s("handwritten_" + std::to_string(clients));
  propose(s.uri(), total);  // the engine's schema and the same referrals
  run_clients(state, clients, total, [&] {
    auto h = std::make_shared<handwritten>(s.uri());
    return [h](int i) { h->command(i); };
  });
  state.SetLabel("PostgreSQL, hand-written libpq");
}

}  // namespace

BENCHMARK(pg_engine)
    ->ArgNames({"backend", "clients"})
    ->ArgsProduct({{1, 0}, {1, 4, 16}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(pg_handwritten)
    ->ArgNames({"clients"})
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
