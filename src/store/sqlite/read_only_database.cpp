#include "store/sqlite/read_only_database.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#include <stdlib.h>  // mkdtemp

#include <system_error>

#include "common/fail.hpp"

namespace kakehashi::detail {
namespace fs = std::filesystem;
namespace {

// "file:///abs/path?mode=ro": a URI, so '?', '#' and '%' in the path are escaped.
std::string uri_of(const fs::path& path, const char* parameters) {
  std::string out = "file://";
  for (const char c : fs::absolute(path).string()) {
    if (c == '?' || c == '#' || c == '%') {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "?" + parameters;
}

bool present(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::uintmax_t size_of(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

read_only_database::read_only_database(std::string path,
                                       std::function<void(SQLite::Database&)> on_open)
    : path_(std::move(path)), on_open_(std::move(on_open)) {
  try {
    open();
  } catch (...) {
    close();  // the private copy, if one was made
    throw;
  }
}

read_only_database::~read_only_database() { close(); }

read_only_database::stamp read_only_database::stamp_of(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return {};
  const auto time = fs::last_write_time(path, ec);
  return {true, size_of(path), ec ? 0 : static_cast<std::int64_t>(time.time_since_epoch().count())};
}

const char* read_only_database::mode() const noexcept {
  return immutable_ ? "immutable" : copy_dir_.empty() ? "in place" : "private copy";
}

void read_only_database::open() {
  const std::string wal = path_ + "-wal";
  const std::string shm = path_ + "-shm";
  for (int attempt = 0; attempt < 3; ++attempt) {
    const stamp before = stamp_of(path_);
    const bool has_wal = present(wal);
    const bool has_shm = present(shm);
    if (has_wal && has_shm) {
      // A live database (a writer's shared memory is there) or a complete copy: SQLite reads
      // both read-only, falling back to a private index when the -shm cannot be written.
      immutable_ = false;
      db_ = std::make_unique<SQLite::Database>(uri_of(path_, "mode=ro"),
                                               SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    } else if (has_wal && size_of(wal) > 0) {
      // Rows still in the -wal and no -shm: SQLite would have to create one beside the file.
      // No writer can be live without a -shm, so a copy of the two files is the same log.
      std::string dir = (fs::temp_directory_path() / "kakehashi-view-XXXXXX").string();
      if (mkdtemp(dir.data()) == nullptr) {
        fail(errc::storage, printable(path_, 200),
             "has rows in its -wal file and no -shm file, and no private copy could be made in "
             "the temporary directory to read them",
             "set TMPDIR to a writable directory");
      }
      copy_dir_ = dir;
      const fs::path copy = copy_dir_ / "kakehashi.db";
      std::error_code ec;
      if (!fs::copy_file(path_, copy, ec) || !fs::copy_file(wal, copy.string() + "-wal", ec)) {
        fail(errc::storage, printable(path_, 200),
             fmt::format("could not be copied with its -wal file into {} to be read: {}",
                         printable(copy_dir_.string(), 200), ec.message()),
             "make room in the temporary directory (TMPDIR), or read a copy that has its -shm "
             "file too");
      }
      if (present(shm) || !(stamp_of(path_) == before)) {  // a writer came meanwhile
        close();
        continue;
      }
      immutable_ = false;
      db_ = std::make_unique<SQLite::Database>(uri_of(copy, "mode=ro"),
                                               SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    } else {
      // Everything is in the database file: read it as it is, locking and creating nothing.
      immutable_ = true;
      database_ = before;
      db_ = std::make_unique<SQLite::Database>(uri_of(path_, "mode=ro&immutable=1"),
                                               SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    }
    on_open_(*db_);
    return;
  }
  changing();
}

bool read_only_database::unchanged_since_open() const {
  return !present(path_ + "-wal") && stamp_of(path_) == database_;
}

void read_only_database::changing() const {
  fail(errc::storage, printable(path_, 200), "changed while it was being read (a writer opened it)",
       "read it again; a view of a live database reads through its -wal and -shm files");
}

void read_only_database::close() noexcept {
  db_.reset();
  if (!copy_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(copy_dir_, ec);
    copy_dir_.clear();
  }
}

}  // namespace kakehashi::detail
