#pragma once
// Engine fixtures: a temporary database (a file, or a schema on the test PostgreSQL server), the
// seed agreements (with a 14-day response deadline on the Bach Mai MoU, for the expiry sweep), the
// standard consent policy, and both hospitals' paperwork on file.

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <kakehashi/engine.hpp>
#include <kakehashi/testing.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace kakehashi::test {

/// The PostgreSQL server the backend tests use: the base connection URI in
/// KAKEHASHI_TEST_POSTGRES ("postgresql://" takes the server from PGHOST, PGPORT, PGUSER and
/// PGPASSWORD, as pg_virtualenv sets them), or empty when the tests run on SQLite.
inline std::string test_postgres() {
  const char* uri = std::getenv("KAKEHASHI_TEST_POSTGRES");
  return uri ? uri : "";
}

/// Runs SQL on the test server (creating and dropping the tests' schemas); throws on failure.
inline void postgres_exec(const std::string& sql) {
  PGconn* c = PQconnectdb(test_postgres().c_str());
  PGresult* r = PQexec(c, ("SET client_min_messages = warning; " + sql).c_str());
  const bool ok = PQstatus(c) == CONNECTION_OK && PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string message = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("test server: " + sql + ": " + message);
}

/// A database for one test, removed on scope exit: a file in the test's temporary directory
/// (with its -wal and -shm), or, when the tests run on PostgreSQL (test_postgres()), a schema of
/// its own on the test server, named by the connection URI path() returns.
class temp_db {
 public:
  temp_db() {
    static std::atomic<int> counter{0};
    const std::string name = std::to_string(getpid()) + "_" + std::to_string(counter++);
    if (!test_postgres().empty()) {
      schema_ = "kakehashi_test_" + name;
      postgres_exec("CREATE SCHEMA " + schema_);
      const std::string base = test_postgres();
      path_ = base + (base.find('?') == std::string::npos ? "?" : "&") +
              "options=-csearch_path%3D" + schema_;
      return;
    }
    path_ = std::string(KAKEHASHI_TEST_TMP) + "/engine." + name + ".db";
    remove_all();
  }
  ~temp_db() {
    if (!schema_.empty()) {
      try {
        postgres_exec("DROP SCHEMA " + schema_ + " CASCADE");
      } catch (const std::exception&) {  // the server is stopped after the tests anyway
      }
      return;
    }
    remove_all();
  }
  temp_db(const temp_db&) = delete;
  temp_db& operator=(const temp_db&) = delete;
  const std::string& path() const { return path_; }
  /// The schema on the test server ("" for a file).
  const std::string& schema() const { return schema_; }
  void remove_all() const {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::remove((path_ + suffix).c_str());
  }

 private:
  std::string path_;
  std::string schema_;  ///< on PostgreSQL
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

/// The seed agreements with the Bach Mai - Shonan Kamakura MoU's terms changed by `edit` (a
/// test's required documents, milestones, results...).
template <class Edit>
agreement_directory with_bach_mai_terms(Edit edit) {
  const agreement_directory seed = seed_agreements();
  auto agreements = seed.agreements();
  for (auto& a : agreements) {
    if (a.id == agreement_id{"mou-bach-mai-shonan-kamakura-2025"}) edit(a);
  }
  return agreement_directory::from_values(seed.hospitals(), agreements);
}

/// The schema version this library writes (store::schema_version, in a private header).
inline constexpr int current_schema = 7;

/// SQL that takes a database this library wrote back to schema version 6 (the duties' index
/// before emergency reviews), on SQLite or on PostgreSQL.
inline std::string back_to_version_6(bool server) {
  return std::string(
             "DROP INDEX audit_duties; CREATE INDEX audit_duties ON audit(seq) WHERE "
             "command IN ('withdraw_consent', 'request_summary', 'record_duty') AND "
             "outcome = 0; ") +
         (server ? "UPDATE kakehashi_meta SET schema_version = 6" : "PRAGMA user_version = 6");
}

/// SQL that takes a database this library wrote back to schema version 5 as released (before
/// the duties' index), on SQLite or on PostgreSQL.
inline std::string back_to_version_5(bool server) {
  return server ? "DROP INDEX audit_duties; UPDATE kakehashi_meta SET schema_version = 5"
                : "DROP INDEX audit_duties; PRAGMA user_version = 5";
}

/// SQL that takes a database this library wrote back to schema version 4 as released (before
/// onward referral's column and index), on SQLite or on PostgreSQL.
inline std::string back_to_version_4(bool server) {
  return back_to_version_5(server) + "; " +
         (server ? "DROP INDEX referral_replaces; ALTER TABLE referral DROP COLUMN replaces; "
                   "UPDATE kakehashi_meta SET schema_version = 4"
                 : "DROP INDEX referral_replaces; ALTER TABLE referral DROP COLUMN replaces; "
                   "PRAGMA user_version = 4");
}

/// The seed agreements plus a second Japanese partner of Bach Mai for cardiology ("jp-second",
/// Asia/Tokyo, an agreement from 2025-11-15 like Shonan Kamakura's), so that a declined or
/// expired referral can be sent on.
inline agreement_directory with_second_partner() {
  const agreement_directory seed = seed_agreements();
  auto hospitals = seed.hospitals();
  hospital second = seed.hospital_at("hospital", hospital_id{"shonan-kamakura"});
  second.id = hospital_id{"jp-second"};
  second.name_en = "Second Partner Hospital";
  second.name_ja.clear();
  hospitals.push_back(second);
  auto agreements = seed.agreements();
  agreement a = *std::find_if(agreements.begin(), agreements.end(), [](const agreement& x) {
    return x.id == agreement_id{"mou-bach-mai-shonan-kamakura-2025"};
  });
  a.id = agreement_id{"mou-bach-mai-jp-second"};
  a.title = "Bach Mai - Second Partner (test)";
  a.parties = {hospital_id{"bach-mai"}, second.id};
  a.directions = {{hospital_id{"bach-mai"}, second.id}};
  agreements.push_back(a);
  return agreement_directory::from_values(hospitals, agreements);
}

inline engine_options paperwork_on_file() {
  engine_options o;
  organisation_compliance c;
  c.transfer_agreement = true;
  c.withdrawal_clause = true;
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

/// The patient of test referral `id`: P-TEST-1 (the toolkit consent's patient) for R-1, P-<id>
/// for the others, so that referrals proposed side by side are not duplicates of each other (a
/// second open referral for the same patient, specialty and destination is refused).
inline std::string test_patient(const std::string& id) {
  return id == "R-1" ? "P-TEST-1" : "P-" + id;
}

/// A Bach Mai -> Shonan Kamakura cardiology proposal for test_patient(id), or `patient`, at `at`.
inline proposal bm_proposal(const std::string& id, const std::string& at = "2026-03-01T00:00:00Z",
                            const std::string& patient = "") {
  return {referral_id{id},
          bm,
          sk,
          specialty_code{"cardiology"},
          patient_ref{patient.empty() ? test_patient(id) : patient},
          bm_coordinator(),
          parse_instant(at)};
}

/// The toolkit's complete consent for the patient of test referral `referral` (C-TEST-1 for
/// P-TEST-1, C-<id> for the others), captured before the test's instants.
inline consent_record good_consent(const std::string& referral = "R-1") {
  auto b = testing::valid_consent();
  if (referral != "R-1") b.id("C-" + referral).patient(test_patient(referral));
  return b.build();
}

}  // namespace kakehashi::test
