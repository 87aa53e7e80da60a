#include "store/postgres/pg_store.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/fail.hpp"

namespace kakehashi::store::postgres {
namespace {

// The schema at the current version, created in one transaction on an empty database. Ids are
// compared byte by byte (COLLATE "C"), as verify merges the log with the referral table in
// that order whatever the database's locale.
// clang-format off
const std::vector<const char*> schema{
  "CREATE TABLE kakehashi_meta ("
  "  application TEXT PRIMARY KEY, schema_version INTEGER NOT NULL)",
  "CREATE TABLE referral ("
  "  id TEXT COLLATE \"C\" PRIMARY KEY, origin TEXT NOT NULL, destination TEXT NOT NULL,"
  "  specialty TEXT NOT NULL, patient TEXT NOT NULL, agreement TEXT NOT NULL,"
  "  state TEXT NOT NULL, close_reason TEXT, consent_withdrawn INTEGER NOT NULL,"
  "  consent_ref TEXT NOT NULL, consent_digest TEXT NOT NULL,"
  "  proposed_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL,"
  "  replaces TEXT COLLATE \"C\")",
  "CREATE UNIQUE INDEX referral_replaces ON referral(replaces) WHERE replaces IS NOT NULL",
  "CREATE INDEX referral_open ON referral(state) WHERE state IN ('proposed', 'consent_recorded')",
  "CREATE INDEX referral_destination ON referral(destination, specialty, proposed_at, close_reason)",
  "CREATE INDEX referral_origin ON referral(origin, proposed_at)",
  "CREATE INDEX referral_patient ON referral(patient, specialty, destination)",
  "CREATE TABLE audit ("
  "  seq BIGINT PRIMARY KEY, referral_id TEXT COLLATE \"C\" NOT NULL, recorded_at TEXT NOT NULL,"
  "  actor_org TEXT NOT NULL, actor_role TEXT NOT NULL, actor_user TEXT NOT NULL,"
  "  command TEXT NOT NULL, state_before TEXT NOT NULL, state_after TEXT NOT NULL,"
  "  outcome INTEGER NOT NULL, reason_code TEXT NOT NULL, details TEXT NOT NULL,"
  "  idempotency_key TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT)",
  "CREATE INDEX audit_referral ON audit(referral_id, seq)",
  "CREATE UNIQUE INDEX audit_key ON audit(idempotency_key)",
  "CREATE INDEX audit_duties ON audit(seq) "
  "WHERE (command IN ('withdraw_consent', 'request_summary', 'record_duty', 'review_emergency') "
  "OR reason_code = 'emergency') AND outcome = 0",
};

// The steps from each released version to the next, from the first PostgreSQL release (3): step
// v takes version v to v + 1, as SQLite's. Append new steps; never edit one once released.
const std::map<int, std::vector<const char*>> migrations{
  {3, {"CREATE INDEX referral_patient ON referral(patient, specialty, destination)"}},
  {4, {"ALTER TABLE referral ADD COLUMN replaces TEXT COLLATE \"C\"",
       "CREATE UNIQUE INDEX referral_replaces ON referral(replaces) WHERE replaces IS NOT NULL"}},
  {5, {"CREATE INDEX audit_duties ON audit(seq) "
       "WHERE command IN ('withdraw_consent', 'request_summary', 'record_duty') AND outcome = 0"}},
  {6, {"DROP INDEX audit_duties",
       "CREATE INDEX audit_duties ON audit(seq) "
       "WHERE (command IN ('withdraw_consent', 'request_summary', 'record_duty', "
       "'review_emergency') OR reason_code = 'emergency') AND outcome = 0"}},
};
constexpr int first_version = 3;
// clang-format on

// Serialises schema creation between engines opening the same empty database at once.
constexpr long schema_lock = 0x4b4b4831;  // "KKH1", SQLite's application id

// A libpq error as the store's. Only the primary message and the SQLSTATE are kept: a DETAIL line
// can quote a row's values.
failure failure_of(PGconn* c, const PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? primary : PQerrorMessage(c);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const std::string code = state ? state : "";
  if (!code.empty()) message += fmt::format(" (SQLSTATE {})", code);
  failure_kind kind = failure_kind::other;
  if (code == "23505") {
    kind = failure_kind::unique_violation;
  } else if (code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 ||
             (code.empty() && PQstatus(c) == CONNECTION_BAD)) {
    kind = failure_kind::io;  // the connection is gone: a commit's fate is unknown
  }
  return failure(kind, 0, message);
}

// Owns a PGresult.
struct result {
  PGresult* r;
  explicit result(PGresult* p) noexcept : r(p) {}
  ~result() { PQclear(r); }
  result(const result&) = delete;
  result& operator=(const result&) = delete;
};

void check(PGconn* c, const PGresult* r) {
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw failure_of(c, r);
}

// The engine's "?" and "?N" parameters as PostgreSQL's "$N", outside quotes; `count` is the
// highest parameter number.
std::string numbered(const std::string& sql, int& count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  count = 0;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char ch = sql[i];
    if (quote) {
      if (ch == quote) quote = 0;
      out += ch;
      continue;
    }
    if (ch == '\'' || ch == '"') {
      quote = ch;
      out += ch;
      continue;
    }
    if (ch != '?') {
      out += ch;
      continue;
    }
    int n = 0;
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + (sql[j++] - '0');
    if (j == i + 1) n = ++next;
    i = j - 1;
    count = std::max(count, n);
    out += '$';
    out += std::to_string(n);
  }
  return out;
}

// The server session a connection and its statements share. A session whose connection was lost
// is connected again (PQreset) when the next transaction begins, or before a statement outside
// any transaction, never inside one: a transaction the server lost is over, and the command that
// ran in it has already failed (storage) or learned that its commit's fate is unknown. The
// session's settings are made again, and each prepared statement is prepared again on its next
// use (the generation tells it the session is new).
struct session {
  PGconn* c;
  long generation = 0;
  PGTransactionStatusType last = PQTRANS_IDLE;  // the last status the server reported
  std::vector<std::string> settings;            // SET statements, made again after a reconnect

