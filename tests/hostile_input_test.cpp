// Malformed and hostile input, table-driven (reliability plan T10): every loader and the engine
// either accept a value or refuse it with a clear error; an error is one line (a value can never
// forge a second log line), bounded in length (a 1 MiB value is not echoed), and never a crash;
// the engine's schema and log are unchanged by a refusal.

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/fhir.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/agreements_fixture.hpp"
#include "support/engine_fixture.hpp"
#include "support/raw_database.hpp"

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

// Values an id or a text field must refuse: SQL, a NUL, CR LF with a forged log line, format
// specifiers, a megabyte, empty, a space, invalid UTF-8.
std::vector<std::string> hostile_values() {
  return {"'; DROP TABLE audit;--",
          std::string("R\0X", 3),
          "R\r\n[kakehashi.ok] forged",
          "%s%n{}{:>99999}",
          std::string(1 << 20, 'R'),
          "",
          "R 1",
          "\xC3\x28"};
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
          "[engine][hostile][backends]") {
  test::temp_db db;
  auto e = test::open_engine(db.path());
  (void)e.propose(test::bm_proposal("R-OK"), "k-ok");
  const auto schema = [&] { return test::schema_text(db.path()); };
  const std::string before = schema();
  REQUIRE(before.find("audit") != std::string::npos);
  const std::vector<std::string> values = hostile_values();
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
    // Refused before the database is touched, as a malformed key is: no row carries the value
    // (a server's text column could not even hold some of them: NUL, invalid UTF-8).
    CHECK(e.audit_rows() == rows);
    CHECK_FALSE(e.find(referral_id{"R-" + std::to_string(rows)}));
  }
  CHECK(schema() == before);
  CAPTURE(e.verify().problem);
  CHECK(e.verify().intact);
  CHECK(e.get(referral_id{"R-OK"}).state == referral_state::proposed);
}

// The referral an onward referral replaces is an id like the others: a hostile one is refused
// naming the field, in one bounded line; its refusal row (a proposal's refusals are audited)
// carries only the escaped value, and the log still verifies.
TEST_CASE("a hostile id as the referral an onward referral replaces is refused, naming the field",
          "[engine][hostile][onward]") {
  test::temp_db db;
  auto e = test::open_engine(db.path());
  const std::vector<std::string> values = hostile_values();
  int n = 0;
  for (const auto& v : values) {
    CAPTURE(v.substr(0, 40));
    proposal p = test::bm_proposal("R-H" + std::to_string(++n));
    p.replaces = referral_id{v};
    try {
      (void)e.propose(p, "k-h" + std::to_string(n));
      FAIL("accepted a malformed replaced referral id");
    } catch (const error& err) {
      CHECK(err.code() == errc::invalid_argument);
      CHECK_THAT(std::string(err.what()), Catch::Matchers::Contains("proposal.replaces"));
      check_message(err.what());
    }
    CHECK_FALSE(e.find(p.id));
  }
  CHECK(e.verify().intact);
}

