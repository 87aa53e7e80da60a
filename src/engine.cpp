#include "kakehashi/engine.hpp"

#include <date/tz.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>

#include "audit_crypto.hpp"
#include "consent_digest.hpp"
#include "fail.hpp"
#include "kakehashi/eligibility.hpp"
#include "read_only_database.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace kakehashi {
namespace {

using nlohmann::json;

constexpr std::string_view chain_tag = "kakehashi.audit/1";
const std::string genesis_hash(64, '0');


std::int64_t to_seconds(instant at) { return at.time_since_epoch().count(); }
instant from_seconds(std::int64_t s) { return instant{std::chrono::seconds{s}}; }

std::string state_text(const referral_snapshot& s) {
  std::string out(to_string(s.state));
  if (s.reason) out += ":" + std::string(to_string(*s.reason));
  return out;
}

[[noreturn]] void storage_failed(const store::failure& e, std::string_view doing) {
  detail::fail(errc::storage, "database", fmt::format("{} failed: {}", doing, e.what()),
               "nothing was applied; check the disk and retry the command");
}

// Idempotency keys: 1 to 256 characters of the id alphabet (UUIDs, "expire:R-1:3", ...).
void check_key(const std::string& key) {
  const bool ok = !key.empty() && key.size() <= 256 && is_valid_id(key.substr(0, 1)) &&
                  std::all_of(key.begin(), key.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                           c == ':' || c == '-';
                  });
  if (!ok) {
    detail::fail(errc::invalid_argument, "idempotency_key",
                 fmt::format("'{}' is not a valid key", detail::printable(key)),
                 "expected 1 to 256 characters from [A-Za-z0-9._:-], e.g. a UUID; nothing was "
                 "written");
  }
}

// The audit row as stored and hashed.
struct row {
  std::int64_t seq = 0;
  std::string referral_id, recorded_at, actor_org, actor_role, actor_user, command;
  std::string state_before, state_after;
  int outcome = 0;
  std::string reason_code, details, idempotency_key, prev_hash, hash, mac;

  std::string encoding() const {
    const std::string seq_text = std::to_string(seq);
    const std::string outcome_text = std::to_string(outcome);
    std::string out;
    out.reserve(15 * 8 + referral_id.size() + recorded_at.size() + actor_org.size() +
                actor_role.size() + actor_user.size() + command.size() + state_before.size() +
                state_after.size() + reason_code.size() + details.size() +
                idempotency_key.size() + prev_hash.size() + 40);
    for (const std::string_view f :
         {chain_tag, std::string_view(seq_text), std::string_view(referral_id),
          std::string_view(recorded_at), std::string_view(actor_org), std::string_view(actor_role),
          std::string_view(actor_user), std::string_view(command), std::string_view(state_before),
          std::string_view(state_after), std::string_view(outcome_text),
          std::string_view(reason_code), std::string_view(details),
          std::string_view(idempotency_key), std::string_view(prev_hash)}) {
      detail::append_field(out, f);
    }
    return out;
  }
};

row read_row(store::statement& q) {
  row r;
  r.seq = q.int64(0);
  r.referral_id = q.text(1);
  r.recorded_at = q.text(2);
  r.actor_org = q.text(3);
  r.actor_role = q.text(4);
  r.actor_user = q.text(5);
  r.command = q.text(6);
  r.state_before = q.text(7);
  r.state_after = q.text(8);
  r.outcome = q.int32(9);
  r.reason_code = q.text(10);
  r.details = q.text(11);
  r.idempotency_key = q.text(12);
  r.prev_hash = q.text(13);
  r.hash = q.text(14);
  r.mac = q.is_null(15) ? std::string() : q.text(15);
  return r;
}

constexpr const char* select_audit =
    "SELECT seq, referral_id, recorded_at, actor_org, actor_role, actor_user, command, "
    "state_before, state_after, outcome, reason_code, details, idempotency_key, prev_hash, hash, "
    "mac FROM audit";

constexpr const char* select_referral =
    "SELECT id, origin, destination, specialty, patient, agreement, state, close_reason, "
    "consent_withdrawn, consent_ref, consent_digest, proposed_at, updated_at, version FROM "
    "referral";

// Statements built from the selects above, once: the hot path looks them up without allocating.
const std::string referral_by_id = std::string(select_referral) + " WHERE id = ?";
const std::string audit_by_key = std::string(select_audit) + " WHERE idempotency_key = ?";
const std::string audit_replay_until =
    std::string(select_audit) + " WHERE referral_id = ? AND seq <= ? AND outcome = 0 ORDER BY seq";

struct stored_referral {
  referral_snapshot snap;
  agreement_id agreement;
  std::string consent_digest;
};

// Rows come from a file that may have been edited: every value is checked by restore().
stored_referral read_referral(store::statement& q) {
  stored_referral s;
  s.snap.id = referral_id{q.text(0)};
  s.snap.origin = hospital_id{q.text(1)};
  s.snap.destination = hospital_id{q.text(2)};
  s.snap.specialty = specialty_code{q.text(3)};
  s.snap.patient = patient_ref{q.text(4)};
  s.agreement = agreement_id{q.text(5)};
  const auto state = parse_referral_state(q.text(6));
  if (!state) {
    detail::fail(
        errc::invalid_argument, "referral " + detail::printable(s.snap.id.value()),
        fmt::format("stored state '{}' is unknown", detail::printable(q.text(6))),
        "the database was damaged or edited; run verify");
  }
  s.snap.state = *state;
  if (!q.is_null(7)) {
    s.snap.reason = parse_close_reason(q.text(7));
    if (!s.snap.reason) {
      detail::fail(errc::invalid_argument, "referral " + detail::printable(s.snap.id.value()),
                   "stored close reason is unknown", "the database was damaged or edited");
    }
  }
  s.snap.consent_withdrawn = q.int32(8) != 0;
  s.snap.consent = consent_ref{q.text(9)};
  s.consent_digest = q.text(10);
  s.snap.proposed_at = from_seconds(q.int64(11));
  s.snap.updated_at = from_seconds(q.int64(12));
  s.snap.version = static_cast<std::uint64_t>(q.int64(13));
  return s;
}

std::string checkpoint_mac(const std::string& key, const checkpoint& c) {
  return detail::hmac_sha256_hex(
      key, fmt::format("{}|{}|{}|{}", c.seq, c.head_hash, to_iso8601(c.at), c.rows_keyed ? 1 : 0));
}

using detail::consent_digest;

}  // namespace

std::string to_json(const checkpoint& c) {
  return json{{"seq", c.seq},
              {"head", c.head_hash},
              {"at", to_iso8601(c.at)},
              {"rows_keyed", c.rows_keyed},
              {"mac", c.mac}}
      .dump();
}

checkpoint parse_checkpoint(std::string_view text) {
  std::vector<load_problem> problems;
  checkpoint c;
  try {
    const json j = json::parse(text);
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_integer() ||
        !j.contains("head") || !j["head"].is_string() || !j.contains("at") ||
        !j["at"].is_string() || !j.contains("mac") || !j["mac"].is_string() ||
        !j.contains("rows_keyed") || !j["rows_keyed"].is_boolean()) {
      detail::fail(errc::invalid_argument, "checkpoint",
                   "expected an object with seq (integer), head, at, mac (strings) and "
                   "rows_keyed (boolean)",
                   "use the output of 'kakehashi audit checkpoint'");
    }
    c.seq = j["seq"].get<std::int64_t>();
    c.head_hash = j["head"].get<std::string>();
    c.at = parse_instant(j["at"].get<std::string>(), "checkpoint.at");
    c.mac = j["mac"].get<std::string>();
    c.rows_keyed = j["rows_keyed"].get<bool>();
  } catch (const json::exception&) {
    detail::fail(errc::invalid_argument, "checkpoint", "is not valid JSON",
                 "use the output of 'kakehashi audit checkpoint'");
  }
  return c;
}

// =============================================================================================

