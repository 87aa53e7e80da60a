#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <kakehashi/consent.hpp>
#include <kakehashi/error.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace kakehashi;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

std::string example_path() {
  return std::string(KAKEHASHI_SOURCE_DIR) + "/data/consents/bach-mai-2026-complete.json";
}

json example() {
  std::ifstream in(example_path());
  return json::parse(in);
}

std::string edited(const std::function<void(json&)>& edit) {
  json j = example();
  edit(j);
  return j.dump();
}

}  // namespace

TEST_CASE("the example consent loads with every field read", "[consent]") {
  const consent_record c = load_consent_file(example_path());
  CHECK(c.id == consent_ref{"C-2026-0001"});
  CHECK(c.patient == patient_ref{"P-3f9c1a"});
  CHECK(c.controller == hospital_id{"bach-mai"});
  CHECK(c.status == consent_status::active);
  CHECK(c.scope == consent_scope::patient_privacy);
  CHECK(to_iso8601(c.captured_at) == "2026-01-12T03:30:00Z");
  CHECK(c.birth_date == date::year{1961} / 4 / 2);
  CHECK(c.age_verified);
  CHECK(c.capacity == capacity_status::full);
  REQUIRE(c.grantors.size() == 1);
  CHECK(c.grantors[0].role == grantor_role::patient);
  CHECK(c.grants(purpose::cross_border_referral));
  CHECK(c.grants(purpose::results_return));
  CHECK(c.names_recipient(hospital_id{"shonan-kamakura"}));
  CHECK(c.recipients[0].country == "JP");
  CHECK(c.excluded_classes == std::vector<std::string>{"genomic"});
  CHECK(c.method == expression_method::written_signature);
  CHECK(c.artifact_sha256.size() == 64);
  CHECK_FALSE(c.valid_from.has_value());
  CHECK(to_iso8601(*c.valid_until) == "2027-01-12T16:59:59Z");
  CHECK(c.sensitive_data_notice);
  CHECK(c.languages == std::vector<std::string>{"vi", "ja"});
  REQUIRE(c.japan_art28_2.has_value());
  CHECK(c.japan_art28_2->country == "VN");
  REQUIRE(c.written_request.has_value());
  CHECK(c.written_request->recipient == hospital_id{"shonan-kamakura"});
  CHECK_FALSE(c.withdrawal.has_value());
  CHECK_FALSE(c.emergency.has_value());
  CHECK_FALSE(c.treatment_decision.has_value());
  CHECK(c.age_on(date::year{2026} / 4 / 1) == 64);
  CHECK(c.age_on(date::year{2026} / 4 / 2) == 65);
}

TEST_CASE("a treatment decision loads with its role, person and authority", "[consent][VN-25]") {
  const consent_record c = load_consent(edited([](json& j) {
    j["treatment_decision"] = {{"role", "facility_lead"},
                               {"person", "dr-duty-1"},
                               {"authority_evidence", "DUTY-ROSTER-2026-03-01"}};
  }));
  REQUIRE(c.treatment_decision.has_value());
  CHECK(c.treatment_decision->role == decision_maker_role::facility_lead);
  CHECK(c.treatment_decision->person == "dr-duty-1");
  CHECK(c.treatment_decision->authority_evidence == "DUTY-ROSTER-2026-03-01");
  // The evidence is optional in the format (VN-25 asks for it).
  const consent_record bare = load_consent(edited([](json& j) {
    j["treatment_decision"] = {{"role", "representative"}, {"person", "rep-1"}};
  }));
  CHECK(bare.treatment_decision.value().authority_evidence.empty());
}

