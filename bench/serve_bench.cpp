// kakehashi serve beside the engine alone. One unit of work is a referral's lifecycle: propose,
// record consent, accept, transfer, complete. `serve_lifecycle` runs it through the HTTPS API
// (mutual TLS, keep-alive libcurl clients on 127.0.0.1, each its own connection) with 1, 4 or 16
// concurrent clients, answered with the Task or, under `Prefer: return=minimal`, without it;
// `engine_lifecycle_threads` runs the same five commands on the engine alone with as many
// threads, in the same run, on the same kind of database. Both at FULL and NORMAL durability.
// Counters: referrals/s, requests (commands)/s, p50 and p99 latency of one request (command).
// The certificates are made with the openssl command at setup.
#include <benchmark/benchmark.h>
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/fhir.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "api.hpp"
#include "bench_support.hpp"
#include "config.hpp"
#include "https_server.hpp"

namespace kakehashi {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

constexpr int referrals_per_run = 120;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A CA, the server's certificate and two hospitals' client certificates, made once.
const fs::path& certificates() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / fmt::format("kakehashi-bench-tls-{}", getpid());
    fs::create_directories(d);
    const std::string script = fmt::format(
        "cd '{}' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null && "
        "for n in server bach-mai shonan-kamakura; do "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr "
        "-subj /CN=$n 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > $n.ext && "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem "
        "-days 2 -extfile $n.ext 2>/dev/null || exit 1; done",
        d.string());
    if (std::system(script.c_str()) != 0) throw std::runtime_error("openssl failed");
    return d;
  }();
  return dir;
}

