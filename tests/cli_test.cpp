// The kakehashi command-line tool, run as a user would run it, on the shipped data file.
#include <SQLiteCpp/Database.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/fhir.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/engine_fixture.hpp"
#include "support/process.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

using kakehashi::test::run_result;

run_result run(const std::string& args) {
  return kakehashi::test::run_program(KAKEHASHI_CLI, args);
}

const std::string data = std::string(KAKEHASHI_SOURCE_DIR) + "/data/agreements.json";

}  // namespace

TEST_CASE("kakehashi eligible --json names Shonan Kamakura for Bach Mai cardiology", "[cli]") {
  const auto r = run("eligible --agreements " + data +
                     " --from bach-mai --specialty cardiology --at 2026-03-01T00:00:00Z --json");
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["from"] == "bach-mai");
  CHECK(j["specialty"] == "cardiology");
  CHECK(j["at"] == "2026-03-01T00:00:00Z");
  REQUIRE(j["eligible"].size() == 1);
  CHECK(j["eligible"][0]["hospital"] == "shonan-kamakura");
  CHECK(j["eligible"][0]["agreement"] == "mou-bach-mai-shonan-kamakura-2025");
  CHECK(j["eligible"][0]["remaining_capacity"].is_null());
  CHECK(j["eligible"][0]["response_deadline_days"].is_null());
  REQUIRE(j["ineligible"].size() == 3);
  CHECK(j["ineligible"][0]["hospital"] == "cho-ray");
  CHECK(j["ineligible"][0]["agreement"].is_null());
  CHECK(j["ineligible"][0]["reasons"][0]["code"] == "no_agreement");
  CHECK(j["ineligible"][2]["hospital"] == "k-hospital");
  CHECK(j["ineligible"][2]["reasons"].size() == 2);
  CHECK(j["ineligible"][2]["reasons"][1]["code"] == "specialty_not_offered");
}

TEST_CASE("kakehashi eligible --json explains why K Hospital may not refer cardiology", "[cli]") {
  const auto r = run("eligible --agreements " + data +
                     " --from k-hospital --specialty cardiology --at 2026-03-01T00:00:00Z --json");
  REQUIRE(r.exit_code == 0);  // evaluated, even though no one is eligible
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["eligible"].empty());
  const auto& sk = j["ineligible"][3];
  CHECK(sk["hospital"] == "shonan-kamakura");
  CHECK(sk["agreement"] == "mou-k-hospital-shonan-kamakura-2025");
  REQUIRE(sk["reasons"].size() == 1);
  CHECK(sk["reasons"][0]["code"] == "specialty_not_covered");
  CHECK(sk["reasons"][0]["agreement"] == "mou-k-hospital-shonan-kamakura-2025");
  CHECK_THAT(sk["reasons"][0]["message"].get<std::string>(),
             Contains("covers referral for oncology, not 'cardiology'"));
}

TEST_CASE("kakehashi eligible --partners leaves out the hospitals without an agreement", "[cli]") {
  const auto r = run("eligible --agreements " + data +
                     " --from k-hospital --specialty cardiology --at 2026-03-01T00:00:00Z "
                     "--json --partners");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["eligible"].empty());
  REQUIRE(j["ineligible"].size() == 1);  // of 4 without --partners: 3 had no agreement
  CHECK(j["ineligible"][0]["hospital"] == "shonan-kamakura");
  CHECK(j["ineligible"][0]["reasons"][0]["code"] == "specialty_not_covered");
}

TEST_CASE("kakehashi eligible prints a readable table by default", "[cli]") {
  const auto r = run("eligible --agreements " + data +
                     " --from bach-mai --specialty oncology --at 2026-03-01T00:00:00Z");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("Referral from Bach Mai Hospital for Oncology at Mar 1, 2026, "
                             "07:00 Indochina Time (Mar 1, 2026, 00:00 UTC)"));
  CHECK_THAT(r.out, Contains("  1. Shonan Kamakura General Hospital (Tokushukai Medical "
                             "Corporation) [shonan-kamakura]\n     under "
                             "mou-bach-mai-shonan-kamakura-2025; response deadline: not set"));
  CHECK_THAT(r.out, Contains("  Cho Ray Hospital [cho-ray]\n     No agreement (no_agreement): "
                             "no agreement between 'bach-mai' and 'cho-ray'"));
  // In Japanese: names, the specialty, the reasons and the time; the reason's own message stays
  // English and says so.
  const auto ja = run("eligible --agreements " + data +
                      " --from bach-mai --specialty oncology --at 2026-03-01T00:00:00Z --lang ja");
  REQUIRE(ja.exit_code == 0);
  CHECK_THAT(ja.out,
             Contains("バックマイ病院 からの紹介（腫瘍科（がん診療））、2026年3月1日 7:00 "
                      "インドシナ時間（2026年3月1日 0:00 UTC）") &&
                 Contains("紹介可能（1）") && Contains("1. 湘南鎌倉総合病院［shonan-kamakura］") &&
                 Contains("回答期限: 定めなし") &&
                 Contains("  チョーライ病院［cho-ray］\n     両病院間の協定なし（no_agreement）、"
                          "詳細（英語）: no agreement between"));
}

