#include "kakehashi/witness.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/crypto.hpp"
#include "common/fail.hpp"
#include "common/json_reader.hpp"

namespace kakehashi {
namespace {

using nlohmann::json;
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

constexpr std::string_view tag = "kakehashi.checkpoint/1";

// What is signed: the tag and the four fields, length-prefixed (as audit rows are hashed).
std::string signed_bytes(const signed_checkpoint& c) {
  std::string out;
  detail::append_field(out, tag);
  detail::append_field(out, c.signer.value());
  detail::append_field(out, std::to_string(c.seq));
  detail::append_field(out, c.head_hash);
  detail::append_field(out, to_iso8601(c.at));
  return out;
}

pkey_ptr read_key(std::string_view pem, bool is_private, const char* what) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* key = bio ? (is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                    : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr))
                      : nullptr;
  pkey_ptr out(key, EVP_PKEY_free);
  if (!out || EVP_PKEY_get_base_id(out.get()) != EVP_PKEY_ED25519) {
    detail::fail(errc::invalid_argument, what,
                 fmt::format("is not an Ed25519 {} key in PEM", is_private ? "private" : "public"),
                 is_private ? "make one with 'openssl genpkey -algorithm ed25519'"
                            : "derive it with 'openssl pkey -in signing.key -pubout'");
  }
  return out;
}

std::string hex(const unsigned char* data, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = digit(text[i]);
    const int lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

std::string to_json(const signed_checkpoint& c) {
  return json{{"signer", c.signer.value()},
              {"seq", c.seq},
              {"head", c.head_hash},
              {"at", to_iso8601(c.at)},
              {"signature", c.signature}}
      .dump();
}

signed_checkpoint parse_signed_checkpoint(std::string_view json_text) {
  std::vector<load_problem> problems;
  const auto doc = detail::parse_strict(json_text, problems);
  signed_checkpoint c;
  if (doc) {
    detail::object_reader r(*doc, "", problems, {"signer", "seq", "head", "at", "signature"});
    if (auto v = r.id<hospital_tag>("signer")) c.signer = *v;
    if (auto v = r.integer("seq", 1, INT64_MAX)) c.seq = *v;
    if (auto v = r.string("head")) c.head_hash = *v;
    if (auto v = r.instant_value("at")) c.at = *v;
    if (auto v = r.string("signature")) c.signature = *v;
  }
  if (!problems.empty()) {
    throw error(errc::invalid_argument, detail::join_problems("signed checkpoint", problems));
  }
  return c;
}

signed_checkpoint sign_checkpoint(const hospital_id& signer, const log_head& head, instant at,
                                  std::string_view private_key_pem) {
  validate("signer", signer);
  const pkey_ptr key = read_key(private_key_pem, true, "signing key");
  signed_checkpoint c{signer, head.seq, head.hash, at, ""};
  const std::string message = signed_bytes(c);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char signature[64];
  std::size_t length = sizeof signature;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature, &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    detail::fail(errc::storage, "signing key", "OpenSSL could not sign the checkpoint",
                 "check the OpenSSL installation (libssl3)");
  }
  c.signature = hex(signature, length);
  return c;
}

bool signature_valid(const signed_checkpoint& c, std::string_view public_key_pem) {
  const pkey_ptr key = read_key(public_key_pem, false, "public key");
  const auto signature = unhex(c.signature);
  if (!signature || signature->size() != 64) return false;
  const std::string message = signed_bytes(c);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                          signature->size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

witness_result check_witnessed(const database_view& log, const std::vector<signed_checkpoint>& kept,
                               std::string_view public_key_pem) {
  witness_result r;
  const log_head head = log.head();
  for (const auto& c : kept) {
    ++r.checked;
    const auto bad = [&](std::string problem) {
      if (r.consistent || c.seq < *r.bad_seq) {
        r.consistent = false;
        r.bad_seq = c.seq;
        r.problem = std::move(problem);
      }
    };
    if (!signature_valid(c, public_key_pem)) {
      bad(fmt::format("the checkpoint of row {} at {} is not signed by the host's key", c.seq,
                      to_iso8601(c.at)));
      continue;
    }
    if (c.seq > head.seq) {
      bad(
          fmt::format("the host signed row {} at {}, but the log ends at row {}: it was "
                      "truncated",
                      c.seq, to_iso8601(c.at), head.seq));
      continue;
    }
    const auto hash = log.hash_at(c.seq);
    if (!hash || !detail::equal_constant_time(*hash, c.head_hash)) {
      bad(
          fmt::format("row {} has another hash than the host signed at {}: the log was "
                      "rewritten after it was shown",
                      c.seq, to_iso8601(c.at)));
    }
  }
  return r;
}

witness_result compare_witnesses(const std::vector<signed_checkpoint>& a,
                                 const std::vector<signed_checkpoint>& b) {
  witness_result r;
  std::map<std::int64_t, const signed_checkpoint*> first;
  for (const auto& c : a) first.emplace(c.seq, &c);
  for (const auto& c : b) {
    const auto it = first.find(c.seq);
    if (it == first.end()) continue;
    ++r.checked;
    if (it->second->head_hash != c.head_hash && (r.consistent || c.seq < *r.bad_seq)) {
      r.consistent = false;
      r.bad_seq = c.seq;
      r.problem = fmt::format(
          "row {} has two heads: {} (signed at {}) and {} (signed at {}): "
          "the host showed two histories",
          c.seq, it->second->head_hash.substr(0, 16), to_iso8601(it->second->at),
          c.head_hash.substr(0, 16), to_iso8601(c.at));
    }
  }
  return r;
}

std::vector<signed_checkpoint> load_witness_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    detail::fail(errc::not_found, printable(path, 200), "cannot read the witness file",
                 "pass the file the partner's checkpoints were appended to");
  }
  std::vector<signed_checkpoint> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      out.push_back(parse_signed_checkpoint(line));
    } catch (const error& e) {
      detail::fail(
          errc::invalid_argument, fmt::format("{}:{}", printable(path, 200), n),
          std::string(e.what()).substr(std::string("[kakehashi.invalid_argument] ").size()), "");
    }
  }
  return out;
}

}  // namespace kakehashi
