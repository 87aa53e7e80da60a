// kakehashi serve --config FILE: the FHIR R4 referral service over HTTPS with mutual TLS
// (docs/api.md). Logs one JSON line per request on standard error; SIGTERM or SIGINT stops it
// after the requests in flight are answered.
#include <curl/curl.h>
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/witness.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../commands.hpp"
#include "api.hpp"
#include "config.hpp"
#include "https_server.hpp"
#include "notifier.hpp"
#include "receiver.hpp"

namespace kakehashi::tool {
namespace {

instant now() { return date::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

int run_serve(const std::string& config_path) {
  const serve::config c = serve::load_config_file(config_path);
  const agreement_directory agreements = agreement_directory::load_file(c.agreements);
  engine_args args;
  args.db = c.database;
  args.agreements = c.agreements;
  args.policy = c.policy;
  args.key_file = c.audit_key;
  args.durability = c.full_durability ? "full" : "normal";
  known_hospital(agreements, c.host.value(), "host");
  for (std::size_t i = 0; i < c.clients.size(); ++i) {
    known_hospital(agreements, c.clients[i].hospital.value(),
                   fmt::format("clients[{}].hospital", i).c_str());
  }
  engine e = open_engine(args, agreements);
  serve::api api(c, e, agreements, now);
  // The host's signed checkpoints (witness.hpp): on every response that changes something and
  // in every notification, for the partner to keep.
  const std::string signing_key =
      c.signing_key.empty() ? std::string() : read_text(c.signing_key, "signing_key");
  if (!signing_key.empty()) {
    (void)sign_checkpoint(c.host, e.head(), now(), signing_key);  // an unusable key fails now
  }
  const auto checkpoint = [&]() -> std::string {
    if (signing_key.empty()) return {};
    return to_json(sign_checkpoint(c.host, e.head(), now(), signing_key));
  };

  std::mutex log_mutex;
  const auto log_line = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mutex);
    std::cerr << line << '\n';
  };
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::unique_ptr<serve::notifier> notifier;
  serve::https_server server(
      c,
      [&api, &notifier, &checkpoint](const serve::request& r) {
        serve::response out = api.handle(r);
        if (r.method == "POST" && out.status < 300) {
          if (const std::string cp = checkpoint(); !cp.empty()) {
            out.headers["X-Kakehashi-Checkpoint"] = cp;
          }
          // A change: the partners' senders look at their feeds now.
          if (notifier) notifier->wake();
        }
        return out;
      },
      [&](const serve::request& r, int status, double seconds) {
        const auto hospital = api.hospital_of(r);
        const std::string path = r.target.substr(0, r.target.find('?'));
        const auto field = [&](const char* name) {
          const auto it = r.headers.find(name);
          return it == r.headers.end() ? nlohmann::json(nullptr)
                                       : nlohmann::json(printable(it->second, 200));
        };
        const std::string line =
            nlohmann::json{{"time", to_iso8601(now())},
                           {"request_id", field("x-request-id")},
                           {"correlation_id", field("x-correlation-id")},
                           {"hospital", hospital ? nlohmann::json(hospital->value()) : nullptr},
                           {"method", printable(r.method, 16)},
                           {"path", printable(path, 200)},
                           {"status", status},
                           {"ms", static_cast<long>(seconds * 1000 + 0.5)}}
                .dump();
        log_line(line);
      });
  notifier = std::make_unique<serve::notifier>(
      c, e, fmt::format("https://{}:{}/", c.address, server.port()), log_line, checkpoint);
  // SIGTERM or SIGINT drains the server; blocked before any other thread starts.
  std::thread signals = serve::stop_on_signal([&server] { server.stop(); });

  // The deadline sweep, on its schedule, acting for the host hospital.
  std::mutex sweep_mutex;
  std::condition_variable sweep_wake;
  bool stopping = false;
  std::thread sweeper;
  if (c.sweep_every) {
    sweeper = std::thread([&] {
      // Once at start (what fell due while the service was down expires now, not one period
      // later), then on the schedule.
      std::unique_lock<std::mutex> lock(sweep_mutex);
      do {
        try {
          const auto expired = e.expire_overdue({c.host, actor_role::system, user_id{}}, now());
          std::lock_guard<std::mutex> log(log_mutex);
          std::cerr << nlohmann::json{{"time", to_iso8601(now())},
                                      {"sweep", "expire_overdue"},
                                      {"expired", expired.size()}}
                           .dump()
                    << '\n';
        } catch (const error& err) {
          std::lock_guard<std::mutex> log(log_mutex);
          std::cerr << nlohmann::json{{"time", to_iso8601(now())}, {"sweep", err.what()}}.dump()
                    << '\n';
        }
      } while (!sweep_wake.wait_for(lock, *c.sweep_every, [&] { return stopping; }));
    });
  }
  std::cerr << fmt::format(
                   "kakehashi serve: listening on https://{}:{} for {} hospital "
                   "certificate(s); database {}\n",
                   c.address, server.port(), c.clients.size(),
                   serve::printable_database(c.database))
            << std::flush;
  notifier->start();
  server.run();
  notifier->stop();
  {
    std::lock_guard<std::mutex> lock(sweep_mutex);
    stopping = true;
  }
  sweep_wake.notify_all();
  if (sweeper.joinable()) sweeper.join();
  signals.join();
  curl_global_cleanup();
  std::cerr << "kakehashi serve: stopped\n";
  return exit_ok;
}

}  // namespace

command add_serve_command(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Run the FHIR R4 referral service over HTTPS with mutual TLS (docs/api.md)");
  serve->add_option("--config", *config, "The service's configuration file (docs/api.md)")
      ->required();
  return [config] { return run_serve(*config); };
}

}  // namespace kakehashi::tool
