// The referral simulator (examples/simulator): its scenario loader, determinism, the invariants
// of a run checked against the database it wrote, its reports, and the program's handling of bad
// input.
#include <fmt/format.h>

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <kakehashi/engine.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/vocabulary.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "report.hpp"
#include "scenario.hpp"
#include "simulation.hpp"
#include "support/engine_fixture.hpp"
#include "support/process.hpp"

using Catch::Matchers::Contains;
using nlohmann::json;
namespace kh = kakehashi;

namespace {

const std::string source_dir = KAKEHASHI_SOURCE_DIR;
const std::string scenario_file = source_dir + "/examples/simulator/scenario.json";

kh::agreement_directory shipped_agreements() {
  return kh::agreement_directory::load_file(source_dir + "/data/agreements.json");
}

simulator::scenario shipped_scenario() { return simulator::load_scenario_file(scenario_file); }

// The shipped scenario with its text edited: `path` is a JSON pointer.
std::string edited(const std::string& pointer, const json& value) {
  json doc = json::parse(kh::test::slurp(scenario_file));
  doc[json::json_pointer(pointer)] = value;
  return doc.dump();
}

std::string load_error(const std::string& text) {
  try {
    (void)simulator::load_scenario(text, "test.json");
  } catch (const kh::error& e) {
    return e.what();
  }
  return "(loaded)";
}

// A smaller run of the shipped scenario, with capacity scaled so the mix of outcomes stays.
simulator::scenario small(int referrals, std::uint64_t seed, int days = 365) {
  auto s = simulator::scaled_to(shipped_scenario(), referrals);
  s.seed = seed;
  s.days = days;
  return s;
}

long sum(const long* v, int n) {
  long total = 0;
  for (int i = 0; i < n; ++i) total += v[i];
  return total;
}

}  // namespace

TEST_CASE("the shipped scenario loads with every setting", "[simulator][scenario]") {
  const auto s = shipped_scenario();
  CHECK(s.referrals > 0);
  CHECK(s.destination.value() == "shonan-kamakura");
  CHECK(s.origins.size() == 3);
  CHECK(s.response_deadline_days == 14);
  CHECK(s.monthly_capacity.at(kh::specialty_code{"oncology"}) > 0);
  CHECK(s.consent_plans.size() == 5);
  CHECK(s.days_to_travel.min < s.days_to_travel.max);
  CHECK(s.required_documents == std::vector<kh::document_kind>{kh::document_kind::referral_letter,
                                                               kh::document_kind::imaging});
  CHECK(s.documents_attached.size() == 4);
  CHECK(s.sent_when_asked > 0);
  CHECK(s.required_milestones.size() == 5);
  CHECK(s.milestones.size() == 6);  // escort_arranged is recorded for some, required of none
  CHECK(s.results_returned > 0);
  CHECK(s.days_results_before_completion.min < s.days_results_before_completion.max);
  CHECK(s.duties);
  CHECK(s.duty_completed > 0);
  CHECK(s.days_to_acknowledge_duty.min < s.days_to_acknowledge_duty.max);
  CHECK(s.reviews);
  CHECK(s.review_not_justified > 0);
  CHECK(s.days_to_review.min < s.days_to_review.max);
  // The default period crosses 1 January 2026, so both Vietnamese regimes show in one run.
  const date::sys_days first{s.start};
  const date::sys_days last = first + date::days{s.days - 1};
  CHECK(first < date::sys_days{date::year{2026} / 1 / 1});
  CHECK(last > date::sys_days{date::year{2026} / 1 / 1});
  simulator::check_against(s, shipped_agreements());
}

TEST_CASE("a scenario's description is one text or one per language", "[simulator][scenario]") {
  const auto shipped = shipped_scenario();
  CHECK(shipped.description.size() == 3);
  CHECK_THAT(shipped.description.at("ja"), Contains("湘南鎌倉総合病院"));
  CHECK_THAT(shipped.description.at("vi"), Contains("Bệnh viện Bạch Mai"));
  const auto one = simulator::load_scenario(edited("/description", "one text"), "test.json");
  CHECK(one.description == std::map<std::string, std::string>{{"", "one text"}});
  // In the report: each language's own; a text only in English is marked as English.
  auto s = simulator::simulate(small(20, 1), shipped_agreements(), ":memory:");
  auto sc = small(20, 1);
  sc.description = {{"en", "Only English."}, {"vi", "Chỉ tiếng Việt."}};
  const std::string html = simulator::to_html(s, sc, "en");
  CHECK_THAT(html, Contains("<p>Only English.</p>") && Contains("<p>Chỉ tiếng Việt.</p>") &&
                       Contains("<p lang=\"en\">Only English.</p>"));  // in the ja article
}

