#pragma once
// Private: an SQLite file opened for reading only, creating and writing nothing beside it, so that
// an auditor's evidence copy in a read-only directory can be read and is left byte for byte as it
// was. SQLite's plain read-only open cannot do that for a WAL database: it creates the -wal and
// -shm files when they are missing (and fails where it cannot), and its immutable mode ignores a
// -wal file, silently missing the rows still in it. So the file is opened one of three ways:
//
//   files beside the database          how it is read
//   -wal and -shm                      in place, read-only: a live database, or a whole copy
//   -wal with rows, no -shm            a private copy of the database and its -wal, in the
//                                      temporary directory, removed when the view closes
//   no -wal (or an empty one)          in place, immutable: nothing is locked or created
//
// An immutable read assumes no writer: read() checks afterwards that none came (no -wal, the file
// unchanged) and reads again the right way if one did. Not thread-safe: one user at a time.

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace kakehashi::detail {

class read_only_database {
 public:
  /// Opens `path` (which must exist) and runs `on_open` on every connection it opens (schema
  /// checks). Throws SQLite::Exception, or what `on_open` throws.
  read_only_database(std::string path, std::function<void(SQLite::Database&)> on_open);
  ~read_only_database();
  read_only_database(const read_only_database&) = delete;
  read_only_database& operator=(const read_only_database&) = delete;

  /// Runs `f` on the connection. After an immutable read, if a writer has opened the file
  /// meanwhile, opens it again and runs `f` again (three times at most; then throws
  /// kakehashi::error{errc::storage}).
  template <class F>
  auto read(F&& f) -> decltype(f(std::declval<SQLite::Database&>()));

  /// How the file is read now: "in place", "immutable" or "private copy" (for tests and messages).
  const char* mode() const noexcept;

 private:
  struct stamp {
    bool exists = false;
    std::uintmax_t size = 0;
    std::int64_t modified = 0;  ///< nanoseconds since the file system's epoch
    bool operator==(const stamp& o) const {
      return exists == o.exists && size == o.size && modified == o.modified;
    }
  };
  static stamp stamp_of(const std::string& path);
  void open();
  void close() noexcept;
  bool unchanged_since_open() const;
  [[noreturn]] void changing() const;

  std::string path_;
  std::function<void(SQLite::Database&)> on_open_;
  std::filesystem::path copy_dir_;  ///< the private copy's directory, or empty
  std::unique_ptr<SQLite::Database> db_;
  bool immutable_ = false;
  stamp database_;  ///< the database file when an immutable read began
};

template <class F>
auto read_only_database::read(F&& f) -> decltype(f(std::declval<SQLite::Database&>())) {
  for (int attempt = 0;; ++attempt) {
    if (!immutable_) return f(*db_);
    auto result = f(*db_);
    if (unchanged_since_open()) return result;
    if (attempt == 2) changing();
    close();
    open();
  }
}

}  // namespace kakehashi::detail
