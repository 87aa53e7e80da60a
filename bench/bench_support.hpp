#pragma once
// What the benchmark files share: a fresh database path in /tmp, its removal (with -wal and
// -shm), and the shipped agreements.

#include <unistd.h>

#include <cstdio>
#include <kakehashi/agreement.hpp>
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

}  // namespace kakehashi::bench