TEST_CASE("a malformed scenario is refused with every problem and its path", "[simulator][scenario]") {
  SECTION("not JSON") {
    CHECK_THAT(load_error("{\"format\": "), Contains("test.json: is not valid JSON"));
    // Line and column, never the text the parser stopped in (a description could hold a name).
    const std::string e = load_error("{\"description\": \"CANARYNAME born 1931-07-17");
    CHECK_THAT(e, Contains("at line 1, column"));
    CHECK(e.find("CANARY") == std::string::npos);
    CHECK(e.find("1931") == std::string::npos);
  }
  SECTION("several problems at once") {
    json doc = json::parse(kh::test::slurp(scenario_file));
    doc["run"]["days"] = 0;
    doc["run"]["colour"] = "blue";
    doc["consent"]["plans"]["forgotten"] = 1;
    doc["destination"]["accept"] = 1.5;
    doc["journey"]["days_to_travel"] = {{"min", 9}, {"mode", 3}, {"max", 20}};
    doc["run"]["start"] = "2026-02-30";
    doc.erase("paperwork");
    const std::string e = load_error(doc.dump());
    CHECK_THAT(e, Contains("[kakehashi.invalid_argument] test.json: 7 problem(s)"));
    CHECK_THAT(e, Contains("run.days: 0 is not a whole number from 1 to 3660"));
    CHECK_THAT(e, Contains("run.colour: unknown key"));
    CHECK_THAT(e, Contains("consent.plans.forgotten: unknown name; valid: complete"));
    CHECK_THAT(e, Contains("destination.accept: 1.5 is not a number from 0 to 1"));
    CHECK_THAT(e, Contains("journey.days_to_travel: min 9 <= mode 3 <= max 20 does not hold"));
    CHECK_THAT(e, Contains("run.start: \"2026-02-30\" is not a calendar day"));
    CHECK_THAT(e, Contains("paperwork: missing"));
  }
  SECTION("wrong format tag, hostile strings quoted safely") {
    const std::string e = load_error(edited("/format", "x\n\"; DROP TABLE audit;--"));
    CHECK_THAT(e, Contains("format: \"x\\n\\\"; DROP TABLE audit;--\" is not"));
    CHECK(e.find('\n') == std::string::npos);
  }
  SECTION("a description in languages the report is not written in, or not text") {
    const std::string e =
        load_error(edited("/description", {{"en", "ok"}, {"fr", "non"}, {"ja", 3}}));
    CHECK_THAT(e, Contains("2 problem(s)") &&
                      Contains("description.fr: is not a language the report is written in") &&
                      Contains("description.ja: expected a string, found 3"));
    CHECK_THAT(load_error(edited("/description", 7)),
               Contains("description: expected a string or an object of texts by language"));
  }
  SECTION("duties: the section is optional, its values checked") {
    json doc = json::parse(kh::test::slurp(scenario_file));
    doc["duties"]["completed"] = -0.5;
    doc["duties"]["days_to_complete"] = {{"min", 30}, {"mode", 10}, {"max", 28}};
    doc["duties"]["forgotten"] = true;
    const std::string e = load_error(doc.dump());
    CHECK_THAT(e, Contains("3 problem(s)"));
    CHECK_THAT(e, Contains("duties.completed: -0.5 is not a number from 0 to 1"));
    CHECK_THAT(e, Contains("duties.days_to_complete: min 30 <= mode 10 <= max 28 does not hold"));
    CHECK_THAT(e, Contains("duties.forgotten: unknown key"));
    doc = json::parse(kh::test::slurp(scenario_file));
    doc.erase("duties");
    CHECK_FALSE(simulator::load_scenario(doc.dump(), "test.json").duties);
  }
  SECTION("emergency reviews: the section is optional, its values checked") {
    json doc = json::parse(kh::test::slurp(scenario_file));
    doc["emergency_reviews"]["not_justified"] = 2;
    doc["emergency_reviews"]["days_to_review"] = {{"min", 3}, {"mode", 1}, {"max", 5}};
    const std::string e = load_error(doc.dump());
    CHECK_THAT(e, Contains("2 problem(s)"));
    CHECK_THAT(e, Contains("emergency_reviews.not_justified: 2 is not a number from 0 to 1"));
    CHECK_THAT(e, Contains("emergency_reviews.days_to_review: min 3 <= mode 1 <= max 5 does not "
                           "hold"));
    doc.erase("emergency_reviews");
    CHECK_FALSE(simulator::load_scenario(doc.dump(), "test.json").reviews);
  }
  SECTION("a hospital id that is not one") {
    CHECK_THAT(load_error(edited("/destination/hospital", "shonan kamakura")),
               Contains("destination.hospital: \"shonan kamakura\" is not a hospital id"));
  }
  SECTION("documents that are not document kinds; the section is optional") {
    json doc = json::parse(kh::test::slurp(scenario_file));
    doc["destination"]["required_documents"] = {"referral letter"};
    doc["documents"]["attached"]["x-ray"] = 0.5;
    doc["documents"]["sent_when_asked"] = 2;
    const std::string e = load_error(doc.dump());
    CHECK_THAT(e, Contains("3 problem(s)"));
    CHECK_THAT(e, Contains("destination.required_documents[0]: \"referral letter\" is not a "
                           "document kind; expected one of referral_letter, imaging"));
    CHECK_THAT(e, Contains("documents.attached.x-ray: is not a document kind"));
    CHECK_THAT(e, Contains("documents.sent_when_asked: 2 is not a number from 0 to 1"));
    doc = json::parse(kh::test::slurp(scenario_file));
    doc.erase("documents");
    doc["destination"].erase("required_documents");
    const auto without = simulator::load_scenario(doc.dump(), "test.json");
    CHECK(without.documents_attached.empty());
    CHECK(without.required_documents.empty());
  }
  SECTION("milestones that are not milestones, or required and never recorded; optional") {
    json doc = json::parse(kh::test::slurp(scenario_file));
    doc["destination"]["required_milestones"].push_back("visa");
    doc["milestones"]["boarding_pass"] = {
        {"days_after_acceptance", {{"min", 1}, {"mode", 2}, {"max", 3}}}};
    doc["milestones"]["travel_arranged"]["chance"] = -0.5;
    doc["milestones"].erase("guarantor_confirmed");
    doc["milestones"]["escort_arranged"]["when"] = "soon";
    const std::string e = load_error(doc.dump());
    CHECK_THAT(e, Contains("5 problem(s)"));
    CHECK_THAT(e, Contains("destination.required_milestones[5]: \"visa\" is not a milestone; "
                           "expected one of treatment_plan_accepted, cost_estimate_accepted"));
    CHECK_THAT(e, Contains("milestones.boarding_pass: is not a milestone"));
    CHECK_THAT(e, Contains("milestones.travel_arranged.chance: -0.5 is not a number from 0 to 1"));
    CHECK_THAT(e, Contains("milestones: has no entry for guarantor_confirmed, which "
                           "destination.required_milestones lists"));
    CHECK_THAT(e, Contains("milestones.escort_arranged.when: unknown key"));
    doc = json::parse(kh::test::slurp(scenario_file));
    doc.erase("milestones");
    CHECK_THAT(load_error(doc.dump()), Contains("5 problem(s)"));  // each required one, unplanned
    doc["destination"].erase("required_milestones");
    const auto without = simulator::load_scenario(doc.dump(), "test.json");
    CHECK(without.milestones.empty());
    CHECK(without.required_milestones.empty());
  }
  SECTION("results out of range; the section is optional") {
    json doc = json::parse(kh::test::slurp(scenario_file));
    doc["results"]["returned"] = "most";
    doc["results"]["days_before_completion"] = {{"min", 3}, {"mode", 1}, {"max", 2}};
    doc["results"]["kinds"] = {"discharge_summary"};
    const std::string e = load_error(doc.dump());
    CHECK_THAT(e, Contains("3 problem(s)"));
    CHECK_THAT(e, Contains("results.returned: \"most\" is not a number from 0 to 1"));
    CHECK_THAT(e, Contains("results.days_before_completion: min 3 <= mode 1 <= max 2 does not "
                           "hold"));
    CHECK_THAT(e, Contains("results.kinds: unknown key"));
    doc.erase("results");
    CHECK(simulator::load_scenario(doc.dump(), "test.json").results_returned == 0);
  }
  SECTION("weights that are all zero") {
    CHECK_THAT(load_error(edited("/journey/cancel_reasons", {{"other", 0}})),
               Contains("journey.cancel_reasons: every weight is 0"));
  }
}

