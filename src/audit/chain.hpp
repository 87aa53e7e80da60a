#pragma once
// Private: the tamper-evident audit chain, the same on every backend: the row as stored and
// hashed (each row's SHA-256 covers its fields and the previous row's hash; with an audit key,
// an HMAC over the hash), the log's head and checkpoints, the replay of a referral from its rows,
// and verify (the chain, then every stored referral against its replay). Reads go through the
// store interface.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kakehashi/engine.hpp"
#include "kakehashi/referral.hpp"
#include "store/store.hpp"

namespace kakehashi::audit {

/// The first field of every row's hashed encoding: the chain format's version.
inline constexpr std::string_view chain_tag = "kakehashi.audit/1";
/// The previous hash of the first row.
extern const std::string genesis_hash;

/// A referral's state as audit rows record it: "closed:declined", "accepted", ...
std::string state_text(const referral_snapshot& s);

// The audit row as stored and hashed.
struct row {
  std::int64_t seq = 0;
  std::string referral_id, recorded_at, actor_org, actor_role, actor_user, command;
  std::string state_before, state_after;
  int outcome = 0;
  std::string reason_code, details, idempotency_key, prev_hash, hash, mac;

  /// The bytes the hash covers (chain_tag, then every field but hash and mac, length-prefixed).
  std::string encoding() const;
};

/// The audit table's columns, in the order read_row() reads them.
inline constexpr const char* select_audit =
    "SELECT seq, referral_id, recorded_at, actor_org, actor_role, actor_user, command, "
    "state_before, state_after, outcome, reason_code, details, idempotency_key, prev_hash, hash, "
    "mac FROM audit";
/// Statements on the audit table (one object each: statement caches find them by address).
extern const std::string select_history;      ///< a referral's rows, ?1 = referral id
extern const std::string audit_by_key;        ///< the row of idempotency key ?1
extern const std::string audit_replay_until;  ///< successful rows of ?1 up to seq ?2
extern const std::string select_documents;    ///< successful attach_document rows of ?1
extern const std::string select_results;      ///< successful return_results rows of ?1
extern const std::string select_milestones;   ///< successful record_milestone rows of ?1

/// The current row of a select_audit statement.
row read_row(store::statement& q);
audit_entry entry_of(const row& r);
/// When the row's command happened: its details' occurred_at when the engine's clock recorded it
/// at another instant (engine_options::clock), else recorded_at. `details`: the row's, parsed
/// already, or null to read them here (only when they name an occurred_at).
instant occurred_at(const row& r, const nlohmann::json* details = nullptr);

/// The rows of a prepared select_history statement.
std::vector<audit_entry> read_history(store::statement& q, const referral_id& id);
/// The documents of a prepared select_documents statement.
std::vector<attached_document> read_documents(store::statement& q, const referral_id& id);
/// The documents returned, of a prepared select_results statement (one row may return several).
std::vector<attached_document> read_results(store::statement& q, const referral_id& id);
/// The milestones of a prepared select_milestones statement.
std::vector<recorded_milestone> read_milestones(store::statement& q, const referral_id& id);
/// A hospital's provisions in a period (provision_query), read from the transfer and
/// return_results rows of its referrals.
provision_report read_provisions(store::connection& db, const provision_query& q);
/// A hospital's change feed (events of its referrals, numbered in log order).
std::vector<change> read_changes(store::connection& db, const change_query& c);

/// Duties (duty_query), read from the withdraw_consent and record_duty rows (duties.cpp).
std::vector<duty> read_duties(store::connection& db, const duty_query& q);
/// The duty a withdraw_consent row's details.duty describes; throws when it is malformed.
duty duty_of(const row& r, const nlohmann::json& details);

/// The last row's seq and hash ({0, genesis_hash} for an empty log).
std::pair<std::int64_t, std::string> read_head(store::connection& db);
std::int64_t count_audit_rows(store::connection& db);
/// The log is keyed when its first row carries a MAC.
bool first_row_keyed(store::connection& db);

/// The checkpoint's MAC with `key`.
std::string checkpoint_mac(const std::string& key, const checkpoint& c);
/// A checkpoint of the log's head; failed_precondition on an empty log.
checkpoint checkpoint_of(store::connection& db, const std::string& key, instant at, bool keyed);

/// Replays one successful row onto `replayed` (referral id -> referral). Throws when the row
/// cannot be replayed: a second proposal, an event for a referral never proposed, a refused event.
void replay_row(std::map<std::string, referral>& replayed, const row& r);
/// The same with the row's details already parsed.
void replay_row(std::map<std::string, referral>& replayed, const row& r,
                const nlohmann::json& details);

/// Verifies the log and the referral table in one read transaction (a consistent view while
/// other writers go on). Throws store::failure when the database cannot be read.
verify_result verify_consistently(store::connection& db, const std::optional<checkpoint>& anchor,
                                  const std::optional<std::string>& key);

}  // namespace kakehashi::audit