TEST_CASE("an error keeps its English line for logs and says its kind in the reader's language",
          "[cli][error]") {
  const std::string base = "eligible --agreements " + data + " --specialty oncology ";
  const auto ja = run(base + "--from nowhere --at 2026-03-01T00:00:00Z --lang ja");
  CHECK(ja.exit_code == 2);
  CHECK_THAT(ja.err, StartsWith("[kakehashi.invalid_argument] --from") &&
                         Contains("\n  拒否: 入力が不正\n"));
  const auto en = run(base + "--from nowhere --at 2026-03-01T00:00:00Z --lang en");
  CHECK(en.err.find("refused:") == std::string::npos);  // English readers have the line itself
  // A bad --lang is the error: reported in English, once.
  const auto fr = run(base + "--from bach-mai --at 2026-03-01T00:00:00Z --lang fr");
  CHECK(fr.exit_code == 2);
  CHECK_THAT(fr.err, Contains("--lang"));
  CHECK(std::count(fr.err.begin(), fr.err.end(), '\n') == 1);
}

TEST_CASE("kakehashi eligible exits 2 on bad input with the error on stderr", "[cli][error]") {
  const std::string base = "eligible --agreements " + data + " --specialty oncology ";
  SECTION("an unknown hospital") {
    const auto r = run(base + "--from nowhere --at 2026-03-01T00:00:00Z");
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Contains("[kakehashi.invalid_argument] --from: 'nowhere' is not a hospital "
                               "of the agreements file; expected one of: k-hospital, bach-mai"));
  }
  SECTION("an impossible instant") {
    const auto r = run(base + "--from bach-mai --at 2026-02-30T00:00:00Z");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("[kakehashi.invalid_argument] --at: '2026-02-30T00:00:00Z'"));
  }
  SECTION("a missing file") {
    const auto r =
        run("eligible --agreements /nonexistent.json --from bach-mai --specialty x "
            "--at 2026-03-01T00:00:00Z");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("[kakehashi.not_found] /nonexistent.json"));
  }
  SECTION("a missing option") {
    const auto r = run(base + "--from bach-mai");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("--at is required"));
  }
  SECTION("a malformed capacity count") {
    const auto r =
        run(base + "--from bach-mai --at 2026-03-01T00:00:00Z --count shonan-kamakura=x");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("--count: 'shonan-kamakura=x' is not HOSPITAL=N"));
  }
}

TEST_CASE("kakehashi eligible refuses a hospital or specialty that does not exist",
          "[cli][error]") {
  const std::string base =
      "eligible --agreements " + data + " --from bach-mai --at 2026-03-01T00:00:00Z ";
  // A misspelt --count used to be ignored, switching the capacity check off.
  const auto typo = run(base + "--specialty oncology --count shonan-kamakure=12");
  CHECK(typo.exit_code == 2);
  CHECK(typo.out.empty());
  CHECK_THAT(typo.err, Contains("[kakehashi.invalid_argument] --count: 'shonan-kamakure' is not "
                                "a hospital of the agreements file") &&
                           Contains("(did you mean 'shonan-kamakura'?)"));
  const auto twice =
      run(base + "--specialty oncology --count shonan-kamakura=1 --count shonan-kamakura=2");
  CHECK(twice.exit_code == 2);
  CHECK_THAT(twice.err, Contains("counted twice"));
  const auto upper = run(base + "--specialty Cardiology");
  CHECK(upper.exit_code == 2);
  CHECK_THAT(upper.err, Contains("--specialty: 'Cardiology' is not a specialty code; codes are "
                                 "lower case: 'cardiology'"));
  const auto unknown = run(base + "--specialty cardiolgy");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Contains("(did you mean 'cardiology'?)"));
  CHECK(run(base + "--specialty oncology --count shonan-kamakura=3").exit_code == 0);
}

TEST_CASE("kakehashi --help and --version exit 0", "[cli]") {
  CHECK(run("--help").exit_code == 0);
  const auto v = run("--version");
  CHECK(v.exit_code == 0);
  CHECK(v.out == "kakehashi 0.1.0\n");
}

