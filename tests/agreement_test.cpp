#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <kakehashi/agreement.hpp>
#include <kakehashi/error.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/agreements_fixture.hpp"

using namespace kakehashi;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

const hospital_id vn_a{"vn-a"}, jp_b{"jp-b"};

struct bad_input {
  const char* name;
  std::function<std::string()> text;  // the whole document
  std::string path;
  const char* message;
};

std::string edited(const std::function<void(json&)>& edit) {
  json j = test::network_json();
  edit(j);
  return j.dump();
}

std::string data_file() { return std::string(KAKEHASHI_SOURCE_DIR) + "/data/agreements.json"; }

}  // namespace

TEST_CASE("the fixture network loads with every field read", "[agreement]") {
  const auto dir = agreement_directory::load(test::network_text());
  REQUIRE(dir.hospitals().size() == 6);
  REQUIRE(dir.agreements().size() == 5);
  const hospital& a = *dir.find_hospital(vn_a);
  CHECK(a.name_en == "Hospital A");
  CHECK(a.name_vi == "Bệnh viện A");
  CHECK(a.country == "VN");
  CHECK(a.time_zone == "Asia/Ho_Chi_Minh");
  CHECK(a.offers(specialty_code{"cardiology"}));
  CHECK_FALSE(a.offers(specialty_code{"dialysis"}));
  const agreement& ab = *dir.find_agreement(agreement_id{"ab"});
  CHECK(ab.parties == std::vector<hospital_id>{vn_a, jp_b});
  CHECK(ab.signed_on == date::year{2025} / 11 / 14);
  CHECK_FALSE(ab.effective_until.has_value());
  CHECK(ab.covers(collaboration_area::telemedicine));
  CHECK(ab.covers_specialty(specialty_code{"oncology"}));
  CHECK(ab.allows_direction(vn_a, jp_b));
  CHECK_FALSE(ab.allows_direction(jp_b, vn_a));
  CHECK(ab.response_deadline_days == 14);
  CHECK(ab.monthly_capacity.at(specialty_code{"oncology"}) == 2);
  CHECK(ab.required_documents ==
        std::vector<document_kind>{document_kind::referral_letter, document_kind::imaging});
  CHECK(ab.missing_documents == missing_documents_rule::refuse);  // the default
  CHECK(ab.required_milestones == std::vector<milestone>{milestone::medical_visa_issued});
  CHECK(ab.results_before_completion == results_rule::required);
  CHECK(dir.find_agreement(agreement_id{"cb"})->results_before_completion ==
        results_rule::optional);  // the default
  CHECK(ab.languages == std::vector<std::string>{"en", "ja"});
  const agreement& ad = *dir.find_agreement(agreement_id{"ad"});
  CHECK(ad.status.state == agreement_state::suspended);
  CHECK(ad.status.from == date::year{2026} / 2 / 1);
  CHECK(ad.status.until == date::year{2026} / 2 / 28);
  CHECK(dir.find_agreement(agreement_id{"cd"})->source.published == date::year{2025} / 1 / 2);
  CHECK(dir.find_hospital(hospital_id{"nowhere"}) == nullptr);
}

TEST_CASE("the directory's indexes find hospitals, agreements and a hospital's agreements",
          "[agreement]") {
  const auto loaded = agreement_directory::load(test::network_text());
  const agreement_directory copy = loaded;  // the indexes hold positions: a copy finds its own
  for (const agreement_directory* dir : {&loaded, &copy}) {
    for (const hospital& h : dir->hospitals()) {
      CHECK(dir->find_hospital(h.id) == &h);
      // agreements_of equals a scan of the agreements, in the directory's order.
      std::vector<const agreement*> scanned;
      for (const agreement& a : dir->agreements()) {
        if (a.has_party(h.id)) scanned.push_back(&a);
      }
      CHECK(dir->agreements_of(h.id) == scanned);
    }
    for (const agreement& a : dir->agreements()) CHECK(dir->find_agreement(a.id) == &a);
    CHECK(dir->agreements_of(hospital_id{"nowhere"}).empty());
    CHECK(dir->find_agreement(agreement_id{"nowhere"}) == nullptr);
  }
  CHECK(copy.agreements_of(vn_a).size() == 2);  // ab and ad
}

