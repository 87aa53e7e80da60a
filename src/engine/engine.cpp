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

#include "audit/chain.hpp"
#include "common/crypto.hpp"
#include "common/document_json.hpp"
#include "common/fail.hpp"
#include "consent/consent_digest.hpp"
#include "kakehashi/eligibility.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/referral_rows.hpp"
#include "store/sqlite/read_only_database.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace kakehashi {
namespace {

using audit::audit_by_key;
using audit::audit_replay_until;
using audit::checkpoint_of;
using audit::count_audit_rows;
using audit::first_row_keyed;
using audit::genesis_hash;
using audit::read_changes;
using audit::read_documents;
using audit::read_head;
using audit::read_history;
using audit::read_milestones;
using audit::read_results;
using audit::read_row;
using audit::row;
using audit::select_documents;
using audit::select_history;
using audit::select_milestones;
using audit::select_results;
using audit::state_text;
using nlohmann::json;
using store::from_seconds;
using store::read_where;
using store::referral_by_id;
using store::stored_referral;
using store::to_seconds;

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

using detail::consent_digest;

// Codes (document kinds, milestones) as a JSON array for a refusal's details and as the text
// "a, b" for its message.
template <class Code>
std::pair<json, std::string> coded_list(const std::vector<Code>& codes) {
  json list = json::array();
  std::string text;
  for (const auto c : codes) {
    list.push_back(std::string(to_string(c)));
    text += (text.empty() ? "" : ", ") + std::string(to_string(c));
  }
  return {list, text};
}

}  // namespace

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

  // The referral as users read it (with the link to an onward referral).
  std::optional<stored_referral> load(const referral_id& id) const {
    return load_with(referral_by_id(db), id);
  }
  // The referral as a command needs it: without replaced_by (see referral_for_command).
  std::optional<stored_referral> load_for_command(const referral_id& id) const {
    return load_with(referral_for_command(db), id);
  }
  std::optional<stored_referral> load_with(const std::string& sql, const referral_id& id) const {
    auto q = cache.get(sql);
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
          "consent_digest, proposed_at, updated_at, version, replaces) VALUES "
          "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      bind_referral(*ins, s, agreement, digest);
      if (s.replaces) {
        ins->bind(15, s.replaces->value());
      } else {
        ins->bind_null(15);
      }
      ins->exec();
      return;
    }
    // close_reason is the last parameter, so that both statements bind the same first eight.
    auto up = cache.get(reason_changed
                            ? "UPDATE referral SET state = ?1, consent_withdrawn = ?2, "
                              "consent_ref = ?3, consent_digest = ?4, updated_at = ?5, "
                              "version = ?6, close_reason = ?9 WHERE id = ?7 AND version = ?8"
                            : "UPDATE referral SET state = ?1, consent_withdrawn = ?2, "
                              "consent_ref = ?3, consent_digest = ?4, updated_at = ?5, "
                              "version = ?6 WHERE id = ?7 AND version = ?8");
    // Every bound string outlives the statement's use of it: bound without copies, cleared after.
    const std::string state(to_string(s.state));
    const std::string reason = s.reason ? std::string(to_string(*s.reason)) : std::string();
    up->bind_no_copy(1, state);
    up->bind(2, s.consent_withdrawn ? 1 : 0);
    up->bind_no_copy(3, s.consent.value());
    up->bind_no_copy(4, digest);
    up->bind(5, to_seconds(s.updated_at));
    up->bind(6, static_cast<std::int64_t>(s.version));
    up->bind_no_copy(7, s.id.value());
    up->bind(8, static_cast<std::int64_t>(expected_version));
    if (reason_changed) {
      if (s.reason) {
        up->bind_no_copy(9, reason);
      } else {
        up->bind_null(9);
      }
    }
    const int changed = up->exec();
    up->clear_bindings();
    if (changed != 1) {
      // Impossible inside the write transaction unless the row changed behind the engine's back.
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
    if (batch_depth > 0) {
      cache.get("SAVEPOINT command")->exec();
    } else {
      db.begin_write();
    }
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
      // Inside the batch's or group's transaction: nothing is durable before its COMMIT. On a
      // server the RELEASE is a round trip and can fail (a lost connection): the command was not
      // applied, and the transaction it was part of cannot commit either.
      try {
        cache.get("RELEASE command")->exec();
      } catch (const store::failure& e) {
        db.try_exec("ROLLBACK TO command");
        storage_failed(e, "releasing the command's savepoint");
      }
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
    bool changes_referral = true;  // false: only the audit row is written (record_duty)
    std::string reason_code = {};  // the row's reason_code when not a close reason ("emergency")
  };

  // Runs one command. Inside this thread's own transaction (a batch, or the group it leads) it
  // runs at once, in a savepoint; otherwise it is submitted to the group commit queue.
  template <class Body>
  referral_snapshot run(const std::string& key, const std::string& command, const referral_id& id,
                        const actor& by, instant at, const command_options& conditions, Body&& body) {
    check_key(key);
    // The ids the audit row records whatever the command's fate: one that is not an id at all is
    // refused before the database is touched, as a malformed key is (nothing is written: the
    // row would carry the hostile value, which a server's text column or index may not even
    // take: invalid UTF-8, a megabyte).
    const bool proposing = command == "propose";
    validate(proposing ? "proposal.id" : "referral", id);
    validate(proposing ? "proposal.by.organisation" : "event.by.organisation", by.organisation);
    if (!by.user.empty()) validate(proposing ? "proposal.by.user" : "event.by.user", by.user);
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
        db.begin_write();
      } catch (const store::failure& e) {
        const auto failure = capture([&] { storage_failed(e, "beginning the transaction"); });
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
      storage_failed(e, "beginning the transaction");
    }
    std::optional<error> refusal;
    referral_snapshot result;
    try {
      const std::optional<stored_referral> before = load_for_command(id);
      const std::string state_before = before ? state_text(before->snap) : std::string();
      row r;
      r.referral_id = id.value();
      // When the engine records the command: its clock's instant, or (without one) the instant
      // the command carries, which is then both. The row keeps the other under occurred_at.
      const instant recorded = options.clock ? options.clock() : at;
      r.recorded_at = to_iso8601(recorded);
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
        if (at > recorded + options.clock_skew) {
          detail::fail(errc::invalid_argument, "referral " + id.value(),
                       fmt::format("the {} happened at {}, after the engine's clock at {} (more "
                                   "than the {} s clock skew allowed)",
                                   command, to_iso8601(at), to_iso8601(recorded),
                                   options.clock_skew.count()),
                       "pass the instant it happened, at or before " +
                           to_iso8601(recorded + options.clock_skew));
        }
        outcome o = body(before);
        if (recorded != at) o.details["occurred_at"] = to_iso8601(at);
        if (!conditions.request_digest.empty()) o.details["request"] = conditions.request_digest;
        if (o.changes_referral) {
          save(o.after, o.agreement, o.consent_digest, o.expected_version,
               !before || before->snap.reason != o.after.reason);
        }
        r.state_after = state_text(o.after);
        r.reason_code = o.after.reason && o.after.state == referral_state::closed &&
                                (!before || before->snap.state != referral_state::closed)
                            ? std::string(to_string(*o.after.reason))
                            : o.reason_code;
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
        if (recorded != at) refusal_details_["occurred_at"] = to_iso8601(at);
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

  // ---- duties ---------------------------------------------------------------------------

  // The calendar the engine counts `country`'s deadlines on: the options' or the shipped one
  // (nullptr: deadlines_for looks for the shipped one and says when there is none).
  const working_calendar* calendar_of(const std::string& country) const {
    const auto it = options.calendars.find(country);
    return it == options.calendars.end() ? nullptr : &it->second;
  }

  // A duty's audit-row form: the deadlines deadlines_for() counts, or why there are none.
  json duty_json(duty_kind kind, const std::string& rule, const referral_snapshot& s,
                 const hospital_id& responsible, json must_stop, instant at) const {
    const std::string& country = hospital_of(responsible).country;
    json d{{"kind", std::string(to_string(kind))},
           {"rule", rule},
           {"patient", s.patient.value()},
           {"responsible", responsible.value()},
           {"must_stop", std::move(must_stop)}};
    const duty_deadlines due =
        deadlines_for(kind, country, at, calendar_of(country), options.emergency_review_days);
    if (due.complete_by) {
      if (due.acknowledge_by) d["acknowledge_by"] = to_iso8601(*due.acknowledge_by);
      d["complete_by"] = to_iso8601(*due.complete_by);
      if (due.provisional) d["provisional"] = true;
    } else {
      d["deadline_problem"] = responsible.value() + ": " + due.problem;
    }
    return d;
  }

  // The duty a withdrawal creates: the referring hospital's, with the stop notice to the
  // destination (VN-15; JP-12's policy for a Japanese referring hospital).
  json withdrawal_duty(const referral_snapshot& s, instant at) const {
    return duty_json(duty_kind::withdrawal,
                     hospital_of(s.origin).country == "JP" ? "JP-12" : "VN-15", s, s.origin,
                     json::array({s.destination.value()}), at);
  }

  // The duty a patient's written request for the record summary creates (VN-24): the receiving
  // hospital's.
  json summary_duty(const referral_snapshot& s, const hospital_id& receiver, instant at) const {
    return duty_json(duty_kind::record_summary, "VN-24", s, receiver, json::array(), at);
  }

  // A step the policy allowed on the emergency basis alone (check_consent ran last) opens the
  // review of the hospital that provides the data on that basis (ctx.sender()): the row says
  // so in its reason_code, which the duties' index covers, and carries the duty.
  void open_review_if_emergency(outcome& o, const consent_context& ctx, const actor& by,
                                instant at) const {
    if (last_basis_ != legal_basis::emergency) return;
    const hospital_id responsible = ctx.sender();
    json decided_by = json::array();
    const auto add = [&](const user_id& u) {
      if (!u.empty() &&
          std::find(decided_by.begin(), decided_by.end(), u.value()) == decided_by.end())
        decided_by.push_back(u.value());
    };
    if (by.organisation == responsible) add(by.user);
    if (ctx.consent && ctx.consent->emergency) add(ctx.consent->emergency->clinician);
    o.reason_code = "emergency";
    o.details["duty"] = duty_json(duty_kind::emergency_review,
                                  hospital_of(responsible).country == "JP" ? "JP-10" : "VN-17",
                                  o.after, responsible, json::array(), at);
    o.details["duty"]["decided_by"] = std::move(decided_by);
  }

  // The duty `duty_id` of the referral that `by` records a step of (`what` and `who_may`, for
  // the messages: "acknowledged", "record it as a clinician or coordinator"): refused unless it
  // exists, `by` is of its responsible hospital, and `at` is not before it.
  duty duty_for_step(const referral_id& id, std::int64_t duty_id, const actor& by, instant at,
                     std::string_view what, std::string_view who_may) {
    duty_query q;
    q.referral = id;
    q.open_only = false;
    const auto all = audit::read_duties(db, q);
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const duty& d) { return d.id == duty_id; });
    if (it == all.end()) {
      std::string known;
      for (const auto& d : all) known += (known.empty() ? "" : ", ") + std::to_string(d.id);
      detail::fail(errc::not_found, "referral " + id.value(),
                   fmt::format("has no duty {}", duty_id),
                   known.empty() ? std::string("it has no duties") : "its duties are " + known);
    }
    if (by.organisation != it->responsible || by.role == actor_role::system) {
      detail::fail(errc::permission_denied, fmt::format("duty {}", duty_id),
                   fmt::format("is {}'s to record, not {}'s (as {})", it->responsible.value(),
                               by.organisation.value(), to_string(by.role)),
                   fmt::format("{} of {}", who_may, it->responsible.value()));
    }
    if (at < it->created_at) {
      detail::fail(errc::invalid_argument, fmt::format("duty {}", duty_id),
                   fmt::format("cannot be {} at {}, before it was created at {}", what,
                               to_iso8601(at), to_iso8601(it->created_at)),
                   "pass an instant at or after " + to_iso8601(it->created_at));
    }
    return *it;
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
    // Results go back from the destination to the referring hospital (APPI Art. 28 in Japan).
    ctx.flow = action == "return_results" ? data_flow::results_return : data_flow::outbound;
    ctx.action = action;
    ctx.at = at;
    ctx.payload_classes = options.payload_classes;
    if (auto it = options.compliance.find(ctx.sender()); it != options.compliance.end()) {
      ctx.compliance = it->second;
    }
    if (!ctx.compliance.first_cross_border_transfer) {
      ctx.compliance.first_cross_border_transfer = first_transfer_abroad(ctx.sender());
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
      last_basis_ = v.basis;
      const std::vector<std::string> filtered = v.filtered_classes();
      last_classes_.clear();
      for (const auto& c : ctx.payload_classes) {
        if (std::find(filtered.begin(), filtered.end(), c) == filtered.end()) {
          last_classes_.push_back(c);
        }
      }
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
                 "record a consent that satisfies these rules, or attach the documents they name");
  }
  json last_verdict_ = json::object();
  legal_basis last_basis_ = legal_basis::none;
  std::vector<std::string> last_classes_;  // the payload less what the verdict filtered out

  // The provision record (JP-07, VN-22) of a transfer or a results return the policy allowed
  // (check_consent ran last): provision_record's fields, in the step's audit row.
  json provision_of(const stored_referral& s, const consent_record& c, data_flow flow,
                    const std::vector<document_ref>& documents) const {
    const bool outbound = flow == data_flow::outbound;
    const hospital& provider = hospital_of(outbound ? s.snap.origin : s.snap.destination);
    const hospital& recipient = hospital_of(outbound ? s.snap.destination : s.snap.origin);
    return {{"provider", provider.id.value()},
            {"provider_name", provider.name_en},
            {"provider_country", provider.country},
            {"recipient", recipient.id.value()},
            {"recipient_name", recipient.name_en},
            {"recipient_country", recipient.country},
            {"patient", s.snap.patient.value()},
            {"basis", std::string(to_string(last_basis_))},
            {"consent", c.id.value()},
            {"consent_controller", c.controller.value()},
            {"consent_captured_at", to_iso8601(c.captured_at)},
            {"consent_method", std::string(to_string(c.method))},
            {"consent_digest", s.consent_digest},
            {"artifact_sha256", c.artifact_sha256},
            {"data_classes", last_classes_},
            {"documents", detail::documents_json(documents)}};
  }

  // ---- documents ---------------------------------------------------------------------------

  std::vector<attached_document> documents_of(const referral_id& id) const {
    auto q = cache.get(select_documents);
    return read_documents(*q, id);
  }

  document_checklist checklist_of(const stored_referral& s) {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a) {
      // The agreement left the directory after the proposal: its terms are unknown here.
      document_checklist c;
      c.attached = documents_of(s.snap.id);
      return c;
    }
    return check_documents(*a, documents_of(s.snap.id));
  }

  // A document id is unique within its referral; the same content under two ids is allowed (a
  // letter sent again in another language has another hash anyway).
  void check_new_document(const stored_referral& s, const document_ref& d) {
    for (const auto& had : documents_of(s.snap.id)) {
      if (had.document.id != d.id) continue;
      refusal_details_ = {{"document", d.id.value()}, {"attached_row", had.audit_seq}};
      detail::fail(errc::already_exists,
                   "referral " + s.snap.id.value() + " document " + d.id.value(),
                   fmt::format("is attached already ({}, at {}, audit row #{})",
                               to_string(had.document.kind), to_iso8601(had.at), had.audit_seq),
                   "attach another document under a new id");
    }
  }

  // The agreement's checklist at acceptance: refused, or recorded in the row, as its term says.
  void check_documents_for_accept(const stored_referral& s, json& details) {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a || a->required_documents.empty()) return;  // nothing to read
    const document_checklist c = check_documents(*a, documents_of(s.snap.id));
    if (c.complete()) return;
    const auto [missing, names] = coded_list(c.missing);
    if (c.rule == missing_documents_rule::warn) {
      details["missing_documents"] = missing;
      return;
    }
    refusal_details_ = {{"missing_documents", missing}, {"agreement", s.agreement.value()}};
    detail::fail(errc::failed_precondition, "referral " + s.snap.id.value(),
                 fmt::format("cannot be accepted: the agreement {} requires documents that are "
                             "not attached: {}",
                             s.agreement.value(), names),
                 "the referring hospital attaches them (attach_document); or decline with reason "
                 "insufficient_information");
  }

  // ---- results returned ----------------------------------------------------------------------

  std::vector<attached_document> results_of(const referral_id& id) const {
    auto q = cache.get(select_results);
    return read_results(*q, id);
  }

  // A document id appears once in a referral's file, attached or returned.
  void check_new_results(const stored_referral& s, const std::vector<document_ref>& documents) {
    std::vector<attached_document> had = documents_of(s.snap.id);
    for (auto& r : results_of(s.snap.id)) had.push_back(std::move(r));
    for (const auto& d : documents) {
      for (const auto& h : had) {
        if (h.document.id != d.id) continue;
        refusal_details_ = {{"document", d.id.value()}, {"row", h.audit_seq}};
        detail::fail(errc::already_exists,
                     "referral " + s.snap.id.value() + " document " + d.id.value(),
                     fmt::format("is in the referral's file already ({}, at {}, audit row #{})",
                                 to_string(h.document.kind), to_iso8601(h.at), h.audit_seq),
                     "return each document under its own id");
      }
    }
  }

  // The agreement may require results back before the referral is completed.
  void check_results_for_complete(const stored_referral& s) {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a || a->results_before_completion != results_rule::required) return;
    if (!results_of(s.snap.id).empty()) return;
    refusal_details_ = {{"missing", "results"}, {"agreement", s.agreement.value()}};
    detail::fail(errc::failed_precondition, "referral " + s.snap.id.value(),
                 fmt::format("cannot be completed: the agreement {} requires results returned to "
                             "the referring hospital first",
                             s.agreement.value()),
                 "the destination returns them (return_results), then completes");
  }

  // The consent given again (transfer, return_results) is the one recorded.
  static void check_recorded_consent(const stored_referral& s, const consent_record& consent) {
    if (consent.id == s.snap.consent && detail::consent_digest_matches(consent, s.consent_digest)) {
      return;
    }
    detail::fail(errc::consent_blocked, "referral " + s.snap.id.value(),
                 fmt::format("consent {} is not the consent recorded for the referral ({})",
                             consent.id.value(), s.snap.consent.value()),
                 "pass the recorded consent, or record the new one first");
  }

  // ---- milestones --------------------------------------------------------------------------

  std::vector<recorded_milestone> milestones_of(const referral_id& id) const {
    auto q = cache.get(select_milestones);
    return read_milestones(*q, id);
  }

  milestone_checklist milestone_checklist_of(const stored_referral& s) const {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a) {
      milestone_checklist c;
      c.recorded = milestones_of(s.snap.id);
      return c;
    }
    return check_milestones(*a, milestones_of(s.snap.id));
  }

  // Each milestone once: a second record of it is refused, naming the first.
  void check_new_milestone(const stored_referral& s, milestone m) {
    for (const auto& had : milestones_of(s.snap.id)) {
      if (had.milestone != m) continue;
      refusal_details_ = {{"milestone", std::string(to_string(m))},
                          {"recorded_row", had.audit_seq}};
      detail::fail(errc::already_exists,
                   "referral " + s.snap.id.value() + " milestone " + std::string(to_string(m)),
                   fmt::format("was recorded already (by '{}' at {}, audit row #{})",
                               had.by.organisation.value(), to_iso8601(had.at), had.audit_seq),
                   "each milestone is recorded once; record the ones still missing");
    }
  }

  // The agreement's milestones before the journey: the transfer waits for all of them.
  void check_milestones_for_transfer(const stored_referral& s) {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a || a->required_milestones.empty()) return;  // nothing to read
    const milestone_checklist c = check_milestones(*a, milestones_of(s.snap.id));
    if (c.complete()) return;
    const auto [missing, names] = coded_list(c.missing);
    refusal_details_ = {{"missing_milestones", missing}, {"agreement", s.agreement.value()}};
    detail::fail(errc::failed_precondition, "referral " + s.snap.id.value(),
                 fmt::format("cannot be transferred: the agreement {} requires milestones that "
                             "are not recorded: {}",
                             s.agreement.value(), names),
                 "either hospital records them (record_milestone) before the journey");
  }

  // An onward referral sends on a declined or expired referral of the same origin, patient and
  // specialty to another destination, once. Checked before anything is written: the unique
  // index on `replaces` is the last guard, and a unique violation would read as a repeated
  // idempotency key.
  void check_onward(const proposal& p) {
    const std::string subject = "referral " + p.id.value();
    const std::string& old = p.replaces->value();
    const std::optional<stored_referral> before = load(*p.replaces);
    if (!before) {
      detail::fail(errc::not_found, subject + " proposal.replaces",
                   fmt::format("names referral {}, which does not exist", detail::printable(old)),
                   "name the declined or expired referral this one sends on");
    }
    const referral_snapshot& r = before->snap;
    refusal_details_ = {{"replaces", old}};
    if (!(r.state == referral_state::closed &&
          (r.reason == close_reason::declined || r.reason == close_reason::expired))) {
      detail::fail(
          errc::failed_precondition, subject,
          fmt::format("cannot replace referral {}, which is {}", old, audit::state_text(r)),
          "only a declined or expired referral is sent on to another destination");
    }
    const auto differs = [&](const char* field, const std::string& was, const std::string& now) {
      if (was == now) return;
      detail::fail(errc::invalid_argument, subject + " proposal." + field,
                   fmt::format("is '{}' but referral {} it replaces has '{}'",
                               detail::printable(now), old, was),
                   "an onward referral keeps the origin, patient and specialty of the one it "
                   "replaces");
    };
    differs("origin", r.origin.value(), p.origin.value());
    differs("patient", r.patient.value(), p.patient.value());
    differs("specialty", r.specialty.value(), p.specialty.value());
    if (r.destination == p.destination) {
      detail::fail(
          errc::invalid_argument, subject + " proposal.destination",
          fmt::format("is '{}', the destination that {} referral {}", r.destination.value(),
                      r.reason == close_reason::declined ? "declined" : "let expire", old),
          "send it on to another eligible destination (kakehashi eligible lists them)");
    }
    if (r.replaced_by) {
      refusal_details_["onward_referral"] = r.replaced_by->value();
      detail::fail(errc::already_exists, subject,
                   fmt::format("cannot replace referral {}: it was sent on as referral {}", old,
                               r.replaced_by->value()),
                   "follow the onward referral, or send that one on if it is declined or expires");
    }
    refusal_details_ = json::object();
  }

  // An open referral (any state but closed) for the proposal's patient, specialty and
  // destination: a second one would be a duplicate. Indexed by (patient, specialty, destination),
  // which no transition changes.
  std::optional<std::string> open_duplicate(const proposal& p) const {
    auto q = cache.get(
        "SELECT id FROM referral WHERE patient = ? AND specialty = ? AND destination = ? "
        "AND state <> 'closed' ORDER BY id LIMIT 1");
    q->bind(1, p.patient.value());
    q->bind(2, p.specialty.value());
    q->bind(3, p.destination.value());
    if (!q->step()) return std::nullopt;
    return q->text(0);
  }

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