TEST_CASE("a mistyped or missing command names the commands and the nearest one",
          "[cli][error]") {
  const auto top = run("eligble --from bach-mai");
  CHECK(top.exit_code == 2);
  CHECK(top.out.empty());
  CHECK_THAT(top.err, Contains("[kakehashi.invalid_argument] kakehashi: 'eligble' is not a "
                               "command; expected one of: eligible, consent, audit, referral"));
  CHECK_THAT(top.err, Contains("(did you mean 'eligible'?)"));
  const auto sub = run("referral lst --db x.db");
  CHECK(sub.exit_code == 2);
  CHECK_THAT(sub.err, Contains("kakehashi referral: 'lst' is not a command") &&
                          Contains("(did you mean 'list'?)"));
  const auto far = run("audit frobnicate");
  CHECK_THAT(far.err, Contains("'frobnicate' is not a command") && !Contains("did you mean"));
  const auto option = run("referral --frob");
  CHECK(option.exit_code == 2);
  CHECK_THAT(option.err, Contains("kakehashi referral: '--frob' is not a known option here; "
                                  "expected one of: show, list"));
  const auto none = run("audit");
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Contains("[kakehashi.invalid_argument] kakehashi audit: a command is "
                                "required; expected one of: verify, checkpoint"));
}

TEST_CASE("every error the tool prints starts with [kakehashi.<code>]", "[cli][error]") {
  const std::vector<std::string> bad = {
      "eligible --agreements " + data + " --from bach-mai",  // a missing option
      "eligible --agreements " + data + " --from nowhere --specialty oncology --at 2026-03-01T00:00:00Z",
      "referral list --db /nonexistent.db",
      "consent check --consent /nonexistent --from a --to b --at 2026-03-01T00:00:00Z",
      "fhir import-consent /nonexistent --patient /nonexistent",
      "eligible --agreements " + data + " --frm bach-mai",  // an unknown option
  };
  for (const auto& args : bad) {
    CAPTURE(args);
    const auto r = run(args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("[kakehashi.", 0) == 0);
  }
  // Control characters typed on the command line come back made printable.
  const auto r = run("eligible --agreements " + data +
                     " --from bach-mai --specialty oncology --at 2026-03-01T00:00:00Z "
                     "'\x1b[2Jextra'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("\\x1b[2Jextra"));
  CHECK(r.err.find('\x1b') == std::string::npos);
}

namespace {
const std::string consent_file =
    std::string(KAKEHASHI_SOURCE_DIR) + "/data/consents/bach-mai-2026-complete.json";
const std::string consent_base = "consent check --consent " + consent_file +
                                 " --from bach-mai --to shonan-kamakura --agreements " + data;
}  // namespace

TEST_CASE("kakehashi consent check --json allows the complete example with the org on file",
          "[cli][consent]") {
  const auto r = run(consent_base +
                     " --at 2026-03-01T00:00:00Z --transfer-agreement --withdrawal-clause "
                     "--tia-filed 2026-01-05T00:00:00Z --tia-recipients "
                     "shonan-kamakura,k-hospital --json");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["decision"] == "allow");
  CHECK(j["basis"] == "consent");
  CHECK(j["regime"] == "law_91");
  CHECK(j["findings"].empty());
  // An agreement without the withdrawal clause, and a dossier that does not list the
  // recipient: allowed, with a warning from each (VN-20, VN-13).
  const auto w = run(consent_base +
                     " --at 2026-03-01T00:00:00Z --transfer-agreement --tia-filed "
                     "2026-01-05T00:00:00Z --tia-recipients k-hospital --json");
  REQUIRE(w.exit_code == 0);
  const auto k = nlohmann::json::parse(w.out);
  CHECK(k["decision"] == "allow");
  std::set<std::string> codes;
  for (const auto& f : k["findings"]) codes.insert(f["code"].get<std::string>());
  CHECK(codes ==
        std::set<std::string>{"VN_RECIPIENT_NO_WITHDRAWAL_CLAUSE", "VN_TIA_UPDATE_NEEDED"});
  // The patient carrying the record (VN-14): no agreement or assessment needed, the route said.
  const auto p = run(consent_base + " --at 2026-03-01T00:00:00Z --patient-mediated --json");
  REQUIRE(p.exit_code == 0);
  const auto m = nlohmann::json::parse(p.out);
  CHECK(m["decision"] == "allow");
  REQUIRE(m["findings"].size() == 1);
  CHECK(m["findings"][0]["code"] == "VN_PATIENT_MEDIATED_ROUTE");
}

TEST_CASE("kakehashi consent check reports every finding, and exits 0 when it blocks",
          "[cli][consent]") {
  const auto r = run(consent_base + " --at 2026-03-01T00:00:00Z --json");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["decision"] == "block");
  CHECK(j["basis"] == "none");
  REQUIRE(j["findings"].size() == 2);
  CHECK(j["findings"][0]["rule"] == "VN-10");
  CHECK(j["findings"][0]["effect"] == "block");
  CHECK(j["findings"][0]["code"] == "VN_TRANSFER_AGREEMENT_MISSING");
  CHECK_THAT(j["findings"][0]["citation"].get<std::string>(), Contains("Law 91/2025"));
  CHECK(j["findings"][1]["rule"] == "VN-11");
  CHECK(j["findings"][1]["effect"] == "warn");
}

