#include "receiver.hpp"

#include <fmt/format.h>

#include <kakehashi/error.hpp>
#include <nlohmann/json.hpp>

#include "common/json_reader.hpp"  // the library's strict reader: line and column only, never the text

namespace kakehashi::serve {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw error(errc::invalid_argument, fmt::format("notification: {}: {}", where, what));
}

const json& member(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) bad(where, fmt::format("'{}' is missing", key));
  return j[key];
}

std::string string_member(const json& j, const char* key, const std::string& where) {
  const json& v = member(j, key, where);
  if (!v.is_string()) bad(where + "." + key, "is not a string");
  return v.get<std::string>();
}

std::int64_t number_text(const std::string& text, const std::string& where) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < 0) bad(where, "is not a whole number of 0 or more");
  return v;
}

}  // namespace

received_notification read_notification(std::string_view body) {
  std::vector<load_problem> problems;
  const auto doc = detail::parse_strict(body, problems);
  if (!doc) {
    const auto& p = problems.front();
    bad("body", p.path.empty() ? p.message : p.path + ": " + p.message);
  }
  if (string_member(*doc, "resourceType", "Bundle") != "Bundle" ||
      string_member(*doc, "type", "Bundle") != "history") {
    bad("Bundle", "expected a Bundle of type history (a Subscriptions-backport notification)");
  }
  const json& entries = member(*doc, "entry", "Bundle");
  if (!entries.is_array() || entries.empty()) bad("Bundle.entry", "has no SubscriptionStatus");
  const json& status = member(entries[0], "resource", "Bundle.entry[0]");
  if (string_member(status, "resourceType", "Bundle.entry[0].resource") != "Parameters") {
    bad("Bundle.entry[0].resource", "expected the SubscriptionStatus (Parameters)");
  }
  const json& parameters = member(status, "parameter", "SubscriptionStatus");
  if (!parameters.is_array()) bad("SubscriptionStatus.parameter", "is not an array");
  received_notification out;
  bool counted = false;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const std::string where = fmt::format("SubscriptionStatus.parameter[{}]", i);
    const json& p = parameters[i];
    const std::string name = string_member(p, "name", where);
    if (name == "type") {
      out.type = string_member(p, "valueCode", where);
    } else if (name == "events-since-subscription-start") {
      out.events_since_start = number_text(string_member(p, "valueString", where), where);
      counted = true;
    } else if (name == "checkpoint") {
      out.checkpoint = string_member(p, "valueString", where);
    } else if (name == "notification-event") {
      const json& parts = member(p, "part", where);
      if (!parts.is_array()) bad(where + ".part", "is not an array");
      notification_event e;
      bool numbered = false;
      for (std::size_t k = 0; k < parts.size(); ++k) {
        const std::string at = fmt::format("{}.part[{}]", where, k);
        const std::string part = string_member(parts[k], "name", at);
        if (part == "event-number") {
          e.number = number_text(string_member(parts[k], "valueString", at), at);
          numbered = true;
        } else if (part == "focus") {
          e.focus = string_member(member(parts[k], "valueReference", at), "reference",
                                  at + ".valueReference");
        }
      }
      if (!numbered) bad(where, "a notification-event without its event-number");
      out.events.push_back(std::move(e));
    }
  }
  if (out.type != "event-notification" && out.type != "heartbeat") {
    bad("SubscriptionStatus.type", "expected event-notification or heartbeat");
  }
  if (!counted) bad("SubscriptionStatus", "'events-since-subscription-start' is missing");
  return out;
}

std::thread stop_on_signal(std::function<void()> stop) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Signals are taken by this thread (sigwait), never by a handler: stop() runs on it.
  return std::thread([signals, stop = std::move(stop)] {
    int received = 0;
    sigwait(&signals, &received);
    stop();
  });
}

}  // namespace kakehashi::serve
