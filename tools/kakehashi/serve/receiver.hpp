#pragma once
// The partner's side of the notifications: what a notification Bundle from `kakehashi serve`
// says (a FHIR R4 Subscriptions-backport history Bundle whose SubscriptionStatus lists the
// events by number, with the host's signed checkpoint), read strictly, and the stop-on-signal
// plumbing both `kakehashi serve` and `kakehashi witness listen` use.

#include <signal.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kakehashi::serve {

struct notification_event {
  std::int64_t number = 0;  ///< the event number, 1, 2, 3... per subscriber
  std::string focus;        ///< the Task's reference, as the host gave it
};

struct received_notification {
  std::string type;                     ///< "event-notification" or "heartbeat"
  std::int64_t events_since_start = 0;  ///< the subscription's latest event number
  std::vector<notification_event> events;
  std::optional<std::string> checkpoint;  ///< the host's signed checkpoint (JSON), if sent
};

/// Reads a notification Bundle; throws kakehashi::error{invalid_argument} naming the element
/// that is missing or malformed (never quoting the body).
received_notification read_notification(std::string_view body);

/// Blocks SIGTERM and SIGINT in the calling thread and in the threads it starts afterwards, and
/// starts a thread that waits for one of them and then calls `stop`. Call it before starting
/// other threads; join the returned thread after the server has stopped.
std::thread stop_on_signal(std::function<void()> stop);

}  // namespace kakehashi::serve
