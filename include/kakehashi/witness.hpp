#pragma once
// Checkpoints the partner keeps: a log two hospitals can verify. The hospital that hosts the log
// signs checkpoints of it (sequence number, head hash, instant) with its Ed25519 key and hands
// them to the partner with every change it reports; the partner keeps them (a witness file).
// Later the partner, or an auditor with the host's public key, checks the host's log against
// them: every kept head must still be in the log at its row. A host that truncates its log and
// recomputes the chain, or shows two partners two different histories, cannot produce a log that
// agrees with what it signed. An HMAC checkpoint (engine.hpp) protects a log against outsiders;
// a signed one also against the host itself, since only the host can sign and anyone can check.
//
// Thread safety: the functions are pure; values are immutable once made.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/engine.hpp"
#include "kakehashi/error.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/time.hpp"

namespace kakehashi {

/// A checkpoint of an audit log, signed by the hospital that hosts it.
struct signed_checkpoint {
  hospital_id signer;     ///< the host
  std::int64_t seq = 0;   ///< the log's last row when it was taken
  std::string head_hash;  ///< that row's hash (hex SHA-256)
  instant at;             ///< when it was taken
  std::string signature;  ///< hex Ed25519 signature over the four fields above
};

/// One line of JSON: {"signer", "seq", "head", "at", "signature"}; and back (throws
/// invalid_argument naming the field, never quoting the text).
std::string to_json(const signed_checkpoint& c);
signed_checkpoint parse_signed_checkpoint(std::string_view json_text);

/// Signs a log head. Throws kakehashi::error{errc::invalid_argument} if `private_key_pem` is not
/// an Ed25519 private key in PEM (e.g. `openssl genpkey -algorithm ed25519`).
signed_checkpoint sign_checkpoint(const hospital_id& signer, const log_head& head, instant at,
                                  std::string_view private_key_pem);
/// True when the signature verifies with `public_key_pem` (an Ed25519 public key in PEM, e.g.
/// `openssl pkey -pubout`). Throws invalid_argument if the key is not one.
bool signature_valid(const signed_checkpoint& c, std::string_view public_key_pem);

/// What a witness check found.
struct [[nodiscard]] witness_result {
  bool consistent = true;
  std::size_t checked = 0;             ///< checkpoints compared
  std::optional<std::int64_t> bad_seq; ///< the row of the first checkpoint that disagrees
  std::string problem;                 ///< what disagrees, or ""
};

/// Checks a log against checkpoints a partner kept: each signature with the host's public key,
/// and that the log still holds, at each checkpoint's row, the head the host signed. (Run
/// database_view::verify() too: it checks the chain and the referrals themselves.)
witness_result check_witnessed(const database_view& log,
                               const std::vector<signed_checkpoint>& kept,
                               std::string_view public_key_pem);
/// Two partners' kept checkpoints (of the same host, both already signature-checked) against
/// each other: a row that has two heads is a fork, a log shown differently to each.
witness_result compare_witnesses(const std::vector<signed_checkpoint>& a,
                                 const std::vector<signed_checkpoint>& b);

/// A witness file: one signed checkpoint per line (JSON Lines), appended to as they arrive.
/// Throws invalid_argument naming the line of a malformed one, not_found if it cannot be read.
std::vector<signed_checkpoint> load_witness_file(const std::string& path);

}  // namespace kakehashi
