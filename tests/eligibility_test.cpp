#include <catch2/catch.hpp>
#include <kakehashi/eligibility.hpp>
#include <kakehashi/error.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/agreements_fixture.hpp"

using namespace kakehashi;
using Catch::Matchers::Contains;
using ic = ineligibility_code;

namespace {

const agreement_directory& network() {
  static const agreement_directory dir = agreement_directory::load(test::network_text());
  return dir;
}

const agreement_directory& seeds() {
  static const agreement_directory dir =
      agreement_directory::load_file(std::string(KAKEHASHI_SOURCE_DIR) + "/data/agreements.json");
  return dir;
}

std::vector<ic> codes_for(const eligibility_result& r, const std::string& hospital) {
  std::vector<ic> out;
  for (const auto& reason : r.reasons_for(hospital_id{hospital})) out.push_back(reason.code);
  return out;
}

eligibility_result ask(const agreement_directory& dir, const std::string& from,
                       const std::string& specialty, const std::string& at,
                       std::map<hospital_id, int> counts = {}) {
  return check_eligibility(
      dir, {hospital_id{from}, specialty_code{specialty}, parse_instant(at), std::move(counts)});
}

// One ineligible entry as comparable text: hospital, agreement, and each reason's code and message.
std::string to_json_of(const ineligible_destination& i) {
  nlohmann::json j = {{"hospital", i.hospital.value()},
                      {"agreement", i.agreement ? i.agreement->value() : ""}};
  for (const auto& r : i.reasons)
    j["reasons"].push_back({std::string(to_string(r.code)), r.message});
  return j.dump();
}

}  // namespace

TEST_CASE("eligibility over hospital x specialty x instant", "[eligibility]") {
  // clang-format off
  auto [from, to, specialty, at, want] = GENERATE(table<std::string, std::string, std::string, std::string, std::vector<ic>>({
    // ab: effective from 14 November 2025 in Asia/Tokyo = 2025-11-13T15:00Z; both sides of it.
    {"vn-a", "jp-b", "oncology",   "2025-11-13T14:59:59Z", {ic::not_yet_effective}},
    {"vn-a", "jp-b", "oncology",   "2025-11-13T15:00:00Z", {}},
    {"vn-a", "jp-b", "oncology",   "2025-11-14T00:00:00+09:00", {}},
    {"vn-a", "jp-b", "oncology",   "2025-11-13T23:59:59+09:00", {ic::not_yet_effective}},
    // an open-ended agreement, far in the future
    {"vn-a", "jp-b", "cardiology", "2040-01-01T00:00:00Z", {}},
    // cb: 2026-01-01 .. 2026-06-30 in Asia/Ho_Chi_Minh (UTC+7): both ends, both sides of midnight.
    {"vn-c", "jp-b", "oncology",   "2025-12-31T16:59:59Z", {ic::not_yet_effective}},
    {"vn-c", "jp-b", "oncology",   "2025-12-31T17:00:00Z", {}},
    {"vn-c", "jp-b", "oncology",   "2026-06-30T23:59:59+07:00", {}},
    {"vn-c", "jp-b", "oncology",   "2026-07-01T00:00:00+07:00", {ic::expired}},
    // ad: suspended 2026-02-01 .. 2026-02-28 in Asia/Tokyo
    {"vn-a", "jp-d", "oncology",   "2026-01-31T23:59:59+09:00", {}},
    {"vn-a", "jp-d", "oncology",   "2026-02-01T00:00:00+09:00", {ic::suspended}},
    {"vn-a", "jp-d", "oncology",   "2026-02-28T23:59:59+09:00", {ic::suspended}},
    {"vn-a", "jp-d", "oncology",   "2026-03-01T00:00:00+09:00", {}},
    // cd: terminated from 2026-03-01 in Asia/Tokyo
    {"vn-c", "jp-d", "oncology",   "2026-02-28T14:59:59Z", {}},
    {"vn-c", "jp-d", "oncology",   "2026-02-28T15:00:00Z", {ic::terminated}},
    // the wrong direction: jp-b may not refer to vn-a under ab
    {"jp-b", "vn-a", "oncology",   "2026-03-01T00:00:00Z", {ic::direction_not_allowed}},
    // a specialty the agreement does not cover, which the destination does not offer either
    {"vn-a", "jp-b", "dialysis",   "2026-03-01T00:00:00Z", {ic::specialty_not_covered, ic::specialty_not_offered}},
    // covered by the agreement's hospital but not offered: jp-d offers dialysis, ad covers oncology only
    {"vn-a", "jp-d", "dialysis",   "2026-03-01T00:00:00Z", {ic::specialty_not_covered}},
    // a research-only agreement
    {"vn-e", "jp-b", "oncology",   "2026-03-01T00:00:00Z", {ic::referral_not_in_scope}},
    // no agreement at all
    {"vn-f", "jp-b", "oncology",   "2026-03-01T00:00:00Z", {ic::no_agreement}},
    // several reasons at once: terminated, and a specialty outside the terms
    {"vn-c", "jp-d", "dialysis",   "2026-03-05T00:00:00Z", {ic::terminated, ic::specialty_not_covered}},
  }));
  // clang-format on
  CAPTURE(from, to, specialty, at);
  const auto r = ask(network(), from, specialty, at);
  CHECK(r.is_eligible(hospital_id{to}) == want.empty());
  CHECK(codes_for(r, to) == want);
  // The destination alone (as a proposal asks): the same answer, about it only.
  eligibility_query one{hospital_id{from}, specialty_code{specialty}, parse_instant(at), {}};
  one.scope = eligibility_scope::destination;
  one.destination = hospital_id{to};
  const auto d = check_eligibility(network(), one);
  CHECK(d.is_eligible(hospital_id{to}) == want.empty());
  CHECK(codes_for(d, to) == want);
  for (const auto& e : d.eligible) CHECK(e.hospital == hospital_id{to});
  for (const auto& i : d.ineligible) CHECK(i.hospital == hospital_id{to});
}