engine engine::open(const std::string& path, agreement_directory agreements, consent_policy policy,
                    engine_options options) {
  if (options.late_event_tolerance < std::chrono::seconds{0} ||
      options.late_event_tolerance > std::chrono::hours{24 * 30}) {
    detail::fail(errc::invalid_argument, "engine_options.late_event_tolerance",
                 fmt::format("is {} s", options.late_event_tolerance.count()),
                 "give 0 (events in time order) to 2592000 s (30 days)");
  }
  if (options.clock_skew < std::chrono::seconds{0} || options.clock_skew > std::chrono::hours{24}) {
    detail::fail(errc::invalid_argument, "engine_options.clock_skew",
                 fmt::format("is {} s", options.clock_skew.count()), "give 0 to 86400 s (a day)");
  }
  if (options.emergency_review_days < 1 || options.emergency_review_days > 30) {
    detail::fail(errc::invalid_argument, "engine_options.emergency_review_days",
                 fmt::format("is {}", options.emergency_review_days),
                 fmt::format("give 1 to 30 working days (the default is {})",
                             default_emergency_review_days));
  }
  const bool server = store::postgres::is_uri(path);
  // A password in a connection URI never reaches a message.
  const std::string subject =
      server ? store::postgres::printable_uri(path) : detail::printable(path, 200);
  // A keyed log stays keyed: rows without a MAC after keyed ones would fail every keyed verify.
  // Checked on the database as it is, before any migration, so that a refused one is left as it
  // was.
  const auto keyed_needs_key = [&](store::connection& db) {
    if (!options.audit_key && audit::first_row_keyed(db)) {
      detail::fail(errc::invalid_argument, subject,
                   "its audit log is keyed (its rows carry MACs) and no audit_key was given",
                   "open it with the key it was written with (engine_options::audit_key)");
    }
  };
  try {
    try {
      std::unique_ptr<store::connection> c =
          server ? store::postgres::open_for_engine(path, options, keyed_needs_key)
                 : store::sqlite::open_for_engine(path, options, keyed_needs_key);
      return engine(std::make_unique<impl>(std::move(c), std::move(agreements),
                                           std::move(policy), std::move(options)));
    } catch (const SQLite::Exception& e) {
      throw store::sqlite::to_failure(e);
    }
  } catch (const store::failure& e) {
    if (e.kind() == store::failure_kind::not_a_database) {
      detail::fail(errc::invalid_argument, subject, "is not an SQLite database",
                   "pass the path of a kakehashi database; the file was left untouched");
    }
    detail::fail(errc::storage, subject,
                 fmt::format("cannot be opened as a database: {}", e.what()),
                 server ? "check the server, the URI and its credentials; nothing was changed"
                        : "check the path and its permissions; the file was left untouched");
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
        if (p.replaces) impl_->check_onward(p);
        if (const auto open = impl_->open_duplicate(p)) {
          impl_->refusal_details_ = {{"open_referral", *open}};
          detail::fail(errc::already_exists, "referral " + p.id.value(),
                       fmt::format("duplicates open referral {} (the same patient, specialty "
                                   "and destination)",
                                   *open),
                       "follow the open referral, or close it before proposing again");
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
        if (p.replaces) o.details["replaces"] = p.replaces->value();
        return o;
      });
}

