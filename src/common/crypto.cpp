#include "common/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "common/fail.hpp"

namespace kakehashi::detail {
namespace {

[[noreturn]] void crypto_failed(std::string_view what) {
  fail(errc::storage, "audit log", fmt::format("OpenSSL {} failed", what),
       "check the OpenSSL installation (libssl3)");
}

EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) crypto_failed("EVP_MD_fetch(SHA256)");
  return md;
}

EVP_MAC* hmac_alg() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) crypto_failed("EVP_MAC_fetch(HMAC)");
  return mac;
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0x0f];
  }
  return out;
}

}  // namespace

void append_field(std::string& out, std::string_view field) {
  const auto n = static_cast<unsigned long long>(field.size());
  char length[8];
  for (int k = 0; k < 8; ++k) length[k] = static_cast<char>((n >> (56 - 8 * k)) & 0xffu);
  out.append(length, sizeof length);
  out.append(field);
}

std::string sha256_hex(std::string_view data) {
  // One context per thread, reused: no allocation per row.
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                          EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) {
    crypto_failed("SHA-256");
  }
  return to_hex(digest.data(), len);
}

std::string sha256_hex(std::istream& in, std::uint64_t& size) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1) crypto_failed("SHA-256");
  std::vector<char> block(1 << 16);
  size = 0;
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), block.data(), n) != 1) crypto_failed("SHA-256");
    size += n;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) crypto_failed("SHA-256");
  return to_hex(digest.data(), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(hmac_alg()),
                                                                EVP_MAC_CTX_free);
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0), OSSL_PARAM_END};
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t len = 0;
  if (!ctx ||
      EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), mac.data(), &len, mac.size()) != 1) {
    crypto_failed("HMAC-SHA256");
  }
  return to_hex(mac.data(), len);
}

bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kakehashi::detail