TEST_CASE("a scenario naming hospitals the agreements lack is refused", "[simulator][scenario]") {
  auto s = shipped_scenario();
  s.origins[0].hospital = kh::hospital_id{"nowhere"};
  try {
    simulator::check_against(s, shipped_agreements());
    FAIL("accepted");
  } catch (const kh::error& e) {
    CHECK_THAT(e.what(), Contains("origins[0].hospital: 'nowhere' is not a hospital of the "
                                  "agreements; known: k-hospital, bach-mai"));
  }
}

TEST_CASE("a scenario's own inconsistencies are reported with its other problems",
          "[simulator][scenario]") {
  json doc = json::parse(kh::test::slurp(scenario_file));
  doc["origins"][1]["hospital"] = doc["destination"]["hospital"];
  doc["origins"][2]["hospital"] = doc["origins"][0]["hospital"];
  doc["run"]["days"] = "many";  // a type problem in another section
  const std::string e = load_error(doc.dump());
  CHECK_THAT(e, Contains("3 problem(s)"));
  CHECK_THAT(e, Contains("origins[1].hospital: is the destination"));
  CHECK_THAT(e, Contains("origins[2].hospital: '" + doc["origins"][0]["hospital"].get<std::string>() +
                         "' is listed twice"));
  CHECK_THAT(e, Contains("run.days:"));
}

TEST_CASE("the same seed gives the same run, another seed another", "[simulator]") {
  const auto agreements = shipped_agreements();
  const auto a = simulator::simulate(small(300, 7), agreements, ":memory:");
  const auto b = simulator::simulate(small(300, 7), agreements, ":memory:");
  const auto c = simulator::simulate(small(300, 8), agreements, ":memory:");
  REQUIRE(a.audit_intact);
  CHECK(a.head_hash == b.head_hash);
  CHECK(simulator::to_json(a) == simulator::to_json(b));
  CHECK(simulator::to_text(a) == simulator::to_text(b));
  CHECK(a.head_hash != c.head_hash);
  CHECK(simulator::to_json(a) != simulator::to_json(c));
}

// Issue 19, item 4: the simulator runs the production policy file, as the CLI and the service do.
TEST_CASE("a run takes the production policy file: its rules, flags and paperwork",
          "[simulator][policy]") {
  const auto agreements = shipped_agreements();
  const auto refused_by = [](const simulator::summary& s, const std::string& rule) {
    long n = 0;
    for (const auto& r : s.refusals) n += r.rule == rule ? r.count : 0;
    return n;
  };
  const auto standard = simulator::simulate(small(600, 2026), agreements, ":memory:");
  REQUIRE(refused_by(standard, "VN-09") > 0);  // Law 91's written request, missing at first
  // The example policy file (both hospitals' paperwork on file): the same rules, so the same
  // refusals; the log differs from the standard run's only where the policy says otherwise.
  const kh::policy_settings example =
      kh::load_policy_file(std::string(KAKEHASHI_SOURCE_DIR) + "/data/policy.example.json");
  const auto with_example =
      simulator::simulate(small(600, 2026), agreements, ":memory:", {}, nullptr, &example);
  REQUIRE(with_example.audit_intact);
  CHECK(refused_by(with_example, "VN-09") == refused_by(standard, "VN-09"));
  // A policy whose flag lets the consent form count as the written request: no VN-09 refusal.
  kh::policy_settings lenient = example;
  kh::policy_flags flags = lenient.policy.flags();
  flags.vn_consent_form_is_written_request = true;
  lenient.policy.set_flags(flags);
  const auto with_lenient =
      simulator::simulate(small(600, 2026), agreements, ":memory:", {}, nullptr, &lenient);
  REQUIRE(with_lenient.audit_intact);
  CHECK(refused_by(with_lenient, "VN-09") == 0);
  // Its paperwork replaces the scenario's: without a transfer agreement on file for K Hospital,
  // VN-10 refuses its referrals' consents.
  kh::policy_settings no_agreement = example;
  no_agreement.compliance.at(kh::hospital_id{"k-hospital"}).transfer_agreement = false;
  const auto with_missing =
      simulator::simulate(small(600, 2026), agreements, ":memory:", {}, nullptr, &no_agreement);
  CHECK(refused_by(with_missing, "VN-10") > 0);
  CHECK(refused_by(standard, "VN-10") == 0);
}

