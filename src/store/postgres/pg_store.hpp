#pragma once
// Private: the PostgreSQL backend of the store interface, over libpq (PostgreSQL 15's client
// library). The engine's database is a schema on a server, named by a libpq connection URI
// ("postgresql://user@host/db?options=-csearch_path%3Dkakehashi", or "postgresql://" to take
// everything from PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD).
//
// Why libpq and not libpqxx: the store interface is already the C++ layer the engine needs;
// libpqxx's transaction objects would stand between the engine and its own BEGIN, SAVEPOINT and
// COMMIT (group commit nests a savepoint per command), and libpq hands over the SQLSTATE of
// every error directly.
//
// Concurrency: writers take a lock on the audit table (SHARE ROW EXCLUSIVE, which conflicts with
// itself and not with readers) at the start of each write transaction, so that the chain has one
// head and one order, as SQLite's single writer gives it; see docs/audit.md.

#include <functional>
#include <memory>
#include <string>

#include "kakehashi/engine.hpp"
#include "store/store.hpp"

namespace kakehashi::store::postgres {

/// Whether `name` is a PostgreSQL connection URI (postgresql:// or postgres://).
bool is_uri(const std::string& name);

/// Connects for an engine: the schema created on an empty database or checked on one that holds
/// it (a newer schema version, or tables of another application, are refused untouched);
/// `check_existing` runs first on a database that is already a kakehashi one.
/// synchronous_commit follows the engine's durability; lock_timeout its busy timeout.
std::unique_ptr<store::connection> open_for_engine(
    const std::string& uri, const engine_options& options,
    const std::function<void(store::connection&)>& check_existing);

/// Connects for a read-only view: every transaction read-only (the server refuses writes), the
/// schema checked and never created.
std::unique_ptr<store::connection> open_for_reading(const std::string& uri);

/// The URI with any password removed, for messages.
std::string printable_uri(const std::string& uri);

}  // namespace kakehashi::store::postgres
