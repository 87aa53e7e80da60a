// Writes tests/data/release-0.1.0.db: a database as kakehashi 0.1.0 (commit 8b35109, schema
// version 2, version-1 consent digests) wrote it, for the tests that newer releases still read,
// migrate and check such a file (engine_test.cpp, "a database written by release 0.1.0").
// Built against that release only, not by this project's CMake:
//   git worktree add /tmp/kakehashi-0.1 8b35109 && cmake -S /tmp/kakehashi-0.1 -B /tmp/k01 \
//     -DKAKEHASHI_BUILD_TESTS=OFF && cmake --build /tmp/k01 --target kakehashi
//   g++ -std=c++17 -I/tmp/kakehashi-0.1/include tests/data/make_release_0_1_database.cpp \
//     /tmp/k01/libkakehashi.a -lSQLiteCpp -lsqlite3 -lfmt -ldate-tz -lcrypto -o make-db
//   ./make-db data/agreements.json data/consents/bach-mai-2026-complete.json \
//     tests/data/release-0.1.0.db
#include <kakehashi/engine.hpp>
#include <string>

int main(int argc, char** argv) {
  using namespace kakehashi;
  if (argc != 4) return 2;
  const auto agreements = agreement_directory::load_file(argv[1]);
  const consent_record consent = load_consent_file(argv[2]);
  engine_options o;
  organisation_compliance paperwork;
  paperwork.transfer_agreement = true;
  paperwork.impact_assessment_filed_at = parse_instant("2025-12-01T02:00:00Z");
  o.compliance[hospital_id{"bach-mai"}] = paperwork;
  engine e = engine::open(argv[3], agreements, consent_policy::standard(), o);
  const actor bm{hospital_id{"bach-mai"}, actor_role::coordinator, user_id{}};
  const actor sk{hospital_id{"shonan-kamakura"}, actor_role::clinician, user_id{}};
  for (int i = 1; i <= 2; ++i) {
    const std::string id = "R-0.1-" + std::to_string(i);
    e.propose({referral_id{id}, hospital_id{"bach-mai"}, hospital_id{"shonan-kamakura"},
               specialty_code{"cardiology"}, consent.patient, bm,
               parse_instant("2026-03-02T02:00:00Z")},
              id + ":propose");
    e.record_consent(referral_id{id}, consent, bm, parse_instant("2026-03-02T03:00:00Z"),
                     id + ":consent");
    e.apply(referral_id{id}, event::accept{sk, parse_instant("2026-03-03T01:00:00Z")},
            id + ":accept");
  }
  return 0;
}