namespace {
const std::string select_history =
    std::string(select_audit) + " WHERE referral_id = ? ORDER BY seq";

audit_entry entry_of(const row& r) {
  audit_entry a;
  a.seq = r.seq;
  a.referral = referral_id{r.referral_id};
  a.recorded_at = parse_instant(r.recorded_at, "audit.recorded_at");
  a.by = {hospital_id{r.actor_org}, parse_actor_role(r.actor_role).value_or(actor_role::system),
          user_id{r.actor_user}};
  a.command = r.command;
  a.state_before = r.state_before;
  a.state_after = r.state_after;
  a.outcome = static_cast<audit_outcome>(r.outcome);
  a.reason_code = r.reason_code;
  a.details = r.details;
  a.idempotency_key = r.idempotency_key;
  a.prev_hash = r.prev_hash;
  a.hash = r.hash;
  return a;
}

// The change feed: a hospital's events, numbered in log order. The rows never change once
// written, so an event number always names the same row.
constexpr const char* select_changes =
    "SELECT a.seq, a.referral_id, a.recorded_at, a.actor_org, a.actor_role, a.actor_user, "
    "a.command, a.state_before, a.state_after, a.outcome, a.reason_code, a.details, "
    "a.idempotency_key, a.prev_hash, a.hash, a.mac, "
    "?3 + row_number() OVER (ORDER BY a.seq) AS event "
    "FROM audit a JOIN referral r ON r.id = a.referral_id "
    "WHERE a.outcome = 0 AND (r.origin = ?1 OR r.destination = ?1) AND (?2 OR a.actor_org <> ?1) "
    "AND a.seq > ?4";

std::vector<change> read_changes(store::connection& db, const change_query& c) {
  // Without the seq of event `after_event`, number every event and skip the first ones.
  auto q = db.prepare(std::string("SELECT * FROM (") + select_changes +
                              ") WHERE event > ?5 ORDER BY event LIMIT ?6");
  q->bind(1, c.hospital.value());
  q->bind(2, c.include_own ? 1 : 0);
  q->bind(3, c.after_seq ? c.after_event : std::int64_t{0});
  q->bind(4, c.after_seq.value_or(0));
  q->bind(5, c.after_event);
  q->bind(6, static_cast<std::int64_t>(c.limit));
  std::vector<change> out;
  while (q->step()) out.push_back({q->int64(16), entry_of(read_row(*q))});
  return out;
}

// The rows of a prepared select_history statement.
std::vector<audit_entry> read_history(store::statement& q, const referral_id& id) {
  q.bind(1, id.value());
  std::vector<audit_entry> out;
  while (q.step()) out.push_back(entry_of(read_row(q)));
  return out;
}

std::optional<stored_referral> read_one(store::connection& db, const referral_id& id) {
  auto q = db.prepare(referral_by_id);
  q->bind(1, id.value());
  if (!q->step()) return std::nullopt;
  return read_referral(*q);
}

std::vector<stored_referral> read_where(store::connection& db, const std::string& where,
                                        const std::vector<std::string>& args) {
  auto q = db.prepare(std::string(select_referral) + where + " ORDER BY id");
  for (std::size_t i = 0; i < args.size(); ++i) q->bind(static_cast<int>(i + 1), args[i]);
  std::vector<stored_referral> out;
  while (q->step()) out.push_back(read_referral(*q));
  return out;
}

// The referrals a filter selects: fixed SQL fragments, every value bound.
std::vector<stored_referral> read_filtered(store::connection& db, const referral_filter& f) {
  std::string where;
  std::vector<std::string> args;
  const auto add = [&](const char* clause) { where += where.empty() ? " WHERE " : " AND "; where += clause; };
  if (f.hospital) {
    add("(origin = ? OR destination = ?)");
    args.push_back(f.hospital->value());
    args.push_back(f.hospital->value());
  }
  if (f.specialty) {
    add("specialty = ?");
    args.push_back(f.specialty->value());
  }
  if (f.state) {
    add("state = ?");
    args.emplace_back(to_string(*f.state));
  }
  if (f.reason) {
    add("close_reason = ?");
    args.emplace_back(to_string(*f.reason));
  }
  if (f.patient) {
    add("patient = ?");
    args.push_back(f.patient->value());
  }
  if (f.proposed_from) {
    add("proposed_at >= ?");
    args.push_back(std::to_string(to_seconds(*f.proposed_from)));
  }
  if (f.proposed_before) {
    add("proposed_at < ?");
    args.push_back(std::to_string(to_seconds(*f.proposed_before)));
  }
  auto q = db.prepare(std::string(select_referral) + where + " ORDER BY id LIMIT ? OFFSET ?");
  int n = 0;
  for (const auto& a : args) q->bind(++n, a);
  q->bind(++n, f.limit ? static_cast<std::int64_t>(*f.limit) : std::int64_t{-1});
  q->bind(++n, static_cast<std::int64_t>(f.offset));
  std::vector<stored_referral> out;
  while (q->step()) out.push_back(read_referral(*q));
  return out;
}

// Open referrals past their agreement's response deadline at `at`.
std::vector<referral_snapshot> read_overdue(store::connection& db,
                                            const agreement_directory& agreements, instant at) {
  std::vector<referral_snapshot> out;
  // Only referrals proposed at least the shortest deadline ago can be overdue: the sweep reads
  // those, not every open referral.
  std::optional<int> shortest;
  for (const auto& a : agreements.agreements()) {
    if (a.response_deadline_days) {
      shortest = std::min(shortest.value_or(*a.response_deadline_days), *a.response_deadline_days);
    }
  }
  if (!shortest) return out;
  const std::string latest = std::to_string(to_seconds(at - date::days{*shortest}));
  for (auto& s : read_where(
           db, " WHERE state IN ('proposed', 'consent_recorded') AND proposed_at <= ?", {latest})) {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a || !a->response_deadline_days) continue;
    if (at >= s.snap.proposed_at + date::days{*a->response_deadline_days}) {
      out.push_back(std::move(s.snap));
    }
  }
  return out;
}

std::pair<std::int64_t, std::string> read_head(store::connection& db) {
  auto q = db.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
  if (!q->step()) return {0, genesis_hash};
  return {q->int64(0), q->text(1)};
}

std::int64_t count_audit_rows(store::connection& db) {
  auto q = db.prepare("SELECT count(*) FROM audit");
  q->step();
  return q->int64(0);
}

checkpoint checkpoint_of(store::connection& db, const std::string& key, instant at,
                         bool keyed) {
  const auto [seq, head] = read_head(db);
  if (seq == 0) {
    detail::fail(errc::failed_precondition, "audit log", "is empty",
                 "make a checkpoint once the log has rows");
  }
  checkpoint c{seq, head, at, keyed, ""};
  c.mac = checkpoint_mac(key, c);
  return c;
}
}  // namespace

// Rebuilds the event a successful audit row records.
std::optional<event::any> event_of(const row& r, const json& details) {
  const actor by{hospital_id{r.actor_org},
                 parse_actor_role(r.actor_role).value_or(actor_role::system),
                 user_id{r.actor_user}};
  const instant at = parse_instant(r.recorded_at, "audit.recorded_at");
  const auto kind = parse_event_kind(r.command);
  if (!kind) return std::nullopt;
  switch (*kind) {
    case event_kind::record_consent:
      return event::record_consent{by, at, consent_ref{details.at("consent").get<std::string>()}};
    case event_kind::accept:
      return event::accept{by, at};
    case event_kind::decline:
      return event::decline{by, at,
                            parse_decline_reason(details.at("reason").get<std::string>()).value()};
    case event_kind::cancel:
      return event::cancel{by, at,
                           parse_cancel_reason(details.at("reason").get<std::string>()).value()};
    case event_kind::withdraw_consent:
      return event::withdraw_consent{
          by, at, parse_withdrawal_channel(details.at("channel").get<std::string>()).value()};
    case event_kind::transfer:
      return event::transfer{by, at};
    case event_kind::complete:
      return event::complete{by, at};
    case event_kind::expire:
      return event::expire{by, at};
  }
  return std::nullopt;
}