TEST_CASE("kakehashi consent check evaluates the return of results", "[cli][consent]") {
  const auto r = run(consent_base + " --at 2026-03-01T00:00:00Z --direction return --json");
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["decision"] == "allow");
  const auto text = run(consent_base + " --at 2026-03-01T00:00:00Z --direction return");
  // Results go back from Japan: the time in the sender's zone, UTC beside.
  CHECK_THAT(text.out, Contains("Consent check: return Bach Mai Hospital → Shonan Kamakura "
                                "General Hospital (Tokushukai Medical Corporation) at Mar 1, "
                                "2026, 09:00 Japan Standard Time (Mar 1, 2026, 00:00 UTC)"));
  CHECK_THAT(text.out, Contains("Decision: allow (legal basis: consent)"));
}

TEST_CASE("kakehashi consent check speaks the reader's language, rules and findings included",
          "[cli][consent]") {
  const auto en = run(consent_base + " --at 2026-03-01T00:00:00Z --lang en");
  REQUIRE(en.exit_code == 0);
  CHECK_THAT(en.out,
             Contains("Decision: block (legal basis: none)") &&
                 Contains("  VN-10 blocks: No written data-transfer agreement\n"
                          "      rule: Written data-transfer agreement with the recipient\n"
                          "      VN_TRANSFER_AGREEMENT_MISSING: no data-transfer agreement") &&
                 Contains("      source: Law 91/2025 Art. 15(2)(b)"));
  const auto ja = run(consent_base + " --at 2026-03-01T00:00:00Z --lang ja");
  REQUIRE(ja.exit_code == 0);
  CHECK_THAT(ja.out,
             Contains("同意の確認: 送出 バックマイ病院 → 湘南鎌倉総合病院、2026年3月1日 7:00 "
                      "インドシナ時間（2026年3月1日 0:00 UTC）（ベトナムの適用法令: 法律91号）") &&
                 Contains("判定: 拒否（法的根拠: なし）") &&
                 Contains("  VN-10 拒否: 書面によるデータ移転契約がない") &&
                 Contains("      規則: 受領者との書面によるデータ移転契約") &&
                 // The rule's own message stays English, as logs keep it, and says so.
                 Contains("      詳細（英語）VN_TRANSFER_AGREEMENT_MISSING: no data-transfer") &&
                 Contains("  VN-11 警告: 越境移転影響評価書の提出期限が近い"));
  const auto vi = run(consent_base + " --at 2026-03-01T00:00:00Z --lang vi");
  CHECK_THAT(vi.out, Contains("Kết luận: chặn (căn cứ pháp lý: không có)") &&
                         Contains("VN-10 chặn: Không có hợp đồng chuyển dữ liệu bằng văn bản"));
  CHECK(run(consent_base + " --at 2026-03-01T00:00:00Z --lang fr").exit_code == 2);
}

TEST_CASE("kakehashi consent check --policy reproduces the production policy, --exit-code says "
          "block",
          "[cli][consent]") {
  const std::string policy = std::string(KAKEHASHI_SOURCE_DIR) + "/data/policy.example.json";
  const auto blocked = run(consent_base + " --at 2026-03-01T00:00:00Z --exit-code");
  CHECK(blocked.exit_code == 1);  // no transfer agreement on file (VN-10)
  CHECK_THAT(blocked.out, Contains("Decision: block"));
  // The policy file records Bach Mai's transfer agreement and impact assessment.
  const auto allowed =
      run(consent_base + " --at 2026-03-01T00:00:00Z --exit-code --json --policy " + policy);
  CHECK(allowed.exit_code == 0);
  CHECK(nlohmann::json::parse(allowed.out)["decision"] == "allow");
  // A policy file's problems, all of them, with exit 2.
  const std::string bad = std::string(KAKEHASHI_TEST_TMP) + "/cli-policy-" +
                          std::to_string(getpid()) + ".json";
  std::ofstream(bad) << R"({"format": "kakehashi.policy/1", "packs": ["vietnam", "jp"],
                           "flags": {"jp_minor_threshold": -1}})";
  const auto refused = run(consent_base + " --at 2026-03-01T00:00:00Z --policy " + bad);
  std::remove(bad.c_str());
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Contains("2 problems") && Contains("packs[1]: unknown pack 'jp'") &&
                              Contains("flags.jp_minor_threshold"));
}

