// libFuzzer target: a database image (the fuzzer's bytes, written to a file on tmpfs) given to
// verify_database() and to engine::open(), then to the engine's queries and a command. Whatever
// the bytes, the library reports damage or refuses the file with a kakehashi::error: it never
// crashes, never lets another exception escape, and never changes a file it refuses or only reads.
//
// The image goes through a file, not sqlite3_deserialize(), because integrators open engines and
// views by path: this way the fuzzer reaches the same open, schema check and migration code.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <kakehashi/engine.hpp>
#include <kakehashi/testing.hpp>
#include <string>

namespace {

using namespace kakehashi;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "database_fuzz invariant broken: %s\n", what);
  __builtin_trap();
}

std::string image_path() {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/kakehashi-database-fuzz." + std::to_string(getpid()) + ".db";
}

void remove_all(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = image_path();
  static const agreement_directory agreements =
      agreement_directory::load_file(KAKEHASHI_SOURCE_DIR "/data/agreements.json");
  const std::string image(reinterpret_cast<const char*>(data), size);
  remove_all(path);
  {
    std::ofstream out(path, std::ios::binary);
    out << image;
  }

  // Read-only: whatever it says, the file is as it was.
  try {
    const verify_result v = verify_database(path);
    if (!v.intact && v.problem.empty()) broken("damage reported without saying what");
  } catch (const error&) {
  }
  if (read_file(path) != image) broken("verify_database changed the file");

  // The engine: refuses the file (leaving it untouched) or works on it.
  bool opened = false;
  try {
    engine e = engine::open(path, agreements, consent_policy::standard());
    opened = true;
    for (const auto& s : e.list()) (void)e.history(s.id);
    (void)e.overdue(parse_instant("2026-06-01T00:00:00Z"));
    (void)e.verify();
    const hospital_id bm{"bach-mai"};
    e.propose({referral_id{"R-FUZZ"}, bm, hospital_id{"shonan-kamakura"},
               specialty_code{"cardiology"}, patient_ref{"P-FUZZ"},
               {bm, actor_role::coordinator, user_id{"u"}}, parse_instant("2026-03-01T00:00:00Z")},
              "fuzz-key");
    (void)e.verify();
  } catch (const error&) {
  }
  if (!opened && read_file(path) != image) broken("engine::open changed a file it refused");
  remove_all(path);
  return 0;
}
