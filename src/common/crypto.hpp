#pragma once
// Private: SHA-256 and HMAC-SHA256 for the audit chain, consent digests and checkpoints (OpenSSL
// 3 EVP; the digest and MAC algorithms are fetched once, which is 2.2x faster per row than
// implicit fetching), and the length-prefixed encoding rows are hashed over.

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::detail {

/// Appends `field` to `out` as an 8-byte big-endian length and the bytes: no two different field
/// lists encode the same (unlike plain concatenation).
void append_field(std::string& out, std::string_view field);

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
/// Lower-case hex SHA-256 of everything `in` holds, read in blocks; `size` gets the byte count.
std::string sha256_hex(std::istream& in, std::uint64_t& size);
/// Lower-case hex HMAC-SHA256 of `data` with `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
/// Constant-time comparison of two strings of equal length.
bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

}  // namespace kakehashi::detail