TEST_CASE("a run's database agrees with its summary and keeps every invariant", "[simulator]") {
  kh::test::temp_db db;
  const int n = 3000;
  const auto s = simulator::simulate(small(n, 11), shipped_agreements(), db.path());

  // The audit log verifies, from the summary and independently from the file.
  REQUIRE(s.audit_intact);
  const kh::verify_result v = kh::verify_database(db.path());
  REQUIRE(v.intact);
  CHECK(v.head_hash == s.head_hash);
  CHECK(v.rows == s.audit_rows);
  CHECK(s.commands == s.audit_rows);  // every command wrote exactly one audit row

  auto view = kh::database_view::open(db.path());
  long opened = 0, refused_proposals = 0, accepted = 0, replacements = 0;
  long attached = 0, refused_for_documents = 0, milestones = 0, results = 0;
  long completed_with_results = 0, renewed = 0, withdrawals = 0;
  std::vector<double> to_transfer, to_results;  // days from acceptance, and from arrival
  for (int i = 1; i <= n; ++i) {
    const kh::referral_id id{fmt::format("R-{:06}", i)};
    const auto rows = view.history(id);
    REQUIRE_FALSE(rows.empty());
    INFO(id.value());
    REQUIRE(rows.front().command == "propose");
    const auto stored = view.find(id);
    if (rows.front().outcome != kh::audit_outcome::success) {
      // A refused proposal left no referral and nothing after it.
      CHECK(rows.front().reason_code == "not_eligible");
      CHECK_FALSE(stored);
      CHECK(rows.size() == 1);
      ++refused_proposals;
      continue;
    }
    REQUIRE(stored);
    ++opened;
    // The hospital without a referral agreement never opens a referral.
    CHECK(stored->origin.value() != "cho-ray");
    // No referral reaches accepted without a consent the policy allowed before it.
    bool consent_allowed = false;
    std::set<std::string> kinds;    // of the documents attached so far
    std::set<std::string> steps;    // the milestones recorded so far
    bool withdrawn = false, returned = false;
    bool transfer_refused = false;  // and no replacement consent recorded since
    bool return_refused = false;    // and no newer consent recorded since
    std::optional<kh::instant> accepted_at, arrived_at;
    std::string last_state;
    for (const auto& r : rows) {
      if (r.command == "transfer" && r.outcome != kh::audit_outcome::success) {
        transfer_refused = true;
      }
      if (r.command == "return_results" && r.outcome != kh::audit_outcome::success) {
        // Refused only because the consent did not grant the return (JP-04), and once.
        CHECK_THAT(r.details, Contains("JP_ART28_CONSENT_MISSING"));
        CHECK_FALSE(return_refused);
        return_refused = true;
      }
      if (r.command == "accept" && r.outcome != kh::audit_outcome::success) {
        // Refused only for the documents the scenario's destination requires, naming them.
        const auto missing = json::parse(r.details).at("missing_documents");
        CHECK_FALSE(missing.empty());
        for (const auto& k : missing) CHECK_FALSE(kinds.count(k.get<std::string>()));
        ++refused_for_documents;
      }
      if (r.outcome != kh::audit_outcome::success) continue;
      if (r.command == "attach_document") {
        kinds.insert(json::parse(r.details).at("document").at("kind").get<std::string>());
        ++attached;
      }
      if (r.command == "record_milestone") {  // each once, between acceptance and the journey
        CHECK(r.state_before == "accepted");
        CHECK(steps.insert(json::parse(r.details).at("milestone").get<std::string>()).second);
        ++milestones;
      }
      if (r.command == "withdraw_consent") withdrawn = true;
      if (r.command == "return_results") {  // after arrival, while consent stands, once
        CHECK(r.state_before == "transferred");
        CHECK_FALSE(withdrawn);
        CHECK_FALSE(returned);
        CHECK(json::parse(r.details).at("documents").size() == 2);
        returned = true;
        ++results;
        to_results.push_back(std::chrono::duration<double>(r.recorded_at - *arrived_at).count() /
                             86400);
      }
      if (r.command == "complete" && returned) ++completed_with_results;
      if (r.command == "transfer") {
        arrived_at = r.recorded_at;
        to_transfer.push_back(std::chrono::duration<double>(r.recorded_at - *accepted_at).count() /
                              86400);
      }
      if (r.command == "accept") accepted_at = r.recorded_at;
      if (r.command == "transfer") {  // the agreement's milestones held
        for (const char* m : {"treatment_plan_accepted", "cost_estimate_accepted",
                              "guarantor_confirmed", "medical_visa_issued", "travel_arranged"}) {
          CHECK(steps.count(m));
        }
      }
      // A consent that no longer allows the journey is replaced, not left to strand the
      // referral: the row after a refused transfer is the replacement (or its refusal).
      if (transfer_refused) {
        CHECK(r.command == "record_consent");
        CHECK(r.state_before == "accepted");
        transfer_refused = false;
      }
      // After the transfer, a newer consent comes only after the refused return, judged by the
      // return flow, and the results follow on it.
      if (r.command == "record_consent" && r.state_before == "transferred") {
        CHECK(return_refused);
        CHECK_FALSE(returned);
        const auto details = json::parse(r.details);
        CHECK(details.at("flow") == "return");
        CHECK(details.contains("replaces"));
        ++renewed;
      }
      // A refused return is not the end of the loop: the results went home before completion.
      if (r.command == "complete" && return_refused && !withdrawn) CHECK(returned);
      if (r.command == "withdraw_consent" && r.outcome == kh::audit_outcome::success) {
        CHECK(json::parse(r.details).contains("duty"));
        ++withdrawals;
      }
      if (r.command == "record_consent" && r.state_before == "accepted") {
        CHECK(json::parse(r.details).contains("replaces"));
        ++replacements;
      }
      if (r.command == "record_consent") {
        const auto details = json::parse(r.details);
        const std::string basis = details.at("basis");
        CHECK((basis == "consent" || basis == "emergency"));
        consent_allowed = true;
      }
      if (r.command == "accept") {
        CHECK(consent_allowed);
        CHECK(kinds.count("referral_letter"));  // the agreement's checklist held
        CHECK(kinds.count("imaging"));
        ++accepted;
      }
      last_state = r.state_after;
    }
    // The stored state is the one its audit history ends in.
    std::string state(kh::to_string(stored->state));
    if (stored->reason) state += ":" + std::string(kh::to_string(*stored->reason));
    CHECK(state == last_state);
  }
  CHECK(refused_proposals == s.outcomes[0]);
  CHECK(opened == n - s.outcomes[0]);
  CHECK(accepted > 0);
  CHECK(s.funnel[3] == accepted);
  CHECK(replacements == s.consents_replaced);
  CHECK(attached == s.documents_attached);
  CHECK(refused_for_documents == s.accepts_refused_for_documents);
  CHECK(refused_for_documents > 0);
  CHECK(s.documents_sent_when_asked > 0);
  CHECK(s.declined_for_documents > 0);
  CHECK(milestones == s.milestones_recorded);
  CHECK(results == s.results_returned);
  CHECK(results > 0);
  CHECK(completed_with_results == s.completed_with_results);
  CHECK(completed_with_results > s.outcomes[5] / 2);  // most loops close
  CHECK(renewed == s.consents_renewed_for_return);
  CHECK(renewed > 0);
  // Every withdrawal made its duty; the summary's counts are the log's.
  kh::duty_query every;
  every.open_only = false;
  std::vector<kh::duty> duties;  // the withdrawals' (the emergency reviews are counted below)
  for (auto& d : view.duties(every)) {
    if (d.kind == kh::duty_kind::withdrawal) duties.push_back(std::move(d));
  }
  CHECK(withdrawals > 0);
  CHECK(static_cast<long>(duties.size()) == withdrawals);
  CHECK(s.duties_created == withdrawals);
  long acknowledged_in_time = 0, completed_in_time = 0, completed_late = 0, open = 0, late = 0;
  const kh::instant end = kh::parse_instant(s.period_utc[1]);
  for (const auto& d : duties) {
    REQUIRE(d.acknowledge_by);
    REQUIRE(d.complete_by);
    CHECK(d.responsible == view.find(d.referral)->origin);
    if (d.acknowledged_at && *d.acknowledged_at < *d.acknowledge_by) ++acknowledged_in_time;
    if (d.completed_at) (*d.completed_at < *d.complete_by ? completed_in_time : completed_late)++;
    if (d.open()) ++open;
    // Open two days past its completion deadline: the daily sweep has reported it.
    if (d.open() && *d.complete_by + std::chrono::hours(48) < end) ++late;
  }
  CHECK(acknowledged_in_time == s.duties_acknowledged_in_time);
  CHECK(completed_in_time == s.duties_completed_in_time);
  CHECK(completed_late == s.duties_completed_late);
  CHECK(open == s.duties_open);
  CHECK(s.duties_reported_overdue >= late);
  CHECK(s.duties_reported_overdue <= s.duties_created);
  CHECK(s.duties_reported_overdue > 0);
  // Every step on an emergency basis opened its review; a second clinician of the hospital that
  // provided the data reviewed it; the summary's counts are the log's.
  long emergency_steps = 0;
  for (const auto& snap : view.list()) {
    for (const auto& r : view.history(snap.id)) {
      if (r.outcome == kh::audit_outcome::success && r.reason_code == "emergency")
        ++emergency_steps;
    }
  }
  long reviews = 0, in_time = 0, late_reviews = 0, not_justified = 0, still_open = 0;
  for (const auto& d : view.duties(every)) {
    if (d.kind != kh::duty_kind::emergency_review) continue;
    ++reviews;
    REQUIRE(d.complete_by);
    CHECK_FALSE(d.acknowledge_by);
    if (d.open()) {
      ++still_open;
      continue;
    }
    CHECK(d.reviewer == kh::user_id{"dr2-" + d.responsible.value()});
    CHECK(std::find(d.decided_by.begin(), d.decided_by.end(), d.reviewer) == d.decided_by.end());
    (*d.completed_at < *d.complete_by ? in_time : late_reviews)++;
    if (d.finding == kh::review_finding::not_justified) ++not_justified;
  }
  CHECK(reviews == emergency_steps);
  CHECK(reviews > 0);
  CHECK(reviews == s.reviews_opened);
  CHECK(in_time == s.reviews_in_time);
  CHECK(in_time > 0);
  CHECK(late_reviews == s.reviews_late);
  CHECK(not_justified == s.reviews_not_justified);
  CHECK(still_open == s.reviews_open);
  CHECK(in_time + late_reviews + still_open == reviews);
  // Each phase's figures, against the log: its referrals, and (acceptance to arrival, arrival to
  // results) its median and 90th percentile by nearest rank.
  REQUIRE(s.phases.size() == 4);
  CHECK(s.phases[0].phase == "consent");
  CHECK(s.phases[0].referrals == s.funnel[2]);
  CHECK(s.phases[1].referrals == accepted);
  CHECK(s.phases[2].referrals == s.transferred);
  CHECK(s.phases[3].referrals == s.results_returned);
  const auto nearest_rank = [](std::vector<double> d, double q) {
    std::sort(d.begin(), d.end());
    return d[static_cast<std::size_t>(std::ceil(q * static_cast<double>(d.size()))) - 1];
  };
  CHECK(s.phases[2].median_days.value() == Approx(nearest_rank(to_transfer, 0.5)));
  CHECK(s.phases[2].p90_days.value() == Approx(nearest_rank(to_transfer, 0.9)));
  CHECK(s.phases[3].median_days.value() == Approx(nearest_rank(to_results, 0.5)));
  CHECK(s.phases[3].p90_days.value() == Approx(nearest_rank(to_results, 0.9)));
  for (const auto& phase : s.phases) CHECK(*phase.median_days <= *phase.p90_days);
  CHECK(milestones > 0);
  CHECK(s.journeys_delayed_for_milestones > 0);
  CHECK(s.cancelled_for_milestones > 0);

  // Every cho-ray proposal was refused as not eligible, for want of an agreement.
  long cho_ray = 0;
  for (const auto& row : s.by_origin_specialty) {
    if (row.origin != "cho-ray") continue;
    cho_ray += row.referrals;
    CHECK(row.opened == 0);
  }
  CHECK(cho_ray > 0);
  const auto no_agreement = std::find_if(s.refusals.begin(), s.refusals.end(), [](const auto& r) {
    return r.kind == "eligibility" && r.code == "no_agreement";
  });
  REQUIRE(no_agreement != s.refusals.end());
  CHECK(no_agreement->count == cho_ray);
}