  void note() noexcept {
    if (const auto t = PQtransactionStatus(c); t != PQTRANS_UNKNOWN) last = t;
  }
  void reconnect_if_lost(bool transaction_begins) {
    if (PQstatus(c) != CONNECTION_BAD) return;
    if (!transaction_begins && last != PQTRANS_IDLE) return;  // the transaction's own failure
    PQreset(c);
    if (PQstatus(c) != CONNECTION_OK) throw failure_of(c, nullptr);  // io: still unreachable
    ++generation;
    last = PQTRANS_IDLE;
    for (const auto& sql : settings) {
      result r(PQexec(c, sql.c_str()));
      check(c, r.r);
    }
  }
};

// The current row of a result, read by column: what a prepared statement and a cursor share.
class result_rows : public store::statement {
 public:
  bool is_null(int column) override { return PQgetisnull(result_, row_, column) != 0; }
  std::int64_t int64(int column) override {
    return std::strtoll(PQgetvalue(result_, row_, column), nullptr, 10);
  }
  std::string text(int column) override {
    return std::string(PQgetvalue(result_, row_, column),
                       static_cast<std::size_t>(PQgetlength(result_, row_, column)));
  }

 protected:
  PGresult* result_ = nullptr;
  int row_ = -1;
};

class statement final : public result_rows {
 public:
  statement(session& s, std::string name, std::string sql, int params)
      : s_(s),
        c_(s.c),
        name_(std::move(name)),
        sql_(std::move(sql)),
        generation_(s.generation),
        owned_(static_cast<std::size_t>(params)),
        values_(static_cast<std::size_t>(params), nullptr) {}
  ~statement() override {
    reset();
    // (A session connected again does not have it; DEALLOCATE would fail, and inside a
    // transaction abort it.)
    if (generation_ == s_.generation) PQclear(PQexec(c_, ("DEALLOCATE " + name_).c_str()));
  }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  void bind(int index, std::int64_t value) override { own(index, std::to_string(value)); }
  void bind(int index, const std::string& text) override { own(index, text); }
  void bind_no_copy(int index, const std::string& text) override {
    no_nul(index, text);
    values_[slot(index)] = text.c_str();
  }
  void bind_null(int index) override { values_[slot(index)] = nullptr; }

