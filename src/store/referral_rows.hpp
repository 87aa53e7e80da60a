#pragma once
// Private: the referral table as every backend stores it (one row per referral, its current
// state; the audit log is the history) and the queries that read it, through the store
// interface. Rows come from a database that may have been edited: read_referral() checks every
// value it turns back into a type.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kakehashi/agreement.hpp"
#include "kakehashi/engine.hpp"
#include "kakehashi/referral.hpp"
#include "store/store.hpp"

namespace kakehashi::store {

/// Instants are stored as whole seconds since the Unix epoch.
inline std::int64_t to_seconds(instant at) { return at.time_since_epoch().count(); }
inline instant from_seconds(std::int64_t s) { return instant{std::chrono::seconds{s}}; }

/// A referral row: the snapshot, the agreement it was proposed under and the recorded consent's
/// digest.
struct stored_referral {
  referral_snapshot snap;
  agreement_id agreement;
  std::string consent_digest;
};

/// The referral table's columns, in the order read_referral() reads them, as the schema `db`
/// reads has them (a schema before version 5 has no onward-referral link: read as unset).
const std::string& select_referral(const connection& db);
/// select_referral by id (one object per schema: statement caches find it by address).
const std::string& referral_by_id(const connection& db);
/// As referral_by_id, without replaced_by (read as unset): what a command loads. Only a closed
/// referral has been sent on, and no command changes a closed one, so a command never needs it;
/// the lookup costs every command about 3,000 instructions (bench/instructions.sh).
const std::string& referral_for_command(const connection& db);

/// The current row of a select_referral statement; throws kakehashi::error{invalid_argument}
/// on a value no engine writes.
stored_referral read_referral(statement& q);

std::optional<stored_referral> read_one(connection& db, const referral_id& id);
/// select_referral + `where` (fixed text with ? parameters, bound from `args`), by id.
std::vector<stored_referral> read_where(connection& db, const std::string& where,
                                        const std::vector<std::string>& args);
/// The referrals a filter selects: fixed SQL fragments, every value bound.
std::vector<stored_referral> read_filtered(connection& db, const referral_filter& f);
/// Open referrals past their agreement's response deadline at `at`.
std::vector<referral_snapshot> read_overdue(connection& db, const agreement_directory& agreements,
                                            instant at);

}  // namespace kakehashi::store