namespace {
// Applies `e` to the stored referral; the result and the version the row must still have.
referral_snapshot applied(const referral_snapshot& s, const event::any& e,
                          std::chrono::seconds late_tolerance) {
  referral r = referral::restore(s);
  r.apply(e, late_tolerance);
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
        // State and rights first: a consent for a closed referral is refused as such.
        r.apply(e, impl_->options.late_event_tolerance);
        if (consent.patient != before->snap.patient) {
          detail::fail(errc::invalid_argument, "referral " + id.value(),
                       fmt::format("consent {} is for another patient", consent.id.value()),
                       "record the consent of the referral's own patient");
        }
        // After the transfer, the only data still to go is the results coming back: a newer
        // consent is recorded for them, and judged by the policy's return flow (APPI Art. 28:
        // JP-04, JP-05).
        const bool for_return = before->snap.state == referral_state::transferred;
        consent_context ctx = impl_->consent_ctx(*before, consent, at, "record_consent");
        if (for_return) ctx.flow = data_flow::results_return;
        impl_->check_consent(ctx, id);
        impl::outcome o{r.snapshot(), before->agreement, consent_digest(consent),
                        before->snap.version, json::object()};
        o.details = impl_->last_verdict_;
        o.details["consent"] = consent.id.value();
        o.details["digest"] = o.consent_digest;
        if (for_return) o.details["flow"] = std::string(to_string(data_flow::results_return));
        // The proof of consent (VN-22): each provision's record names this hash, and verify
        // resolves it here.
        o.details["artifact"] = consent.artifact_sha256;
        // A newer consent replaces the one recorded (before acceptance, in `accepted` when the
        // recorded one does not allow the transfer, in `transferred` for the return flow): the
        // row says which.
        if (!before->snap.consent.empty()) o.details["replaces"] = before->snap.consent.value();
        impl_->open_review_if_emergency(o, ctx, by, at);
        return o;
      });
}