  bool step() override {
    if (!result_) {
      run();
      row_ = -1;
    }
    return ++row_ < PQntuples(result_);
  }
  int exec() override {
    run();
    const int changed = std::atoi(PQcmdTuples(result_));
    reset();
    return changed;
  }
  void reset() noexcept override {
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
  }
  void clear_bindings() noexcept override {
    for (auto& v : values_) v = nullptr;
  }

 private:
  std::size_t slot(int index) const {
    if (index < 1 || static_cast<std::size_t>(index) > values_.size()) {
      throw failure(failure_kind::other, 0,
                    fmt::format("parameter {} of {} is out of range", index, name_));
    }
    return static_cast<std::size_t>(index - 1);
  }
  // A text parameter goes to the server as a C string: one holding a NUL byte would be stored
  // cut short, unlike the value the engine hashed. Refused instead (the engine validates what
  // it stores; this keeps a slip from becoming a silently different row).
  void no_nul(int index, const std::string& text) const {
    if (text.find('\0') != std::string::npos) {
      throw failure(failure_kind::other, 0,
                    fmt::format("parameter {} of {} holds a NUL byte, which PostgreSQL text "
                                "cannot store",
                                index, name_));
    }
  }
  void own(int index, std::string value) {
    no_nul(index, value);
    const std::size_t i = slot(index);
    owned_[i] = std::move(value);
    values_[i] = owned_[i].c_str();
  }
  void run() {
    reset();
    s_.reconnect_if_lost(false);
    if (generation_ != s_.generation) {  // a new session: prepared again, under the same name
      result r(PQprepare(c_, name_.c_str(), sql_.c_str(), 0, nullptr));
      check(c_, r.r);
      generation_ = s_.generation;
    }
    result_ = PQexecPrepared(c_, name_.c_str(), static_cast<int>(values_.size()), values_.data(),
                             nullptr, nullptr, 0);
    s_.note();
    const auto status = result_ ? PQresultStatus(result_) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      failure f = failure_of(c_, result_);
      reset();
      throw f;
    }
  }

  session& s_;
  PGconn* c_;
  std::string name_;
  std::string sql_;  // numbered ($1, $2...), for preparing it again in a new session
  long generation_;
  std::vector<std::string> owned_;
  std::vector<const char*> values_;
};

// A query read through a server-side cursor, `batch` rows at a time: verify holds one batch of
// each of its scans, not the whole log. Needs an open transaction (verify's read transaction).
// Without parameters (verify's scans have none).
class cursor final : public result_rows {
 public:
  cursor(PGconn* c, std::string name, std::string sql)
      : c_(c), name_(std::move(name)), sql_(std::move(sql)) {}
  ~cursor() override { reset(); }
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;

  void bind(int, std::int64_t) override { no_parameters(); }
  void bind(int, const std::string&) override { no_parameters(); }
  void bind_no_copy(int, const std::string&) override { no_parameters(); }
  void bind_null(int) override { no_parameters(); }

  bool step() override {
    if (!declared_) {
      result r(PQexec(c_, ("DECLARE " + name_ + " NO SCROLL CURSOR FOR " + sql_).c_str()));
      check(c_, r.r);
      declared_ = true;
    }
    if (result_ && ++row_ < PQntuples(result_)) return true;
    if (result_ && PQntuples(result_) < batch) return false;  // the last batch was short
    PQclear(result_);
    result_ = PQexec(c_, ("FETCH " + std::to_string(batch) + " FROM " + name_).c_str());
    const auto status = result_ ? PQresultStatus(result_) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK) {
      failure f = failure_of(c_, result_);
      PQclear(result_);
      result_ = nullptr;
      throw f;
    }
    row_ = 0;
    return PQntuples(result_) > 0;
  }
  int exec() override {
    throw failure(failure_kind::other, 0, "a cursor is read with step(), not exec()");
  }
  void reset() noexcept override {
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    if (declared_) PQclear(PQexec(c_, ("CLOSE " + name_).c_str()));
    declared_ = false;
  }
  void clear_bindings() noexcept override {}

 private:
  static constexpr int batch = 1000;
  [[noreturn]] void no_parameters() const {
    throw failure(failure_kind::other, 0, "a cursor query takes no parameters");
  }

  PGconn* c_;
  std::string name_;
  std::string sql_;
  bool declared_ = false;
};

