#include "notifier.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <kakehashi/error.hpp>
#include <kakehashi/fhir.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kakehashi::serve {
namespace {

using nlohmann::json;

constexpr const char* status_profile =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "backport-subscription-status-r4";
constexpr const char* topic = "urn:kakehashi:SubscriptionTopic:referral-changed";

std::string now_iso() {
  return to_iso8601(date::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

std::size_t discard_body(char*, std::size_t size, std::size_t count, void*) { return size * count; }

}  // namespace

std::string subscription_id(const hospital_id& h) {
  return fhir::resource_id("Subscription", h.value());
}

std::string notification_bundle(const hospital_id& subscriber, const std::vector<change>& events,
                                std::int64_t events_since_start, const std::string& base,
                                const std::string& checkpoint) {
  const std::string subscription = base + "Subscription/" + subscription_id(subscriber);
  json parameters = json::array(
      {{{"name", "subscription"}, {"valueReference", {{"reference", subscription}}}},
       {{"name", "topic"}, {"valueCanonical", topic}},
       {{"name", "status"}, {"valueCode", "active"}},
       {{"name", "type"}, {"valueCode", events.empty() ? "heartbeat" : "event-notification"}},
       {{"name", "events-since-subscription-start"},
        {"valueString", std::to_string(events_since_start)}}});
  if (!checkpoint.empty()) {
    parameters.push_back({{"name", "checkpoint"}, {"valueString", checkpoint}});
  }
  for (const auto& e : events) {
    parameters.push_back(
        {{"name", "notification-event"},
         {"part",
          json::array(
              {{{"name", "event-number"}, {"valueString", std::to_string(e.event)}},
               {{"name", "timestamp"}, {"valueInstant", to_iso8601(e.row.recorded_at)}},
               {{"name", "focus"},
                {"valueReference",
                 {{"reference",
                   base + "Task/" + fhir::resource_id("Task", e.row.referral.value())}}}}})}});
  }
  const std::string first = events.empty() ? "0" : std::to_string(events.front().event);
  const std::string last = std::to_string(events_since_start);
  const std::string status_id =
      fhir::resource_id("SubscriptionStatus", subscriber.value() + "@" + first + "-" + last);
  const json status = {{"resourceType", "Parameters"},
                       {"id", status_id},
                       {"meta", {{"profile", json::array({status_profile})}}},
                       {"parameter", parameters}};
  const json bundle = {
      {"resourceType", "Bundle"},
      {"id", fhir::resource_id("Bundle",
                               "notification:" + subscriber.value() + "@" + first + "-" + last)},
      {"type", "history"},
      {"timestamp", events.empty() ? now_iso() : to_iso8601(events.back().row.recorded_at)},
      {"entry", json::array({{{"fullUrl", "urn:uuid:" + status_id},
                              {"resource", status},
                              {"request", {{"method", "GET"}, {"url", subscription + "/$status"}}},
                              {"response", {{"status", "200"}}}}})}};
  return bundle.dump();
}

notifier::notifier(const config& c, const engine& e, std::string base_url, log l, checkpointer cp)
    : config_(c),
      engine_(e),
      base_url_(std::move(base_url)),
      log_(std::move(l)),
      checkpoint_(std::move(cp)) {}

notifier::~notifier() { stop(); }

void notifier::start() {
  for (const auto& to : config_.notifications.endpoints) {
    threads_.emplace_back([this, &to] { send_loop(to); });
  }
}

void notifier::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
  }
  wake_.notify_all();
}

void notifier::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

notifier::cursor notifier::load(const hospital_id& h) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  std::ifstream in(config_.notifications.state);
  if (!in) return {};
  const json state = json::parse(in, nullptr, false);
  if (!state.is_object() || !state.contains(h.value())) return {};
  const json& c = state[h.value()];
  return {c.value("event", std::int64_t{0}), c.value("seq", std::int64_t{0})};
}

