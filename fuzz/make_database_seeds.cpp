// Writes the database_fuzz seed corpus: kakehashi databases made by the engine (empty; a few
// referrals through their lifecycle, with refusals and a keyed log), rewritten with 512-byte pages
// and no WAL so that each seed is a few kilobytes, plus an SQLite file that is not kakehashi's.
// Usage: make_database_seeds DIR (the seeds kept in fuzz/corpus/database were made this way).
#include <sqlite3.h>

#include <cstdio>
#include <kakehashi/engine.hpp>
#include <kakehashi/testing.hpp>
#include <stdexcept>
#include <string>

namespace {
using namespace kakehashi;

void exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    throw std::runtime_error(path + ": " + message);
  }
  sqlite3_close(db);
}

void compact(const std::string& path) {
  exec(path, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 512; VACUUM;");
}

void lifecycle(engine& e, const std::string& id, bool finish) {
  const hospital_id bm{"bach-mai"}, sk{"shonan-kamakura"};
  const actor coordinator{bm, actor_role::coordinator, user_id{"io-1"}};
  const actor clinician{sk, actor_role::clinician, user_id{"dr-1"}};
  const consent_record consent = testing::valid_consent().build();
  const auto at = [](const char* t) { return parse_instant(t); };
  e.propose({referral_id{id}, bm, sk, specialty_code{"cardiology"}, patient_ref{"P-TEST-1"},
             coordinator, at("2026-03-01T00:00:00Z")},
            id + "-1");
  e.record_consent(referral_id{id}, consent, coordinator, at("2026-03-02T00:00:00Z"), id + "-2");
  try {
    e.apply(referral_id{id}, event::complete{clinician, at("2026-03-02T01:00:00Z")}, id + "-r");
  } catch (const error&) {  // refused, and audited as such
  }
  if (!finish) return;
  e.apply(referral_id{id}, event::accept{clinician, at("2026-03-03T00:00:00Z")}, id + "-3");
  e.transfer(referral_id{id}, consent, clinician, at("2026-03-10T00:00:00Z"), id + "-4");
  e.apply(referral_id{id}, event::complete{clinician, at("2026-03-20T00:00:00Z")}, id + "-5");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_database_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const auto agreements = agreement_directory::load_file(KAKEHASHI_SOURCE_DIR
                                                         "/data/agreements.json");
  engine_options paperwork;
  organisation_compliance c;
  c.transfer_agreement = true;
  c.impact_assessment_filed_at = parse_instant("2025-12-01T00:00:00Z");
  paperwork.compliance[hospital_id{"bach-mai"}] = c;
  {
    (void)engine::open(dir + "/empty.db", agreements, consent_policy::standard());
  }
  compact(dir + "/empty.db");
  {
    engine e = engine::open(dir + "/referrals.db", agreements, consent_policy::standard(),
                            paperwork);
    lifecycle(e, "R-1", true);
    lifecycle(e, "R-2", false);
  }
  compact(dir + "/referrals.db");
  {
    engine_options keyed = paperwork;
    keyed.audit_key = "fuzz-seed-key";
    engine e = engine::open(dir + "/keyed.db", agreements, consent_policy::standard(), keyed);
    lifecycle(e, "R-9", true);
  }
  compact(dir + "/keyed.db");
  exec(dir + "/foreign.db", "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
  compact(dir + "/foreign.db");
  std::printf("seeds written to %s\n", dir.c_str());
  return 0;
}
