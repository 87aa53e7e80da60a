#include "https_server.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <kakehashi/error.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

namespace kakehashi::serve {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// The body of a refusal the server makes itself, before any handler sees the request.
std::string outcome(std::string_view code, std::string_view diagnostics) {
  return nlohmann::json{
      {"resourceType", "OperationOutcome"},
      {"issue", nlohmann::json::array(
                    {{{"severity", "error"}, {"code", code}, {"diagnostics", diagnostics}}})}}
      .dump();
}

std::string fingerprint_of(SSL* ssl_handle) {
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const bool ok = X509_digest(cert, EVP_sha256(), md, &n) == 1;
  X509_free(cert);
  if (!ok) return {};
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

}  // namespace

class session;

struct https_server::impl {
  impl(const config& c, handler h, observer o)
      : cfg(c),
        handle(std::move(h)),
        observe(std::move(o)),
        ioc(c.limits.threads),
        tls(ssl::context::tls_server),
        acceptor(net::make_strand(ioc)) {}

  config cfg;
  handler handle;
  observer observe;
  net::io_context ioc;
  ssl::context tls;
  tcp::acceptor acceptor;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  std::mutex sessions_mutex;
  std::set<std::shared_ptr<session>> sessions;  // the live ones, for stop()

  void accept();
  void forget(const std::shared_ptr<session>& s) {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.erase(s);
  }
};

// One TLS connection: handshake, then requests one after another (keep-alive), each handled on
// the connection's strand.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket&& socket, https_server::impl& server)
      : stream_(std::move(socket), server.tls), server_(server) {
    beast::error_code ec;
    const auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
  }
  ~session() { --server_.connections; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_).expires_after(self->server_.cfg.limits.request_time);
      self->stream_.async_handshake(ssl::stream_base::server,
                                    [self](beast::error_code ec) { self->on_handshake(ec); });
    });
  }

  // From stop(): an idle connection (waiting for a request) is closed; a busy one finishes its
  // request and closes after writing the response.
  void stop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) beast::get_lowest_layer(self->stream_).close();
    });
  }

 private:
  void on_handshake(beast::error_code ec) {
    if (ec) return finish();  // no certificate, a bad one, or a client too slow: never served
    fingerprint_ = fingerprint_of(stream_.native_handle());
    if (fingerprint_.empty()) return finish();
    read();
  }

  void read() {
    if (server_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.cfg.limits.header_bytes));
    parser_->body_limit(server_.cfg.limits.body_bytes);
    // A first request must arrive within the request time; a kept-alive connection may wait
    // for its next one for the idle time, and then must arrive in full within the request time.
    beast::get_lowest_layer(stream_).expires_after(
        served_ == 0 ? server_.cfg.limits.request_time
                     : server_.cfg.limits.idle_time + server_.cfg.limits.request_time);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return refuse(431, "too-costly",
                    fmt::format("[kakehashi.invalid_argument] request: the request line and "
                                "headers exceed {} bytes",
                                server_.cfg.limits.header_bytes));
    }
    if (ec == http::error::body_limit) {
      return refuse(413, "too-costly",
                    fmt::format("[kakehashi.invalid_argument] request: the body exceeds {} bytes",
                                server_.cfg.limits.body_bytes));
    }
    if (ec == http::error::bad_target || ec == http::error::bad_method ||
        ec == http::error::bad_field || ec == http::error::bad_value ||
        ec == http::error::bad_version || ec == http::error::bad_line_ending ||
        ec == http::error::bad_chunk || ec == http::error::bad_content_length ||
        ec == http::error::bad_transfer_encoding) {
      return refuse(400, "structure", "[kakehashi.invalid_argument] request: not valid HTTP/1.1");
    }
    if (ec) return finish();  // closed, timed out, or stopped
    busy_ = true;
    const auto started = std::chrono::steady_clock::now();
    auto& m = parser_->get();
    request req;
    req.method = std::string(m.method_string());
    req.target = std::string(m.target());
    for (const auto& field : m) {
      std::string name(field.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      req.headers[name] = std::string(field.value());
    }
    req.body = std::move(m.body());
    req.client_sha256 = fingerprint_;
    req.remote = remote_;
    keep_alive_ = m.keep_alive();
    response out;
    try {
      out = server_.handle(req);
    } catch (const std::exception& e) {
      out.status = 500;
      out.body =
          outcome("exception", std::string("[kakehashi.internal] ") + printable(e.what(), 300));
    }
    write(out,
          [self = shared_from_this(), req = std::move(req), status = out.status, started](bool) {
            self->server_.observe(
                req, status,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          });
  }

  void refuse(int status, const char* code, const std::string& diagnostics) {
    busy_ = true;
    keep_alive_ = false;  // the rest of the stream cannot be trusted
    drain_ = true;        // and the client may still be sending it
    response out;
    out.status = status;
    out.body = outcome(code, diagnostics);
    // Logged like every other request, with what was read of it (the parser fills the method
    // and target once the request line is read, before the header's end).
    request req;
    req.method = std::string(parser_->get().method_string());
    req.target = std::string(parser_->get().target());
    req.client_sha256 = fingerprint_;
    req.remote = remote_;
    write(out, [self = shared_from_this(), req = std::move(req), status](bool) {
      self->server_.observe(req, status, 0);
    });
  }

  template <class Done>
  void write(const response& out, Done done) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(out.status));
    res_.set(http::field::server, "kakehashi");
    res_.set(http::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) res_.set(name, value);
    res_.keep_alive(keep_alive_ && !server_.stopping);
    res_.body() = out.body;
    res_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_.cfg.limits.request_time);
    http::async_write(stream_, res_,
                      [self = shared_from_this(), done](beast::error_code ec, std::size_t) {
                        done(!ec);
                        self->busy_ = false;
                        ++self->served_;
                        if (ec) return self->close();
                        if (self->drain_) {
                          beast::get_lowest_layer(self->stream_)
                              .expires_after(self->server_.cfg.limits.request_time);
                          return self->drain();
                        }
                        if (!self->res_.keep_alive()) return self->close();
                        self->read();
                      });
  }

  // After a refusal made before the request was read to its end (413, 431, 400), the client
  // may still be sending it. Closing with its bytes unread would make the kernel reset the
  // connection, and a reset can destroy the response before the client reads it (curl: "Failed
  // sending data", no status). So what it sends is read and dropped until it closes, for at most
  // the request time and kDrainBytes: the lingering close of nginx and Apache httpd.
  void drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16384),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->server_.stopping || self->drained_ > kDrainBytes)
                                return self->close();
                              self->drain();
                            });
  }

  void close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->finish(); });
  }

  void finish() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    server_.forget(shared_from_this());
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  https_server::impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::string fingerprint_;
  std::string remote_;
  bool busy_ = false;
  bool keep_alive_ = true;
  bool drain_ = false;
  std::size_t drained_ = 0;
  std::size_t served_ = 0;
  static constexpr std::size_t kDrainBytes = 4 * 1024 * 1024;
};