referral_snapshot engine::attach_document(const referral_id& id, const document_ref& document,
                                          const actor& by, instant at, const std::string& key,
                                          const command_options& options) {
  return apply(id, event::attach_document{by, at, document}, key, options);
}

referral_snapshot engine::transfer(const referral_id& id, const consent_record& consent,
                                   const actor& by, instant at, const std::string& key,
                                   const command_options& options) {
  return impl_->run(key, "transfer", id, by, at, options, [&](const std::optional<stored_referral>& before) {
    if (!before) unknown_referral(id);
    const referral_snapshot after =
        applied(before->snap, event::transfer{by, at}, impl_->options.late_event_tolerance);
    impl_->check_milestones_for_transfer(*before);
    impl::check_recorded_consent(*before, consent);
    // The documents attached travel with the patient: the rules look at their kinds (VN-26),
    // and the provision record names them.
    std::vector<document_ref> travelling;
    for (const auto& d : impl_->documents_of(id)) travelling.push_back(d.document);
    consent_context ctx = impl_->consent_ctx(*before, consent, at, "transfer");
    ctx.documents.emplace();
    for (const auto& d : travelling) ctx.documents->push_back(d.kind);
    impl_->check_consent(ctx, id);
    impl::outcome o{after, before->agreement, before->consent_digest, before->snap.version,
                    impl_->last_verdict_};
    o.details["consent"] = consent.id.value();
    o.details["provision"] = impl_->provision_of(*before, consent, data_flow::outbound, travelling);
    impl_->open_review_if_emergency(o, ctx, by, at);
    return o;
  });
}