// A document reference's text fields (id, digest, media type, language) are checked before the
// database is touched: a hostile value is refused naming the field, in one bounded line; nothing
// is attached and the log verifies. Its JSON form is refused whole, whatever the file holds.
TEST_CASE("a hostile value in any field of a document reference is refused, naming the field",
          "[engine][hostile][document]") {
  test::temp_db db;
  auto e = test::open_engine(db.path());
  (void)e.propose(test::bm_proposal("R-D"), "k-d");
  const referral_id r{"R-D"};
  const std::vector<std::string> values = hostile_values();
  struct field {
    const char* name;
    std::string document_ref::*text;  // nullptr: the id
  };
  const std::vector<field> fields{{"id", nullptr},
                                  {"sha256", &document_ref::sha256},
                                  {"media_type", &document_ref::media_type},
                                  {"language", &document_ref::language}};
  int n = 0;
  for (const auto& f : fields) {
    for (const auto& v : values) {
      CAPTURE(f.name, v.substr(0, 40));
      document_ref d{document_id{"D-1"},
                     document_kind::imaging,
                     std::string(64, 'a'),
                     "application/dicom",
                     1024,
                     "vi"};
      if (f.text) {
        d.*f.text = v;
      } else {
        d.id = document_id{v};
      }
      try {
        (void)e.attach_document(r, d, test::bm_coordinator(), parse_instant("2026-03-01T02:00:00Z"),
                                "k-" + std::to_string(++n));
        FAIL("accepted a malformed document reference");
      } catch (const error& err) {
        CHECK(err.code() == errc::invalid_argument);
        CHECK_THAT(std::string(err.what()), Contains(std::string("event.document.") + f.name));
        check_message(err.what());
      }
      // Returned as results, behind a valid one: the same refusal, naming its place.
      try {
        document_ref fine = d;
        fine.id = document_id{"D-OK"};
        fine.sha256 = std::string(64, 'b');
        fine.media_type = "application/pdf";
        fine.language = "ja";
        (void)e.return_results(r, test::good_consent(), {fine, d}, test::sk_clinician(),
                               parse_instant("2026-03-01T02:00:00Z"), "k-" + std::to_string(++n));
        FAIL("returned a malformed document reference");
      } catch (const error& err) {
        CHECK(err.code() == errc::invalid_argument);
        CHECK_THAT(std::string(err.what()), Contains(std::string("event.documents[1].") + f.name));
        check_message(err.what());
      }
      // The JSON reader refuses the same value in the same field.
      nlohmann::json j = nlohmann::json::parse(
          to_json(document_ref{document_id{"D-1"}, document_kind::imaging, std::string(64, 'a'),
                               "application/dicom", 1024, "vi"}));
      j[f.name] = v;
      try {
        (void)document_ref_from_json(
            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        FAIL("read a malformed document reference");
      } catch (const error& err) {
        CHECK(err.code() == errc::invalid_argument);
        check_message(err.what());
      }
    }
  }
  CHECK(e.documents(r).attached.empty());
  CHECK(e.results(r).empty());
  CHECK(e.get(r).version == 1);
  CHECK(e.verify().intact);
  const nlohmann::json doc = nlohmann::json::parse(
      to_json(document_ref{document_id{"D-1"}, document_kind::imaging, std::string(64, 'a'),
                           "application/dicom", 1024, "vi"}));
  // Each hostile file is refused in one bounded line, but for the valid document behind a byte
  // order mark, which is read as that document.
  for (const auto& h : hostile_files(doc.dump(), doc, "/media_type")) {
    CAPTURE(h.name);
    try {
      const document_ref read = document_ref_from_json(h.text);
      CHECK(std::string(h.name) == "UTF-8 byte order mark");
      CHECK(read == document_ref_from_json(doc.dump()));
    } catch (const error& err) {
      CHECK(err.code() == errc::invalid_argument);
      check_message(err.what());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Issue 14, defect 1: a syntax error is reported by line and column, never with the text around
// it. nlohmann's own message ends with "last read: '<the token>'": for a string cut short, that
// is the whole string so far (a Consent's narrative: a name and a birth date).

namespace {

const std::string canary_name = "CANARYNGUYENVANA";
const std::string canary_birth = "1931-07-17";

// `valid` with the canary narrative spliced in at `marker` (a value of the document), then broken
// in every way that makes the parser's token end inside or just after it: cut at every byte of
// the narrative, a raw control character inside it, an invalid literal after it.
std::vector<std::string> broken_around_canary(const std::string& valid, const std::string& marker) {
  const std::string narrative = canary_name + " born " + canary_birth;
  std::string text = valid;
  const auto at = text.find(marker);
  REQUIRE(at != std::string::npos);
  text.replace(at, marker.size(), narrative);
  std::vector<std::string> out;
  for (std::size_t cut = at + 6; cut <= at + narrative.size() + 1; ++cut) {
    out.push_back(text.substr(0, cut));
  }
  out.push_back(text.substr(0, at + narrative.size() - 2) + "\n" + text.substr(at + narrative.size() - 2));
  out.push_back(text.substr(0, at + narrative.size() + 1) + " x" + text.substr(at + narrative.size() + 1));
  out.push_back(text.substr(0, at + narrative.size() + 1) + "tru" + text.substr(at + narrative.size() + 1));
  return out;
}

void check_no_canary(const std::string& message) {
  CAPTURE(message);
  CHECK(message.find(canary_name.substr(0, 6)) == std::string::npos);
  CHECK(message.find("1931") == std::string::npos);
  CHECK(message.find("last read") == std::string::npos);
}

template <class Load>
void check_throwing_loader(const std::vector<std::string>& texts, Load load) {
  for (const auto& t : texts) {
    try {
      load(t);
      FAIL("a broken document was accepted");
    } catch (const error& e) {
      check_no_canary(e.what());
    }
  }
}

}  // namespace

TEST_CASE("no loader quotes the text around a syntax error", "[hostile][privacy]") {
  const std::string consent = test::slurp(std::string(KAKEHASHI_SOURCE_DIR) +
                                          "/data/consents/bach-mai-2026-complete.json");
  SECTION("agreements") {
    auto doc = test::network_json();
    doc["description"] = "MARKER";
    for (const auto& t : broken_around_canary(doc.dump(), "MARKER")) {
      const auto r = agreement_directory::try_load(t);
      REQUIRE_FALSE(r.ok());
      for (const auto& p : r.problems) check_no_canary(p.path + ": " + p.message);
    }
  }
  SECTION("consent records") {
    auto doc = nlohmann::json::parse(consent);
    doc["id"] = "MARKER";
    for (const auto& t : broken_around_canary(doc.dump(), "MARKER")) {
      const auto r = try_load_consent(t);
      REQUIRE_FALSE(r.ok());
      for (const auto& p : r.problems) check_no_canary(p.path + ": " + p.message);
    }
  }
  SECTION("FHIR Consent and Patient") {
    const nlohmann::json fhir_consent = {{"resourceType", "Consent"},
                                         {"status", "active"},
                                         {"text", {{"status", "generated"}, {"div", "MARKER"}}}};
    fhir::import_options o;
    o.birth_date = date::year{1990} / 1 / 1;
    for (const auto& t : broken_around_canary(fhir_consent.dump(), "MARKER")) {
      const auto r = fhir::import_consent(t, o);
      REQUIRE_FALSE(r.ok());
      for (const auto& p : r.problems) check_no_canary(p.path + ": " + p.message);
    }
    const nlohmann::json patient = {{"resourceType", "Patient"},
                                    {"name", {{{"text", "MARKER"}}}},
                                    {"birthDate", "1990-01-01"}};
    check_throwing_loader(broken_around_canary(patient.dump(), "MARKER"),
                          [](const std::string& t) { (void)fhir::patient_birth_date(t); });
  }
  SECTION("checkpoints and stored snapshots") {
    const nlohmann::json cp = {{"seq", 1},      {"head", "MARKER"}, {"at", "2026-01-01T00:00:00Z"},
                               {"mac", "00"},   {"rows_keyed", false}};
    check_throwing_loader(broken_around_canary(cp.dump(), "MARKER"),
                          [](const std::string& t) { (void)parse_checkpoint(t); });
    auto snapshot = nlohmann::json::parse(to_json(referral::propose(test::bm_proposal("R-1")).snapshot()));
    snapshot["patient"] = "MARKER";
    check_throwing_loader(broken_around_canary(snapshot.dump(), "MARKER"),
                          [](const std::string& t) { (void)referral_snapshot_from_json(t); });
  }
}
