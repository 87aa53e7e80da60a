// kakehashi witness add --file FILE --public-key PEM --checkpoint JSON
// kakehashi witness compare FILE FILE --public-key PEM
// The partner's side of the signed checkpoints (kakehashi/witness.hpp): keep each checkpoint the
// host hands over (the X-Kakehashi-Checkpoint header, the notifications' checkpoint parameter),
// and compare what two partners kept. `kakehashi audit verify --witness` checks a log against it.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <kakehashi/error.hpp>
#include <kakehashi/witness.hpp>
#include <memory>
#include <string>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

struct witness_options {
  std::string file;
  std::string other;
  std::string public_key;
  std::string checkpoint;
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
  return [opt, add] {
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