referral_snapshot engine::return_results(const referral_id& id, const consent_record& consent,
                                         const std::vector<document_ref>& documents,
                                         const actor& by, instant at, const std::string& key,
                                         const command_options& options) {
  return impl_->run(key, "return_results", id, by, at, options,
                    [&](const std::optional<stored_referral>& before) {
                      if (!before) unknown_referral(id);
                      const referral_snapshot after =
                          applied(before->snap, event::return_results{by, at, documents},
                                  impl_->options.late_event_tolerance);
                      impl_->check_new_results(*before, documents);
                      impl::check_recorded_consent(*before, consent);
                      const consent_context ctx =
                          impl_->consent_ctx(*before, consent, at, "return_results");
                      impl_->check_consent(ctx, id);
                      impl::outcome o{after, before->agreement, before->consent_digest,
                                      before->snap.version, impl_->last_verdict_};
                      o.details["consent"] = consent.id.value();
                      o.details["documents"] = detail::documents_json(documents);
                      o.details["provision"] = impl_->provision_of(
                          *before, consent, data_flow::results_return, documents);
                      impl_->open_review_if_emergency(o, ctx, by, at);
                      return o;
                    });
}

referral_snapshot engine::apply(const referral_id& id, const event::any& e,
                                const std::string& key, const command_options& options) {
  const event_kind kind = kind_of(e);
  return impl_->run(key, std::string(to_string(kind)), id, actor_of(e), instant_of(e), options,
                    [&](const std::optional<stored_referral>& before) {
                      if (kind == event_kind::record_consent || kind == event_kind::transfer ||
                          kind == event_kind::return_results) {
                        detail::fail(errc::invalid_argument, "referral " + id.value(),
                                     fmt::format("'{}' needs the consent record", to_string(kind)),
                                     "call engine::record_consent, engine::transfer or "
                                     "engine::return_results");
                      }
                      if (!before) unknown_referral(id);
                      impl::outcome o{applied(before->snap, e, impl_->options.late_event_tolerance),
                                      before->agreement, before->consent_digest,
                                      before->snap.version, json::object()};
                      if (const auto* a = std::get_if<event::attach_document>(&e)) {
                        impl_->check_new_document(*before, a->document);
                        o.details["document"] = detail::document_json(a->document);
                      }
                      if (kind == event_kind::accept) {
                        impl_->check_documents_for_accept(*before, o.details);
                      }
                      if (kind == event_kind::complete) impl_->check_results_for_complete(*before);
                      if (const auto* m = std::get_if<event::record_milestone>(&e)) {
                        impl_->check_new_milestone(*before, m->milestone);
                        o.details["milestone"] = to_string(m->milestone);
                      }
                      if (const auto* d = std::get_if<event::decline>(&e))
                        o.details["reason"] = to_string(d->reason);
                      if (const auto* c = std::get_if<event::cancel>(&e))
                        o.details["reason"] = to_string(c->reason);
                      if (const auto* w = std::get_if<event::withdraw_consent>(&e)) {
                        o.details["channel"] = to_string(w->channel);
                        o.details["duty"] = impl_->withdrawal_duty(before->snap, w->at);
                      }
                      return o;
                    });
}

