// Malformed and hostile input, table-driven (reliability plan T10): every loader and the engine
// either accept a value or refuse it with a clear error; an error is one line (a value can never
// forge a second log line), bounded in length (a 1 MiB value is not echoed), and never a crash;
// the engine's schema and log are unchanged by a refusal.
#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/agreements_fixture.hpp"
#include "support/engine_fixture.hpp"

using namespace kakehashi;
using Catch::Matchers::Contains;

namespace {

struct hostile {
  const char* name;
  std::string text;
};

// A valid document with one value replaced (JSON pointer), as text.
std::string with(nlohmann::json doc, const std::string& pointer, const nlohmann::json& value) {
  doc[nlohmann::json::json_pointer(pointer)] = value;
  return doc.dump();
}

std::vector<hostile> hostile_files(const std::string& valid, const nlohmann::json& doc,
                                   const std::string& string_field) {
  const std::string mib(1 << 20, 'x');
  return {
      {"empty file", ""},
      {"only whitespace", " \n\t "},
      {"UTF-8 byte order mark", "\xEF\xBB\xBF" + valid},
      {"truncated", valid.substr(0, valid.size() / 2)},
      {"invalid UTF-8 in a string", "{\"format\": \"\xC3\x28\xFF\"}"},
      {"duplicate keys", "{\"format\": \"a\", \"format\": \"b\"}"},
      {"deep nesting", std::string(100000, '[') + std::string(100000, ']')},
      {"huge number", "{\"format\": 1e400}"},
      {"an array", "[1, 2, 3]"},
      {"raw NUL byte", std::string("{\"format\": \"a\0b\"}", 18)},
      {"escaped NUL", with(doc, string_field, std::string("a\0b", 3))},
      {"CR/LF in a value", with(doc, string_field, "a\r\n[kakehashi.ok] forged line")},
      {"SQL in a value", with(doc, string_field, "'; DROP TABLE audit;--")},
      {"format specifiers", with(doc, string_field, "%s%n%x{}{:>999999}")},
      {"1 MiB value", with(doc, string_field, mib)},
  };
}

// One line, bounded, no control characters.
void check_message(const std::string& m) {
  CAPTURE(m.substr(0, 300));
  CHECK(m.find('\n') == std::string::npos);
  CHECK(m.find('\r') == std::string::npos);
  CHECK(m.find('\0') == std::string::npos);
  CHECK(m.size() < 20000);
}

// A refused file: at least one problem, each path and message one bounded line.
void check_problems(const std::vector<load_problem>& problems) {
  REQUIRE_FALSE(problems.empty());
  for (const auto& p : problems) {
    check_message(p.path);
    check_message(p.message);
  }
}

}  // namespace

TEST_CASE("hostile agreements files are refused clearly, never crash", "[agreement][hostile]") {
  const auto doc = test::network_json();
  for (const auto& h : hostile_files(doc.dump(), doc, "/hospitals/0/id")) {
    CAPTURE(h.name);
    const auto r = agreement_directory::try_load(h.text);
    if (r.ok()) {
      // Only a well-formed file with a value the format allows may load.
      CHECK(std::string(h.name) == "UTF-8 byte order mark");
      continue;
    }
    check_problems(r.problems);
    try {
      (void)agreement_directory::load(h.text, "hostile.json");
      FAIL("loaded");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_argument);
      check_message(e.what());
    }
  }
}

TEST_CASE("hostile consent files are refused clearly, never crash", "[consent][hostile]") {
  const std::string valid = test::slurp(std::string(KAKEHASHI_SOURCE_DIR) +
                                        "/data/consents/bach-mai-2026-complete.json");
  const auto doc = nlohmann::json::parse(valid);
  REQUIRE(try_load_consent(valid).ok());
  for (const auto& h : hostile_files(valid, doc, "/id")) {
    CAPTURE(h.name);
    const auto r = try_load_consent(h.text);
    if (r.ok()) {
      CHECK(std::string(h.name) == "UTF-8 byte order mark");
      continue;
    }
    check_problems(r.problems);
  }
  // A birth date is never quoted back, even when it is the malformed value.
  const auto r = try_load_consent(with(doc, "/patient/birth_date", "1961-02-30"));
  REQUIRE_FALSE(r.ok());
  for (const auto& p : r.problems) CHECK(p.message.find("1961-02-30") == std::string::npos);
}

TEST_CASE("an agreement starting on a day whose midnight does not exist starts at the gap's end",
          "[agreement][hostile]") {
  // Chile moves its clocks from 00:00 to 01:00 on 7 September 2025: that midnight never happens.
  auto doc = test::network_json();
  doc["agreements"][0]["time_zone"] = "America/Santiago";
  doc["agreements"][0]["effective_from"] = "2025-09-07";
  doc["agreements"][0]["signed"] = "2025-09-01";
  const auto dir = agreement_directory::load(doc.dump());
  CHECK(to_iso8601(dir.starts_at(dir.agreements()[0])) == "2025-09-07T04:00:00Z");
}

TEST_CASE("hostile ids and keys never reach the engine's database or forge a line",
          "[engine][hostile]") {
  test::temp_db db;
  auto e = test::open_engine(db.path());
  (void)e.propose(test::bm_proposal("R-OK"), "k-ok");
  const auto schema = [&] {
    SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
    SQLite::Statement q(raw, "SELECT group_concat(sql, ';') FROM sqlite_master");
    q.executeStep();
    return q.getColumn(0).getString();
  };
  const std::string before = schema();
  const std::vector<std::string> values = {
      "'; DROP TABLE audit;--", std::string("R\0X", 3), "R\r\n[kakehashi.ok] forged",
      "%s%n{}{:>99999}",        std::string(1 << 20, 'R'), "",
      "R 1",                    "\xC3\x28"};
  for (const auto& v : values) {
    CAPTURE(v.substr(0, 40));
    const auto rows = e.audit_rows();
    // As a referral id
    try {
      (void)e.propose(test::bm_proposal(v), "k-" + std::to_string(rows));
      FAIL("accepted a malformed referral id");
    } catch (const error& err) {
      CHECK(err.code() == errc::invalid_argument);
      check_message(err.what());
    }
    // As an idempotency key
    try {
      (void)e.propose(test::bm_proposal("R-" + std::to_string(rows)), v);
      FAIL("accepted a malformed idempotency key");
    } catch (const error& err) {
      CHECK(err.code() == errc::invalid_argument);
      check_message(err.what());
    }
    CHECK(e.audit_rows() <= rows + 1);  // at most the refusal, as one row
    CHECK_FALSE(e.find(referral_id{"R-" + std::to_string(rows)}));
  }
  CHECK(schema() == before);
  CHECK(e.verify().intact);
  CHECK(e.get(referral_id{"R-OK"}).state == referral_state::proposed);
}