// Replays one accepted audit row onto `replayed` (referral id -> referral). Throws when the row
// cannot be replayed: a second proposal, an event for a referral never proposed, a refused event.
void replay_row(std::map<std::string, referral>& replayed, const row& r) {
  const json details = json::parse(r.details);
  if (r.command == "propose") {
    if (replayed.count(r.referral_id))
      throw std::runtime_error("a second proposal of the referral");
    const proposal p{
        referral_id{r.referral_id},
        hospital_id{details.at("origin").get<std::string>()},
        hospital_id{details.at("destination").get<std::string>()},
        specialty_code{details.at("specialty").get<std::string>()},
        patient_ref{details.at("patient").get<std::string>()},
        {hospital_id{r.actor_org}, parse_actor_role(r.actor_role).value_or(actor_role::system),
         user_id{r.actor_user}},
        parse_instant(r.recorded_at, "audit.recorded_at")};
    replayed.emplace(r.referral_id, referral::propose(p));
    return;
  }
  auto it = replayed.find(r.referral_id);
  const auto e = event_of(r, details);
  if (it == replayed.end() || !e) {
    throw std::runtime_error("the row applies to a referral that was never proposed");
  }
  it->second.apply(*e);
}

// Prepared statements for the hot path, prepared once per connection. A lease resets the
// statement (and clears its bindings) when the caller is done, so no read stays open.
class statement_cache {
 public:
  explicit statement_cache(store::connection& db) : db_(db) {}

  class lease {
   public:
    explicit lease(store::statement& s) : s_(s) {}
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { s_.reset(); }  // every user binds every parameter: no clearBindings needed
    store::statement* operator->() { return &s_; }
    store::statement& operator*() { return s_; }

   private:
    store::statement& s_;
  };

  /// `sql` must outlive the cache (a literal or a namespace-scope constant): statements are
  /// found by its address, so the hot path neither copies nor hashes the text.
  lease get(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      it = statements_.emplace(sql, db_.prepare(sql)).first;
    }
    return lease(*it->second);  // reset by the previous lease
  }
  lease get(const std::string& sql) { return get(sql.c_str()); }
  lease get(std::string&&) = delete;  // a temporary's address would be reused

 private:
  store::connection& db_;
  std::unordered_map<const char*, std::unique_ptr<store::statement>> statements_;
};

// =============================================================================================

struct engine::impl {
  mutable std::recursive_mutex mutex;
  std::unique_ptr<store::connection> connection;
  store::connection& db;
  agreement_directory agreements;
  consent_policy policy;
  engine_options options;
  int batch_depth = 0;
  mutable statement_cache cache{db};

  impl(std::unique_ptr<store::connection> c, agreement_directory a, consent_policy p,
       engine_options o)
      : connection(std::move(c)),
        db(*connection),
        agreements(std::move(a)),
        policy(std::move(p)),
        options(std::move(o)) {}

  // ---- reading ----------------------------------------------------------------------------

  std::optional<stored_referral> load(const referral_id& id) const {
    auto q = cache.get(referral_by_id);
    q->bind(1, id.value());
    if (!q->step()) return std::nullopt;
    return read_referral(*q);
  }

  std::vector<stored_referral> load_where(const std::string& where,
                                          const std::vector<std::string>& args) const {
    return read_where(db, where, args);
  }