referral_snapshot engine::request_summary(const referral_id& id, const actor& by, instant at,
                                          const std::string& key, const command_options& options) {
  return impl_->run(
      key, "request_summary", id, by, at, options,
      [&](const std::optional<stored_referral>& before) {
        if (!before) unknown_referral(id);
        const referral_snapshot& s = before->snap;
        if ((by.organisation != s.origin && by.organisation != s.destination) ||
            by.role == actor_role::system) {
          detail::fail(errc::permission_denied, "referral " + id.value(),
                       fmt::format("a summary request is received by a party to the referral "
                                   "({} or {}), not by {} as {}",
                                   s.origin.value(), s.destination.value(), by.organisation.value(),
                                   to_string(by.role)),
                       "record it as a clinician or coordinator of the hospital the patient "
                       "asked");
        }
        if (at < s.proposed_at) {
          detail::fail(errc::invalid_argument, "referral " + id.value(),
                       fmt::format("a summary request at {} is before the referral was proposed "
                                   "at {}",
                                   to_iso8601(at), to_iso8601(s.proposed_at)),
                       "pass an instant at or after " + to_iso8601(s.proposed_at));
        }
        impl::outcome o{s, before->agreement, before->consent_digest, s.version,
                        json{{"duty", impl_->summary_duty(s, by.organisation, at)}}};
        o.changes_referral = false;
        return o;
      });
}