TEST_CASE("kakehashi consent check exits 2 on bad input", "[cli][consent][error]") {
  SECTION("a bad direction") {
    const auto r = run(consent_base + " --at 2026-03-01T00:00:00Z --direction sideways");
    CHECK(r.exit_code == 2);
  }
  SECTION("a country that cannot be known") {
    const auto r = run("consent check --consent " + consent_file +
                       " --from bach-mai --to shonan-kamakura --at 2026-03-01T00:00:00Z");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("the country of 'bach-mai' is unknown; pass --from-country"));
  }
  SECTION("a malformed consent file") {
    const auto r = run("consent check --consent " + data +
                       " --from bach-mai --to shonan-kamakura --at 2026-03-01T00:00:00Z "
                       "--from-country VN --to-country JP");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("[kakehashi.invalid_argument]"));
    CHECK_THAT(r.err, Contains("unknown key 'hospitals'"));
  }
}

// ---------------------------------------------------------------------------------------------
// audit and referral commands, on a database the engine wrote

namespace {

struct cli_db {
  kakehashi::test::temp_db db;
  std::string key_file =
      std::string(KAKEHASHI_TEST_TMP) + "/cli-" + std::to_string(getpid()) + ".key";
  cli_db() {
    using namespace kakehashi;
    using namespace kakehashi::test;
    {
      std::ofstream k(key_file);
      k << "0123456789abcdef0123456789abcdef\n";
    }
    engine_options o = paperwork_on_file();
    o.audit_key = "0123456789abcdef0123456789abcdef";
    engine e = open_engine(db.path(), o);
    e.propose(bm_proposal("R-1"), "k1");
    e.record_consent(referral_id{"R-1"}, good_consent(), bm_coordinator(),
                     parse_instant("2026-03-01T01:00:00Z"), "k2");
    e.propose(bm_proposal("R-2"), "k3");
    try {
      e.apply(referral_id{"R-2"},
              event::accept{sk_clinician(), parse_instant("2026-03-01T02:00:00Z")}, "k4");
    } catch (const kakehashi::error&) {
      // refused (no consent yet): audited as a refused attempt
    }
  }
  ~cli_db() { std::remove(key_file.c_str()); }
};

}  // namespace

TEST_CASE("kakehashi audit verify says intact, and names the first bad row when tampered",
          "[cli][audit]") {
  cli_db d;
  const auto ok = run("audit verify --db " + d.db.path());
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Contains("audit log: intact (4 rows, 2 referrals"));
  const auto keyed =
      run("audit verify --db " + d.db.path() + " --key-file " + d.key_file + " --json");
  REQUIRE(keyed.exit_code == 0);
  const auto j = nlohmann::json::parse(keyed.out);
  CHECK(j["intact"] == true);
  CHECK(j["rows"] == 4);
  CHECK(j["first_bad_row"].is_null());
  {
    SQLite::Database raw(d.db.path(), SQLite::OPEN_READWRITE);
    raw.exec("UPDATE audit SET actor_user = 'someone' WHERE seq = 2");
  }
  const auto bad = run("audit verify --db " + d.db.path() + " --json");
  CHECK(bad.exit_code == 1);
  const auto jb = nlohmann::json::parse(bad.out);
  CHECK(jb["intact"] == false);
  CHECK(jb["first_bad_row"] == 2);
  CHECK_THAT(jb["problem"].get<std::string>(), Contains("the row was edited"));
  CHECK_THAT(run("audit verify --db " + d.db.path()).out, Contains("audit log: TAMPERED at row 2"));
}

TEST_CASE("kakehashi audit checkpoint anchors the log for a later verify", "[cli][audit]") {
  cli_db d;
  const auto cp = run("audit checkpoint --db " + d.db.path() + " --key-file " + d.key_file +
                      " --at 2026-03-02T00:00:00Z");
  REQUIRE(cp.exit_code == 0);
  const auto j = nlohmann::json::parse(cp.out);
  CHECK(j["seq"] == 4);
  CHECK(j["rows_keyed"] == true);
  const std::string cp_file = d.key_file + ".checkpoint";
  {
    std::ofstream out(cp_file);
    out << cp.out;
  }
  const auto ok = run("audit verify --db " + d.db.path() + " --checkpoint " + cp_file +
                      " --key-file " + d.key_file);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Contains("matches the checkpoint, MACs checked"));
  {
    SQLite::Database raw(d.db.path(), SQLite::OPEN_READWRITE);
    raw.exec("DELETE FROM audit WHERE seq = 4");  // a refused attempt: no referral to rebuild
  }
  const auto truncated = run("audit verify --db " + d.db.path() + " --checkpoint " + cp_file +
                             " --key-file " + d.key_file);
  CHECK(truncated.exit_code == 1);
  CHECK_THAT(truncated.out, Contains("the tail was truncated"));
  std::remove(cp_file.c_str());
}