class connection final : public store::connection {
 public:
  explicit connection(PGconn* c) noexcept : s_{c, 0, PQTRANS_IDLE, {}}, c_(c) {}
  ~connection() override { PQfinish(c_); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  std::unique_ptr<store::statement> prepare(const std::string& sql) override {
    int params = 0;
    const std::string text = numbered(sql, params);
    std::string name = "kakehashi_" + std::to_string(++prepared_);
    s_.reconnect_if_lost(false);
    result r(PQprepare(c_, name.c_str(), text.c_str(), 0, nullptr));
    s_.note();
    check(c_, r.r);
    return std::make_unique<statement>(s_, std::move(name), text, params);
  }
  std::unique_ptr<store::statement> prepare_stream(const std::string& sql) override {
    int params = 0;
    std::string text = numbered(sql, params);
    if (params > 0) return prepare(sql);  // verify's scans have none; others read whole
    return std::make_unique<cursor>(c_, "kakehashi_cursor_" + std::to_string(++prepared_),
                                    std::move(text));
  }
  void exec(const std::string& sql) override {
    s_.reconnect_if_lost(false);
    result r(PQexec(c_, sql.c_str()));
    s_.note();
    check(c_, r.r);
  }
  void try_exec(const char* sql) noexcept override {
    PQclear(PQexec(c_, sql));
    s_.note();
    // A ROLLBACK ends the transaction, whether or not the server could still hear it.
    if (std::strcmp(sql, "ROLLBACK") == 0) s_.last = PQTRANS_IDLE;
  }
  void begin_write() override {
    // SHARE ROW EXCLUSIVE conflicts with itself (writers take turns) and not with the ACCESS
    // SHARE of plain reads: the head read after it stays the head until COMMIT.
    begin("BEGIN; LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE");
  }
  void begin_read() override { begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }
  // Begins a transaction, in a new session if the connection was lost. A connection found lost
  // by the BEGIN itself (the server restarted while this one was idle) is connected again and
  // the BEGIN sent once more: nothing had been done in the transaction.
  void begin(const char* sql) {
    s_.reconnect_if_lost(true);
    try {
      exec(sql);
    } catch (const failure&) {
      if (PQstatus(c_) != CONNECTION_BAD) throw;
      s_.reconnect_if_lost(true);
      exec(sql);
    }
  }
  /// A session setting (SET ...), made again whenever the session is connected again.
  void set(const std::string& sql) {
    exec(sql);
    s_.settings.push_back(sql);
  }

  std::string first_text(const std::string& sql) {
    s_.reconnect_if_lost(false);
    result r(PQexec(c_, sql.c_str()));
    s_.note();
    check(c_, r.r);
    if (PQntuples(r.r) == 0 || PQgetisnull(r.r, 0, 0)) return std::string();
    return PQgetvalue(r.r, 0, 0);
  }

 private:
  session s_;
  PGconn* c_;
  long prepared_ = 0;
};

}  // namespace

bool is_uri(const std::string& name) {
  return name.rfind("postgresql://", 0) == 0 || name.rfind("postgres://", 0) == 0;
}

std::string printable_uri(const std::string& uri) {
  // postgresql://user:password@host/...: the password is left out.
  const std::size_t scheme = uri.find("://");
  const std::size_t at = uri.find('@');
  const std::size_t colon = uri.find(':', scheme == std::string::npos ? 0 : scheme + 3);
  std::string out = uri;
  if (scheme != std::string::npos && at != std::string::npos && colon != std::string::npos &&
      colon < at) {
    out = uri.substr(0, colon) + ":***" + uri.substr(at);
  }
  if (const std::size_t p = out.find("password="); p != std::string::npos) {
    const std::size_t end = out.find('&', p);
    out = out.substr(0, p) + "password=***" + (end == std::string::npos ? "" : out.substr(end));
  }
  return detail::printable(out, 200);
}