referral_snapshot engine::record_duty(const referral_id& id, std::int64_t duty_id, duty_step step,
                                      const actor& by, instant at, const std::string& key,
                                      const command_options& options) {
  return impl_->run(
      key, "record_duty", id, by, at, options, [&](const std::optional<stored_referral>& before) {
        if (!before) unknown_referral(id);
        impl_->refusal_details_ = json{{"duty", duty_id}, {"step", to_string(step)}};
        const duty d = impl_->duty_for_step(id, duty_id, by, at, to_string(step),
                                            "record it as a clinician or coordinator");
        if (d.kind == duty_kind::emergency_review) {
          detail::fail(errc::invalid_argument, fmt::format("duty {}", duty_id),
                       "is an emergency review, which has no steps but its review",
                       "a second clinician of " + d.responsible.value() +
                           " records it with review_emergency, with the finding");
        }
        const auto& done = step == duty_step::acknowledged ? d.acknowledged_at : d.completed_at;
        if (done) {
          detail::fail(errc::already_exists, fmt::format("duty {}", duty_id),
                       fmt::format("was already {} at {}", to_string(step), to_iso8601(*done)),
                       "each step is recorded once");
        }
        impl::outcome o{before->snap, before->agreement, before->consent_digest,
                        before->snap.version, json{{"duty", duty_id}, {"step", to_string(step)}}};
        o.changes_referral = false;
        return o;
      });
}

referral_snapshot engine::review_emergency(const referral_id& id, std::int64_t duty_id,
                                           review_finding finding, const actor& by, instant at,
                                           const std::string& key, const command_options& options) {
  return impl_->run(
      key, "review_emergency", id, by, at, options,
      [&](const std::optional<stored_referral>& before) {
        if (!before) unknown_referral(id);
        const json row{{"duty", duty_id}, {"finding", to_string(finding)}};
        impl_->refusal_details_ = row;
        const duty d = impl_->duty_for_step(id, duty_id, by, at, "reviewed",
                                            "review it as a second clinician");
        if (d.kind != duty_kind::emergency_review) {
          detail::fail(
              errc::invalid_argument, fmt::format("duty {}", duty_id),
              fmt::format("is a duty of kind {}, not an emergency review", to_string(d.kind)),
              "record its steps with record_duty");
        }
        if (by.role != actor_role::clinician || by.user.empty()) {
          detail::fail(
              errc::permission_denied, fmt::format("duty {}", duty_id),
              by.role != actor_role::clinician
                  ? fmt::format("is reviewed by a clinician, not a {}", to_string(by.role))
                  : std::string("is reviewed by a named clinician, and actor.user is empty"),
              "record the review as a clinician of " + d.responsible.value() +
                  ", with the clinician's user id");
        }
        if (std::find(d.decided_by.begin(), d.decided_by.end(), by.user) != d.decided_by.end()) {
          detail::fail(errc::permission_denied, fmt::format("duty {}", duty_id),
                       "is reviewed by a second clinician, and this one took the step or decided "
                       "the emergency basis",
                       "another clinician of " + d.responsible.value() + " reviews it");
        }
        if (d.completed_at) {
          detail::fail(errc::already_exists, fmt::format("duty {}", duty_id),
                       fmt::format("was already reviewed at {} ({})", to_iso8601(*d.completed_at),
                                   d.finding ? to_string(*d.finding) : "no finding"),
                       "a step is reviewed once");
        }
        impl::outcome o{before->snap, before->agreement, before->consent_digest,
                        before->snap.version, row};
        o.changes_referral = false;
        return o;
      });
}

