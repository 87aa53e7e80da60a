#pragma once
// The test database as an attacker, or a checker, sees it: SQL run directly on the tables,
// bypassing the engine, on either backend (an SQLite file, or a PostgreSQL URI from temp_db).
// Parameters are written '?' and bound in order.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <libpq-fe.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kakehashi::test {

class raw_database {
 public:
  explicit raw_database(const std::string& path) {
    if (path.rfind("postgresql://", 0) == 0) {
      pg_ = PQconnectdb(path.c_str());
      if (PQstatus(pg_) != CONNECTION_OK) fail(path);
      run_pg("SET client_min_messages = warning", {});
    } else {
      sqlite_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE);
    }
  }
  ~raw_database() {
    if (pg_) PQfinish(pg_);
  }
  raw_database(const raw_database&) = delete;
  raw_database& operator=(const raw_database&) = delete;

  /// Runs statements that return no rows (several, separated by ';', when there are no
  /// parameters).
  void exec(const std::string& sql, const std::vector<std::string>& params = {}) {
    if (pg_) {
      run_pg(sql, params);
    } else if (params.empty()) {
      sqlite_->exec(sql);
    } else {
      SQLite::Statement q(*sqlite_, sql);
      for (std::size_t i = 0; i < params.size(); ++i) q.bind(static_cast<int>(i + 1), params[i]);
      q.exec();
    }
  }

  /// Every row of a query, each value as text (NULL as an empty string).
  std::vector<std::vector<std::string>> rows(const std::string& sql,
                                             const std::vector<std::string>& params = {}) {
    std::vector<std::vector<std::string>> out;
    if (pg_) {
      PGresult* r = run_pg(sql, params);
      for (int i = 0; i < PQntuples(r); ++i) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(r); ++c) row.emplace_back(PQgetvalue(r, i, c));
        out.push_back(std::move(row));
      }
      PQclear(r);
      return out;
    }
    SQLite::Statement q(*sqlite_, sql);
    for (std::size_t i = 0; i < params.size(); ++i) q.bind(static_cast<int>(i + 1), params[i]);
    while (q.executeStep()) {
      std::vector<std::string> row;
      for (int c = 0; c < q.getColumnCount(); ++c) {
        row.push_back(q.getColumn(c).isNull() ? std::string() : q.getColumn(c).getString());
      }
      out.push_back(std::move(row));
    }
    return out;
  }

 private:
  // Runs on PostgreSQL, '?' numbered as $1, $2, ...; returns the result of a query (or null).
  PGresult* run_pg(const std::string& sql, const std::vector<std::string>& params) {
    std::string text;
    int n = 0;
    for (const char ch : sql) {
      if (ch == '?') {
        text += "$" + std::to_string(++n);
      } else {
        text += ch;
      }
    }
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = params.empty() ? PQexec(pg_, text.c_str())
                                 : PQexecParams(pg_, text.c_str(), static_cast<int>(values.size()),
                                                nullptr, values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(r);
    if (status == PGRES_TUPLES_OK) return r;
    PQclear(r);
    if (status != PGRES_COMMAND_OK) fail(sql);
    return nullptr;
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("raw database: " + what + ": " + PQerrorMessage(pg_));
  }

  PGconn* pg_ = nullptr;
  std::unique_ptr<SQLite::Database> sqlite_;
};

/// The schema as text: every table, column and index definition (sqlite_master on SQLite; the
/// catalog of search_path's first schema on PostgreSQL). A change to it is a changed schema.
inline std::string schema_text(const std::string& path) {
  raw_database raw(path);
  std::string out;
  const std::vector<std::string> queries =
      path.rfind("postgresql://", 0) == 0
          ? std::vector<std::string>{"SELECT table_name || '.' || column_name || ' ' || data_type "
                                     "FROM information_schema.columns WHERE table_schema = "
                                     "current_schema() ORDER BY table_name, ordinal_position",
                                     "SELECT indexdef FROM pg_indexes WHERE schemaname = "
                                     "current_schema() ORDER BY indexname"}
          : std::vector<std::string>{"SELECT sql FROM sqlite_master ORDER BY name"};
  for (const auto& q : queries) {
    for (const auto& row : raw.rows(q)) out += row[0] + ";\n";
  }
  return out;
}

/// Everything the database holds, as bytes to search: the file with its -wal and -shm on SQLite
/// (free pages and all), every row of every table of the schema as text on PostgreSQL.
inline std::string stored_bytes(const std::string& path) {
  std::string out;
  if (path.rfind("postgresql://", 0) != 0) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      // (Read through rdbuf(): istreambuf_iterator trips GCC 12's -Wnull-dereference in the
      // optimised sanitizer builds.)
      std::ifstream in(path + suffix, std::ios::binary);
      std::ostringstream bytes;
      if (in) bytes << in.rdbuf();
      out += bytes.str();
    }
    return out;
  }
  raw_database raw(path);
  for (const auto& table :
       raw.rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")) {
    for (const auto& row : raw.rows("SELECT t::text FROM \"" + table[0] + "\" t")) {
      out += row[0] + "\n";
    }
  }
  return out;
}

}  // namespace kakehashi::test