TEST_CASE("the JSON summary parses and its counts add up", "[simulator]") {
  const auto s = simulator::simulate(small(500, 3), shipped_agreements(), ":memory:");
  const json j = json::parse(simulator::to_json(s));
  const long n = j.at("referrals");
  CHECK(n == 500);
  long outcomes = 0;
  for (const auto& [k, count] : j.at("outcomes").items()) outcomes += count.get<long>();
  CHECK(outcomes == n);
  CHECK(j.at("funnel")[0].at("count") == n);
  long by_origin = 0;
  for (const auto& row : j.at("by_origin_specialty")) by_origin += row.at("referrals").get<long>();
  CHECK(by_origin == n);
  long by_month = 0;
  for (const auto& m : j.at("months")) {
    for (const auto& [k, count] : m.at("outcomes").items()) by_month += count.get<long>();
  }
  CHECK(by_month == n);
  long weekly = 0;
  for (const auto& w : j.at("lead_time_days").at("weekly")) weekly += w.get<long>();
  CHECK(weekly == j.at("lead_time_days").at("transferred").get<long>());
  CHECK(j.at("lead_time_days").at("transferred") == j.at("funnel")[4].at("count"));
  const double median = j.at("lead_time_days").at("median");
  const double p90 = j.at("lead_time_days").at("p90");
  CHECK(0 < median);
  CHECK(median <= p90);
  CHECK(j.at("audit").at("intact") == true);
  CHECK(j.at("commands").at("total") == j.at("audit").at("rows"));
  CHECK(sum(s.outcomes, simulator::outcome_count) == 500);
}