TEST_CASE("agreement dates are read in the agreement's time zone", "[agreement]") {
  const auto dir = agreement_directory::load(test::network_text());
  // 14 November in Asia/Tokyo (UTC+9) starts at 2025-11-13T15:00Z, not at midnight UTC.
  CHECK(to_iso8601(dir.starts_at(*dir.find_agreement(agreement_id{"ab"}))) ==
        "2025-11-13T15:00:00Z");
  // 1 January 2026 in Asia/Ho_Chi_Minh (UTC+7) starts at 2025-12-31T17:00Z; the inclusive end
  // date 30 June 2026 runs until 2026-06-30T17:00Z.
  const agreement& cb = *dir.find_agreement(agreement_id{"cb"});
  CHECK(to_iso8601(dir.starts_at(cb)) == "2025-12-31T17:00:00Z");
  REQUIRE(dir.ends_at(cb).has_value());
  CHECK(to_iso8601(*dir.ends_at(cb)) == "2026-06-30T17:00:00Z");
  CHECK_FALSE(dir.ends_at(*dir.find_agreement(agreement_id{"ab"})).has_value());
}

TEST_CASE("the shipped data file states the seed agreements and says what is assumed",
          "[agreement]") {
  const auto dir = agreement_directory::load_file(data_file());
  const agreement* k = dir.find_agreement(agreement_id{"mou-k-hospital-shonan-kamakura-2025"});
  const agreement* bm = dir.find_agreement(agreement_id{"mou-bach-mai-shonan-kamakura-2025"});
  REQUIRE(k);
  REQUIRE(bm);
  CHECK(k->parties ==
        std::vector<hospital_id>{hospital_id{"k-hospital"}, hospital_id{"shonan-kamakura"}});
  CHECK(k->signed_on == date::year{2025} / 11 / 14);
  CHECK(k->referral_specialties == std::vector<specialty_code>{specialty_code{"oncology"}});
  CHECK(bm->signed_on == date::year{2025} / 11 / 15);
  CHECK(bm->referral_specialties ==
        std::vector<specialty_code>{specialty_code{"oncology"}, specialty_code{"cardiology"},
                                    specialty_code{"transplantation"}, specialty_code{"dialysis"}});
  for (const agreement* a : {k, bm}) {
    CAPTURE(a->id);
    CHECK(a->covers(collaboration_area::patient_referral));
    CHECK_FALSE(a->effective_until.has_value());  // not stated: unset, not invented
    CHECK_FALSE(a->response_deadline_days.has_value());
    CHECK(a->monthly_capacity.empty());
    CHECK_FALSE(a->assumptions.empty());
    // The source can be followed from a clone: docs/sources.md describes it under the id the
    // reference names (it used to point outside the repository).
    const std::string& ref = a->source.reference;
    const auto at = ref.find("docs/sources.md, ");
    REQUIRE(at != std::string::npos);
    const std::string id = ref.substr(at + std::string("docs/sources.md, ").size());
    std::ifstream in(std::string(KAKEHASHI_SOURCE_DIR) + "/docs/sources.md");
    std::ostringstream doc;
    doc << in.rdbuf();
    CHECK(doc.str().find("| `" + id + "` | Shonan Kamakura General Hospital") != std::string::npos);
    CHECK(ref.find("shared/") == std::string::npos);
  }
  // A Vietnamese hospital from the seeds with no referral agreement with a Japanese partner.
  const hospital* cho_ray = dir.find_hospital(hospital_id{"cho-ray"});
  REQUIRE(cho_ray);
  for (const auto& a : dir.agreements()) CHECK_FALSE(a.has_party(cho_ray->id));
}

