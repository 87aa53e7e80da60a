#include "store/sqlite/sqlite_store.hpp"

#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <vector>

#include "common/fail.hpp"

namespace kakehashi::store::sqlite {
namespace {

// clang-format off
// The schema, as migration steps: step v takes a database from version v to v + 1. Append new
// steps; never edit one once released.
const std::vector<std::vector<const char*>> migrations{{
  "CREATE TABLE referral ("
  "  id TEXT PRIMARY KEY, origin TEXT NOT NULL, destination TEXT NOT NULL,"
  "  specialty TEXT NOT NULL, patient TEXT NOT NULL, agreement TEXT NOT NULL,"
  "  state TEXT NOT NULL, close_reason TEXT, consent_withdrawn INTEGER NOT NULL,"
  "  consent_ref TEXT NOT NULL, consent_digest TEXT NOT NULL,"
  "  proposed_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL)"
  "  WITHOUT ROWID",
  // Only open referrals are indexed by state: the sweep finds them without scanning history, and
  // most transitions do not touch this index.
  "CREATE INDEX referral_open ON referral(state) WHERE state IN ('proposed', 'consent_recorded')",
  "CREATE INDEX referral_destination ON referral(destination, specialty, proposed_at)",
  "CREATE INDEX referral_origin ON referral(origin, proposed_at)",
  "CREATE TABLE audit ("
  "  seq INTEGER PRIMARY KEY, referral_id TEXT NOT NULL, recorded_at TEXT NOT NULL,"
  "  actor_org TEXT NOT NULL, actor_role TEXT NOT NULL, actor_user TEXT NOT NULL,"
  "  command TEXT NOT NULL, state_before TEXT NOT NULL, state_after TEXT NOT NULL,"
  "  outcome INTEGER NOT NULL, reason_code TEXT NOT NULL, details TEXT NOT NULL,"
  "  idempotency_key TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT)",
  "CREATE INDEX audit_referral ON audit(referral_id, seq)",
  // A command's idempotency key is unique in the log: its row is the command's outcome.
  "CREATE UNIQUE INDEX audit_key ON audit(idempotency_key)",
}, {
  // Version 2: the capacity count reads close_reason from the index instead of looking up every
  // referral of the month in the table (a B-tree search each: propose slowed as months filled).
  "DROP INDEX referral_destination",
  "CREATE INDEX referral_destination ON referral(destination, specialty, proposed_at, close_reason)",
}, {
  // Version 3: consent digests name their version ("2:<hex>", every field of the record) and
  // new referrals are recorded with version 2; a referral recorded earlier keeps its bare
  // version-1 digest, checked as such. No table changes: the step marks the format, so that a
  // library that cannot check version-2 digests refuses the file instead of every transfer.
}, {
  // Version 4: a proposal looks for an open referral of the same patient, specialty and
  // destination (a duplicate is refused). No transition changes these columns, so the index
  // costs an insert per proposal and nothing after.
  "CREATE INDEX referral_patient ON referral(patient, specialty, destination)",
}, {
  // Version 5: onward referral. A referral may name the declined or expired one it replaces;
  // each is replaced at most once, and the index finds the onward one from the old one. Partial:
  // a proposal that replaces nothing does not touch it.
  "ALTER TABLE referral ADD COLUMN replaces TEXT",
  "CREATE UNIQUE INDEX referral_replaces ON referral(replaces) WHERE replaces IS NOT NULL",
}, {
  // Version 6: duties. The rows that create a duty (a withdrawal) and record its steps are
  // found without reading the whole log; partial, so that no other row touches the index.
  "CREATE INDEX audit_duties ON audit(seq) "
  "WHERE command IN ('withdraw_consent', 'request_summary', 'record_duty') AND outcome = 0",
}, {
  // Version 7: emergency reviews. A step taken on an emergency basis creates one (its row's
  // reason_code is 'emergency') and a review_emergency row records it.
  "DROP INDEX audit_duties",
  "CREATE INDEX audit_duties ON audit(seq) "
  "WHERE (command IN ('withdraw_consent', 'request_summary', 'record_duty', 'review_emergency') "
  "OR reason_code = 'emergency') AND outcome = 0",
}};
// clang-format on

class statement final : public store::statement {
 public:
  statement(const SQLite::Database& db, const std::string& sql) : s_(db, sql) {}

