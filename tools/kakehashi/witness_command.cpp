// kakehashi witness add --file FILE --public-key PEM --checkpoint JSON
// kakehashi witness compare FILE FILE --public-key PEM
// kakehashi witness listen --certificate PEM --key PEM --client-ca PEM --host-sha256 HEX
//                          --public-key PEM --file FILE [--address A] [--port P] [--events FILE]
// The partner's side of the signed checkpoints (kakehashi/witness.hpp): keep each checkpoint the
// host hands over (the X-Kakehashi-Checkpoint header, the notifications' checkpoint parameter),
// and compare what two partners kept. `kakehashi audit verify --witness` checks a log against it.
// `listen` is a partner's notification endpoint that does the keeping itself: it receives the
// host's notifications over HTTPS with mutual TLS, keeps each signed checkpoint (synced before it
// answers 200), and prints each event for the partner's system to read the Task.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <kakehashi/error.hpp>
#include <kakehashi/witness.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "https_server.hpp"
#include "receiver.hpp"

namespace kakehashi::tool {
namespace {

struct witness_options {
  std::string file;
  std::string other;
  std::string public_key;
  std::string checkpoint;
  // listen
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  std::string certificate;
  std::string key;
  std::string client_ca;
  std::string host_sha256;
  std::string events;
};

// Appends one line and syncs it: a kept checkpoint survives a crash of the partner's system.
void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const std::string text = line + "\n";
  const bool ok = fd >= 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) {
    throw error(
        errc::invalid_argument,
        fmt::format("--file: cannot append to '{}'; pass a writable path", printable(path, 200)));
  }
}

serve::response answer(int status, const std::string& diagnostics) {
  serve::response out;
  out.status = status;
  if (status < 300) {
    out.body = "{}";
    return out;
  }
  out.body = nlohmann::json{{"resourceType", "OperationOutcome"},
                            {"issue", nlohmann::json::array({{{"severity", "error"},
                                                              {"code", "invalid"},
                                                              {"diagnostics", diagnostics}}})}}
                 .dump();
  return out;
}

// The partner's notification endpoint. Each notification is handled whole, one at a time: its
// checkpoint checked and kept (appended and synced) and its events printed before the 200 that
// lets the host move its cursor; a checkpoint that the host's key did not sign is refused (422)
// and kept nowhere, so the host keeps resending it and its operator sees why.
int run_listen(const witness_options& o) {
  const std::string public_key = read_text(o.public_key, "--public-key");
  std::string host_sha256 = o.host_sha256;
  for (auto& ch : host_sha256) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (host_sha256.size() != 64 ||
      host_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw error(errc::invalid_argument,
                "--host-sha256: is not a SHA-256 fingerprint (64 hex digits); give the host's "
                "client certificate's, e.g. openssl x509 -in host.pem -outform DER | sha256sum");
  }
  serve::config c;
  c.address = o.address;
  c.port = o.port;
  c.certificate = o.certificate;
  c.private_key = o.key;
  c.client_ca = o.client_ca;
  std::mutex mutex;
  std::int64_t last_event = 0;
  // What cannot be kept here is not acknowledged: 503, and the host sends it again.
  struct not_kept {
    std::string what;
  };
  const auto keep = [](const std::string& path, const std::string& line) {
    try {
      append_line(path, line);
    } catch (const error& e) {
      throw not_kept{e.what()};
    }
  };
  serve::https_server server(
      c,
      [&](const serve::request& r) {
        if (r.client_sha256 != host_sha256) {
          return answer(403,
                        "[kakehashi.permission_denied] client certificate: not the host's "
                        "(--host-sha256)");
        }
        if (r.method != "POST") {
          return answer(405, "[kakehashi.invalid_argument] method: notifications are POSTed");
        }
        std::lock_guard<std::mutex> lock(mutex);
        try {
          const serve::received_notification n = serve::read_notification(r.body);
          if (n.checkpoint) {
            const signed_checkpoint cp = parse_signed_checkpoint(*n.checkpoint);
            if (!signature_valid(cp, public_key)) {
              std::cerr << fmt::format(
                  "[kakehashi.invalid_argument] notification: the checkpoint of row {} is not "
                  "signed by the key in {}; refused, not kept\n",
                  cp.seq, printable(o.public_key, 200));
              return answer(422,
                            "[kakehashi.invalid_argument] notification: its checkpoint is "
                            "not signed by the host's key");
            }
            keep(o.file, to_json(cp));
            std::cout << fmt::format("kept the checkpoint of row {} ({} at {})\n", cp.seq,
                                     cp.head_hash.substr(0, 16), to_iso8601(cp.at));
          }
          std::string lines;
          for (const auto& e : n.events) {
            if (e.number > last_event + 1 && last_event > 0) {
              std::cout << fmt::format(
                  "events {} to {} did not arrive here; ask the host for them: GET "
                  "Subscription/<id>/$events?eventsSinceNumber={}\n",
                  last_event + 1, e.number - 1, last_event + 1);
            }
            std::cout << fmt::format("event {}: {}\n", e.number, printable(e.focus, 300));
            lines += fmt::format("{} {}\n", e.number, printable(e.focus, 300));
            last_event = std::max(last_event, e.number);
          }
          if (!o.events.empty() && !lines.empty()) {
            lines.pop_back();
            keep(o.events, lines);
          }
          std::cout << std::flush;
          return answer(200, "");
        } catch (const not_kept& e) {
          std::cerr << e.what << '\n';
          return answer(503, "[kakehashi.storage] the endpoint cannot keep it now; send it again");
        } catch (const error& e) {
          std::cerr << e.what() << '\n';
          return answer(400, e.what());
        }
      },
      [](const serve::request&, int, double) {});
  std::thread signals = serve::stop_on_signal([&server] { server.stop(); });
  std::cerr << fmt::format(
                   "kakehashi witness listen: listening on https://{}:{}; keeping "
                   "checkpoints in {}\n",
                   o.address, server.port(), printable(o.file, 200))
            << std::flush;
  server.run();
  signals.join();
  std::cerr << "kakehashi witness listen: stopped\n";
  return exit_ok;
}

}  // namespace