TEST_CASE("every kind of bad input is reported with its path and value, and nothing loads",
          "[agreement][error]") {
  const std::vector<bad_input> cases{
      {"unknown key", [] { return edited([](json& j) { j["hospitals"][0]["colour"] = "red"; }); },
       "hospitals[0].colour", "unknown key 'colour'; allowed keys here: id, names, country"},
      {"wrong type",
       [] { return edited([](json& j) { j["hospitals"][1]["specialties"] = "oncology"; }); },
       "hospitals[1].specialties", "expected an array, found a string"},
      {"wrong type of a number",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["response_deadline_days"] = "14"; });
       },
       "agreements[0].referral.response_deadline_days",
       "expected an integer from 1 to 365, found a string '14'"},
      {"a fraction where an integer belongs",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["response_deadline_days"] = 14.5; });
       },
       "agreements[0].referral.response_deadline_days", "found a number with a fraction 14.5"},
      {"impossible date",
       [] { return edited([](json& j) { j["agreements"][1]["effective_from"] = "2025-02-30"; }); },
       "agreements[1].effective_from", "'2025-02-30' is not a valid date"},
      {"date in another shape",
       [] { return edited([](json& j) { j["agreements"][1]["signed"] = "01/12/2025"; }); },
       "agreements[1].signed",
       "'01/12/2025' is not a valid date; expected an existing calendar date as YYYY-MM-DD"},
      {"unknown time zone",
       [] { return edited([](json& j) { j["agreements"][0]["time_zone"] = "Asia/Hanoi"; }); },
       "agreements[0].time_zone", "unknown time zone 'Asia/Hanoi'; expected an IANA zone name"},
      {"unknown hospital zone",
       [] { return edited([](json& j) { j["hospitals"][0]["time_zone"] = "UTC+7"; }); },
       "hospitals[0].time_zone", "unknown time zone 'UTC+7'"},
      {"duplicate hospital id",
       [] { return edited([](json& j) { j["hospitals"][2]["id"] = "vn-a"; }); }, "hospitals[2].id",
       "duplicate hospital id 'vn-a' (also hospitals[0])"},
      {"duplicate agreement id",
       [] { return edited([](json& j) { j["agreements"][3]["id"] = "ab"; }); }, "agreements[3].id",
       "duplicate agreement id 'ab' (also agreements[0])"},
      {"malformed id", [] { return edited([](json& j) { j["hospitals"][0]["id"] = "vn a"; }); },
       "hospitals[0].id", "hospital id 'vn a' has a character outside [A-Za-z0-9._:-]"},
      {"party not in the directory",
       [] { return edited([](json& j) { j["agreements"][1]["parties"][1] = "jp-nowhere"; }); },
       "agreements[1].parties[1]",
       "hospital 'jp-nowhere' is not in the directory; known hospitals: jp-b, jp-d, vn-a"},
      {"end before start",
       [] { return edited([](json& j) { j["agreements"][1]["effective_until"] = "2025-12-31"; }); },
       "agreements[1].effective_until", "2025-12-31 is before effective_from 2026-01-01"},
      {"a document kind written as words (before documents were coded)",
       [] {
         return edited([](json& j) {
           j["agreements"][0]["referral"]["required_documents"][1] = "Pathology report";
         });
       },
       "agreements[0].referral.required_documents[1]",
       "'Pathology report' is not a document kind; did you mean 'pathology_report'? expected "
       "one of: referral_letter, imaging, pathology_report"},
      {"an unknown document kind",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["required_documents"][0] = "x-ray"; });
       },
       "agreements[0].referral.required_documents[0]",
       "'x-ray' is not a document kind; expected one of: referral_letter"},
      {"an unknown milestone",
       [] {
         return edited([](json& j) {
           j["agreements"][0]["referral"]["required_milestones"] = {"travel_arranged", "visa"};
         });
       },
       "agreements[0].referral.required_milestones[1]",
       "'visa' is not a milestone; expected one of: treatment_plan_accepted"},
      {"an unknown rule for missing documents",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["missing_documents"] = "ignore"; });
       },
       "agreements[0].referral.missing_documents",
       "'ignore' is not allowed; expected refuse (accepting without the required documents is "
       "refused, the default) or warn"},
      {"an unknown rule for results",
       [] {
         return edited([](json& j) {
           j["agreements"][0]["referral"]["results_before_completion"] = "sometimes";
         });
       },
       "agreements[0].referral.results_before_completion",
       "'sometimes' is not allowed; expected optional (a referral may be completed without "
       "results returned, the default) or required"},
      {"missing required key",
       [] { return edited([](json& j) { j["agreements"][2].erase("signed"); }); },
       "agreements[2].signed", "is required but missing"},
      {"missing English name",
       [] { return edited([](json& j) { j["hospitals"][0]["names"].erase("en"); }); },
       "hospitals[0].names.en", "is required but missing"},
      {"bad country code",
       [] { return edited([](json& j) { j["hospitals"][1]["country"] = "Japan"; }); },
       "hospitals[1].country", "'Japan' is not a country code; expected ISO 3166-1 alpha-2"},
      {"unknown status",
       [] { return edited([](json& j) { j["agreements"][0]["status"]["state"] = "paused"; }); },
       "agreements[0].status.state",
       "unknown state 'paused'; expected one of: active, suspended, terminated"},
      {"suspension without a start",
       [] { return edited([](json& j) { j["agreements"][2]["status"].erase("from"); }); },
       "agreements[2].status.from", "is required when the state is 'suspended'"},
      {"unknown collaboration area",
       [] { return edited([](json& j) { j["agreements"][0]["areas"][1] = "tourism"; }); },
       "agreements[0].areas[1]",
       "unknown collaboration area 'tourism'; expected one of: patient_referral"},
      {"direction to a non-party",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["directions"][0]["to"] = "jp-d"; });
       },
       "agreements[0].referral.directions[0].to", "'jp-d' is not a party to this agreement"},
      {"capacity for a specialty not covered",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["monthly_capacity"]["dialysis"] = 3; });
       },
       "agreements[0].referral.monthly_capacity.dialysis",
       "specialty 'dialysis' is not in referral.specialties"},
      {"negative capacity",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["monthly_capacity"]["oncology"] = -1; });
       },
       "agreements[0].referral.monthly_capacity.oncology", "-1 is not a monthly capacity"},
      {"deadline out of range",
       [] {
         return edited(
             [](json& j) { j["agreements"][0]["referral"]["response_deadline_days"] = 0; });
       },
       "agreements[0].referral.response_deadline_days",
       "0 is out of range; expected an integer from 1 to 365"},
      {"huge number",
       [] {
         return std::string(
             R"({"format":"kakehashi.agreements/1","hospitals":[],"agreements":[{"id":"x","title":"t","parties":[],"signed":"2025-01-01","effective_from":"2025-01-01","time_zone":"Asia/Tokyo","status":{"state":"active"},"areas":[],"source":{"title":"t","reference":"r"},"referral":{"specialties":[],"directions":[],"response_deadline_days":99999999999999999999999}}]})");
       },
       "agreements[0].referral.response_deadline_days",
       "is out of range; expected an integer from 1 to 365"},
      {"bad language tag",
       [] {
         return edited([](json& j) { j["agreements"][0]["referral"]["languages"][0] = "English"; });
       },
       "agreements[0].referral.languages[0]", "'English' is not a language tag"},
      {"wrong format",
       [] { return edited([](json& j) { j["format"] = "kakehashi.agreements/9"; }); }, "format",
       "'kakehashi.agreements/9' is not a format this version reads; expected "
       "'kakehashi.agreements/1'"},
      {"duplicate key",
       [] {
         std::string t = test::network_text();
         return t.replace(t.find("\"names\""), 0, "\"id\":\"vn-z\",");
       },
       "hospitals[0].id", "duplicate key 'id'; each key may appear once in an object"},
      {"truncated JSON",
       [] {
         const auto t = test::network_text();
         return t.substr(0, t.size() / 2);
       },
       "", "not valid JSON: parse error at line 1, column"},
      {"empty file", [] { return std::string(); }, "", "not valid JSON"},
      {"not an object", [] { return std::string("[1, 2, 3]"); }, "",
       "expected an object, found an array"},
      {"invalid UTF-8",
       [] {
         std::string t = test::network_text();
         return t.replace(t.find("Hospital A"), 10, "Hospital \xff");
       },
       "", "not valid JSON: parse error at line 1, column"},
      {"deep nesting", [] { return std::string(1000, '[') + std::string(1000, ']'); },
       [] {
         std::string p;
         for (int i = 0; i < 64; ++i) p += "[0]";
         return p;
       }(),
       "nesting deeper than 64 levels"},
      {"one party only",
       [] {
         return edited([](json& j) { j["agreements"][4]["parties"] = json::array({"vn-e"}); });
       },
       "agreements[4].parties",
       "has 1 distinct hospital(s); an agreement has at least two parties"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string text = c.text();
    const auto result = agreement_directory::try_load(text);
    CHECK_FALSE(result.ok());
    CHECK(result.directory == nullptr);  // nothing of a bad file is loaded
    bool found = false;
    for (const auto& p : result.problems) {
      CAPTURE(p.path, p.message);
      found = found || (p.path == c.path && p.message.find(c.message) != std::string::npos);
    }
    CHECK(found);
    if (!found) {
      for (const auto& p : result.problems) UNSCOPED_INFO(p.path << ": " << p.message);
    }
    try {
      agreement_directory::load(text, "test.json");
      FAIL("load did not throw");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_argument);
      CHECK_THAT(e.what(), Contains("[kakehashi.invalid_argument] test.json: "));
      CHECK_THAT(e.what(), Contains(c.message));
    }
  }
}