void notifier::save(const hospital_id& h, const cursor& c) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  json state = json::object();
  {
    std::ifstream in(config_.notifications.state);
    if (in) {
      state = json::parse(in, nullptr, false);
      if (!state.is_object()) state = json::object();
    }
  }
  state[h.value()] = {{"event", c.event}, {"seq", c.seq}};
  // Written beside, flushed to disk, then renamed over: a crash leaves the old state or the new.
  const std::string path = config_.notifications.state;
  const std::string temporary = path + ".part";
  const std::string text = state.dump(2) + "\n";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    throw error(errc::storage, fmt::format("notifications.state: cannot write '{}'; the partners' "
                                           "cursors are kept there",
                                           printable(path, 200)));
  }
}

namespace {

// A partner's connection: one curl handle per endpoint for the sender's life, so that its TLS
// connection is kept alive and reused between notifications (curl reconnects when it must).
struct curl_handle {
  explicit curl_handle(const notification_endpoint& to) : curl(curl_easy_init()) {
    if (curl == nullptr) return;
    headers = curl_slist_append(headers, "Content-Type: application/fhir+json");
    curl_easy_setopt(curl, CURLOPT_URL, to.url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    if (!to.ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, to.ca.c_str());
    if (!to.certificate.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, to.certificate.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEY, to.key.c_str());
    }
  }
  ~curl_handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
  curl_handle(const curl_handle&) = delete;
  curl_handle& operator=(const curl_handle&) = delete;

  // POSTs the body; the HTTP status, or 0 with error_text.
  long post(const std::string& body, std::string& error_text) {
    if (curl == nullptr) {
      error_text = "curl_easy_init failed";
      return 0;
    }
    error_buffer[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    } else {
      error_text = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    }
    return status;
  }

  CURL* curl;
  curl_slist* headers = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

}  // namespace

void notifier::send_loop(const notification_endpoint& to) {
  const auto& n = config_.notifications;
  curl_handle connection(to);
  cursor at = load(to.hospital);
  auto delay = n.retry_min;
  int attempt = 0;
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      seen = generation_;
    }
    std::vector<change> batch;
    std::string problem;
    try {
      batch = engine_.changes({to.hospital, at.event,
                               at.event > 0 ? std::optional(at.seq) : std::nullopt,
                               static_cast<std::size_t>(n.batch), false});
    } catch (const error& e) {
      problem = e.what();
    }
    std::chrono::milliseconds wait = n.poll;
    if (!batch.empty()) {
      ++attempt;
      const std::int64_t last = batch.back().event;
      std::string error_text;
      const long status = connection.post(
          notification_bundle(to.hospital, batch, last, base_url_, checkpoint_()), error_text);
      json line = {{"time", now_iso()},
                   {"notify", to.hospital.value()},
                   {"events", json::array({batch.front().event, last})},
                   {"attempt", attempt},
                   {"status", status}};
      if (!error_text.empty()) line["error"] = printable(error_text, 200);
      if (status >= 200 && status < 300) {
        try {
          save(to.hospital, {last, batch.back().row.seq});
          at = {last, batch.back().row.seq};
          delay = n.retry_min;
          attempt = 0;
          wait = std::chrono::milliseconds{0};  // there may be more
        } catch (const error& e) {
          line["error"] = e.what();
          wait = delay;
        }
      } else {
        // Not acknowledged: the same events again later, under the same numbers.
        wait = delay;
        delay = std::min(n.retry_max, delay * 2);
      }
      log_(line.dump());
    } else if (!problem.empty()) {
      log_(json{{"time", now_iso()}, {"notify", to.hospital.value()}, {"error", problem}}.dump());
      wait = delay;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (wait.count() == 0) continue;
    // A failed delivery waits its full backoff; an idle sender wakes on a change.
    wake_.wait_for(lock, wait, [&] { return stopping_ || (attempt == 0 && generation_ != seen); });
  }
}

}  // namespace kakehashi::serve
