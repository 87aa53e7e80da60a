#pragma once
// The FHIR R4 API of `kakehashi serve` (docs/api.md): referrals as Tasks, read, searched and
// moved through their lifecycle by FHIR operations, over one engine. Every request comes from a
// hospital identified by its client certificate; it sees and acts on the referrals it is a party
// to and no others (another hospital's referral is 404, exactly as an unknown one). Thread-safe:
// the engine serialises its own calls.

#include <chrono>
#include <functional>
#include <kakehashi/agreement.hpp>
#include <kakehashi/engine.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "config.hpp"
#include "https_server.hpp"

namespace kakehashi::serve {

class api {
 public:
  /// `clock` gives the instant each command happens at (the service's clock; the library never
  /// reads one).
  api(const config& c, engine& e, const agreement_directory& agreements,
      std::function<instant()> clock);

  response handle(const request& r);

  /// The hospital a request's certificate belongs to, if it is registered (for the log).
  std::optional<hospital_id> hospital_of(const request& r) const;

 private:
  response route(const request& r, const hospital_id& caller);
  response get_task(const referral_snapshot& s, bool everything) const;
  response search_tasks(const request& r, const hospital_id& caller) const;
  response create_task(const request& r, const hospital_id& caller);
  response operation(const request& r, const hospital_id& caller, const referral_snapshot& s,
                     const std::string& op);
  response capability() const;
  response subscription(const request& r, const hospital_id& caller,
                        const std::vector<std::string>& path) const;
  response eligibility(const request& r, const hospital_id& caller) const;
  response audit_events(const request& r, const hospital_id& caller);
  /// The referral behind a Task id, if `caller` is a party to it.
  std::optional<referral_snapshot> task(const std::string& id, const hospital_id& caller);
  /// The Task after a read or a change. For a change, the client's `Prefer: return=` decides the
  /// body: the Task (representation, the default), none (minimal), or an OperationOutcome.
  response task_response(const referral_snapshot& s, int status,
                         const request* change = nullptr) const;

  config config_;
  engine& engine_;
  const agreement_directory& agreements_;
  std::function<instant()> clock_;
  std::map<std::string, hospital_id> clients_;  // certificate fingerprint -> hospital
  std::mutex ids_mutex_;
  std::map<std::string, referral_id> task_ids_;  // Task id -> referral id, filled on demand
  /// How far each hospital's change feed (its own commands included) has been read for the
  /// referrals it is a party to: an unknown Task id reads only what came after.
  struct feed_position {
    std::int64_t event = 0;
    std::int64_t seq = 0;
  };
  std::map<hospital_id, feed_position> learned_;
};

/// The body of an OperationOutcome for a kakehashi error, and the HTTP status that fits its code
/// (docs/api.md lists them).
response error_response(const error& e);

}  // namespace kakehashi::serve