  // The chain head. Inside a write transaction the engine's own last row is the head (no other
  // connection can write until it ends), so it is kept from one command to the next in a batch;
  // every transaction boundary and every rollback forgets it.
  std::pair<std::int64_t, std::string> head() {
    if (head_) return *head_;
    auto q = cache.get("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (!q->step()) return {0, genesis_hash};
    return {q->int64(0), q->text(1)};
  }
  std::optional<std::pair<std::int64_t, std::string>> head_;

  // ---- writing ----------------------------------------------------------------------------

  void append_audit(row& r) {  // fills in seq, prev_hash, hash and mac
    const auto [last, prev] = head();
    r.seq = last + 1;
    r.prev_hash = prev;
    r.hash = detail::sha256_hex(r.encoding());
    if (options.audit_key) r.mac = detail::hmac_sha256_hex(*options.audit_key, r.hash);
    auto ins = cache.get(
        "INSERT INTO audit (seq, referral_id, recorded_at, actor_org, actor_role, "
        "actor_user, command, state_before, state_after, outcome, reason_code, "
        "details, idempotency_key, prev_hash, hash, mac) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    // The row outlives the statement's use of it: bound without copies, cleared after.
    ins->bind(1, r.seq);
    ins->bind_no_copy(2, r.referral_id);
    ins->bind_no_copy(3, r.recorded_at);
    ins->bind_no_copy(4, r.actor_org);
    ins->bind_no_copy(5, r.actor_role);
    ins->bind_no_copy(6, r.actor_user);
    ins->bind_no_copy(7, r.command);
    ins->bind_no_copy(8, r.state_before);
    ins->bind_no_copy(9, r.state_after);
    ins->bind(10, r.outcome);
    ins->bind_no_copy(11, r.reason_code);
    ins->bind_no_copy(12, r.details);
    ins->bind_no_copy(13, r.idempotency_key);
    ins->bind_no_copy(14, r.prev_hash);
    ins->bind_no_copy(15, r.hash);
    if (r.mac.empty()) {
      ins->bind_null(16);
    } else {
      ins->bind_no_copy(16, r.mac);
    }
    ins->exec();
    ins->clear_bindings();
    head_.emplace(r.seq, r.hash);
  }

  // Stores the referral. `reason_changed` says whether its close reason differs from the stored
  // row's: SQLite rewrites an index entry whenever the UPDATE sets one of its columns, even to the
  // same value, so close_reason (in the capacity index) is only set when it changes.
  void save(const referral_snapshot& s, const agreement_id& agreement, const std::string& digest,
            std::uint64_t expected_version, bool reason_changed) {
    if (s.version == 1) {
      auto ins = cache.get(
          "INSERT INTO referral (id, origin, destination, specialty, patient, "
          "agreement, state, close_reason, consent_withdrawn, consent_ref, "
          "consent_digest, proposed_at, updated_at, version) VALUES "
          "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      bind_referral(*ins, s, agreement, digest);
      ins->exec();
      return;
    }
    // Numbered parameters: both statements take the same bindings (?2 unused in the second).
    auto up = cache.get(reason_changed
                            ? "UPDATE referral SET state = ?1, close_reason = ?2, "
                              "consent_withdrawn = ?3, consent_ref = ?4, consent_digest = ?5, "
                              "updated_at = ?6, version = ?7 WHERE id = ?8 AND version = ?9"
                            : "UPDATE referral SET state = ?1, consent_withdrawn = ?3, "
                              "consent_ref = ?4, consent_digest = ?5, updated_at = ?6, "
                              "version = ?7 WHERE id = ?8 AND version = ?9");
    // Every bound string outlives the statement's use of it: bound without copies, cleared after.
    const std::string state(to_string(s.state));
    const std::string reason = s.reason ? std::string(to_string(*s.reason)) : std::string();
    up->bind_no_copy(1, state);
    if (s.reason) {
      up->bind_no_copy(2, reason);
    } else {
      up->bind_null(2);
    }
    up->bind(3, s.consent_withdrawn ? 1 : 0);
    up->bind_no_copy(4, s.consent.value());
    up->bind_no_copy(5, digest);
    up->bind(6, to_seconds(s.updated_at));
    up->bind(7, static_cast<std::int64_t>(s.version));
    up->bind_no_copy(8, s.id.value());
    up->bind(9, static_cast<std::int64_t>(expected_version));
    const int changed = up->exec();
    up->clear_bindings();
    if (changed != 1) {
      // Impossible under BEGIN IMMEDIATE unless the row changed behind the engine's back.
      detail::fail(errc::storage, "referral " + s.id.value(),
                   fmt::format("version {} changed during the command", expected_version),
                   "retry the command");
    }
  }

  static void bind_referral(store::statement& q, const referral_snapshot& s,
                            const agreement_id& agreement, const std::string& digest) {
    q.bind(1, s.id.value());
    q.bind(2, s.origin.value());
    q.bind(3, s.destination.value());
    q.bind(4, s.specialty.value());
    q.bind(5, s.patient.value());
    q.bind(6, agreement.value());
    q.bind(7, std::string(to_string(s.state)));
    if (s.reason) {
      q.bind(8, std::string(to_string(*s.reason)));
    } else {
      q.bind_null(8);
    }
    q.bind(9, s.consent_withdrawn ? 1 : 0);
    q.bind(10, s.consent.value());
    q.bind(11, digest);
    q.bind(12, to_seconds(s.proposed_at));
    q.bind(13, to_seconds(s.updated_at));
    q.bind(14, static_cast<std::int64_t>(s.version));
  }

  // ---- transactions -----------------------------------------------------------------------

  void begin() {
    if (batch_depth == 0) head_.reset();
    cache.get(batch_depth > 0 ? "SAVEPOINT command" : "BEGIN IMMEDIATE")->exec();
  }
  void rollback() noexcept {
    head_.reset();
    if (batch_depth > 0) {
      db.try_exec("ROLLBACK TO command");
      db.try_exec("RELEASE command");
    } else {
      db.try_exec("ROLLBACK");
    }
  }
  void commit() {
    if (batch_depth > 0) {
      cache.get("RELEASE command")->exec();
      return;
    }
    head_.reset();
    try {
      cache.get("COMMIT")->exec();
    } catch (const store::failure& e) {
      db.try_exec("ROLLBACK");
      if (e.kind() == store::failure_kind::io) {
        detail::fail(errc::outcome_unknown, "database",
                     fmt::format("the commit failed with an I/O error ({}); it may or may not have "
                                 "been applied",
                                 e.what()),
                     "retry the command with the same idempotency key to learn the outcome");
      }
      storage_failed(e, "commit");
    }
  }

  // What a command's body returns on success.
  struct outcome {
    referral_snapshot after;
    agreement_id agreement;
    std::string consent_digest;
    std::uint64_t expected_version = 0;  // the version the stored row must still have
    json details = json::object();
  };

  // Runs one command. Inside this thread's own transaction (a batch, or the group it leads) it
  // runs at once, in a savepoint; otherwise it is submitted to the group commit queue.
  template <class Body>
  referral_snapshot run(const std::string& key, const std::string& command, const referral_id& id,
                        const actor& by, instant at, const command_options& conditions, Body&& body) {
    check_key(key);
    const auto once = [&] { return run_one(key, command, id, by, at, conditions, body); };
    if (txn_owner.load() == std::this_thread::get_id()) return once();
    return submit(once);
  }

  // ---- group commit -------------------------------------------------------------------------
  //
  // As leveldb's DBImpl::Write: each submitter queues its command and waits. The first in the
  // queue is the leader: once it holds the engine (after any batch another thread is running),
  // it takes every command queued behind it (at most max_group), runs each in its own savepoint
  // in arrival order in one transaction, commits once (one fsync for the group), and wakes each
  // submitter with its own result; the next in the queue then leads. A lone command is its own
  // group and runs exactly as before (no savepoint, no wait). Nothing is delayed to let a group
  // grow: a group is whatever queued while the previous one was committing.
  //
  // A refused command is refused alone (its savepoint holds its audit row). A command that fails
  // with a storage error rolls the whole transaction back: it gets its error, and the others run
  // again in a new transaction (none was acknowledged). A commit that fails gives every command
  // of the group the commit's error: storage (nothing applied), or outcome_unknown after an I/O
  // error, which each resolves by retrying with its own idempotency key.
  static constexpr std::size_t max_group = 64;

  struct submission {
    referral_snapshot (*call)(void*) = nullptr;  // runs the command (run_one) in the leader
    void* context = nullptr;
    referral_snapshot result;
    std::exception_ptr error;
    bool done = false;  // under queue_mutex
    std::condition_variable wake;
  };

  template <class Command>
  referral_snapshot submit(const Command& command) {
    submission s;
    s.call = [](void* c) { return (*static_cast<const Command*>(c))(); };
    s.context = const_cast<void*>(static_cast<const void*>(&command));
    {
      std::unique_lock<std::mutex> q(queue_mutex);
      queue.push_back(&s);
      ++counters.commands;
      counters.waiting = std::max(counters.waiting, queue.size());
      s.wake.wait(q, [&] { return s.done || queue.front() == &s; });
    }
    if (!s.done) lead();
    if (s.error) std::rethrow_exception(s.error);
    return std::move(s.result);
  }

  void lead() {
    std::vector<submission*> group;
    {
      std::lock_guard<std::recursive_mutex> lock(mutex);  // waits for another thread's batch
      {
        std::lock_guard<std::mutex> q(queue_mutex);
        for (submission* s : queue) {
          group.push_back(s);
          if (group.size() == max_group) break;
        }
      }
      txn_owner.store(std::this_thread::get_id());
      try {
        run_group(group);
      } catch (...) {  // out of memory: each submitter learns of it, and the queue moves on
        for (submission* s : group) s->error = std::current_exception();
      }
      txn_owner.store(std::thread::id{});
    }
    std::lock_guard<std::mutex> q(queue_mutex);
    ++counters.transactions;
    counters.largest_group = std::max(counters.largest_group, group.size());
    for (submission* s : group) {
      queue.pop_front();  // the group is the front of the queue: nobody else pops
      s->done = true;
      s->wake.notify_one();
    }
    if (!queue.empty()) queue.front()->wake.notify_one();  // the next leader
  }

  static void call(submission& s) noexcept {
    try {
      s.result = s.call(s.context);
      s.error = nullptr;
    } catch (...) {
      s.error = std::current_exception();
    }
  }
  static bool fails_the_transaction(const std::exception_ptr& p) {
    if (!p) return false;
    try {
      std::rethrow_exception(p);
    } catch (const error& e) {
      return e.code() == errc::storage || e.code() == errc::outcome_unknown;
    } catch (...) {
      return true;  // not a refusal: undo everything, as a lone command would
    }
  }

  void run_group(std::vector<submission*> pending) {
    while (pending.size() > 1) {
      try {
        head_.reset();
        cache.get("BEGIN IMMEDIATE")->exec();
      } catch (const store::failure& e) {
        const auto failure = capture([&] { storage_failed(e, "BEGIN IMMEDIATE"); });
        for (submission* s : pending) s->error = failure;
        return;
      }
      ++batch_depth;
      auto failed = pending.end();
      for (auto it = pending.begin(); it != pending.end(); ++it) {
        call(**it);
        if (fails_the_transaction((*it)->error)) {
          failed = it;
          break;
        }
      }
      --batch_depth;
      if (failed != pending.end()) {
        head_.reset();
        db.try_exec("ROLLBACK");
        pending.erase(failed);  // it keeps its error; the others run again
        continue;
      }
      try {
        commit();
      } catch (...) {
        const auto failure = std::current_exception();
        for (submission* s : pending) s->error = failure;
      }
      return;
    }
    if (pending.size() == 1) call(*pending.front());  // alone: its own transaction
  }

  template <class F>
  static std::exception_ptr capture(F&& f) {
    try {
      f();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

  std::mutex queue_mutex;
  std::deque<submission*> queue;
  engine_stats counters;  // under queue_mutex (waiting: the longest queue seen)
  // The thread whose transaction is open (a batch's, or a leader's): its commands run in it.
  std::atomic<std::thread::id> txn_owner{};

  // Runs one command: idempotency, refusal auditing, one transaction (or a savepoint in the
  // batch or group that is open).
  template <class Body>
  referral_snapshot run_one(const std::string& key, const std::string& command,
                            const referral_id& id, const actor& by, instant at,
                            const command_options& conditions, Body&& body) {
    std::lock_guard<std::recursive_mutex> lock(mutex);
    try {
      begin();
    } catch (const store::failure& e) {
      storage_failed(e, "BEGIN IMMEDIATE");
    }
    std::optional<error> refusal;
    referral_snapshot result;
    try {
      const std::optional<stored_referral> before = load(id);
      const std::string state_before = before ? state_text(before->snap) : std::string();
      row r;
      r.referral_id = id.value();
      r.recorded_at = to_iso8601(at);
      r.actor_org = by.organisation.value();
      r.actor_role = std::string(to_string(by.role));
      r.actor_user = by.user.value();
      r.command = command;
      r.state_before = state_before;
      r.idempotency_key = key;
      try {
        if (conditions.expected_version && before && before->snap.version != *conditions.expected_version) {
          detail::fail(errc::failed_precondition, "referral " + id.value(),
                       fmt::format("is at version {}, not the expected {}", before->snap.version,
                                   *conditions.expected_version),
                       "read it again and retry with its current version");
        }
        outcome o = body(before);
        if (!conditions.request_digest.empty()) o.details["request"] = conditions.request_digest;
        save(o.after, o.agreement, o.consent_digest, o.expected_version,
             !before || before->snap.reason != o.after.reason);
        r.state_after = state_text(o.after);
        r.reason_code = o.after.reason && o.after.state == referral_state::closed &&
                                (!before || before->snap.state != referral_state::closed)
                            ? std::string(to_string(*o.after.reason))
                            : std::string();
        r.details = o.details.dump();
        r.outcome = static_cast<int>(audit_outcome::success);
        append_audit(r);
        result = o.after;
      } catch (const error& e) {
        if (e.code() == errc::storage || e.code() == errc::outcome_unknown) throw;
        // A refusal: nothing about the referral changes; the attempt itself is audited.
        refusal = e;
        r.state_after = state_before;
        r.outcome =
            static_cast<int>(e.code() == errc::not_eligible || e.code() == errc::consent_blocked
                                 ? audit_outcome::serious_failure
                                 : audit_outcome::minor_failure);
        r.reason_code = std::string(to_string(e.code()));
        refusal_details_["message"] = e.what();  // so a retry can repeat the same refusal
        if (!conditions.request_digest.empty()) refusal_details_["request"] = conditions.request_digest;
        r.details = refusal_details_.dump();
        append_audit(r);
      }
    } catch (const store::failure& e) {
      rollback();
      refusal_details_ = json::object();
      if (e.kind() == store::failure_kind::unique_violation) {
        // The key is in the log already: a repeated command. Answer from its row, write nothing.
        return answer_from_log(key, id, command, conditions.request_digest);
      }
      storage_failed(e, command);
    } catch (...) {
      rollback();
      refusal_details_ = json::object();
      throw;
    }
    refusal_details_ = json::object();
    commit();
    if (refusal) throw *refusal;
    return result;
  }

  // The outcome of the command that used `key` first: its result (rebuilt by replaying the
  // referral's log up to that row) or its refusal, thrown again. A key used for another command or
  // referral is already_exists.
  referral_snapshot answer_from_log(const std::string& key, const referral_id& id,
                                    const std::string& command, const std::string& digest) {
    row first;
    {
      auto q = cache.get(audit_by_key);
      q->bind(1, key);
      if (!q->step()) {
        detail::fail(errc::storage, "idempotency key " + key, "conflicted but cannot be found",
                     "retry the command");
      }
      first = read_row(*q);
    }
    if (first.referral_id != id.value() || first.command != command) {
      detail::fail(errc::already_exists, "idempotency key " + key,
                   fmt::format("was used for {} on referral {}", first.command,
                               detail::printable(first.referral_id)),
                   "use a new key for a new command");
    }
    if (!digest.empty()) {
      const json d = json::parse(first.details, nullptr, false);
      if (d.is_object() && d.contains("request") && d["request"].is_string() &&
          d["request"].get<std::string>() != digest) {
        detail::fail(errc::already_exists, "idempotency key " + key,
                     fmt::format("was used for another request ({} on referral {}, with "
                                 "other content)",
                                 first.command, detail::printable(first.referral_id)),
                     "use a new key for a new request; repeat a request exactly to retry it");
      }
    }
    if (first.outcome != 0) {
      const json details = json::parse(first.details);
      std::string msg;
      if (const auto m = details.find("message"); m != details.end() && m->is_string()) {
        msg = m->get<std::string>();
      }
      const auto close = msg.find("] ");
      if (close != std::string::npos) msg = msg.substr(close + 2);
      throw error(parse_errc(first.reason_code).value_or(errc::failed_precondition), msg);
    }
    std::map<std::string, referral> replayed;
    auto q = cache.get(audit_replay_until);
    q->bind(1, id.value());
    q->bind(2, first.seq);
    while (q->step()) replay_row(replayed, read_row(*q));
    return replayed.at(id.value()).snapshot();
  }

  // Details a refusing body leaves for its audit row (set just before it throws).
  json refusal_details_ = json::object();

  // ---- rules ------------------------------------------------------------------------------

  const hospital& hospital_of(const hospital_id& h) const {
    return agreements.hospital_at("hospital", h);
  }

  consent_context consent_ctx(const stored_referral& s, const consent_record& c, instant at,
                              const std::string& action) const {
    consent_context ctx;
    ctx.consent = &c;
    ctx.origin = s.snap.origin;
    ctx.destination = s.snap.destination;
    ctx.origin_country = hospital_of(s.snap.origin).country;
    ctx.destination_country = hospital_of(s.snap.destination).country;
    ctx.flow = data_flow::outbound;
    ctx.action = action;
    ctx.at = at;
    ctx.payload_classes = options.payload_classes;
    if (auto it = options.compliance.find(s.snap.origin); it != options.compliance.end()) {
      ctx.compliance = it->second;
    }
    if (!ctx.compliance.first_cross_border_transfer) {
      ctx.compliance.first_cross_border_transfer = first_transfer_abroad(s.snap.origin);
    }
    return ctx;
  }

  // The first time the hospital's data went abroad: its first successful proposal to a hospital
  // in another country (the referral's data travels with the proposal).
  std::optional<instant> first_transfer_abroad(const hospital_id& origin) const {
    auto q = cache.get(
        "SELECT destination, proposed_at FROM referral WHERE origin = ? "
        "ORDER BY proposed_at");
    q->bind(1, origin.value());
    const std::string& home = hospital_of(origin).country;
    while (q->step()) {
      const hospital* d = agreements.find_hospital(hospital_id{q->text(0)});
      if (d && d->country != home) return from_seconds(q->int64(1));
    }
    return std::nullopt;
  }

  void check_consent(const consent_context& ctx, const referral_id& id) {
    const consent_verdict v = policy.evaluate(ctx);
    json findings = json::array();
    for (const auto& f : v.findings) {
      findings.push_back(
          {{"rule", f.rule_id}, {"code", f.code}, {"effect", std::string(to_string(f.effect))}});
    }
    refusal_details_ = {{"consent", ctx.consent->id.value()}, {"findings", findings}};
    if (v.allowed()) {
      refusal_details_ = json::object();
      last_verdict_ = {{"basis", std::string(to_string(v.basis))}, {"findings", findings}};
      return;
    }
    std::string reasons;
    for (const auto& f : v.findings) {
      if (f.effect != rule_effect::block && f.effect != rule_effect::require_document) continue;
      reasons +=
          fmt::format("{}{} {} ({})", reasons.empty() ? "" : "; ", f.rule_id, f.code, f.message);
    }
    detail::fail(errc::consent_blocked, "referral " + id.value(),
                 fmt::format("the consent policy blocks the {}: {}", ctx.action, reasons),
                 "record a consent that satisfies these rules");
  }
  json last_verdict_ = json::object();

  // Referrals counted against the destination's capacity in the destination's local calendar
  // month of `at`: proposed in that month and not closed as declined, cancelled, expired or
  // withdrawn. Indexed by (destination, specialty, proposed_at): cost does not grow with history.
  int month_count(const hospital_id& destination, const specialty_code& specialty,
                  instant at) const {
    const date::time_zone* zone = date::locate_zone(hospital_of(destination).time_zone);
    const auto local = date::floor<date::days>(zone->to_local(at));
    const date::year_month_day day{local};
    const date::year_month first = day.year() / day.month();
    const auto start = zone->to_sys(date::local_days{first / 1}, date::choose::earliest);
    const auto end =
        zone->to_sys(date::local_days{(first + date::months{1}) / 1}, date::choose::earliest);
    auto q = cache.get(
        "SELECT count(*) FROM referral WHERE destination = ? AND specialty = ? "
        "AND proposed_at >= ? AND proposed_at < ? AND (close_reason IS NULL OR "
        "close_reason NOT IN ('declined', 'cancelled', 'expired', "
        "'consent_withdrawn'))");
    q->bind(1, destination.value());
    q->bind(2, specialty.value());
    q->bind(3, to_seconds(date::floor<std::chrono::seconds>(start)));
    q->bind(4, to_seconds(date::floor<std::chrono::seconds>(end)));
    q->step();
    return q->int32(0);
  }
};

// =============================================================================================

engine::engine(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;
engine::~engine() = default;

namespace {
// The log is keyed when its first row carries a MAC.
bool first_row_keyed(store::connection& db) {
  auto q = db.prepare("SELECT mac IS NOT NULL FROM audit ORDER BY seq LIMIT 1");
  return q->step() && q->int32(0) != 0;
}
}  // namespace

engine engine::open(const std::string& path, agreement_directory agreements, consent_policy policy,
                    engine_options options) {
  // A keyed log stays keyed: rows without a MAC after keyed ones would fail every keyed verify.
  // Checked on the file as it is, before any migration, so that a refused file is left as it was.
  const auto keyed_needs_key = [&](store::connection& db) {
    if (!options.audit_key && first_row_keyed(db)) {
      detail::fail(errc::invalid_argument, detail::printable(path, 200),
                   "its audit log is keyed (its rows carry MACs) and no audit_key was given",
                   "open it with the key it was written with (engine_options::audit_key)");
    }
  };
  try {
    try {
      auto c = store::sqlite::open_for_engine(path, options, keyed_needs_key);
      return engine(std::make_unique<impl>(std::move(c), std::move(agreements),
                                           std::move(policy), std::move(options)));
    } catch (const SQLite::Exception& e) {
      throw store::sqlite::to_failure(e);
    }
  } catch (const store::failure& e) {
    if (e.kind() == store::failure_kind::not_a_database) {
      detail::fail(errc::invalid_argument, detail::printable(path, 200),
                   "is not an SQLite database",
                   "pass the path of a kakehashi database; the file was left untouched");
    }
    detail::fail(errc::storage, detail::printable(path, 200),
                 fmt::format("cannot be opened as a database: {}", e.what()),
                 "check the path and its permissions; the file was left untouched");
  }
}

referral_snapshot engine::propose(const proposal& p, const std::string& key,
                                  const command_options& options) {
  return impl_->run(
      key, "propose", p.id, p.by, p.at, options, [&](const std::optional<stored_referral>& before) {
        referral r = referral::propose(p);  // validates ids and who proposes
        if (before) {
          detail::fail(errc::already_exists, "referral " + p.id.value(), "exists already",
                       "choose a new referral id");
        }
        eligibility_query q{p.origin, p.specialty, p.at, {}};
        if (impl_->agreements.find_hospital(p.destination)) {
          q.month_counts[p.destination] = impl_->month_count(p.destination, p.specialty, p.at);
          // Only the destination is judged: a proposal's cost does not grow with the network.
          q.scope = eligibility_scope::destination;
          q.destination = p.destination;
        }
        const eligibility_result e = check_eligibility(impl_->agreements, q);
        const eligible_destination* ok = e.find_eligible(p.destination);
        if (!ok) {
          if (!impl_->agreements.find_hospital(p.destination)) {
            impl_->agreements.hospital_at("proposal.destination", p.destination);  // not_found
          }
          json reasons = json::array();
          std::string text;
          for (const auto& reason : e.reasons_for(p.destination)) {
            reasons.push_back({{"code", std::string(to_string(reason.code))},
                               {"agreement", reason.agreement ? reason.agreement->value() : ""}});
            text += (text.empty() ? "" : "; ") + reason.message;
          }
          impl_->refusal_details_ = {{"destination", p.destination.value()}, {"reasons", reasons}};
          detail::fail(errc::not_eligible, "referral " + p.id.value(),
                       fmt::format("'{}' is not eligible for '{}' from '{}' at {}: {}",
                                   p.destination.value(), p.specialty.value(), p.origin.value(),
                                   to_iso8601(p.at), text),
                       "choose an eligible destination (kakehashi eligible lists them)");
        }
        impl::outcome o{r.snapshot(), ok->agreement, std::string(), 0, json::object()};
        o.details = {{"origin", p.origin.value()},         {"destination", p.destination.value()},
                     {"specialty", p.specialty.value()},   {"patient", p.patient.value()},
                     {"agreement", ok->agreement.value()}, {"at", to_seconds(p.at)}};
        return o;
      });
}

namespace {
// Applies `e` to the stored referral; the result and the version the row must still have.
referral_snapshot applied(const referral_snapshot& s, const event::any& e) {
  referral r = referral::restore(s);
  r.apply(e);
  return r.snapshot();
}

[[noreturn]] void unknown_referral(const referral_id& id) {
  detail::fail(errc::not_found, "referral " + detail::printable(id.value()), "no such referral",
               "list referrals to see the ids");
}
}  // namespace

referral_snapshot engine::record_consent(const referral_id& id, const consent_record& consent,
                                         const actor& by, instant at, const std::string& key,
                                         const command_options& options) {
  return impl_->run(
      key, "record_consent", id, by, at, options, [&](const std::optional<stored_referral>& before) {
        if (!before) unknown_referral(id);
        const event::record_consent e{by, at, consent.id};
        referral r = referral::restore(before->snap);
        r.apply(e);  // state and rights first: a consent for a closed referral is refused as such
        if (consent.patient != before->snap.patient) {
          detail::fail(errc::invalid_argument, "referral " + id.value(),
                       fmt::format("consent {} is for another patient", consent.id.value()),
                       "record the consent of the referral's own patient");
        }
        impl_->check_consent(impl_->consent_ctx(*before, consent, at, "record_consent"), id);
        impl::outcome o{r.snapshot(), before->agreement, consent_digest(consent),
                        before->snap.version, json::object()};
        o.details = impl_->last_verdict_;
        o.details["consent"] = consent.id.value();
        o.details["digest"] = o.consent_digest;
        // A newer consent replaces the one recorded (before acceptance, or in `accepted` when the
        // recorded one does not allow the transfer): the row says which.
        if (!before->snap.consent.empty()) o.details["replaces"] = before->snap.consent.value();
        return o;
      });
}

referral_snapshot engine::transfer(const referral_id& id, const consent_record& consent,
                                   const actor& by, instant at, const std::string& key,
                                   const command_options& options) {
  return impl_->run(key, "transfer", id, by, at, options, [&](const std::optional<stored_referral>& before) {
    if (!before) unknown_referral(id);
    const referral_snapshot after = applied(before->snap, event::transfer{by, at});
    if (consent.id != before->snap.consent ||
        !detail::consent_digest_matches(consent, before->consent_digest)) {
      detail::fail(errc::consent_blocked, "referral " + id.value(),
                   fmt::format("consent {} is not the consent recorded for the referral ({})",
                               consent.id.value(), before->snap.consent.value()),
                   "pass the recorded consent, or record the new one first");
    }
    impl_->check_consent(impl_->consent_ctx(*before, consent, at, "transfer"), id);
    impl::outcome o{after, before->agreement, before->consent_digest, before->snap.version,
                    impl_->last_verdict_};
    o.details["consent"] = consent.id.value();
    return o;
  });
}

referral_snapshot engine::apply(const referral_id& id, const event::any& e,
                                const std::string& key, const command_options& options) {
  const event_kind kind = kind_of(e);
  return impl_->run(key, std::string(to_string(kind)), id, actor_of(e), instant_of(e), options,
                    [&](const std::optional<stored_referral>& before) {
                      if (kind == event_kind::record_consent || kind == event_kind::transfer) {
                        detail::fail(errc::invalid_argument, "referral " + id.value(),
                                     fmt::format("'{}' needs the consent record", to_string(kind)),
                                     "call engine::record_consent or engine::transfer");
                      }
                      if (!before) unknown_referral(id);
                      impl::outcome o{applied(before->snap, e), before->agreement,
                                      before->consent_digest, before->snap.version, json::object()};
                      if (const auto* d = std::get_if<event::decline>(&e))
                        o.details["reason"] = to_string(d->reason);
                      if (const auto* c = std::get_if<event::cancel>(&e))
                        o.details["reason"] = to_string(c->reason);
                      if (const auto* w = std::get_if<event::withdraw_consent>(&e)) {
                        o.details["channel"] = to_string(w->channel);
                      }
                      return o;
                    });
}

std::vector<referral_snapshot> engine::expire_overdue(const actor& system, instant at) {
  if (system.role != actor_role::system) {
    detail::fail(errc::permission_denied, "expire_overdue",
                 fmt::format("the sweep acts as a {}", to_string(system.role)),
                 "pass an actor with role system (the hospital's own process)");
  }
  validate("expire_overdue actor", system.organisation);
  std::vector<referral_snapshot> out;
  for (const auto& s : overdue(at)) {
    // Only referrals the sweep's hospital is a party to, and only at or after their last change
    // (events arrive in time order): the others wait for their own hospital's or a later sweep.
    if (s.updated_at > at) continue;
    if (system.organisation != s.origin && system.organisation != s.destination) continue;
    try {
      out.push_back(apply(s.id, event::expire{system, at},
                          "expire:" + s.id.value() + ":" + std::to_string(s.version)));
    } catch (const error& e) {
      if (e.code() == errc::storage || e.code() == errc::outcome_unknown) throw;
      // Another writer changed the referral after overdue() read it: the refused attempt is
      // audited, and the sweep goes on with the others.
    }
  }
  return out;
}

void engine::batch(const std::function<void()>& body) {
  // The lock is held for the whole batch: no other thread's command can join its transaction
  // (they queue, and the next group commits after the batch).
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  if (impl_->batch_depth > 0) {
    body();  // a nested batch is part of the outer one
    return;
  }
  try {
    impl_->head_.reset();
    impl_->db.exec("BEGIN IMMEDIATE");
  } catch (const store::failure& e) {
    storage_failed(e, "BEGIN IMMEDIATE");
  }
  ++impl_->batch_depth;
  impl_->txn_owner.store(std::this_thread::get_id());
  try {
    body();
  } catch (...) {
    impl_->txn_owner.store(std::thread::id{});
    --impl_->batch_depth;
    impl_->head_.reset();
    impl_->db.try_exec("ROLLBACK");
    throw;
  }
  impl_->txn_owner.store(std::thread::id{});
  --impl_->batch_depth;
  impl_->commit();
}

engine_stats engine::stats() const {
  std::lock_guard<std::mutex> q(impl_->queue_mutex);
  engine_stats s = impl_->counters;
  s.queued = impl_->queue.size();
  return s;
}

std::optional<referral_snapshot> engine::find(const referral_id& id) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    auto s = impl_->load(id);
    if (!s) return std::nullopt;
    return s->snap;
  } catch (const store::failure& e) {
    storage_failed(e, "reading a referral");
  }
}

referral_snapshot engine::get(const referral_id& id) const {
  auto s = find(id);
  if (!s) unknown_referral(id);
  return *s;
}

std::vector<audit_entry> engine::history(const referral_id& id) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    auto q = impl_->cache.get(select_history);  // prepared once: callers read histories often
    return read_history(*q, id);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the history");
  }
}

namespace {
std::vector<referral_snapshot> snaps(std::vector<stored_referral> v) {
  std::vector<referral_snapshot> out;
  out.reserve(v.size());
  for (auto& s : v) out.push_back(std::move(s.snap));
  return out;
}
}  // namespace

std::vector<referral_snapshot> engine::list(std::optional<referral_state> state) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    if (!state) return snaps(impl_->load_where("", {}));
    return snaps(impl_->load_where(" WHERE state = ?", {std::string(to_string(*state))}));
  } catch (const store::failure& e) {
    storage_failed(e, "listing referrals");
  }
}

