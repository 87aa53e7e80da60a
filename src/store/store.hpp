#pragma once
// Private: what the engine needs from a database, so that the commands, the audit chain and the
// read-only view are written once and run on any backend. A connection prepares statements;
// a statement binds numbered parameters (?1, ?2, ... or ?), steps through its rows and reads
// their columns; every failure is a store::failure saying what kind it was, so that the engine
// maps it to kakehashi's error codes the same way whatever the backend.
//
// SQL: the engine's statements are written once, in what SQLite and PostgreSQL share (parameters
// as ? or ?N; no boolean-valued columns; LIMIT always with a value; subqueries named). Schemas and
// migrations are each backend's own.
//
// Implementations: store/sqlite (SQLiteCpp over SQLite 3, the embedded default) and
// store/postgres (libpq, PostgreSQL 15).
//
// Threads: a connection and its statements belong to one thread at a time (the engine holds its
// mutex around every use).

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace kakehashi::store {

/// The version of the tables this library writes, the same on every backend (SQLite records it
/// as PRAGMA user_version, PostgreSQL in the kakehashi_meta table).
constexpr int schema_version = 7;

/// What went wrong, in the terms the engine acts on.
enum class failure_kind {
  unique_violation,  ///< a UNIQUE constraint refused a row (a repeated idempotency key)
  io,                ///< an I/O error: a commit's fate is unknown
  not_a_database,    ///< the file or server holds something else
  other,             ///< anything else the backend reported (busy, corrupt, full, ...)
};

/// A backend's error: its kind, its own message and its own code (for logs and tests).
class failure : public std::runtime_error {
 public:
  failure(failure_kind kind, int code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(code) {}
  failure_kind kind() const noexcept { return kind_; }
  /// The backend's own code (SQLite: the extended result code).
  int code() const noexcept { return code_; }

 private:
  failure_kind kind_;
  int code_;
};

/// A prepared statement. Parameters are numbered from 1. Every method throws store::failure.
class statement {
 public:
  virtual ~statement() = default;

  virtual void bind(int index, std::int64_t value) = 0;
  void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
  /// Copies the text.
  virtual void bind(int index, const std::string& text) = 0;
  void bind(int index, const char* text) { bind(index, std::string(text)); }
  /// Does not copy: `text` must stay alive and unchanged until the statement is reset.
  virtual void bind_no_copy(int index, const std::string& text) = 0;
  void bind_no_copy(int, std::string&&) = delete;  // a temporary would be gone
  virtual void bind_null(int index) = 0;

  /// Runs the statement to its next row: false when there is none.
  virtual bool step() = 0;
  /// Runs a statement that returns no rows; the number of rows it changed.
  virtual int exec() = 0;
  /// Ready to run again (bindings kept until bound again).
  virtual void reset() noexcept = 0;
  /// Forgets every binding (after bind_no_copy, before the text goes away).
  virtual void clear_bindings() noexcept = 0;

  /// The current row's columns, numbered from 0.
  virtual bool is_null(int column) = 0;
  virtual std::int64_t int64(int column) = 0;
  int int32(int column) { return static_cast<int>(int64(column)); }
  virtual std::string text(int column) = 0;
};

/// A connection to one database.
class connection {
 public:
  virtual ~connection() = default;

  /// Prepares `sql` (ours: fixed text, values only through parameters).
  virtual std::unique_ptr<statement> prepare(const std::string& sql) = 0;
  /// Prepares a query whose rows are read a few at a time instead of all at once (verify's scans
  /// of the whole log), inside the transaction that is open; several may be open at once.
  /// SQLite steps through rows anyway; PostgreSQL reads them through a cursor.
  virtual std::unique_ptr<statement> prepare_stream(const std::string& sql) {
    return prepare(sql);
  }
  /// Runs statements that return no rows.
  virtual void exec(const std::string& sql) = 0;
  /// As exec(), ignoring any failure (for ROLLBACK on a path that is already failing).
  virtual void try_exec(const char* sql) noexcept = 0;

  /// Begins the transaction a command (or a batch, or a group) runs in. The writer's lock is
  /// taken at once and held until COMMIT or ROLLBACK, so the chain's head read inside the
  /// transaction stays the head (SQLite: BEGIN IMMEDIATE; PostgreSQL: a lock on the audit table
  /// that writers take in turn, readers never wait for it).
  virtual void begin_write() = 0;
  /// Begins a transaction that reads one consistent view while others write.
  virtual void begin_read() = 0;

  /// The schema version of the tables read through this connection: the current one, except in
  /// a read-only view of a database an older release wrote, which is read as it is.
  int schema() const noexcept { return schema_; }
  void set_schema(int version) noexcept { schema_ = version; }

 private:
  int schema_ = schema_version;
};

}  // namespace kakehashi::store
