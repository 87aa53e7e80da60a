#pragma once
// The configuration of `kakehashi serve` (docs/api.md, "The configuration file"): the database,
// the agreements and policy, where to listen, the server's TLS identity, which client certificate
// belongs to which hospital, limits, and the sweep's schedule. Loaded strictly, like the
// agreements file: every problem of the file at once, each with its JSON path, and nothing of a
// bad file is used. Paths inside the file are relative to the file's own directory.

#include <chrono>
#include <cstddef>
#include <kakehashi/agreement.hpp>  // load_problem
#include <kakehashi/ids.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::serve {

struct limits {
  std::size_t body_bytes = 1 << 20;       ///< a request body larger is refused (413)
  std::size_t header_bytes = 16 * 1024;   ///< request line and headers together (431)
  int connections = 64;                   ///< more are closed at once, before the handshake
  std::chrono::seconds request_time{30};  ///< handshake, or one request read in full
  std::chrono::seconds idle_time{60};     ///< a kept-alive connection with no request
  /// Threads serving connections. More than the cores: a request whose command waits for its
  /// group's fsync holds its thread, and the requests that arrive meanwhile commit as one group.
  int threads = 8;
};

struct client {
  hospital_id hospital;
  std::string certificate_sha256;  ///< lower-case hex SHA-256 of the client certificate (DER)
};

/// Where a partner hospital is told of changes to its referrals (notifier.hpp).
struct notification_endpoint {
  hospital_id hospital;
  std::string url;          ///< https://...
  std::string certificate;  ///< the service's client certificate for the partner's endpoint, or ""
  std::string key;          ///< its key
  std::string ca;           ///< the CA that signs the endpoint's certificate ("": the system's)
};

struct notifications {
  std::vector<notification_endpoint> endpoints;
  std::string state;                           ///< each partner's last acknowledged event
  std::chrono::milliseconds retry_min{1000};   ///< the first retry's delay; doubled each time
  std::chrono::milliseconds retry_max{60000};  ///< up to this
  std::chrono::milliseconds poll{1000};        ///< look at the feed at least this often
  int batch = 20;                              ///< events per notification at most
};

struct config {
  hospital_id host;  ///< the hospital that runs the service (the sweep acts for it)
  std::string database;
  std::string agreements;
  std::string policy;       ///< "" for the standard policy
  std::string audit_key;    ///< a file holding the audit key, or ""
  std::string signing_key;  ///< the host's Ed25519 private key (PEM) for signed checkpoints, or ""
  bool full_durability = true;
  std::string address = "127.0.0.1";
  unsigned short port = 8443;  ///< 0: any free port (printed when listening)
  std::string certificate;     ///< the server's certificate chain (PEM)
  std::string private_key;     ///< its key (PEM)
  std::string client_ca;       ///< the CA that signs client certificates (PEM)
  std::vector<client> clients;
  struct limits limits;
  std::optional<std::chrono::minutes> sweep_every;  ///< the deadline sweep; unset: never
  struct notifications notifications;
};

struct [[nodiscard]] config_load_result {
  std::optional<config> value;
  std::vector<load_problem> problems;
  bool ok() const noexcept { return value.has_value(); }
};

/// Parses the configuration; paths are taken relative to `base_dir`. Never throws for bad input.
config_load_result try_load_config(std::string_view json_text, const std::string& base_dir);
/// Reads and parses a file; throws kakehashi::error{errc::not_found} if it cannot be read,
/// {errc::invalid_argument} listing every problem otherwise.
config load_config_file(const std::string& path);

/// The database as log lines and messages may show it: a path, or a PostgreSQL URI without its
/// password.
std::string printable_database(const std::string& database);

}  // namespace kakehashi::serve