TEST_CASE("the partners scope answers as the directory scope does, without no_agreement entries",
          "[eligibility]") {
  const auto origin = GENERATE(as<std::string>{}, "vn-a", "vn-c", "vn-e", "vn-f", "jp-b", "jp-d");
  const auto at = GENERATE(as<std::string>{}, "2026-02-10T00:00:00Z", "2026-03-05T00:00:00Z");
  const auto specialty = GENERATE(as<std::string>{}, "oncology", "dialysis");
  CAPTURE(origin, at, specialty);
  const auto all = ask(network(), origin, specialty, at, {{hospital_id{"jp-b"}, 1}});
  eligibility_query q{hospital_id{origin},
                      specialty_code{specialty},
                      parse_instant(at),
                      {{hospital_id{"jp-b"}, 1}}};
  q.scope = eligibility_scope::partners;
  const auto partners = check_eligibility(network(), q);
  REQUIRE(partners.eligible.size() == all.eligible.size());
  for (std::size_t i = 0; i < all.eligible.size(); ++i) {
    CHECK(partners.eligible[i].hospital == all.eligible[i].hospital);
    CHECK(partners.eligible[i].agreement == all.eligible[i].agreement);
    CHECK(partners.eligible[i].remaining_capacity == all.eligible[i].remaining_capacity);
  }
  std::vector<std::string> expected, got;
  for (const auto& i : all.ineligible) {
    if (i.reasons.front().code != ic::no_agreement) expected.push_back(to_json_of(i));
  }
  for (const auto& i : partners.ineligible) got.push_back(to_json_of(i));
  CHECK(got == expected);
}

TEST_CASE("a query of one destination names what is wrong with it", "[eligibility][error]") {
  eligibility_query q{
      hospital_id{"vn-a"}, specialty_code{"oncology"}, parse_instant("2026-03-01T00:00:00Z"), {}};
  q.scope = eligibility_scope::destination;
  CHECK_THROWS_WITH(check_eligibility(network(), q),
                    Contains("[kakehashi.invalid_argument] query.destination: is missing"));
  q.destination = hospital_id{"vn-a"};
  CHECK_THROWS_WITH(check_eligibility(network(), q),
                    Contains("'vn-a' is the referring hospital itself"));
  q.destination = hospital_id{"jp-z"};
  CHECK_THROWS_WITH(check_eligibility(network(), q),
                    Contains("[kakehashi.not_found] query.destination: hospital 'jp-z'"));
  q.destination = hospital_id{"vn-f"};  // no agreement: a "no", not an error
  const auto r = check_eligibility(network(), q);
  CHECK(codes_for(r, "vn-f") == std::vector<ic>{ic::no_agreement});
}