std::vector<referral_snapshot> engine::by_hospital(const hospital_id& h) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return snaps(impl_->load_where(" WHERE origin = ? OR destination = ?", {h.value(), h.value()}));
  } catch (const store::failure& e) {
    storage_failed(e, "listing referrals");
  }
}

std::vector<referral_snapshot> engine::list(const referral_filter& filter) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return snaps(read_filtered(impl_->db, filter));
  } catch (const store::failure& e) {
    storage_failed(e, "listing referrals");
  }
}

std::vector<referral_snapshot> engine::overdue(instant at) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return read_overdue(impl_->db, impl_->agreements, at);
  } catch (const store::failure& e) {
    storage_failed(e, "listing overdue referrals");
  }
}

eligibility_result engine::eligibility(const hospital_id& from, const specialty_code& specialty,
                                      instant at) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  validate("from", from);
  validate("specialty", specialty);
  eligibility_query q{from, specialty, at, {}};
  try {
    for (const auto& h : impl_->agreements.hospitals()) {
      if (h.id != from) q.month_counts[h.id] = impl_->month_count(h.id, specialty, at);
    }
  } catch (const store::failure& e) {
    storage_failed(e, "counting this month's referrals");
  }
  return check_eligibility(impl_->agreements, q);
}

std::vector<change> engine::changes(const change_query& q) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return read_changes(impl_->db, q);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the change feed");
  }
}