TEST_CASE("every kind of bad consent input is reported with its path, and nothing loads",
          "[consent][error]") {
  struct bad_input {
    const char* name;
    std::string text;
    const char* path;
    const char* message;
  };
  const std::vector<bad_input> cases{
      {"unknown key", edited([](json& j) { j["patient"]["name"] = "Nguyen Van A"; }),
       "patient.name", "unknown key 'name'; allowed keys here: ref, birth_date, age_verified"},
      {"missing key", edited([](json& j) { j.erase("status"); }), "status",
       "is required but missing"},
      {"wrong type", edited([](json& j) { j["patient"]["age_verified"] = "yes"; }),
       "patient.age_verified", "expected true or false, found a string 'yes'"},
      {"unknown status", edited([](json& j) { j["status"] = "signed"; }), "status",
       "unknown status 'signed'; expected one of: draft, proposed, active, rejected, inactive, "
       "entered-in-error"},
      {"unknown role", edited([](json& j) { j["grantors"][0]["role"] = "uncle"; }),
       "grantors[0].role", "unknown grantor role 'uncle'"},
      {"bad hash", edited([](json& j) { j["expression"]["artifact_sha256"] = "abc"; }),
       "expression.artifact_sha256", "'abc' is not a SHA-256 digest"},
      {"impossible instant", edited([](json& j) { j["captured_at"] = "2026-02-30T10:00:00Z"; }),
       "captured_at", "'2026-02-30T10:00:00Z' is not a valid instant: the date does not exist"},
      {"period backwards", edited([](json& j) { j["validity"]["from"] = "2027-06-01T00:00:00Z"; }),
       "validity.until", "is before validity.from"},
      {"bad recipient country", edited([](json& j) { j["recipients"][0]["country"] = "jp"; }),
       "recipients[0].country", "'jp' is not a country code"},
      {"malformed patient ref", edited([](json& j) { j["patient"]["ref"] = "Nguyen Van A"; }),
       // A name where the pseudonym belongs: refused without being quoted.
       "patient.ref",
       "patient pseudonym (the value is not shown: it may be a name) has a "
       "character outside"},
      {"unknown channel", edited([](json& j) {
         j["withdrawal"] = {{"received_at", "2026-02-01T00:00:00Z"}, {"channel", "pigeon"}};
       }),
       "withdrawal.channel", "unknown channel 'pigeon'"},
      {"unknown decision maker", edited([](json& j) {
         j["treatment_decision"] = {{"role", "uncle"}, {"person", "rep-1"}};
       }),
       "treatment_decision.role",
       "unknown decision maker role 'uncle'; expected one of: patient, prior_written_wishes, "
       "representative, facility_lead"},
      {"bad policy identifier", edited([](json& j) {
         j["privacy_policies"] = {"urn:oid:1.2.3.4.5.1", "urn:oid:3.1", "my policy"};
       }),
       "privacy_policies[1]", "'urn:oid:3.1' is not a policy identifier; expected a URI"},
      {"decision maker without a person", edited([](json& j) {
         j["treatment_decision"] = {{"role", "representative"}};
       }),
       "treatment_decision.person", "is required but missing"},
      {"wrong format", edited([](json& j) { j["format"] = "kakehashi.agreements/1"; }), "format",
       "is not a format this version reads; expected 'kakehashi.consent/1'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto result = try_load_consent(c.text);
    CHECK_FALSE(result.ok());
    bool found = false;
    for (const auto& p : result.problems) {
      found = found || (p.path == c.path && p.message.find(c.message) != std::string::npos);
    }
    CHECK(found);
    if (!found) {
      for (const auto& p : result.problems) UNSCOPED_INFO(p.path << ": " << p.message);
    }
    CHECK_THROWS_WITH(load_consent(c.text, "c.json"),
                      Contains("[kakehashi.invalid_argument] c.json: ") && Contains(c.message));
  }
}

TEST_CASE("problems of every kind in one consent file are reported together", "[consent][error]") {
  const std::string text = edited([](json& j) {
    j["colour"] = "red";                                       // unknown key
    j.erase("scope");                                          // missing
    j["status"] = "maybe";                                     // unknown value
    j["recipients"][0]["country"] = "jp";                      // meaning
    j["validity"] = {{"from", "2026-06-01T00:00:00Z"}, {"until", "2026-01-01T00:00:00Z"}};
    j["expression"]["pre_ticked"] = "no";                      // type
    j["captured_at"] = "2026-02-30T00:00:00Z";                 // impossible instant
  });
  const auto r = try_load_consent(text);
  std::vector<std::string> paths;
  for (const auto& p : r.problems) paths.push_back(p.path);
  CAPTURE(paths);
  CHECK_FALSE(r.ok());
  CHECK(paths.size() == 7);
  for (const char* path : {"colour", "scope", "status", "recipients[0].country", "validity.until",
                           "expression.pre_ticked", "captured_at"}) {
    CHECK(std::find(paths.begin(), paths.end(), path) != paths.end());
  }
}

TEST_CASE("a bad birth date is reported without quoting it", "[consent][error]") {
  for (const json& bad : {json("1961-02-30"), json(19610402), json("02/04/1961")}) {
    CAPTURE(bad.dump());
    const auto result =
        try_load_consent(edited([&](json& j) { j["patient"]["birth_date"] = bad; }));
    REQUIRE(result.problems.size() == 1);
    CHECK(result.problems[0].path == "patient.birth_date");
    CHECK(result.problems[0].message.find("1961") == std::string::npos);
  }
}

TEST_CASE("an unreadable consent file is not_found", "[consent][error]") {
  try {
    load_consent_file("/nonexistent/consent.json");
    FAIL("no throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::not_found);
  }
}