TEST_CASE("capacity is reached when the month's count meets the agreement's capacity",
          "[eligibility]") {
  const std::string at = "2026-03-01T00:00:00Z";
  SECTION("below capacity: eligible, with what remains") {
    const auto r = ask(network(), "vn-a", "oncology", at, {{hospital_id{"jp-b"}, 1}});
    REQUIRE(r.find_eligible(hospital_id{"jp-b"}));
    CHECK(r.find_eligible(hospital_id{"jp-b"})->remaining_capacity == 1);
  }
  SECTION("at capacity: not eligible, and the message names the numbers") {
    const auto r = ask(network(), "vn-a", "oncology", at, {{hospital_id{"jp-b"}, 2}});
    CHECK(codes_for(r, "jp-b") == std::vector<ic>{ic::capacity_reached});
    CHECK(r.reasons_for(hospital_id{"jp-b"})[0].message ==
          "agreement 'ab' allows 2 'oncology' referral(s) a month to 'jp-b'; 2 counted this month");
  }
  SECTION("no count given: capacity is not checked, the full capacity remains") {
    const auto r = ask(network(), "vn-a", "oncology", at);
    CHECK(r.find_eligible(hospital_id{"jp-b"})->remaining_capacity == 2);
  }
  SECTION("a specialty without a capacity term is not limited") {
    const auto r = ask(network(), "vn-a", "cardiology", at, {{hospital_id{"jp-b"}, 50}});
    CHECK(r.is_eligible(hospital_id{"jp-b"}));
    CHECK_FALSE(r.find_eligible(hospital_id{"jp-b"})->remaining_capacity.has_value());
  }
}

TEST_CASE("eligible destinations are ranked as documented", "[eligibility]") {
  // vn-a may refer oncology to jp-b (capacity 2, 14 days) and to jp-d (no capacity term, 7 days).
  SECTION("an unlimited destination ranks before a limited one") {
    const auto r = ask(network(), "vn-a", "oncology", "2026-03-10T00:00:00Z");
    REQUIRE(r.eligible.size() == 2);
    CHECK(r.eligible[0].hospital == hospital_id{"jp-d"});
    CHECK(r.eligible[0].response_deadline_days == 7);
    CHECK(r.eligible[1].hospital == hospital_id{"jp-b"});
    CHECK(r.eligible[1].agreement == agreement_id{"ab"});
  }
  SECTION("with equal capacity, the shorter deadline first") {
    auto hospitals = network().hospitals();
    auto agreements = network().agreements();
    agreements[0].monthly_capacity.clear();  // ab: unlimited, 14 days; ad: unlimited, 7 days
    agreements[2].status = {};
    const auto dir = agreement_directory::from_values(hospitals, agreements);
    const auto r = ask(dir, "vn-a", "oncology", "2026-02-10T00:00:00Z");
    REQUIRE(r.eligible.size() == 2);
    CHECK(r.eligible[0].hospital == hospital_id{"jp-d"});
    CHECK(r.eligible[1].hospital == hospital_id{"jp-b"});
  }
}

TEST_CASE("every other hospital appears as not eligible, ordered, with every reason",
          "[eligibility]") {
  const auto r = ask(network(), "vn-a", "oncology", "2026-02-10T00:00:00Z");  // ad suspended
  REQUIRE(r.eligible.size() == 1);
  CHECK(r.eligible[0].hospital == hospital_id{"jp-b"});
  std::vector<std::string> listed;
  for (const auto& i : r.ineligible) {
    listed.push_back(i.hospital.value());
    CHECK_FALSE(i.reasons.empty());
  }
  CHECK(listed == std::vector<std::string>{"jp-d", "vn-c", "vn-e", "vn-f"});
  CHECK(r.ineligible[0].agreement == agreement_id{"ad"});
  CHECK(r.ineligible[0].reasons[0].message ==
        "agreement 'ad' is suspended from 2026-02-01 to 2026-02-28 (Asia/Tokyo); the referral "
        "would be at 2026-02-10T00:00:00Z");
  CHECK_FALSE(r.ineligible[1].agreement.has_value());
  CHECK(r.ineligible[1].reasons[0].message == "no agreement between 'vn-a' and 'vn-c'");
}

