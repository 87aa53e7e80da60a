#pragma once
// Engine fixtures: a temporary database file, the seed agreements (with a 14-day response
// deadline on the Bach Mai MoU, for the expiry sweep), the standard consent policy, and both
// hospitals' paperwork on file.

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <kakehashi/engine.hpp>
#include <kakehashi/testing.hpp>
#include <sstream>
#include <string>

namespace kakehashi::test {

/// A database path in the test's temporary directory, removed (with -wal and -shm) on scope exit.
class temp_db {
 public:
  temp_db() {
    static std::atomic<int> counter{0};
    path_ = std::string(KAKEHASHI_TEST_TMP) + "/engine." + std::to_string(getpid()) + "." +
            std::to_string(counter++) + ".db";
    remove_all();
  }
  ~temp_db() { remove_all(); }
  temp_db(const temp_db&) = delete;
  temp_db& operator=(const temp_db&) = delete;
  const std::string& path() const { return path_; }
  void remove_all() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::remove((path_ + suffix).c_str());
  }

 private:
  std::string path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline agreement_directory seed_agreements() {
  auto dir =
      agreement_directory::load_file(std::string(KAKEHASHI_SOURCE_DIR) + "/data/agreements.json");
  auto agreements = dir.agreements();
  for (auto& a : agreements) a.response_deadline_days = 14;
  return agreement_directory::from_values(dir.hospitals(), agreements);
}

inline engine_options paperwork_on_file() {
  engine_options o;
  organisation_compliance c;
  c.transfer_agreement = true;
  c.impact_assessment_filed_at = parse_instant("2025-12-01T00:00:00Z");
  o.compliance[hospital_id{"bach-mai"}] = c;
  o.compliance[hospital_id{"k-hospital"}] = c;
  return o;
}

inline engine open_engine(const std::string& path, engine_options o = paperwork_on_file()) {
  return engine::open(path, seed_agreements(), consent_policy::standard(), std::move(o));
}

inline const hospital_id bm{"bach-mai"};
inline const hospital_id sk{"shonan-kamakura"};
inline actor bm_coordinator() { return {bm, actor_role::coordinator, user_id{"io-bm-1"}}; }
inline actor sk_clinician() { return {sk, actor_role::clinician, user_id{"dr-sk-1"}}; }
inline actor sk_coordinator() { return {sk, actor_role::coordinator, user_id{"io-sk-1"}}; }

/// A Bach Mai -> Shonan Kamakura cardiology proposal for patient P-TEST-1 at `at`.
inline proposal bm_proposal(const std::string& id, const std::string& at = "2026-03-01T00:00:00Z",
                            const std::string& patient = "P-TEST-1") {
  return {referral_id{id},
          bm,
          sk,
          specialty_code{"cardiology"},
          patient_ref{patient},
          bm_coordinator(),
          parse_instant(at)};
}

/// The toolkit's complete consent for patient P-TEST-1, captured before the test's instants.
inline consent_record good_consent() { return testing::valid_consent().build(); }

}  // namespace kakehashi::test