namespace {

std::unique_ptr<connection> connect(const std::string& uri) {
  PGconn* raw = PQconnectdb(uri.c_str());
  if (raw == nullptr) throw failure(failure_kind::other, 0, "out of memory");
  auto c = std::make_unique<connection>(raw);
  if (PQstatus(raw) != CONNECTION_OK) throw failure_of(raw, nullptr);
  c->set("SET client_min_messages = warning");
  return c;
}

// The schema's version in kakehashi_meta, refused when newer or unknown; nullopt when the schema
// (search_path's first) holds no tables at all. Tables without kakehashi_meta are refused.
std::optional<int> schema_of(connection& c, const std::string& subject) {
  if (c.first_text("SELECT current_schema()").empty()) {
    detail::fail(errc::invalid_argument, subject, "has no schema to create the tables in",
                 "create the schema first, or name one that exists in search_path");
  }
  std::set<std::string> tables;
  {
    auto q = c.prepare("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()");
    while (q->step()) tables.insert(q->text(0));
  }
  if (tables.empty()) return std::nullopt;
  if (!tables.count("kakehashi_meta")) {
    detail::fail(errc::invalid_argument, subject,
                 fmt::format("holds {} table(s) but no kakehashi_meta: not a kakehashi database",
                             tables.size()),
                 "name an empty schema (search_path) or database to create one");
  }
  const std::string version =
      c.first_text("SELECT schema_version FROM kakehashi_meta WHERE application = 'kakehashi'");
  const int v = version.empty() ? -1 : std::atoi(version.c_str());
  if (v > schema_version) {
    detail::fail(
        errc::failed_precondition, subject,
        fmt::format("has schema version {}, newer than this library's {}", v, schema_version),
        "upgrade kakehashi to open it; the database was left untouched");
  }
  if (v < first_version) {
    detail::fail(errc::invalid_argument, subject,
                 fmt::format("has schema version {}, which no kakehashi release writes on "
                             "PostgreSQL; it is damaged or was edited",
                             version.empty() ? "(none)" : version),
                 "restore the database from a backup; it was left untouched");
  }
  return v;
}

}  // namespace

std::unique_ptr<store::connection> open_for_engine(
    const std::string& uri, const engine_options& options,
    const std::function<void(store::connection&)>& check_existing) {
  auto c = connect(uri);
  c->set(
      fmt::format("SET synchronous_commit = {}", options.sync == durability::full ? "on" : "off"));
  c->set(fmt::format("SET lock_timeout = {}", std::max(0, options.busy_timeout_ms)));
  const std::string subject = printable_uri(uri);
  c->exec("BEGIN");
  try {
    c->exec(fmt::format("SELECT pg_advisory_xact_lock({})", schema_lock));
    if (const auto v = schema_of(*c, subject)) {
      if (*v < schema_version) {
        for (int step = *v; step < schema_version; ++step) {
          for (const char* sql : migrations.at(step)) c->exec(sql);
        }
        c->exec(fmt::format(
            "UPDATE kakehashi_meta SET schema_version = {} WHERE application = 'kakehashi'",
            schema_version));
      }
      check_existing(*c);
    } else {
      for (const char* sql : schema) c->exec(sql);
      c->exec(fmt::format(
          "INSERT INTO kakehashi_meta (application, schema_version) VALUES ('kakehashi', {})",
          schema_version));
    }
    c->exec("COMMIT");
  } catch (...) {
    c->try_exec("ROLLBACK");
    throw;
  }
  return c;
}

std::unique_ptr<store::connection> open_for_reading(const std::string& uri) {
  auto c = connect(uri);
  // Every transaction of this session is read-only: the server refuses any write.
  c->set("SET default_transaction_read_only = on");
  const auto version = schema_of(*c, printable_uri(uri));
  if (!version) {
    detail::fail(errc::invalid_argument, printable_uri(uri),
                 "is not an initialised kakehashi database", "open it with an engine first");
  }
  c->set_schema(*version);  // an older release's tables are read as they are
  return c;
}

}  // namespace kakehashi::store::postgres