TEST_CASE("kakehashi referral show and list read the database", "[cli][audit]") {
  cli_db d;
  const auto show = run("referral show --db " + d.db.path() + " --id R-1 --json");
  REQUIRE(show.exit_code == 0);
  const auto j = nlohmann::json::parse(show.out);
  CHECK(j["state"] == "consent_recorded");
  CHECK(j["patient"] == "P-TEST-1");
  CHECK(j["consent"] == "C-TEST-1");
  REQUIRE(j["history"].size() == 2);
  CHECK(j["history"][1]["command"] == "record_consent");
  CHECK(j["history"][1]["outcome"] == 0);
  const auto refused =
      nlohmann::json::parse(run("referral show --db " + d.db.path() + " --id R-2 --json").out);
  CHECK(refused["history"][1]["outcome"] == 4);
  CHECK(refused["history"][1]["reason"] == "failed_precondition");
  const auto list = run("referral list --db " + d.db.path() + " --state proposed --json");
  REQUIRE(list.exit_code == 0);
  const auto l = nlohmann::json::parse(list.out);
  REQUIRE(l.size() == 1);
  CHECK(l[0]["id"] == "R-2");
  CHECK_THAT(run("referral list --db " + d.db.path()).out, Contains("2 referrals"));
  // Words for a person (--lang, or the locale's language), codes in --json.
  const auto shown = run("referral show --db " + d.db.path() + " --id R-1 --lang en").out;
  CHECK_THAT(shown, Contains("R-1: bach-mai → shonan-kamakura, Cardiology, patient P-TEST-1"));
  CHECK_THAT(shown, Contains("state: Consent recorded (version 2)"));
  CHECK_THAT(shown, Contains("#2 Record consent: Proposed → Consent recorded"));
  CHECK_THAT(run("referral show --db " + d.db.path() + " --id R-2 --lang ja").out,
             Contains("受入承諾: 拒否（現在の状態では実行できません）、状態 紹介依頼済み"));
}

TEST_CASE("the audit and referral commands exit 2 on bad input and never create a file",
          "[cli][audit][error]") {
  const std::string missing = std::string(KAKEHASHI_TEST_TMP) + "/no-such.db";
  const auto r = run("audit verify --db " + missing);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("no such database file"));
  CHECK_FALSE(std::ifstream(missing).good());
  cli_db d;
  CHECK(run("referral list --db " + d.db.path() + " --state lost").exit_code == 2);
  CHECK(run("referral show --db " + d.db.path() + " --id R-404").exit_code == 2);
  CHECK(run("audit checkpoint --db " + d.db.path() + " --key-file /nonexistent").exit_code == 2);
  CHECK(run("audit verify --db " + data).exit_code == 2);  // a JSON file, not a database
}

// ---- kakehashi fhir ----------------------------------------------------------------------------

