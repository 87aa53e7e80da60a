#pragma once
// A TCP relay on 127.0.0.1 between the engine and the test PostgreSQL server that drops the
// connection at a chosen point: PostgreSQL's storage faults are lost connections (the server, or
// the network to it, going away), as SQLite's are failed writes and syncs (fault_vfs.hpp).
//
// The relay counts the client's round trips, over every connection it relays: each simple Query
// ('Q') and each Sync ('S') of the extended protocol is one, the point where libpq waits for the
// server. Armed at round trip N, it either drops the connection before the server sees that
// message (`before_sending`: the server rolls back the open transaction), or lets the server run
// it and drops the connection before the answer reaches the client (`before_answer`: at COMMIT,
// the commit happened and the client cannot know). Only the framing of the frontend messages is
// read (a type byte and a length; the startup message has no type byte), never their content.
// The URI given to the engine must disable TLS and GSSAPI encryption (uri() does), so that the
// relay sees plain frames.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kakehashi::test {

class cutting_proxy {
 public:
  enum class when { before_sending, before_answer };

  /// Relays to the server at 127.0.0.1:`server_port`.
  explicit cutting_proxy(int server_port) : server_port_(server_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 16) != 0) {
      throw std::runtime_error("cutting_proxy: cannot listen on 127.0.0.1");
    }
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~cutting_proxy() {
    stopping_ = true;
    acceptor_.join();
    ::close(listener_);
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& t : relays_) t.join();
  }
  cutting_proxy(const cutting_proxy&) = delete;
  cutting_proxy& operator=(const cutting_proxy&) = delete;

  int port() const { return port_; }

  /// `base` ("postgresql://?options=...", from temp_db) through the relay.
  std::string uri(const std::string& base) const {
    const auto query = base.find('?');
    return "postgresql://127.0.0.1:" + std::to_string(port_) +
           "/?sslmode=disable&gssencmode=disable" +
           (query == std::string::npos ? std::string() : "&" + base.substr(query + 1));
  }

  /// Drops the connection at the `nth` round trip from now (0: the next one), once.
  void arm(int nth, when w) {
    std::lock_guard<std::mutex> lock(mutex_);
    round_trips_ = 0;
    cut_at_ = nth;
    when_ = w;
    fired_ = false;
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_at_ = -1;
  }
  bool fired() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fired_;
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void accept_loop() {
    while (!stopping_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      relays_.emplace_back([this, client] { relay(client); });
    }
  }

  // Whether the round trip this message ends is the one to cut at, and how.
  bool cut_here(when& w) {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool cut = cut_at_ >= 0 && round_trips_ == cut_at_;
    ++round_trips_;
    if (cut) {
      w = when_;
      cut_at_ = -1;
      fired_ = true;
    }
    return cut;
  }

  static bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      const ssize_t k = ::send(fd, data, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      data += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }

  void relay(int client) {
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(server_port_);
    if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(client);
      if (server >= 0) ::close(server);
      return;
    }
    // Each message goes on at once (no Nagle delay waiting for the ACK of the one before).
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string pending;   // the client's bytes not yet forwarded (an incomplete message)
    std::string held;      // complete messages waiting for the end of their round trip
    bool started = false;  // the startup message (no type byte) has gone by
    bool awaiting_cut = false;
    char buffer[16384];
    for (;;) {
      if (awaiting_cut) {
        // The server has the message; cut when its answer begins (or after 2 s: nothing came).
        pollfd s{server, POLLIN, 0};
        ::poll(&s, 1, 2000);
        break;
      }
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      const int ready = ::poll(fds, 2, 50);
      if (stopping_ && ready == 0) break;
      if (ready <= 0) continue;
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::recv(server, buffer, sizeof buffer, 0);
        if (n <= 0 || !send_all(client, buffer, static_cast<std::size_t>(n))) break;
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        pending.append(buffer, static_cast<std::size_t>(n));
        bool cut = false;
        // Forward the complete messages. Those of the extended protocol wait for the Sync that
        // ends their round trip (the server would run an Execute at once), so that a cut
        // "before sending" keeps the whole round trip from the server.
        for (;;) {
          const std::size_t header = started ? 5 : 4;
          if (pending.size() < header) break;
          std::uint32_t length = 0;
          std::memcpy(&length, pending.data() + (started ? 1 : 0), 4);
          length = ntohl(length);
          const std::size_t size = (started ? 1 : 0) + length;
          if (length < 4 || pending.size() < size) break;
          const char type = started ? pending[0] : '\0';
          held.append(pending, 0, size);
          pending.erase(0, size);
          started = true;
          const bool round_trip = type == 'Q' || type == 'S';
          // The startup message, authentication ('p'), Flush ('H') and Terminate ('X') go at
          // once: the server answers them without a Sync.
          if (!round_trip && type != '\0' && type != 'p' && type != 'H' && type != 'X') continue;
          when w = when::before_sending;
          if (round_trip && cut_here(w)) {
            if (w == when::before_answer) {
              send_all(server, held.data(), held.size());
              awaiting_cut = true;
            }
            cut = true;
            break;
          }
          if (!send_all(server, held.data(), held.size())) {
            cut = true;
            break;
          }
          held.clear();
        }
        if (cut && !awaiting_cut) break;
      }
    }
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
    ::close(client);
    ::close(server);
  }

  int server_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> relays_;
  int round_trips_ = 0;
  int cut_at_ = -1;
  when when_ = when::before_sending;
  bool fired_ = false;
};

}  // namespace kakehashi::test
