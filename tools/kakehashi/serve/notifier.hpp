#pragma once
// Notifications that are never lost: for each partner hospital with an endpoint in the
// configuration, a sender follows that hospital's change feed (engine::changes: the accepted
// commands on its referrals that another party fired) and POSTs each batch of events to the
// endpoint as a FHIR R4 Subscriptions-backport notification (id-only: the partner then reads the
// Task). The feed is the audit log, written in the same transaction as each change, so the
// outbox cannot miss a committed change. A batch is retried with exponential backoff until the
// endpoint answers 2xx; only then is the hospital's cursor (last event number and its audit
// seq) saved, atomically, in the state file: after a crash or a restart delivery resumes after
// the last acknowledged event, and an event is always sent under the same number (the partner
// drops what it has seen). One thread per partner: a partner that is down delays only its own
// notifications, and never a command.

#include <condition_variable>
#include <functional>
#include <kakehashi/engine.hpp>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"

namespace kakehashi::serve {

/// The notification Bundle (FHIR R4 Subscriptions backport, `history`, id-only) for `events` of
/// `subscriber`'s subscription; `base` is the service's base URL ("https://host:port/").
/// `checkpoint`, when not empty, is the host's signed checkpoint (JSON) of its log as the
/// notification is sent: a parameter "checkpoint" the partner keeps (kakehashi witness add).
std::string notification_bundle(const hospital_id& subscriber, const std::vector<change>& events,
                                std::int64_t events_since_start, const std::string& base,
                                const std::string& checkpoint = {});

/// The Subscription id of a hospital's subscription (a UUID derived from its id).
std::string subscription_id(const hospital_id& h);

class notifier {
 public:
  using log = std::function<void(const std::string& json_line)>;
  /// The host's signed checkpoint of its log now (JSON), or "" without a signing key.
  using checkpointer = std::function<std::string()>;
  notifier(const config& c, const engine& e, std::string base_url, log l, checkpointer cp);
  ~notifier();
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  /// Starts one sender thread per endpoint.
  void start();
  /// Something changed: senders look at their feed now instead of at their next poll.
  void wake();
  /// Stops the senders (a delivery in progress finishes or times out first).
  void stop();

 private:
  struct cursor {
    std::int64_t event = 0;
    std::int64_t seq = 0;
  };
  void send_loop(const notification_endpoint& to);
  cursor load(const hospital_id& h);
  void save(const hospital_id& h, const cursor& c);

  const config& config_;
  const engine& engine_;
  std::string base_url_;
  log log_;
  checkpointer checkpoint_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint64_t generation_ = 0;  ///< bumped by wake()
  bool stopping_ = false;
  std::mutex state_mutex_;  ///< the state file
  std::vector<std::thread> threads_;
};

}  // namespace kakehashi::serve