log_head engine::head() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    const auto [seq, hash] = read_head(impl_->db);
    return {seq, hash};
  } catch (const store::failure& e) {
    storage_failed(e, "reading the log's head");
  }
}

std::int64_t engine::audit_rows() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return count_audit_rows(impl_->db);
  } catch (const store::failure& e) {
    storage_failed(e, "counting audit rows");
  }
}

// =============================================================================================
// verify

namespace {

// Two passes, each holding one row or one referral at a time, so that verifying a large
// database does not hold its referrals in memory: (1) the chain in sequence order; (2) each
// referral's rows in order (the audit_referral index), replayed and merged by id with the stored
// referrals. The problem reported is the one at the earliest row.
verify_result verify_on(store::connection& db, const std::optional<checkpoint>& anchor,
                        const std::optional<std::string>& key) {
  verify_result v;
  const auto bad = [&](std::int64_t seq, std::string problem) {
    if (!v.intact && *v.first_bad_seq <= seq) return;
    v.intact = false;
    v.first_bad_seq = seq;
    v.problem = std::move(problem);
  };

  // A key that does not match the checkpoint is a wrong key or a forged checkpoint, not a
  // tampered log: said apart, and the log is checked without the key.
  std::optional<std::string> row_key = key;
  if (key && anchor && !detail::equal_constant_time(checkpoint_mac(*key, *anchor), anchor->mac)) {
    v.key_mismatch = true;
    v.key_problem =
        "the key does not match the checkpoint's MAC: a wrong key, or a forged checkpoint";
    row_key.reset();
  }

  // (1) The chain: sequence, links, hashes, MACs.
  std::string prev = genesis_hash;
  std::optional<bool> rows_keyed;
  if (row_key && anchor) rows_keyed = anchor->rows_keyed;
  std::int64_t expected_seq = 1;
  auto q = db.prepare(std::string(select_audit) + " ORDER BY seq");
  while (q->step()) {
    const row r = read_row(*q);
    ++v.rows;
    if (!v.intact) continue;
    if (r.seq != expected_seq) {
      bad(r.seq,
          fmt::format("sequence jumps from {} to {}: rows are missing", expected_seq - 1, r.seq));
      continue;
    }
    ++expected_seq;
    if (r.prev_hash != prev) {
      bad(r.seq, "the previous-hash link does not match the row before it");
      continue;
    }
    if (detail::sha256_hex(r.encoding()) != r.hash) {
      bad(r.seq, "the row's hash does not match its content: the row was edited");
      continue;
    }
    if (!rows_keyed) rows_keyed = !r.mac.empty();  // without a checkpoint: as the first row says
    if (row_key && *rows_keyed &&
        (r.mac.empty() ||
         !detail::equal_constant_time(detail::hmac_sha256_hex(*row_key, r.hash), r.mac))) {
      bad(r.seq,
          "the row's MAC does not verify with the audit key: the row was not written by "
          "the engine");
      continue;
    }
    prev = r.hash;
  }
  v.head_hash = prev;
  if (anchor && v.intact && !v.key_mismatch) {  // a checkpoint nothing vouches for proves nothing
    if (anchor->seq > v.rows) {
      bad(v.rows + 1, fmt::format("the log ends at row {} but the checkpoint covers {}: the tail "
                                  "was truncated",
                                  v.rows, anchor->seq));
    } else {
      auto h = db.prepare("SELECT hash FROM audit WHERE seq = ?");
      h->bind(1, anchor->seq);
      if (!h->step() || h->text(0) != anchor->head_hash) {
        bad(anchor->seq, "the row at the checkpoint has another hash: the chain was rewritten");
      }
    }
  }

  // (2) Each referral's successful rows replayed (refused attempts change nothing), merged by id
  // with the referral table: every stored referral equals its replay, and every replayed one is
  // stored.
  auto aq = db.prepare(
                       std::string(select_audit) + " WHERE outcome = 0 ORDER BY referral_id, seq");
  bool more_rows = aq->step();
  struct replay {
    std::string id;
    std::optional<referral> result;  // nullopt when a row could not be replayed
  };
  const auto next_replay = [&]() -> std::optional<replay> {
    if (!more_rows) return std::nullopt;
    std::map<std::string, referral> one;  // replay_row's map, holding this referral only
    replay out{aq->text(1), std::nullopt};
    bool replayable = true;
    while (more_rows && aq->text(1) == out.id) {
      const row r = read_row(*aq);
      if (replayable) {
        try {
          replay_row(one, r);
          if (state_text(one.at(r.referral_id).snapshot()) != r.state_after) {
            bad(r.seq, "replaying the log does not reach the state the row records");
          }
        } catch (const std::exception& e) {
          bad(r.seq,
              fmt::format("the row cannot be replayed: {}", detail::printable(e.what(), 160)));
          replayable = false;
        }
      }
      more_rows = aq->step();
    }
    if (replayable) out.result = one.at(out.id);
    return out;
  };
  const auto missing_from_table = [&](const replay& r) {
    bad(v.rows, fmt::format("referral {} is in the log but missing from the referral table",
                            detail::printable(r.id)));
  };
  std::optional<replay> current = next_replay();
  auto rq = db.prepare(std::string(select_referral) + " ORDER BY id");
  while (rq->step()) {
    ++v.referrals;
    const std::string id = rq->text(0);
    while (current && current->id < id) {
      missing_from_table(*current);
      current = next_replay();
    }
    if (!current || current->id != id) {
      bad(v.rows, fmt::format("referral {} is stored but the log never proposed it",
                              detail::printable(id)));
      continue;
    }
    try {
      const stored_referral s = read_referral(*rq);
      if (current->result && current->result->snapshot() != s.snap) {
        bad(v.rows, fmt::format("referral {} as stored ({}) differs from the log's replay ({})",
                                detail::printable(id), state_text(s.snap),
                                state_text(current->result->snapshot())));
      }
    } catch (const std::exception& e) {
      bad(v.rows,
          fmt::format("a stored referral cannot be read: {}", detail::printable(e.what(), 160)));
    }
    current = next_replay();
  }
  for (; current; current = next_replay()) missing_from_table(*current);
  if (v.key_mismatch && v.intact) {
    // The log agrees with itself, but nothing vouches for it: never "intact" on a key that
    // does not match.
    v.intact = false;
    v.first_bad_seq = anchor->seq;
    v.problem = v.key_problem;
  }
  return v;
}

}  // namespace

