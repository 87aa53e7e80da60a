#pragma once
// Private: the SQLite backend of the store interface (SQLiteCpp over SQLite 3): an engine's
// connection (a file or ":memory:", created or migrated to the current schema) and the schema
// checks a read-only view runs on a file it must not change.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <functional>
#include <memory>
#include <string>

#include "kakehashi/engine.hpp"
#include "store/store.hpp"

namespace kakehashi::store::sqlite {

/// The application id that marks a kakehashi file (PRAGMA application_id); the schema's version
/// (store::schema_version) is its PRAGMA user_version.
constexpr int application_id = 0x4b4b4831;  // "KKH1"

/// A store::connection over an SQLite database it owns or borrows.
class connection final : public store::connection {
 public:
  explicit connection(std::unique_ptr<SQLite::Database> owned);
  explicit connection(SQLite::Database& borrowed) noexcept : db_(&borrowed) {}

  std::unique_ptr<store::statement> prepare(const std::string& sql) override;
  void exec(const std::string& sql) override;
  void try_exec(const char* sql) noexcept override;
  void begin_write() override;
  void begin_read() override;

  SQLite::Database& database() noexcept { return *db_; }

 private:
  std::unique_ptr<SQLite::Database> owned_;
  SQLite::Database* db_;
  std::unique_ptr<store::statement> begin_write_;  // prepared once: every command begins
};

/// SQLiteCpp's exception as the store's: I/O errors, UNIQUE violations and "not a database" told
/// apart by SQLite's (extended) result codes.
failure to_failure(const SQLite::Exception& e);

/// Opens (creating when missing) the engine's database at `path`: defensive mode, the schema
/// created or migrated, WAL and the durability asked for. On a file that is already a kakehashi
/// database, `check_existing` runs first, before anything is written (the engine refuses a keyed
/// log opened without its key there). A file that is not ours, or is newer, is refused untouched
/// (kakehashi::error). Throws SQLite::Exception when SQLite fails.
std::unique_ptr<connection> open_for_engine(
    const std::string& path, const engine_options& options,
    const std::function<void(store::connection&)>& check_existing);

/// What a read-only view runs on every connection it opens: defensive mode and the schema
/// check, changing nothing (an uninitialised or foreign file is refused). Returns the schema
/// version the file has (older releases' files are read as they are).
int check_for_reading(SQLite::Database& db, const std::string& path);

/// Throws kakehashi::error{invalid_argument} when SQLite said the file is not a database.
void refuse_if_not_a_database(const SQLite::Exception& e, const std::string& path);

}  // namespace kakehashi::store::sqlite