TEST_CASE("all problems of a file are reported at once", "[agreement][error]") {
  const std::string text = edited([](json& j) {
    j["hospitals"][0]["colour"] = "red";
    j["agreements"][0]["signed"] = "2025-13-01";
    j["agreements"][1]["areas"][0] = 7;
  });
  const auto result = agreement_directory::try_load(text);
  REQUIRE(result.problems.size() == 3);
  CHECK(result.problems[0].path == "hospitals[0].colour");
  CHECK(result.problems[1].path == "agreements[0].signed");
  CHECK(result.problems[2].path == "agreements[1].areas[0]");
  CHECK_THROWS_WITH(agreement_directory::load(text, "x.json"), Contains("x.json: 3 problems"));
}

TEST_CASE("problems of every phase are reported together, each once", "[agreement][error]") {
  // Shape, type, date and range problems beside meaning and cross-reference problems: the
  // loader used to stop after the first kind (issue 14).
  const std::string text = edited([](json& j) {
    j["hospitals"][0]["colour"] = "red";                           // shape: unknown key
    j["hospitals"][1]["specialties"][0] = 5;                       // type
    j["hospitals"][1]["specialties"][2] = "cardiology";            // duplicate, after the bad one
    j["hospitals"][2]["country"] = "vn";                           // meaning: country code
    j["hospitals"][3]["time_zone"] = "Asia/Atlantis";              // meaning: time zone
    j["hospitals"][4].erase("country");                            // shape: missing
    j["agreements"][0]["signed"] = "2025-13-01";                   // date
    j["agreements"][0]["referral"]["response_deadline_days"] = 0;  // range
    j["agreements"][1]["parties"][1] = "jp-zz";                    // cross-reference: party
    j["agreements"][1]["effective_until"] = "2025-12-31";          // end before start
    j["agreements"][2]["parties"][0] = 42;                         // type, in an array
  });
  const auto result = agreement_directory::try_load(text);
  std::vector<std::string> paths;
  for (const auto& p : result.problems) paths.push_back(p.path + ": " + p.message);
  CAPTURE(paths);
  const std::vector<std::string> expected = {
      "hospitals[0].colour",
      "hospitals[1].specialties[0]",
      "hospitals[4].country",
      "agreements[0].signed",
      "agreements[0].referral.response_deadline_days",
      "agreements[2].parties[0]",
      "hospitals[1].specialties[2]",
      "hospitals[2].country",
      "hospitals[3].time_zone",
      "agreements[1].parties[1]",
      "agreements[1].effective_until",
      "agreements[1].referral.directions[0].to",  // jp-b is no longer a party: true
  };
  REQUIRE(result.problems.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(result.problems[i].path == expected[i]);
  CHECK_THAT(result.problems[6].message, Contains("duplicate specialty 'cardiology'"));
  CHECK_THAT(result.problems[7].message, Contains("'vn' is not a country code"));
  CHECK_THAT(result.problems[8].message, Contains("unknown time zone 'Asia/Atlantis'"));
  CHECK_THAT(result.problems[9].message, Contains("hospital 'jp-zz' is not in the directory"));
  CHECK_THAT(result.problems[10].message,
             Contains("2025-12-31 is before effective_from 2026-01-01"));
}

TEST_CASE("a syntax error never quotes the file's text", "[agreement][error]") {
  const auto result = agreement_directory::try_load(R"({"hospitals": [{"id": "Nguyen Van A" )");
  REQUIRE(result.problems.size() == 1);
  CHECK_THAT(result.problems[0].message, !Contains("Nguyen"));
}

TEST_CASE("a file that cannot be read is not_found", "[agreement][error]") {
  try {
    agreement_directory::load_file("/nonexistent/agreements.json");
    FAIL("no throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::not_found);
    CHECK_THAT(e.what(), Contains("/nonexistent/agreements.json: cannot read the agreements file"));
  }
}

TEST_CASE("from_values applies the loader's rules to values", "[agreement][error]") {
  const auto dir = agreement_directory::load(test::network_text());
  auto hospitals = dir.hospitals();
  auto agreements = dir.agreements();
  CHECK_NOTHROW(agreement_directory::from_values(hospitals, agreements));
  agreements[0].effective_until = date::year{2020} / 1 / 1;
  CHECK_THROWS_WITH(agreement_directory::from_values(hospitals, agreements),
                    Contains("agreements[0].effective_until: 2020-01-01 is before effective_from "
                             "2025-11-14"));
}

TEST_CASE("the full example in docs/agreements.md loads", "[agreement]") {
  std::ifstream in(std::string(KAKEHASHI_SOURCE_DIR) + "/docs/agreements.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto heading = doc.find("## A full example");
  REQUIRE(heading != std::string::npos);
  const auto start = doc.find("```json\n", heading);
  REQUIRE(start != std::string::npos);
  const auto end = doc.find("\n```", start + 8);
  const auto dir =
      agreement_directory::load(doc.substr(start + 8, end - start - 8), "docs example");
  const agreement& a = dir.agreements().at(0);
  CHECK(a.status.state == agreement_state::suspended);
  CHECK(a.monthly_capacity.at(specialty_code{"oncology"}) == 10);
}