// verify_on() inside one read transaction: a consistent view while other writers go on.
verify_result verify_consistently(store::connection& db, const std::optional<checkpoint>& anchor,
                                  const std::optional<std::string>& key) {
  try {
    db.exec("BEGIN");
    verify_result v = verify_on(db, anchor, key);
    db.exec("COMMIT");
    return v;
  } catch (const store::failure& e) {
    db.try_exec("ROLLBACK");
    storage_failed(e, "verify");
  }
}

verify_result engine::verify(const std::optional<checkpoint>& anchor,
                             const std::optional<std::string>& key) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  return verify_consistently(impl_->db, anchor, key);
}

checkpoint engine::make_checkpoint(const std::string& key, instant at) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  return checkpoint_of(impl_->db, key, at, impl_->options.audit_key.has_value());
}

struct database_view::impl {
  detail::read_only_database file;
  explicit impl(const std::string& path)
      : file(path, [path](SQLite::Database& db) { store::sqlite::check_for_reading(db, path); }) {}

  // Runs `f` on the file through the store interface; SQLite's own errors (opening the file
  // again after a writer came) as the store's.
  template <class F>
  auto read(F&& f) {
    try {
      return file.read([&](SQLite::Database& db) {
        store::sqlite::connection c(db);
        return f(static_cast<store::connection&>(c));
      });
    } catch (const SQLite::Exception& e) {
      throw store::sqlite::to_failure(e);
    }
  }
};