namespace {

std::string tmp_file(const std::string& name) {
  return std::string(KAKEHASHI_TEST_TMP) + "/cli-fhir-" + std::to_string(getpid()) + "-" + name;
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string fhir_data = std::string(KAKEHASHI_SOURCE_DIR) + "/data/fhir/";

}  // namespace

TEST_CASE("kakehashi fhir export writes a referral's Bundle, and the consent goes out and comes back",
          "[cli][fhir]") {
  using nlohmann::json;
  cli_db d;
  const std::string bundle_file = tmp_file("bundle.json");
  const std::string base =
      "fhir export --db " + d.db.path() + " --id R-1 --agreements " + data;
  // Without the consent: the Bundle names it by identifier.
  const auto plain = run(base);
  REQUIRE(plain.exit_code == 0);
  const json b = json::parse(plain.out);
  CHECK(b["resourceType"] == "Bundle");
  std::size_t consents = 0, events = 0;
  for (const auto& e : b["entry"]) {
    consents += e["resource"]["resourceType"] == "Consent";
    events += e["resource"]["resourceType"] == "AuditEvent";
  }
  CHECK(consents == 0);
  CHECK(events == 2);  // propose, record_consent

  // The consent, as a FHIR Consent, imported back into kakehashi's JSON (the birth date from
  // the Patient resource), then given to the export: the Bundle now carries it.
  const std::string fhir_consent = tmp_file("consent.fhir.json");
  const std::string kakehashi_consent = tmp_file("consent.json");
  std::ofstream(fhir_consent) << kakehashi::fhir::consent_resource(kakehashi::test::good_consent());
  const auto imported = run("fhir import-consent " + fhir_consent + " --patient " + fhir_data +
                            "patient-example.json --out " + kakehashi_consent);
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  CHECK_THAT(imported.err, !Contains("assumed:"));  // kakehashi's own export carries it all
  const auto with = run(base + " --consent " + kakehashi_consent + " --out " + bundle_file);
  INFO(with.err);
  REQUIRE(with.exit_code == 0);
  CHECK_THAT(with.err, Contains("wrote the Bundle of R-1"));
  consents = 0;
  const json with_consent = json::parse(text_of(bundle_file));
  for (const auto& e : with_consent["entry"]) {
    consents += e["resource"]["resourceType"] == "Consent";
  }
  CHECK(consents == 1);
  CHECK_THAT(text_of(bundle_file), !Contains("1970-05-20"));
  for (const auto& f : {bundle_file, fhir_consent, kakehashi_consent}) std::remove(f.c_str());
}

TEST_CASE("kakehashi fhir import-consent reads an EHR's Consent and says what it assumed",
          "[cli][fhir]") {
  const auto r = run("fhir import-consent " + fhir_data + "consent-ehr-example.json --patient " +
                     fhir_data + "patient-example.json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto record = kakehashi::load_consent(r.out);
  CHECK(record.id.value() == "C-EHR-1");
  CHECK_THAT(r.err, Contains("assumed: expression.method = \"verbal\""));
  CHECK_THAT(r.err, Contains("ignored: Consent.text"));
  CHECK_THAT(r.err, !Contains("1970"));  // the birth date goes to the record only
}

TEST_CASE("kakehashi fhir acknowledgement writes the BPPC acknowledgement of a consent",
          "[cli][fhir][STD-08]") {
  const std::string consent = tmp_file("policies.consent.json");
  {
    std::ifstream in(std::string(KAKEHASHI_SOURCE_DIR) +
                     "/data/consents/bach-mai-2026-complete.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j["privacy_policies"] = {"urn:oid:1.2.3.4.5.1"};
    std::ofstream(consent) << j.dump();
  }
  const auto r = run("fhir acknowledgement --consent " + consent);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["resourceType"] == "DocumentReference");
  CHECK(doc["type"]["coding"][0]["code"] == "57016-8");
  CHECK(doc["context"]["event"][0]["coding"][0]["code"] == "urn:oid:1.2.3.4.5.1");
  CHECK_THAT(r.out, !Contains("1961"));  // never the birth date
  const auto bad = run("fhir acknowledgement --consent " + tmp_file("missing.json"));
  CHECK(bad.exit_code == 2);
}

TEST_CASE("kakehashi fhir import-consent lists a bad file's problems first and never quotes it",
          "[cli][fhir][error][privacy]") {
  const std::string broken = tmp_file("broken.fhir.json");
  std::ofstream(broken) << "{\"resourceType\": \"Consent\", \"text\": {\"div\": \"CANARYNAME born "
                           "1931-07-17";
  const auto r = run("fhir import-consent " + broken + " --patient " + fhir_data +
                     "patient-example.json");
  std::remove(broken.c_str());
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("[kakehashi.invalid_argument] " + broken + ": 1 problem\n", 0) == 0);
  CHECK_THAT(r.err, Contains("Consent: not valid JSON: parse error at line 1, column"));
  CHECK(r.err.find("CANARY") == std::string::npos);
  CHECK(r.err.find("1931") == std::string::npos);
  // A Consent with problems and assumptions: the problems come first.
  const std::string odd = tmp_file("odd.fhir.json");
  auto doc = nlohmann::json::parse(text_of(fhir_data + "consent-ehr-example.json"));
  doc["status"] = "bogus";
  std::ofstream(odd) << doc.dump();
  const auto both = run("fhir import-consent " + odd + " --patient " + fhir_data +
                        "patient-example.json");
  std::remove(odd.c_str());
  CHECK(both.exit_code == 2);
  CHECK(both.err.rfind("[kakehashi.invalid_argument] " + odd, 0) == 0);
}

TEST_CASE("kakehashi fhir exits 2 on bad input, naming the field", "[cli][fhir][error]") {
  cli_db d;
  const std::string export_base = "fhir export --db " + d.db.path() + " --agreements " + data;
  const auto unknown = run(export_base + " --id R-404");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Contains("--id") && Contains("R-404"));
  const std::string other = tmp_file("other.json");
  std::ofstream(other) << text_of(std::string(KAKEHASHI_SOURCE_DIR) +
                                  "/data/consents/bach-mai-2026-complete.json");
  const auto wrong_consent = run(export_base + " --id R-1 --consent " + other);
  CHECK(wrong_consent.exit_code == 2);
  CHECK_THAT(wrong_consent.err, Contains("not the consent the referral relies on"));
  std::remove(other.c_str());
  CHECK(run("fhir export --db " + d.db.path() + " --id R-1 --agreements /nonexistent").exit_code ==
        2);