void https_server::impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec || stopping) return;  // closed by stop()
    if (++connections > cfg.limits.connections) {
      --connections;  // over the limit: closed before any handshake
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      auto s = std::make_shared<session>(std::move(socket), *this);
      {
        std::lock_guard<std::mutex> lock(sessions_mutex);
        sessions.insert(s);
      }
      s->start();
    }
    accept();
  });
}

https_server::https_server(const config& c, handler h, observer o)
    : impl_(std::make_unique<impl>(c, std::move(h), std::move(o))) {
  auto& tls = impl_->tls;
  // TLS 1.2 and newer only.
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  const auto load = [](const std::string& what, const std::string& path, auto&& fn) {
    try {
      fn();
    } catch (const boost::system::system_error& e) {
      throw error(errc::invalid_argument,
                  fmt::format("tls.{}: '{}' cannot be used: {}; give a PEM file", what,
                              printable(path, 200), e.code().message()));
    }
  };
  load("certificate", c.certificate, [&] { tls.use_certificate_chain_file(c.certificate); });
  load("key", c.private_key, [&] { tls.use_private_key_file(c.private_key, ssl::context::pem); });
  load("client_ca", c.client_ca, [&] { tls.load_verify_file(c.client_ca); });
  tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);

  beast::error_code ec;
  const auto address = net::ip::make_address(c.address, ec);
  if (ec) {
    throw error(errc::invalid_argument,
                fmt::format("listen.address: '{}' is not an IP address; expected e.g. 127.0.0.1",
                            printable(c.address)));
  }
  const tcp::endpoint endpoint{address, c.port};
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw error(errc::storage, fmt::format("listen: cannot listen on {}:{}: {}; choose another "
                                           "address or port",
                                           c.address, c.port, ec.message()));
  }
}

https_server::~https_server() = default;

unsigned short https_server::port() const noexcept {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void https_server::run() {
  impl_->accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->cfg.limits.threads; ++i) {
    threads.emplace_back([this] { impl_->ioc.run(); });
  }
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void https_server::stop() {
  if (impl_->stopping.exchange(true)) return;
  net::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    std::vector<std::shared_ptr<session>> live;
    {
      std::lock_guard<std::mutex> lock(impl_->sessions_mutex);
      live.assign(impl_->sessions.begin(), impl_->sessions.end());
    }
    for (auto& s : live) s->stop();
  });
}

}  // namespace kakehashi::serve
