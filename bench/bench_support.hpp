#pragma once
// What the benchmark files share: a fresh database path in /tmp, its removal (with -wal and
// -shm), the shipped agreements, and the audit row's encoding and hash for hand-written
// baselines.

#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <kakehashi/agreement.hpp>
#include <kakehashi/engine.hpp>
#include <string>

namespace kakehashi::bench {

inline void remove_db(const std::string& p) {
  for (const char* s : {"", "-wal", "-shm"}) std::remove((p + s).c_str());
}

/// /tmp/kakehashi-bench-<pid>-<tag>.db, removed first if a previous run left it.
inline std::string db_path(const char* tag) {
  const std::string p = "/tmp/kakehashi-bench-" + std::to_string(getpid()) + "-" + tag + ".db";
  remove_db(p);
  return p;
}

inline agreement_directory shipped_agreements() {
  return agreement_directory::load_file(std::string(KAKEHASHI_SOURCE_DIR) +
                                        "/data/agreements.json");
}

/// The cancel workload's setup: referrals R-0 .. R-(n-1) from Bach Mai to Shonan Kamakura
/// (cardiology, patient P-i), proposed one an hour from 2026-03-01T00:00:00Z (months hold ~720
/// each, as a busy referral office's might), in one batch, by an engine closed before the timed
/// part: closing the last connection checkpoints the WAL, so no timed loop starts with the
/// setup's WAL still to checkpoint.
inline void propose_referrals(const std::string& path, int n, const engine_options& o = {}) {
  const hospital_id bm{"bach-mai"};
  const actor coordinator{bm, actor_role::coordinator, user_id{"io-bm-1"}};
  const instant t0{std::chrono::seconds{1772323200}};
  engine setup = engine::open(path, shipped_agreements(), consent_policy::standard(), o);
  setup.batch([&] {
    for (int i = 0; i < n; ++i) {
      (void)setup.propose(
          {referral_id{"R-" + std::to_string(i)}, bm, hospital_id{"shonan-kamakura"},
           specialty_code{"cardiology"}, patient_ref{"P-" + std::to_string(i)}, coordinator,
           t0 + std::chrono::hours{i}},
          "p-" + std::to_string(i));
    }
  });
}

/// The audit row of a hand-written `cancel` of referral `id` (key `key`, chained to `prev`), as
/// the SQLite baselines hash and insert it: referral, time, actor (organisation, role, user),
/// command, state before and after, outcome, reason, details, key, previous hash.
inline std::array<std::string, 13> cancel_row(const std::string& id, const std::string& key,
                                              const std::string& prev) {
  return {id,
          "2026-03-01T00:00:00Z",
          "bach-mai",
          "coordinator",
          "io-bm-1",
          "cancel",
          "proposed",
          "closed:cancelled",
          "0",
          "cancelled",
          "{\"reason\":\"patient_request\"}",
          key,
          prev};
}

/// The audit row's hashed encoding as docs/audit.md gives it, for hand-written baselines: each
/// field as its length (8 bytes, big-endian) and its bytes.
template <class Fields>
std::string length_prefixed(const Fields& fields) {
  std::string enc;
  for (const std::string& f : fields) {
    const auto len = static_cast<unsigned long long>(f.size());
    for (int sh = 56; sh >= 0; sh -= 8) enc.push_back(static_cast<char>((len >> sh) & 0xff));
    enc += f;
  }
  return enc;
}

/// Lower-case hex SHA-256 with a reused context, as a careful hand-written baseline would do it.
inline std::string sha256_hex(EVP_MD_CTX* ctx, const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, md, nullptr);
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, out, &len);
  static const char* hex = "0123456789abcdef";
  std::string h;
  for (unsigned int k = 0; k < len; ++k) {
    h += hex[out[k] >> 4];
    h += hex[out[k] & 15];
  }
  return h;
}

}  // namespace kakehashi::bench