  void bind(int index, std::int64_t value) override {
    try {
      s_.bind(index, static_cast<int64_t>(value));
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  void bind(int index, const std::string& text) override {
    try {
      s_.bind(index, text);
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  void bind_no_copy(int index, const std::string& text) override {
    try {
      s_.bindNoCopy(index, text);
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  void bind_null(int index) override {
    try {
      s_.bind(index);
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  bool step() override {
    try {
      return s_.executeStep();
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  int exec() override {
    try {
      return s_.exec();
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  void reset() noexcept override { s_.tryReset(); }
  void clear_bindings() noexcept override {
    try {
      s_.clearBindings();
    } catch (const SQLite::Exception&) {  // sqlite3_clear_bindings() always succeeds
    }
  }
  bool is_null(int column) override {
    try {
      return s_.getColumn(column).isNull();
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  std::int64_t int64(int column) override {
    try {
      return s_.getColumn(column).getInt64();
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }
  std::string text(int column) override {
    try {
      return s_.getColumn(column).getString();
    } catch (const SQLite::Exception& e) {
      throw to_failure(e);
    }
  }

 private:
  SQLite::Statement s_;
};

void harden(SQLite::Database& db) {
  sqlite3_db_config(db.getHandle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.getHandle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
}

bool initialised(SQLite::Database& db) {
  return db.execAndGet("PRAGMA application_id").getInt() == application_id &&
         db.execAndGet("PRAGMA user_version").getInt() >= 1;
}

// Refuses a file that is not ours or is newer; creates or migrates our own.
void check_schema(SQLite::Database& db, const std::string& path, bool may_write) {
  const int app = db.execAndGet("PRAGMA application_id").getInt();
  const int version = db.execAndGet("PRAGMA user_version").getInt();
  const int tables =
      db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type='table'").getInt();
  const std::string subject = detail::printable(path, 200);
  if (app != application_id && (tables > 0 || version != 0)) {
    detail::fail(errc::invalid_argument, subject,
                 "is an SQLite database but not a kakehashi one (no kakehashi application id)",
                 "open a kakehashi database, or a new file name to create one");
  }
  if (version > schema_version) {
    detail::fail(
        errc::failed_precondition, subject,
        fmt::format("has schema version {}, newer than this library's {}", version, schema_version),
        "upgrade kakehashi to open it; the file was left untouched");
  }
  if (version == schema_version) return;
  if (version < 0) {
    detail::fail(errc::invalid_argument, subject,
                 fmt::format("has schema version {}, which no kakehashi release writes; the file "
                             "is damaged or was edited",
                             version),
                 "restore the database from a backup; the file was left untouched");
  }
  if (!may_write) {
    // Every released schema is readable as it is; an engine migrates it when it opens the file.
    if (version >= 1 && app == application_id) return;
    detail::fail(errc::invalid_argument, subject, "is not an initialised kakehashi database",
                 "open it with an engine first");
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    for (int v = version; v < schema_version; ++v) {
      for (const char* sql : migrations[static_cast<std::size_t>(v)]) db.exec(sql);
    }
    db.exec(fmt::format("PRAGMA application_id = {}", application_id));
    db.exec(fmt::format("PRAGMA user_version = {}", schema_version));
    db.exec("COMMIT");
  } catch (...) {
    db.tryExec("ROLLBACK");
    throw;
  }
}

}  // namespace

failure to_failure(const SQLite::Exception& e) {
  const int extended = e.getExtendedErrorCode();
  failure_kind kind = failure_kind::other;
  if (extended == SQLITE_CONSTRAINT_UNIQUE) {
    kind = failure_kind::unique_violation;
  } else if ((extended & 0xff) == SQLITE_IOERR) {
    kind = failure_kind::io;
  } else if (e.getErrorCode() == SQLITE_NOTADB) {
    kind = failure_kind::not_a_database;
  }
  return failure(kind, extended, e.what());
}

connection::connection(std::unique_ptr<SQLite::Database> owned)
    : owned_(std::move(owned)), db_(owned_.get()) {}

std::unique_ptr<store::statement> connection::prepare(const std::string& sql) {
  try {
    return std::make_unique<statement>(*db_, sql);
  } catch (const SQLite::Exception& e) {
    throw to_failure(e);
  }
}

void connection::exec(const std::string& sql) {
  try {
    db_->exec(sql);
  } catch (const SQLite::Exception& e) {
    throw to_failure(e);
  }
}

void connection::try_exec(const char* sql) noexcept { db_->tryExec(sql); }

void connection::begin_write() {
  if (!begin_write_) begin_write_ = prepare("BEGIN IMMEDIATE");
  begin_write_->exec();
  begin_write_->reset();
}

void connection::begin_read() { exec("BEGIN"); }

std::unique_ptr<connection> open_for_engine(
    const std::string& path, const engine_options& options,
    const std::function<void(store::connection&)>& check_existing) {
  // The engine serialises its own calls, so SQLite's per-call mutex is not needed.
  auto c = std::make_unique<connection>(std::make_unique<SQLite::Database>(
      path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
      options.busy_timeout_ms, options.vfs));
  SQLite::Database& db = c->database();
  harden(db);
  // Checked before any migration, so that a refused file is left as it was.
  if (initialised(db)) check_existing(*c);
  check_schema(db, path, true);
  if (path != ":memory:") db.exec("PRAGMA journal_mode = WAL");
  db.exec(options.sync == durability::full ? "PRAGMA synchronous = FULL"
                                           : "PRAGMA synchronous = NORMAL");
  return c;
}

int check_for_reading(SQLite::Database& db, const std::string& path) {
  harden(db);
  check_schema(db, path, false);
  return db.execAndGet("PRAGMA user_version").getInt();
}

void refuse_if_not_a_database(const SQLite::Exception& e, const std::string& path) {
  if (e.getErrorCode() == SQLITE_NOTADB) {
    detail::fail(errc::invalid_argument, detail::printable(path, 200), "is not an SQLite database",
                 "pass the path of a kakehashi database; the file was left untouched");
  }
}

}  // namespace kakehashi::store::sqlite