TEST_CASE("a run across 1 January 2026 shows both Vietnamese regimes", "[simulator]") {
  const auto s = simulator::simulate(small(600, 2026), shipped_agreements(), ":memory:");
  long decree_13 = 0, law_91 = 0;
  for (const auto& r : s.refusals) {
    decree_13 += r.decree_13;
    law_91 += r.law_91;
    // Law 91's written request (VN-09) does not exist under Decree 13.
    if (r.rule == "VN-09") CHECK(r.decree_13 == 0);
  }
  CHECK(decree_13 > 0);
  CHECK(law_91 > 0);
  const auto vn09 = std::find_if(s.refusals.begin(), s.refusals.end(),
                                 [](const auto& r) { return r.rule == "VN-09"; });
  REQUIRE(vn09 != s.refusals.end());
  CHECK(vn09->law_91 > 0);
  // Decree 13 consents of referrals that travel in 2026 are replaced after acceptance.
  CHECK(s.consents_replaced > 0);
  // Times are shown in each side's zone: the period starts at midnight in Vietnam.
  CHECK(s.period_local[0] == "2025-11-17 00:00 +0700");
  CHECK(s.period_utc[0] == "2025-11-16T17:00:00Z");
  REQUIRE_FALSE(s.example.empty());
  CHECK_THAT(s.example.front().local, Contains("+0700"));
  CHECK_THAT(s.example.back().local, Contains("+0900"));
}

namespace {

namespace pt = boost::property_tree;

pt::ptree parsed_html(const std::string& html) {
  // Parsed by an XML parser (stricter than HTML): a tag left open or an unescaped & fails here.
  pt::ptree doc;
  std::istringstream in(html.substr(html.find("<html")));
  REQUIRE_NOTHROW(pt::read_xml(in, doc));
  return doc;
}

// The report's <article>s by language.
std::map<std::string, pt::ptree> articles_of(const pt::ptree& doc) {
  std::map<std::string, pt::ptree> articles;
  for (const auto& [name, node] : doc.get_child("html.body")) {
    if (name == "article") articles[node.get<std::string>("<xmlattr>.lang")] = node;
  }
  return articles;
}

// No label or legend runs past its chart's edge ("consent_withdrawr", "(Law 9" were cut). A
// glyph is taken as 0.65 em wide, more than the average of a sans-serif font; a wide (CJK)
// character counts two columns, more than its one em. The browser test measures the real fonts.
// An attribute's number. (Read as text: property_tree's get<double> makes GCC 12 warn,
// -Wmaybe-uninitialized inside boost::optional, in the sanitizer build at -O1.)
double number(const pt::ptree& node, const std::string& attribute) {
  return std::stod(node.get<std::string>("<xmlattr>." + attribute));
}

void check_labels_inside(const pt::ptree& svg) {
  const double width = number(svg, "width");
  const double height = number(svg, "height");
  for (const auto& [tag, text] : svg) {
    if (tag != "text") continue;
    const std::string words = text.get_value<std::string>();
    const double size = number(text, "font-size");
    const double x = number(text, "x");
    const double y = number(text, "y");
    const double extent = 0.65 * size * static_cast<double>(kh::text::width(words));
    const std::string anchor = text.get<std::string>("<xmlattr>.text-anchor", "start");
    const double from = anchor == "end" ? x - extent : anchor == "middle" ? x - extent / 2 : x;
    CAPTURE(svg.get<std::string>("<xmlattr>.id"), words, from, from + extent, width, y, height);
    CHECK(from >= 0);
    CHECK(from + extent <= width);
    CHECK(y - size >= 0);
    CHECK(y + size * 0.3 <= height);
  }
}

std::vector<std::string> texts_of(const pt::ptree& svg) {
  std::vector<std::string> texts;
  for (const auto& [tag, text] : svg) {
    if (tag == "text") texts.push_back(text.get_value<std::string>());
  }
  return texts;
}

}  // namespace

