#pragma once
// An HTTPS/1.1 server with mutual TLS (Boost.Beast over Boost.Asio and OpenSSL): TLS 1.2 or
// newer, every client must present a certificate signed by the configured CA, and each request
// is handed to the handler with the SHA-256 fingerprint of that certificate. Limits: header and
// body size, concurrent connections (more are closed before the handshake), the time a handshake
// or one request may take to arrive, the time an idle connection is kept. stop() drains: it
// stops accepting, closes idle connections, lets every request being handled finish and write
// its response, then run() returns. Thread-safe: run() on one thread, stop() from any.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config.hpp"

namespace kakehashi::serve {

class session;  // one connection (https_server.cpp)

struct request {
  std::string method;                          ///< "GET", "POST", ...
  std::string target;                          ///< path and query, as sent
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  std::string client_sha256;  ///< the client certificate's fingerprint (always present)
  std::string remote;         ///< the client's address, for logs
};

struct response {
  int status = 200;
  std::string content_type = "application/fhir+json";
  std::map<std::string, std::string> headers;
  std::string body;
};

class https_server {
 public:
  using handler = std::function<response(const request&)>;
  /// Called once per request after its response is written (or its connection failed): the
  /// request, the response's status, and the time from the request's arrival, for the log.
  using observer = std::function<void(const request&, int status, double seconds)>;

  /// Loads the certificates and binds the address; throws kakehashi::error{invalid_argument}
  /// naming the file that cannot be used, {storage} if the address cannot be bound.
  https_server(const config& c, handler h, observer o);
  ~https_server();
  https_server(const https_server&) = delete;
  https_server& operator=(const https_server&) = delete;

  /// The port it listens on (the configured one, or the one the system chose for port 0).
  unsigned short port() const noexcept;
  /// Serves until stop(); returns when every connection is closed.
  void run();
  /// Stops accepting and drains (see above). Safe from any thread and from a signal handler's
  /// thread; idempotent.
  void stop();

 private:
  friend class session;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kakehashi::serve