  const std::string patient = " --patient " + fhir_data + "patient-example.json";
  const auto not_consent = run("fhir import-consent " + fhir_data + "patient-example.json" + patient);
  CHECK(not_consent.exit_code == 2);
  CHECK_THAT(not_consent.err, Contains("resourceType") && Contains("not a Consent"));
  const auto no_patient = run("fhir import-consent " + fhir_data + "consent-ehr-example.json");
  CHECK(no_patient.exit_code == 2);
  CHECK_THAT(no_patient.err, Contains("--patient"));
  const auto wrong_patient = run("fhir import-consent " + fhir_data +
                                 "consent-ehr-example.json --patient " + fhir_data +
                                 "consent-ehr-example.json");
  CHECK(wrong_patient.exit_code == 2);
  CHECK_THAT(wrong_patient.err, Contains("Patient.resourceType"));
  const auto unwritable = run("fhir import-consent " + fhir_data + "consent-ehr-example.json" +
                              patient + " --out /nonexistent/dir/x.json");
  CHECK(unwritable.exit_code == 2);
  CHECK_THAT(unwritable.err, Contains("--out"));
}

// ---- the workflow, and the shell's completion ---------------------------------------------------

TEST_CASE("a refused command prints its rules, and --json gives the refusal as an object",
          "[cli][workflow]") {
  kakehashi::test::temp_db db;
  const std::string base = "--db " + db.path() + " --agreements " + data + " ";
  const auto propose = [&](const std::string& from, const std::string& key) {
    return run("referral propose " + base + "--by " + from +
               " --role coordinator --id R-1 --to shonan-kamakura --specialty cardiology "
               "--patient P-1 --at 2026-03-01T00:00:00Z --idempotency-key " + key + " --json");
  };
  const auto r = propose("cho-ray", "k-1");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("[kakehashi.not_eligible] referral R-1") &&
                        Contains("  eligibility: No agreement") && Contains("audited as row #1"));
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["refused"] == true);
  CHECK(j["code"] == "not_eligible");
  CHECK(j["audit_row"] == 1);
  CHECK(j["details"]["reasons"][0]["code"] == "no_agreement");
  // The retry with the same key: the same refusal, answered from the log.
  const auto again = propose("cho-ray", "k-1");
  CHECK(again.exit_code == 1);
  CHECK(nlohmann::json::parse(again.out)["audit_row"] == 1);
  // Another key: a new attempt, which succeeds from Bach Mai.
  const auto ok = propose("bach-mai", "k-2");
  CHECK(ok.exit_code == 0);
  CHECK(nlohmann::json::parse(ok.out)["state"] == "proposed");
  CHECK(run("audit verify --db " + db.path()).out.find("intact (2 rows, 1 referral;") !=
        std::string::npos);
}

TEST_CASE("kakehashi completion bash completes commands, options and their values",
          "[cli][completion]") {
  const auto script = run("completion bash");
  REQUIRE(script.exit_code == 0);
  const std::string file = std::string(KAKEHASHI_TEST_TMP) + "/completion-" +
                           std::to_string(getpid()) + ".bash";
  std::ofstream(file) << script.out;
  const auto complete = [&](const std::string& words) {
    const std::string probe = file + ".probe";
    std::ofstream(probe) << "source " << file << "\n"
                         << "COMP_WORDS=(" << words << ")\n"
                         << "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                         << "_kakehashi\necho \"${COMPREPLY[*]}\"\n";
    const auto r = kakehashi::test::run_program("bash", probe);
    std::remove(probe.c_str());
    return r.out;
  };
  CHECK(complete("kakehashi ref") == "referral\n");
  CHECK(complete("kakehashi referral de") == "decline\n");
  CHECK(complete("kakehashi referral decline --reason not_") == "not_clinically_appropriate\n");
  CHECK(complete("kakehashi referral cancel --reason ent") == "entered_in_error\n");
  CHECK(complete("kakehashi referral list --state closed:co") ==
        "closed:completed closed:consent_withdrawn\n");
  CHECK(complete("kakehashi audit verify --ke") == "--key-file\n");
  std::remove(file.c_str());
}

TEST_CASE("kakehashi referral show says when a row was recorded after it happened",
          "[cli][audit][timing]") {
  using namespace kakehashi;
  using namespace kakehashi::test;
  temp_db db;
  {
    engine_options o = paperwork_on_file();
    o.clock = [] { return parse_instant("2026-03-05T00:00:00Z"); };  // the engine's clock
    engine e = open_engine(db.path(), o);
    e.propose(bm_proposal("R-1"), "k1");  // happened on 1 March
  }
  const auto shown = run("referral show --db " + db.path() + " --id R-1 --lang en");
  REQUIRE(shown.exit_code == 0);
  // Without an agreements file, times are in UTC.
  CHECK_THAT(shown.out, Contains("io-bm-1, Mar 1, 2026, 00:00 UTC") &&
                            Contains("recorded Mar 5, 2026, 00:00 UTC, after it happened"));
  const auto j =
      nlohmann::json::parse(run("referral show --db " + db.path() + " --id R-1 --json").out);
  CHECK(j["history"][0]["at"] == "2026-03-01T00:00:00Z");
  CHECK(j["history"][0]["recorded_at"] == "2026-03-05T00:00:00Z");
}