std::vector<duty> engine::duties(const duty_query& q) const {
  if (q.hospital) validate("duty_query.hospital", *q.hospital);
  if (q.referral) validate("duty_query.referral", *q.referral);
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return audit::read_duties(impl_->db, q);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the duties");
  }
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
    impl_->db.begin_write();
  } catch (const store::failure& e) {
    storage_failed(e, "beginning the transaction");
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

document_checklist engine::documents(const referral_id& id) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    const auto s = impl_->load(id);
    if (!s) unknown_referral(id);
    return impl_->checklist_of(*s);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the documents");
  }
}

std::vector<attached_document> engine::results(const referral_id& id) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    if (!impl_->load(id)) unknown_referral(id);
    return impl_->results_of(id);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the results returned");
  }
}

milestone_checklist engine::milestones(const referral_id& id) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    const auto s = impl_->load(id);
    if (!s) unknown_referral(id);
    return impl_->milestone_checklist_of(*s);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the milestones");
  }
}

milestone_checklist check_milestones(const agreement& a, std::vector<recorded_milestone> recorded) {
  milestone_checklist c;
  c.required = a.required_milestones;
  for (const auto m : a.required_milestones) {
    const bool have = std::any_of(recorded.begin(), recorded.end(),
                                  [&](const recorded_milestone& r) { return r.milestone == m; });
    if (!have) c.missing.push_back(m);
  }
  c.recorded = std::move(recorded);
  return c;
}

document_checklist check_documents(const agreement& a, std::vector<attached_document> attached) {
  document_checklist c;
  c.required = a.required_documents;
  c.rule = a.missing_documents;
  for (const auto k : a.required_documents) {
    const bool have = std::any_of(attached.begin(), attached.end(),
                                  [&](const attached_document& d) { return d.document.kind == k; });
    if (!have) c.missing.push_back(k);
  }
  c.attached = std::move(attached);
  return c;
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

provision_report engine::provisions(const provision_query& q) const {
  validate("provision_query.hospital", q.hospital);
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return audit::read_provisions(impl_->db, q);
  } catch (const store::failure& e) {
    storage_failed(e, "reading the provisions");
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

verify_result engine::verify(const std::optional<checkpoint>& anchor,
                             const std::optional<std::string>& key) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  try {
    return audit::verify_consistently(impl_->db, anchor, key);
  } catch (const store::failure& e) {
    storage_failed(e, "verify");
  }
}

checkpoint engine::make_checkpoint(const std::string& key, instant at) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mutex);
  return checkpoint_of(impl_->db, key, at, impl_->options.audit_key.has_value());
}

struct database_view::impl {
  std::unique_ptr<detail::read_only_database> file;  // SQLite
  std::unique_ptr<store::connection> server;         // PostgreSQL, read-only
  int schema = store::schema_version;                // the file's, as last opened
  explicit impl(const std::string& path) {
    if (store::postgres::is_uri(path)) {
      server = store::postgres::open_for_reading(path);
    } else {
      file = std::make_unique<detail::read_only_database>(path, [this, path](SQLite::Database& db) {
        schema = store::sqlite::check_for_reading(db, path);
      });
    }
  }

  // Runs `f` on the database through the store interface; SQLite's own errors (opening the file
  // again after a writer came) as the store's.
  template <class F>
  auto read(F&& f) {
    if (server) return f(*server);
    try {
      return file->read([&](SQLite::Database& db) {
        store::sqlite::connection c(db);
        c.set_schema(schema);
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
  if (store::postgres::is_uri(path)) {
    try {
      return database_view(std::make_unique<impl>(path));
    } catch (const store::failure& e) {
      detail::fail(errc::storage, store::postgres::printable_uri(path),
                   fmt::format("cannot be read as a database: {}", e.what()),
                   "check the server, the URI and its credentials");
    }
  }
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

std::vector<attached_document> database_view::documents(const referral_id& id) const {
  try {
    return impl_->read([&](store::connection& db) {
      auto q = db.prepare(select_documents);
      return read_documents(*q, id);
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the documents");
  }
}

std::vector<attached_document> database_view::results(const referral_id& id) const {
  try {
    return impl_->read([&](store::connection& db) {
      auto q = db.prepare(select_results);
      return read_results(*q, id);
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the results returned");
  }
}

std::vector<recorded_milestone> database_view::milestones(const referral_id& id) const {
  try {
    return impl_->read([&](store::connection& db) {
      auto q = db.prepare(select_milestones);
      return read_milestones(*q, id);
    });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the milestones");
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

std::vector<duty> database_view::duties(const duty_query& q) const {
  if (q.hospital) validate("duty_query.hospital", *q.hospital);
  if (q.referral) validate("duty_query.referral", *q.referral);
  try {
    return impl_->read([&](store::connection& db) { return audit::read_duties(db, q); });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the duties");
  }
}

provision_report database_view::provisions(const provision_query& q) const {
  validate("provision_query.hospital", q.hospital);
  try {
    return impl_->read([&](store::connection& db) { return audit::read_provisions(db, q); });
  } catch (const store::failure& e) {
    storage_failed(e, "reading the provisions");
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
  try {
    return impl_->read(
        [&](store::connection& db) { return audit::verify_consistently(db, anchor, key); });
  } catch (const store::failure& e) {
    storage_failed(e, "verify");
  }
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