TEST_CASE("the seed agreements answer the questions of the issue", "[eligibility]") {
  SECTION("Bach Mai may refer cardiology to Shonan Kamakura on 2026-03-01") {
    const auto r = ask(seeds(), "bach-mai", "cardiology", "2026-03-01T00:00:00Z");
    REQUIRE(r.eligible.size() == 1);
    CHECK(r.eligible[0].hospital == hospital_id{"shonan-kamakura"});
    CHECK(r.eligible[0].agreement == agreement_id{"mou-bach-mai-shonan-kamakura-2025"});
  }
  SECTION("K Hospital may not, and is told why") {
    const auto r = ask(seeds(), "k-hospital", "cardiology", "2026-03-01T00:00:00Z");
    CHECK_FALSE(r.ok());
    const auto reasons = r.reasons_for(hospital_id{"shonan-kamakura"});
    REQUIRE(reasons.size() == 1);
    CHECK(reasons[0].code == ic::specialty_not_covered);
    CHECK(reasons[0].message ==
          "agreement 'mou-k-hospital-shonan-kamakura-2025' covers referral for oncology, not "
          "'cardiology'");
  }
  SECTION("K Hospital's MoU starts at Tokyo midnight of 14 November 2025") {
    CHECK(codes_for(ask(seeds(), "k-hospital", "oncology", "2025-11-13T14:59:59Z"),
                    "shonan-kamakura") == std::vector<ic>{ic::not_yet_effective});
    CHECK(ask(seeds(), "k-hospital", "oncology", "2025-11-13T15:00:00Z")
              .is_eligible(hospital_id{"shonan-kamakura"}));
  }
  SECTION("Cho Ray has no referral agreement") {
    const auto r = ask(seeds(), "cho-ray", "oncology", "2026-03-01T00:00:00Z");
    CHECK_FALSE(r.ok());
    CHECK(codes_for(r, "shonan-kamakura") == std::vector<ic>{ic::no_agreement});
  }
  SECTION("Shonan Kamakura may not refer back: only Vietnam to Japan is stated") {
    const auto r = ask(seeds(), "shonan-kamakura", "oncology", "2026-03-01T00:00:00Z");
    CHECK(codes_for(r, "bach-mai") == std::vector<ic>{ic::direction_not_allowed});
  }
}

TEST_CASE("a bad query is an error, a 'no' never is", "[eligibility][error]") {
  CHECK_THROWS_MATCHES(ask(network(), "vn-zz", "oncology", "2026-03-01T00:00:00Z"), error,
                       Catch::Matchers::Message(
                           "[kakehashi.not_found] query.from: hospital 'vn-zz' is not in the "
                           "agreements directory; known hospitals: vn-a, jp-b, vn-c, jp-d, vn-e, "
                           "vn-f"));
  CHECK_THROWS_WITH(ask(network(), "vn-a", "onco logy", "2026-03-01T00:00:00Z"),
                    Contains("[kakehashi.invalid_argument] query.specialty: specialty code "
                             "'onco logy'"));
  CHECK_THROWS_WITH(
      ask(network(), "vn-a", "oncology", "2026-03-01T00:00:00Z", {{hospital_id{"jp-b"}, -1}}),
      Contains("query.month_counts.jp-b: -1 is negative"));
  CHECK_NOTHROW(ask(network(), "vn-f", "cardiology", "2026-03-01T00:00:00Z"));
}

TEST_CASE("the result serialises to the documented JSON", "[eligibility]") {
  const auto r =
      ask(network(), "vn-a", "oncology", "2026-02-10T00:00:00Z", {{hospital_id{"jp-b"}, 1}});
  const auto j = nlohmann::json::parse(to_json(r));
  CHECK(j["from"] == "vn-a");
  CHECK(j["specialty"] == "oncology");
  CHECK(j["at"] == "2026-02-10T00:00:00Z");
  REQUIRE(j["eligible"].size() == 1);
  CHECK(j["eligible"][0]["hospital"] == "jp-b");
  CHECK(j["eligible"][0]["agreement"] == "ab");
  CHECK(j["eligible"][0]["remaining_capacity"] == 1);
  CHECK(j["eligible"][0]["response_deadline_days"] == 14);
  REQUIRE(j["ineligible"].size() == 4);
  CHECK(j["ineligible"][0]["hospital"] == "jp-d");
  CHECK(j["ineligible"][0]["agreement"] == "ad");
  CHECK(j["ineligible"][0]["reasons"][0]["code"] == "suspended");
  CHECK(j["ineligible"][0]["reasons"][0]["agreement"] == "ad");
  CHECK(j["ineligible"][1]["agreement"].is_null());
  CHECK(j["ineligible"][1]["reasons"][0]["code"] == "no_agreement");
  CHECK(j["ineligible"][1]["reasons"][0]["agreement"].is_null());
}

TEST_CASE("ineligibility codes round-trip through their names", "[eligibility]") {
  for (auto c : {ic::no_agreement, ic::not_yet_effective, ic::expired, ic::suspended,
                 ic::terminated, ic::referral_not_in_scope, ic::specialty_not_covered,
                 ic::specialty_not_offered, ic::direction_not_allowed, ic::capacity_reached}) {
    CHECK(parse_ineligibility_code(to_string(c)) == c);
  }
  CHECK_FALSE(parse_ineligibility_code("eligible").has_value());
}