TEST_CASE("the HTML report is well-formed and has its four charts", "[simulator][report]") {
  auto sc = small(200, 5);
  sc.description = {{"", "a <b>bold</b> & \"quoted\" description</html>"}};
  const auto s = simulator::simulate(sc, shipped_agreements(), ":memory:");
  const auto agreements = shipped_agreements();
  const auto& languages = kh::vocabulary::languages();
  // Each language chosen in turn: the page holds all three, the chosen one shown first.
  for (const auto& lang : languages) {
    INFO(lang);
    const std::string html = simulator::to_html(s, sc, lang, &agreements);
    CHECK_THAT(html, Contains("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"" + lang));
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(html.find("http://") == html.find("http://www.w3.org"));  // no external resources
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("javascript:") == std::string::npos);
    CHECK_THAT(html, Contains("a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; description"));

    const pt::ptree doc = parsed_html(html);
    // The switch: a radio button a language, the chosen one checked, and a label for each.
    std::set<std::string> checked, switches;
    for (const auto& [name, node] : doc.get_child("html.body")) {
      if (name != "input") continue;
      switches.insert(node.get<std::string>("<xmlattr>.id"));
      if (!node.get<std::string>("<xmlattr>.checked", "").empty()) {
        checked.insert(node.get<std::string>("<xmlattr>.id"));
      }
    }
    CHECK(switches == std::set<std::string>{"lang-en", "lang-ja", "lang-vi"});
    CHECK(checked == std::set<std::string>{"lang-" + lang});
    CHECK(doc.get_child("html.body.nav").size() == languages.size() + 1);  // + its attributes

    // The patterns the fills name are defined.
    std::set<std::string> patterns;
    for (const auto& [name, node] : doc.get_child("html.body.svg.defs")) {
      if (name == "pattern") patterns.insert(node.get<std::string>("<xmlattr>.id"));
    }
    CHECK(patterns.size() == 5);  // the four open states, and Law 91's refusals
    std::size_t at = 0;
    while ((at = html.find("fill=\"url(#", at)) != std::string::npos) {
      at += 11;
      const std::string id = html.substr(at, html.find(')', at) - at);
      CAPTURE(id);
      CHECK(patterns.count(id) == 1);
    }

    const auto articles = articles_of(doc);
    REQUIRE(articles.size() == languages.size());
    std::set<std::string> ids;
    for (const auto& [article_lang, article] : articles) {
      INFO(article_lang);
      CHECK(article.get<std::string>("<xmlattr>.id") == "report-" + article_lang);
      std::set<std::string> charts;
      for (const auto& [name, figure] : article) {
        if (name != "figure") continue;
        CHECK(figure.get<std::string>("<xmlattr>.class") == "chart");
        charts.insert(figure.get<std::string>("<xmlattr>.data-chart"));
        // Drawn wide and narrow, each with its title; ids unique in the page.
        std::vector<std::string> layouts;
        for (const auto& [tag, svg] : figure) {
          if (tag != "svg") continue;
          layouts.push_back(svg.get<std::string>("<xmlattr>.class"));
          CHECK(svg.count("title") == 1);
          CHECK(ids.insert(svg.get<std::string>("<xmlattr>.id")).second);
          CHECK(svg.get<std::string>("<xmlattr>.viewBox") ==
                fmt::format("0 0 {} {}", svg.get<std::string>("<xmlattr>.width"),
                            svg.get<std::string>("<xmlattr>.height")));
          check_labels_inside(svg);
        }
        CHECK(layouts == std::vector<std::string>{"wide", "narrow"});
      }
      CHECK(charts == std::set<std::string>{"funnel", "per-month", "lead-time", "refusals"});
      // Tables: each cell names its column (a phone shows the heading before the cell).
      int tables = 0, stacked = 0;
      for (const auto& [name, div] : article) {
        if (name != "div") continue;
        const auto& table = div.get_child("table");
        ++tables;
        if (table.get<std::string>("<xmlattr>.class", "") == "stacked") ++stacked;
        std::vector<std::string> heads;
        for (const auto& [tag, th] : table.get_child("thead.tr")) heads.push_back(th.data());
        for (const auto& [tag, tr] : table.get_child("tbody")) {
          std::size_t column = 0;
          for (const auto& [t, td] : tr) {
            REQUIRE(column < heads.size());
            CHECK(td.get<std::string>("<xmlattr>.data-label") == heads[column++]);
          }
          CHECK(column == heads.size());
        }
      }
      // The days per phase (stacked), the final states (narrow enough as they are), the origins
      // and the example referral's steps (stacked).
      CHECK(tables == 4);
      CHECK(stacked == 3);
    }

    // Issue 14: the audit line said "audit log" twice; the refusal counts did not say that a
    // command refused by two rules counts twice.
    if (lang == "en") {
      const auto audit = html.find("<p><span class=\"ok\">audit log: intact (");
      REQUIRE(audit != std::string::npos);
      const std::string line = html.substr(audit, html.find("</p>", audit) - audit);
      CHECK(line.find("audit log") == line.rfind("audit log"));
      CHECK_THAT(html, Contains("a command refused by several rules at once counts under each, "
                                "so the rows add up to more than the " +
                                std::to_string(s.refused_commands) + " refused commands"));
    }
  }
  CHECK_THAT(simulator::to_text(s), Contains("counts under each"));
  const std::string ja = simulator::to_html(s, sc, "ja", &agreements);
  CHECK_THAT(ja, Contains("<h2>紹介元・診療科別</h2>"));
  CHECK_THAT(ja, Contains("ベトナム国立がん病院（K病院）"));
  CHECK_THAT(ja, Contains("2025年11月"));     // the month names in the tips and the caption
  CHECK_THAT(ja, Contains(">11月*</text>"));  // on the axis, the partial month marked
}

TEST_CASE("the report's axes have ticks, and partial months are marked", "[simulator][report]") {
  // 17 November 2025 to 16 November 2026: both ends are partial months.
  const auto sc = small(200, 5);
  const auto s = simulator::simulate(sc, shipped_agreements(), ":memory:");
  REQUIRE(s.months.size() == 13);
  CHECK(s.months.front().month == "2025-11");
  CHECK(s.months.front().days == 14);
  CHECK(s.months.front().days_in_month == 30);
  CHECK(s.months[1].days == 31);
  CHECK(s.months[1].days_in_month == 31);
  CHECK(s.months.back().days == 16);
  int days = 0;
  for (const auto& m : s.months) days += m.days;
  CHECK(days == sc.days);
  const json j = json::parse(simulator::to_json(s));
  CHECK(j.at("months").at(0).at("days") == 14);
  CHECK(j.at("months").at(0).at("days_in_month") == 30);

  const auto agreements = shipped_agreements();
  const std::string html = simulator::to_html(s, sc, "en", &agreements);
  CHECK_THAT(html, Contains("Months marked * are only partly in the period: Nov 2025 (14 of 30 "
                            "days) and Nov 2026 (16 of 30 days)."));
  const auto articles = articles_of(parsed_html(html));
  for (const auto& [name, figure] : articles.at("en")) {
    if (name != "figure") continue;
    const std::string chart = figure.get<std::string>("<xmlattr>.data-chart");
    for (const auto& [tag, svg] : figure) {
      if (tag != "svg") continue;
      CAPTURE(chart, svg.get<std::string>("<xmlattr>.class"));
      const auto texts = texts_of(svg);
      const auto has = [&](const std::string& t) {
        return std::find(texts.begin(), texts.end(), t) != texts.end();
      };
      if (chart == "per-month") {
        // Ticks from 0 in round steps, not only 0 and the maximum; the axes' titles.
        CHECK(has("0"));
        long most = 0;
        for (const auto& m : s.months) {
          long total = 0;
          for (long c : m.by_outcome) total += c;
          most = std::max(most, total);
        }
        int ticks = 0;
        for (const auto& t : texts) {
          if (!t.empty() && std::all_of(t.begin(), t.end(), ::isdigit) && t.size() <= 3) ++ticks;
        }
        CHECK(ticks >= 3);
        CHECK(has("referrals proposed"));
        CHECK(has("month proposed (Vietnam time)"));
        CHECK(has("Nov*"));  // the first and last months, both partial
        if (svg.get<std::string>("<xmlattr>.class") == "wide") CHECK(has("Dec"));
        CHECK(std::count(texts.begin(), texts.end(), "Nov") == 0);
        int dashed = 0;
        for (const auto& [t, node] : svg) {
          if (t == "rect" && node.get<std::string>("<xmlattr>.class", "") == "partial") ++dashed;
        }
        CHECK(dashed == 2);
        // The legend: every outcome, once.
        for (int k = 0; k < simulator::outcome_count; ++k) {
          CHECK(
              std::count_if(
                  texts.begin(), texts.end(),
                  [&](const std::string& t) {
                    return t.rfind(k == 0 ? "not eligible" : k < 5 ? "open: " : "closed: ", 0) == 0;
                  }) == (k == 0  ? 1
                         : k < 5 ? 4
                                 : 5));
        }
      }
      if (chart == "lead-time") {
        CHECK(has("transfers"));
        CHECK(has("0"));
        if (svg.get<std::string>("<xmlattr>.class") == "wide") {
          CHECK(has("days from proposal to transfer (weekly bins)"));
        }
      }
    }
  }
}

TEST_CASE("the report's labels wrap to stay inside their charts whatever their length",
          "[simulator][report]") {
  auto sc = small(100, 3);
  auto s = simulator::simulate(sc, shipped_agreements(), ":memory:");
  // A hospital's own rule may have a code of any length, and a run may have no transfers.
  s.refusals.insert(s.refusals.begin(),
                    {"consent", std::string(120, 'X') + "_" + std::string(40, 'Y'),
                     "HOSPITAL-RULE-WITH-A-VERY-LONG-IDENTIFIER-" + std::string(30, 'Z'),
                     "record_consent", 3, 1, 2});
  s.lead_weeks.clear();
  s.lead_median_days.reset();
  s.lead_p90_days.reset();
  const auto agreements = shipped_agreements();
  for (const auto& lang : kh::vocabulary::languages()) {
    INFO(lang);
    for (const auto& [article_lang, article] :
         articles_of(parsed_html(simulator::to_html(s, sc, lang, &agreements)))) {
      for (const auto& [name, figure] : article) {
        if (name != "figure") continue;
        for (const auto& [tag, svg] : figure) {
          if (tag == "svg") check_labels_inside(svg);
        }
      }
    }
  }
}

// ---- the program ----------------------------------------------------------------------------

namespace {

kh::test::run_result simulator_run(const std::string& args) {
  return kh::test::run_program(
      KAKEHASHI_SIMULATOR, "--agreements " + source_dir + "/data/agreements.json --scenario " +
                               scenario_file + " --quiet " + args);
}

}  // namespace

TEST_CASE("referral-simulator runs, prints JSON and writes its database and report",
          "[simulator][program]") {
  kh::test::temp_db db;
  const std::string report = db.path() + ".html";
  const auto r = simulator_run("--db " + db.path() + " --report " + report +
                               " --referrals 150 --json");
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(r.out);
  CHECK(j.at("referrals") == 150);
  CHECK(j.at("audit").at("intact") == true);
  CHECK(kh::verify_database(db.path()).head_hash == j.at("audit").at("head_hash"));
  CHECK_THAT(kh::test::slurp(report), Contains("data-chart=\"refusals\""));
  std::remove(report.c_str());

  const auto text = simulator_run("--db :memory: --no-report --referrals 150 --lang en");
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Contains("audit log: intact"));
  CHECK_THAT(text.out, Contains("days from proposal to transfer: median"));
}