std::string fingerprint(const fs::path& pem) {
  const std::string cmd =
      fmt::format("openssl x509 -in '{}' -outform DER | sha256sum | cut -d' ' -f1", pem.string());
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[128];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void report(benchmark::State& state, long referrals, std::vector<double>& latencies) {
  state.counters["referrals_per_second"] =
      benchmark::Counter(static_cast<double>(referrals), benchmark::Counter::kIsRate);
  state.counters["requests_per_second"] =
      benchmark::Counter(static_cast<double>(referrals * 5), benchmark::Counter::kIsRate);
  state.counters["p50_ms"] = percentile(latencies, 0.50) * 1000;
  state.counters["p99_ms"] = percentile(latencies, 0.99) * 1000;
}

struct policy_bits {
  consent_policy policy;
  engine_options options;
};

policy_bits production_policy(bool full) {
  const policy_settings s =
      load_policy_file(std::string(KAKEHASHI_SOURCE_DIR) + "/data/policy.example.json");
  policy_bits out{s.policy, {}};
  out.options.sync = full ? durability::full : durability::normal;
  out.options.compliance = s.compliance;
  out.options.payload_classes = s.payload_classes;
  return out;
}

instant now() { return date::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

// ---- the service ------------------------------------------------------------------------------

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One hospital system's connection: a libcurl handle kept alive across requests.
class client {
 public:
  client(const std::string& hospital, unsigned short port, bool minimal)
      : port_(port), minimal_(minimal) {
    const fs::path& d = certificates();
    curl_ = curl_easy_init();
    curl_easy_setopt(curl_, CURLOPT_CAINFO, (d / "ca.pem").c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLCERT, (d / (hospital + ".pem")).c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLKEY, (d / (hospital + ".key")).c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body_);
  }
  ~client() { curl_easy_cleanup(curl_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // POSTs and returns the status; the response in body().
  long post(const std::string& path, const std::string& data, const std::string& role,
            const std::string& request_id) {
    body_.clear();
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/fhir+json");
    if (minimal_) headers = curl_slist_append(headers, "Prefer: return=minimal");
    headers = curl_slist_append(headers, ("X-Actor-Role: " + role).c_str());
    headers = curl_slist_append(headers, ("X-Request-ID: " + request_id).c_str());
    const std::string url = fmt::format("https://127.0.0.1:{}{}", port_, path);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, data.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(data.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    long status = 0;
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(headers);
    return status;
  }
  // GETs and returns the status.
  long get(const std::string& path) {
    body_.clear();
    const std::string url = fmt::format("https://127.0.0.1:{}{}", port_, path);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    long status = 0;
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    }
    return status;
  }
  const std::string& body() const { return body_; }

 private:
  unsigned short port_;
  bool minimal_;  // Prefer: return=minimal (no Task in the answers)
  CURL* curl_ = nullptr;
  std::string body_;
};

// The service over a fresh database, serving on a thread until destroyed.
struct service {
  explicit service(bool full)
      : path(bench::db_path(full ? "serve-full" : "serve-normal")),
        agreements(bench::shipped_agreements()),
        bits(production_policy(full)),
        store(engine::open(path, agreements, bits.policy, bits.options)) {
    const fs::path& d = certificates();
    cfg.host = hospital_id{"bach-mai"};
    cfg.database = path;
    cfg.port = 0;
    cfg.certificate = (d / "server.pem").string();
    cfg.private_key = (d / "server.key").string();
    cfg.client_ca = (d / "ca.pem").string();
    cfg.clients = {{hospital_id{"bach-mai"}, fingerprint(d / "bach-mai.pem")},
                   {hospital_id{"shonan-kamakura"}, fingerprint(d / "shonan-kamakura.pem")}};
    cfg.limits.threads = 8;  // the default
    cfg.limits.connections = 64;
    handler = std::make_unique<serve::api>(cfg, store, agreements, now);
    server = std::make_unique<serve::https_server>(
        cfg, [this](const serve::request& r) { return handler->handle(r); },
        [](const serve::request&, int, double) {});
    runner = std::thread([this] { server->run(); });
  }
  ~service() {
    server->stop();
    runner.join();
    bench::remove_db(path);
  }
  std::string path;
  agreement_directory agreements;
  policy_bits bits;
  engine store;
  serve::config cfg;
  std::unique_ptr<serve::api> handler;
  std::unique_ptr<serve::https_server> server;
  std::thread runner;
};

std::string task_json(const std::string& id) {
  return json{
      {"resourceType", "Task"},
      {"status", "requested"},
      {"intent", "order"},
      {"identifier", {{{"system", "urn:kakehashi:referral"}, {"value", id}}}},
      {"requester",
       {{"identifier", {{"system", "urn:kakehashi:hospital"}, {"value", "bach-mai"}}}}},
      {"owner",
       {{"identifier", {{"system", "urn:kakehashi:hospital"}, {"value", "shonan-kamakura"}}}}},
      {"for", {{"identifier", {{"system", "urn:kakehashi:patient"}, {"value", "P-3f9c1a"}}}}},
      {"input",
       {{{"type", {{"coding", {{{"system", "urn:kakehashi:task-input"}, {"code", "specialty"}}}}}},
         {"valueCodeableConcept",
          {{"coding", {{{"system", "urn:kakehashi:specialty"}, {"code", "cardiology"}}}}}}}}}}
      .dump();
}

void serve_lifecycle(benchmark::State& state) {
  const bool full = state.range(0) == 1;
  const int clients = static_cast<int>(state.range(1));
  const bool minimal = state.range(2) == 1;
  static const std::string consent =
      json{{"resourceType", "Parameters"},
           {"parameter",
            {{{"name", "consent-record"},
              {"valueString", slurp(std::string(KAKEHASHI_SOURCE_DIR) +
                                    "/data/consents/bach-mai-2026-complete.json")}}}}}
          .dump();
  service s(full);
  const unsigned short port = s.server->port();
  // Each client holds its two hospitals' connections for the whole run, as an integration
  // engine holds its connections: the handshakes are not part of the timed work.
  std::vector<std::unique_ptr<client>> connections;
  for (int c = 0; c < clients; ++c) {
    connections.push_back(std::make_unique<client>("bach-mai", port, minimal));
    connections.push_back(std::make_unique<client>("shonan-kamakura", port, minimal));
  }
  std::vector<double> latencies;
  std::mutex latencies_mutex;
  long referrals = 0;
  int run = 0;
  for (auto _ : state) {
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    const int this_run = run++;
    std::vector<std::thread> workers;
    for (int c = 0; c < clients; ++c) {
      workers.emplace_back([&, c] {
        client& bm = *connections[2 * static_cast<std::size_t>(c)];
        client& sk = *connections[2 * static_cast<std::size_t>(c) + 1];
        std::vector<double> mine;
        const auto timed = [&](client& who, const std::string& path, const std::string& body,
                               const char* role, const std::string& key, long expected) {
          const auto t0 = clock_type::now();
          const long status = who.post(path, body, role, key);
          mine.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
          if (status != expected) failed = true;
          return status == expected;
        };
        for (int i; (i = next++) < referrals_per_run && !failed;) {
          const std::string id = fmt::format("B{}-{}", this_run, i);
          if (!timed(bm, "/Task", task_json(id), "coordinator", id + ":p", 201)) break;
          const std::string task = "/Task/" + fhir::resource_id("Task", id) + "/$";
          if (!timed(bm, task + "record-consent", consent, "coordinator", id + ":c", 200) ||
              !timed(sk, task + "accept", "", "clinician", id + ":a", 200) ||
              !timed(sk, task + "transfer", consent, "coordinator", id + ":t", 200) ||
              !timed(sk, task + "complete", "", "clinician", id + ":d", 200)) {
            break;
          }
        }
        std::lock_guard<std::mutex> lock(latencies_mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& w : workers) w.join();
    if (failed) {
      state.SkipWithError("a request failed");
      return;
    }
    referrals += referrals_per_run;
  }
  report(state, referrals, latencies);
}

// The transport alone: GET /health on one kept-alive connection (TLS, HTTP, the server's
// dispatch and the client, no engine and no FHIR): the floor under every request above.
void serve_health_roundtrip(benchmark::State& state) {
  service s(false);
  client c("bach-mai", s.server->port(), false);
  std::vector<double> latencies;
  long requests = 0;
  for (auto _ : state) {
    for (int i = 0; i < 1000; ++i) {
      const auto t0 = clock_type::now();
      if (c.get("/health") != 200) {
        state.SkipWithError("GET /health failed");
        return;
      }
      latencies.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
    }
    requests += 1000;
  }
  state.counters["requests_per_second"] =
      benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
  state.counters["p50_ms"] = percentile(latencies, 0.50) * 1000;
  state.counters["p99_ms"] = percentile(latencies, 0.99) * 1000;
}

// ---- the engine alone ---------------------------------------------------------------------------

void engine_lifecycle_threads(benchmark::State& state) {
  const bool full = state.range(0) == 1;
  const int threads = static_cast<int>(state.range(1));
  const std::string path = bench::db_path(full ? "engine-threads-full" : "engine-threads-normal");
  const agreement_directory agreements = bench::shipped_agreements();
  const policy_bits bits = production_policy(full);
  engine e = engine::open(path, agreements, bits.policy, bits.options);
  const consent_record consent = load_consent_file(std::string(KAKEHASHI_SOURCE_DIR) +
                                                   "/data/consents/bach-mai-2026-complete.json");
  const hospital_id bm{"bach-mai"}, sk{"shonan-kamakura"};
  const actor coordinator{bm, actor_role::coordinator, user_id{}};
  const actor clinician{sk, actor_role::clinician, user_id{}};
  const actor receiver{sk, actor_role::coordinator, user_id{}};
  std::vector<double> latencies;
  std::mutex latencies_mutex;
  long referrals = 0;
  int run = 0;
  for (auto _ : state) {
    std::atomic<int> next{0};
    const int this_run = run++;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        std::vector<double> mine;
        const auto timed = [&](auto&& command) {
          const auto t0 = clock_type::now();
          command();
          mine.push_back(std::chrono::duration<double>(clock_type::now() - t0).count());
        };
        for (int i; (i = next++) < referrals_per_run;) {
          const std::string k = fmt::format("B{}-{}", this_run, i);
          const referral_id id{k};
          timed([&] {
            (void)e.propose(
                {id, bm, sk, specialty_code{"cardiology"}, consent.patient, coordinator, now()},
                k + ":p");
          });
          timed([&] { (void)e.record_consent(id, consent, coordinator, now(), k + ":c"); });
          timed([&] { (void)e.apply(id, event::accept{clinician, now()}, k + ":a"); });
          timed([&] { (void)e.transfer(id, consent, receiver, now(), k + ":t"); });
          timed([&] { (void)e.apply(id, event::complete{clinician, now()}, k + ":d"); });
        }
        std::lock_guard<std::mutex> lock(latencies_mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
    for (auto& w : workers) w.join();
    referrals += referrals_per_run;
  }
  report(state, referrals, latencies);
  bench::remove_db(path);
}

void arguments(benchmark::internal::Benchmark* b) {
  for (int full : {1, 0}) {
    for (int clients : {1, 4, 16}) b->Args({full, clients});
  }
  b->ArgNames({"full", "clients"})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
}

// The service, also with Prefer: return=minimal (answers without the Task).
void serve_arguments(benchmark::internal::Benchmark* b) {
  for (int full : {1, 0}) {
    for (int minimal : {0, 1}) {
      for (int clients : {1, 4, 16}) b->Args({full, clients, minimal});
    }
  }
  b->ArgNames({"full", "clients", "minimal"})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(3);
}

}  // namespace

BENCHMARK(engine_lifecycle_threads)->Apply(arguments);
BENCHMARK(serve_lifecycle)->Apply(serve_arguments);
BENCHMARK(serve_health_roundtrip)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace kakehashi