command add_witness_command(CLI::App& app) {
  auto opt = std::make_shared<witness_options>();
  CLI::App* witness = app.add_subcommand(
      "witness", "Keep and compare the host's signed checkpoints (the partner's side)");
  witness->require_subcommand(1);
  CLI::App* add = witness->add_subcommand(
      "add", "Check a signed checkpoint with the host's public key and append it to a file");
  add->add_option("--file", opt->file, "The witness file (one checkpoint per line)")->required();
  add->add_option("--public-key", opt->public_key, "The host's Ed25519 public key (PEM)")
      ->required();
  add->add_option("--checkpoint", opt->checkpoint,
                  "The checkpoint, as the host sent it (JSON: the X-Kakehashi-Checkpoint header)")
      ->required();
  CLI::App* compare = witness->add_subcommand(
      "compare", "Compare two partners' witness files: a row with two heads is a fork");
  compare->add_option("FILE", opt->file, "One partner's witness file")->required();
  compare->add_option("OTHER", opt->other, "The other's")->required();
  compare->add_option("--public-key", opt->public_key, "The host's Ed25519 public key (PEM)")
      ->required();
  CLI::App* listen = witness->add_subcommand(
      "listen",
      "Receive the host's notifications (HTTPS, mutual TLS), keep their signed checkpoints and "
      "print their events");
  listen->add_option("--file", opt->file, "The witness file the checkpoints are appended to")
      ->required();
  listen->add_option("--public-key", opt->public_key, "The host's Ed25519 public key (PEM)")
      ->required();
  listen->add_option("--certificate", opt->certificate, "This endpoint's certificate (PEM)")
      ->required();
  listen->add_option("--key", opt->key, "Its private key (PEM)")->required();
  listen->add_option("--client-ca", opt->client_ca, "The CA that signed the host's certificate")
      ->required();
  listen
      ->add_option("--host-sha256", opt->host_sha256,
                   "The SHA-256 of the host's client certificate (DER); others get 403")
      ->required();
  listen->add_option("--address", opt->address, "The IP address to listen on")
      ->capture_default_str();
  listen->add_option("--port", opt->port, "The port (0: one the system chooses, printed)")
      ->capture_default_str();
  listen->add_option("--events", opt->events,
                     "Also append each event ('<number> <Task reference>') to this file");
  return [opt, add, listen] {
    if (listen->parsed()) return run_listen(*opt);
    const std::string key = read_text(opt->public_key, "--public-key");
    if (add->parsed()) {
      const signed_checkpoint c = parse_signed_checkpoint(opt->checkpoint);
      if (!signature_valid(c, key)) {
        throw error(errc::invalid_argument,
                    fmt::format("--checkpoint: the checkpoint of row {} is not signed by the key "
                                "in {}; keep only what the host signed",
                                c.seq, printable(opt->public_key, 200)));
      }
      append_line(opt->file, to_json(c));
      std::cout << fmt::format("kept the checkpoint of row {} ({} at {})\n", c.seq,
                               c.head_hash.substr(0, 16), to_iso8601(c.at));
      return exit_ok;
    }
    const auto a = load_witness_file(opt->file);
    const auto b = load_witness_file(opt->other);
    for (const auto* kept : {&a, &b}) {
      for (const auto& c : *kept) {
        if (!signature_valid(c, key)) {
          throw error(errc::invalid_argument,
                      fmt::format("{}: the checkpoint of row {} is not signed by the host's key",
                                  kept == &a ? "FILE" : "OTHER", c.seq));
        }
      }
    }
    const witness_result r = compare_witnesses(a, b);
    if (r.consistent) {
      std::cout << fmt::format("witnesses agree ({} row(s) in both)\n", r.checked);
      return exit_ok;
    }
    std::cout << fmt::format("witnesses DISAGREE at row {}: {}\n", r.bad_seq.value_or(0),
                             r.problem);
    return exit_tampered;
  };
}

}  // namespace kakehashi::tool