TEST_CASE("referral-simulator writes its summary in Vietnamese and Japanese, columns aligned",
          "[simulator][program]") {
  // The table's lines, from its heading to the blank line after it.
  const auto first_table = [](const std::string& out, const std::string& heading) {
    std::vector<std::string> lines;
    std::istringstream in(out);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(heading, 0) == 0) inside = true;
      if (inside && line.empty()) break;
      if (inside) lines.push_back(line);
    }
    return lines;
  };
  const auto ja = simulator_run("--db :memory: --no-report --referrals 150 --lang ja");
  REQUIRE(ja.exit_code == 0);
  CHECK_THAT(ja.out, Contains("kakehashi 紹介シミュレーター: 湘南鎌倉総合病院 への紹介 150 件"));
  CHECK_THAT(ja.out, Contains("インドシナ時間"));
  CHECK_THAT(ja.out, Contains("  終了: 治療完了"));
  CHECK_THAT(ja.out, Contains("監査ログ: 改ざんなし"));
  const auto states = first_table(ja.out, "最終状態");
  REQUIRE(states.size() == 11);  // the heading and the ten outcomes
  for (const auto& line : states) {
    INFO(line);
    CHECK(kh::text::width(line) == kh::text::width(states.front()));
  }
  const auto vi = simulator_run("--db :memory: --no-report --referrals 150 --lang vi");
  REQUIRE(vi.exit_code == 0);
  CHECK_THAT(vi.out, Contains("Mô phỏng chuyển viện kakehashi: 150 ca chuyển đến Bệnh viện Đa "
                              "khoa Shonan Kamakura"));
  CHECK_THAT(vi.out, Contains("nhật ký kiểm tra: nguyên vẹn"));
  CHECK_THAT(vi.out, Contains("%"));
  const auto fr = simulator_run("--db :memory: --no-report --referrals 150 --lang fr");
  CHECK(fr.exit_code == 2);
  CHECK_THAT(fr.err, Contains("--lang: 'fr' is not a language kakehashi speaks"));
}

TEST_CASE("referral-simulator refuses bad input with exit 2 before any work",
          "[simulator][program]") {
  kh::test::temp_db db;
  SECTION("an unknown option") {
    const auto r = simulator_run("--db " + db.path() + " --no-report --colour blue");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("--colour"));
  }
  SECTION("a malformed scenario file") {
    const std::string bad = db.path() + ".json";
    std::ofstream(bad) << "{\"format\": \"kakehashi.simulator-scenario/1\", \"run\": 3}";
    const auto r = simulator_run("--db " + db.path() + " --no-report --scenario " + bad);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("run: expected an object, found 3"));
    std::remove(bad.c_str());
  }
  SECTION("a malformed agreements file") {
    const std::string bad = db.path() + ".json";
    std::ofstream(bad) << "[]";
    const auto r = simulator_run("--db " + db.path() + " --no-report --agreements " + bad);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains(bad));
    std::remove(bad.c_str());
  }
  SECTION("a missing policy file") {
    const auto r = simulator_run("--db " + db.path() + " --no-report --policy " + db.path() +
                                 ".missing-policy.json");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("missing-policy.json"));
  }
  SECTION("an impossible start date") {
    const auto r = simulator_run("--db " + db.path() + " --no-report --start 2026-02-29");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("--start: '2026-02-29' is not a calendar day"));
  }
  SECTION("an unwritable report path") {
    const auto r = simulator_run("--db " + db.path() + " --report /nonexistent-dir/r.html");
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("--report: cannot write '/nonexistent-dir/r.html'"));
  }
  // In every case above, nothing was written.
  CHECK(access(db.path().c_str(), F_OK) != 0);
}

TEST_CASE("referral-simulator never overwrites a database unless asked", "[simulator][program]") {
  kh::test::temp_db db;
  REQUIRE(simulator_run("--db " + db.path() + " --no-report --referrals 40").exit_code == 0);
  const std::string head = kh::verify_database(db.path()).head_hash;

  const auto again = simulator_run("--db " + db.path() + " --no-report --referrals 60");
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Contains("exists; pass --overwrite to replace it"));
  CHECK(kh::verify_database(db.path()).head_hash == head);

  const auto replaced =
      simulator_run("--db " + db.path() + " --no-report --referrals 60 --overwrite");
  CHECK(replaced.exit_code == 0);
  CHECK(kh::verify_database(db.path()).head_hash != head);
}