database_view::database_view(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
database_view::database_view(database_view&&) noexcept = default;
database_view& database_view::operator=(database_view&&) noexcept = default;
database_view::~database_view() = default;

database_view database_view::open(const std::string& path) {
  if (!std::ifstream(path).good()) {
    detail::fail(errc::not_found, detail::printable(path, 200), "no such database file",
                 "pass the path of a kakehashi database");
  }
  try {
    return database_view(std::make_unique<impl>(path));
  } catch (const SQLite::Exception& e) {
    store::sqlite::refuse_if_not_a_database(e, path);
    detail::fail(errc::storage, detail::printable(path, 200),
                 fmt::format("cannot be read as a database: {}", e.what()),
                 "check the path; the file was left untouched");
  }
}

std::optional<referral_snapshot> database_view::find(const referral_id& id) const {
  try {
    return impl_->read([&](store::connection& db) -> std::optional<referral_snapshot> {
      auto s = read_one(db, id);
      if (!s) return std::nullopt;
      return s->snap;
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading a referral");
  }
}

std::vector<audit_entry> database_view::history(const referral_id& id) const {
  try {
    return impl_->read([&](store::connection& db) {
      auto q = db.prepare(select_history);
      return read_history(*q, id);
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the history");
  }
}

std::vector<referral_snapshot> database_view::list(std::optional<referral_state> state) const {
  try {
    return impl_->read([&](store::connection& db) {
      if (!state) return snaps(read_where(db, "", {}));
      return snaps(read_where(db, " WHERE state = ?", {std::string(to_string(*state))}));
    });
  } catch (const store::failure& e) {
    storage_failed(e, "listing referrals");
  }
}

std::vector<referral_snapshot> database_view::list(const referral_filter& filter) const {
  try {
    return impl_->read([&](store::connection& db) { return snaps(read_filtered(db, filter)); });
  } catch (const store::failure& e) {
    storage_failed(e, "listing referrals");
  }
}

std::vector<referral_snapshot> database_view::overdue(const agreement_directory& agreements,
                                                      instant at) const {
  try {
    return impl_->read(
        [&](store::connection& db) { return read_overdue(db, agreements, at); });
  } catch (const store::failure& e) {
    storage_failed(e, "listing overdue referrals");
  }
}

std::vector<change> database_view::changes(const change_query& q) const {
  try {
    return impl_->read([&](store::connection& db) { return read_changes(db, q); });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the change feed");
  }
}

log_head database_view::head() const {
  try {
    return impl_->read([](store::connection& db) {
      const auto [seq, hash] = read_head(db);
      return log_head{seq, hash};
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the log's head");
  }
}

std::optional<std::string> database_view::hash_at(std::int64_t seq) const {
  try {
    return impl_->read([&](store::connection& db) -> std::optional<std::string> {
      auto q = db.prepare("SELECT hash FROM audit WHERE seq = ?");
      q->bind(1, seq);
      if (!q->step()) return std::nullopt;
      return q->text(0);
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the log");
  }
}

std::int64_t database_view::audit_rows() const {
  try {
    return impl_->read(
        [](store::connection& db) { return count_audit_rows(db); });
  } catch (const store::failure& e) {
    storage_failed(e, "counting audit rows");
  }
}

verify_result database_view::verify(const std::optional<checkpoint>& anchor,
                                    const std::optional<std::string>& key) const {
  return impl_->read(
      [&](store::connection& db) { return verify_consistently(db, anchor, key); });
}

bool database_view::keyed() const {
  try {
    return impl_->read([](store::connection& db) { return first_row_keyed(db); });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the audit log");
  }
}

checkpoint database_view::make_checkpoint(const std::string& key, instant at) const {
  try {
    return impl_->read(
        [&](store::connection& db) { return checkpoint_of(db, key, at, first_row_keyed(db)); });
  } catch (const store::failure& e) {
    storage_failed(e, "checkpoint");
  }
}

verify_result verify_database(const std::string& path, const std::optional<checkpoint>& anchor,
                              const std::optional<std::string>& key) {
  return database_view::open(path).verify(anchor, key);
}

}  // namespace kakehashi
