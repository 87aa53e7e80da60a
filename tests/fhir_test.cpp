// FHIR R4 export (mapping, element by element) and Consent import. The independent validators
// run in fhir_validation_test.cpp.
#include <catch2/catch.hpp>
#include <functional>
#include <kakehashi/fhir.hpp>
#include <kakehashi/testing.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/fhir_fixture.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using json = nlohmann::json;
using Catch::Matchers::Contains;
namespace kt = kakehashi::testing;

namespace {

const std::vector<exported_case>& cases() {
  static temp_db db;
  static const std::vector<exported_case> all = every_state_bundles(db.path());
  return all;
}

const exported_case& case_named(const std::string& name) {
  for (const auto& c : cases()) {
    if (c.name == name) return c;
  }
  throw std::logic_error("no case " + name);
}

// The Bundle's resources of one type.
std::vector<json> resources(const std::string& bundle, const std::string& type) {
  std::vector<json> out;
  const json doc = json::parse(bundle);
  for (const auto& e : doc["entry"]) {
    if (e["resource"]["resourceType"] == type) out.push_back(e["resource"]);
  }
  return out;
}
json only(const std::string& bundle, const std::string& type) {
  const auto all = resources(bundle, type);
  REQUIRE(all.size() == 1);
  return all[0];
}

std::string code_of(const json& concept_value, const std::string& system) {
  for (const auto& c : concept_value["coding"]) {
    if (c["system"] == system) return c["code"];
  }
  return "";
}

}  // namespace

TEST_CASE("every state exports its Task and ServiceRequest statuses as docs/fhir.md maps them",
          "[fhir]") {
  // name -> (Task.status, ServiceRequest.status, businessStatus, close reason or "")
  const std::map<std::string, std::vector<std::string>> expected{
      {"proposed", {"requested", "active", "proposed", ""}},
      {"consent-recorded", {"requested", "active", "consent-recorded", ""}},
      {"accepted", {"accepted", "active", "accepted", ""}},
      {"transferred", {"in-progress", "active", "transferred", ""}},
      {"transferred-consent-withdrawn", {"in-progress", "active", "transferred", ""}},
      {"closed-completed", {"completed", "completed", "closed", "completed"}},
      {"closed-declined", {"rejected", "revoked", "closed", "declined"}},
      {"closed-cancelled", {"cancelled", "revoked", "closed", "cancelled"}},
      {"closed-consent-withdrawn", {"cancelled", "revoked", "closed", "consent_withdrawn"}},
      {"closed-expired", {"cancelled", "revoked", "closed", "expired"}},
      {"closed-declined-sent-on", {"rejected", "revoked", "closed", "declined"}},
      {"onward", {"requested", "active", "proposed", ""}},
      {"accepted-with-documents", {"accepted", "active", "accepted", ""}},
  };
  for (const auto& [name, want] : expected) {
    INFO(name);
    const auto& c = case_named(name);
    const json task = only(c.bundle, "Task");
    const json sr = only(c.bundle, "ServiceRequest");
    CHECK(task["status"] == want[0]);
    CHECK(kakehashi::fhir::task_status(c.referral) == want[0]);  // what a search by status uses
    CHECK(sr["status"] == want[1]);
    CHECK(code_of(task["businessStatus"], "urn:kakehashi:state") == want[2]);
    if (want[3].empty()) {
      CHECK_FALSE(task.contains("statusReason"));
    } else {
      CHECK(code_of(task["statusReason"], "urn:kakehashi:close-reason") == want[3]);
    }
  }
  const json withdrawn = only(case_named("transferred-consent-withdrawn").bundle, "Task");
  CHECK(withdrawn["businessStatus"]["coding"].size() == 2);
  CHECK(withdrawn["businessStatus"]["coding"][1]["code"] == "consent-withdrawn");
}

TEST_CASE("an onward referral and the referral it replaces point to each other", "[fhir][onward]") {
  const auto& old = case_named("closed-declined-sent-on");
  const auto& onward = case_named("onward");
  const json sr = only(onward.bundle, "ServiceRequest");
  REQUIRE(sr["replaces"].size() == 1);
  CHECK(sr["replaces"][0]["type"] == "ServiceRequest");
  CHECK(sr["replaces"][0]["identifier"]["system"] == "urn:kakehashi:referral");
  CHECK(sr["replaces"][0]["identifier"]["value"] == "R-sent-on");
  bool second_partner = false;  // the onward destination is in its Bundle
  for (const json& org : resources(onward.bundle, "Organization")) {
    second_partner = second_partner || org["identifier"][0]["value"] == "jp-second";
  }
  CHECK(second_partner);
  CHECK_FALSE(only(onward.bundle, "Task").contains("output"));
  const json task = only(old.bundle, "Task");
  CHECK(task["businessStatus"]["coding"].size() == 2);
  CHECK(task["businessStatus"]["coding"][1]["code"] == "referred-onward");
  REQUIRE(task["output"].size() == 1);
  CHECK(code_of(task["output"][0]["type"], "urn:kakehashi:task-output") == "onward-referral");
  CHECK(task["output"][0]["valueReference"]["identifier"]["value"] == "R-onward");
  CHECK_FALSE(only(old.bundle, "ServiceRequest").contains("replaces"));
  // Other referrals carry neither.
  for (const char* name : {"closed-declined", "closed-expired", "proposed"}) {
    INFO(name);
    CHECK_FALSE(only(case_named(name).bundle, "Task").contains("output"));
    CHECK_FALSE(only(case_named(name).bundle, "ServiceRequest").contains("replaces"));
  }
}

TEST_CASE("attached documents are DocumentReferences that support the ServiceRequest",
          "[fhir][document]") {
  const auto& c = case_named("accepted-with-documents");
  const auto docs = resources(c.bundle, "DocumentReference");
  REQUIRE(docs.size() == 3);
  const json sr = only(c.bundle, "ServiceRequest");
  std::string sr_url;
  const json bundle = json::parse(c.bundle);
  for (const auto& e : bundle["entry"]) {
    if (e["resource"]["resourceType"] == "ServiceRequest") sr_url = e["fullUrl"];
  }
  // supportingInfo: the consent, then the documents in the order they were attached.
  REQUIRE(sr["supportingInfo"].size() == 4);
  CHECK(sr["supportingInfo"][0]["type"] == "Consent");
  const json letter = docs[0];
  CHECK(letter["masterIdentifier"]["value"] == "D-LETTER");
  CHECK(letter["identifier"][0]["system"] == "urn:kakehashi:referral-document");
  CHECK(letter["identifier"][0]["value"] == "R-documents/D-LETTER");
  CHECK(sr["supportingInfo"][1]["reference"] == "urn:uuid:" + letter["id"].get<std::string>());
  CHECK(code_of(letter["type"], "urn:kakehashi:document-kind") == "referral_letter");
  CHECK(code_of(letter["type"], "http://loinc.org") == "57133-1");
  CHECK(letter["status"] == "current");
  CHECK(letter["date"] == "2026-03-01T02:00:00Z");
  CHECK(letter["subject"]["identifier"]["value"] == "P-R-documents");
  CHECK(letter["context"]["related"][0]["reference"] == sr_url);
  const json attachment = letter["content"][0]["attachment"];
  CHECK(attachment["contentType"] == "application/pdf");
  CHECK(attachment["language"] == "vi");
  CHECK(attachment["size"] == 48213);
  CHECK_FALSE(attachment.contains("data"));  // never the content
  CHECK_FALSE(attachment.contains("hash"));  // SHA-1 in R4: the SHA-256 is in the extension
  const json& fingerprint = attachment["extension"][0];
  CHECK(fingerprint["url"] == "urn:kakehashi:fhir:StructureDefinition:document-content");
  CHECK(fingerprint["extension"][0]["url"] == "sha256");
  CHECK(fingerprint["extension"][0]["valueString"] == std::string(64, 'c'));
  // Larger than an unsignedInt: the size moves to the extension, exactly.
  const json ct = docs[1]["content"][0]["attachment"];
  CHECK_FALSE(ct.contains("size"));
  CHECK(ct["extension"][0]["extension"][1]["url"] == "size");
  CHECK(ct["extension"][0]["extension"][1]["valueDecimal"] == 3000000000ULL);
  // A kind LOINC has no type for keeps kakehashi's code alone.
  CHECK(docs[2]["type"]["coding"].size() == 1);
  // Referrals without documents have none.
  CHECK(resources(case_named("accepted").bundle, "DocumentReference").empty());
}

TEST_CASE("recorded milestones are the Task's outputs, in the order they were recorded",
          "[fhir][milestone]") {
  const json task = only(case_named("accepted-with-documents").bundle, "Task");
  REQUIRE(task["output"].size() == 2);
  for (const auto& o : task["output"]) {
    CHECK(code_of(o["type"], "urn:kakehashi:task-output") == "milestone");
  }
  CHECK(code_of(task["output"][0]["valueCodeableConcept"], "urn:kakehashi:milestone") ==
        "guarantor_confirmed");
  CHECK(code_of(task["output"][1]["valueCodeableConcept"], "urn:kakehashi:milestone") ==
        "medical_visa_issued");
  CHECK(task["output"][1]["valueCodeableConcept"]["coding"][0]["display"] == "Medical visa issued");
  CHECK_FALSE(only(case_named("accepted").bundle, "Task").contains("output"));
}

TEST_CASE("results returned are DocumentReferences the Task's outputs point to",
          "[fhir][results]") {
  const auto& c = case_named("closed-completed-with-results");
  const json task = only(c.bundle, "Task");
  CHECK(task["status"] == "completed");
  REQUIRE(task["output"].size() == 2);
  const auto docs = resources(c.bundle, "DocumentReference");
  REQUIRE(docs.size() == 2);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    CHECK(code_of(task["output"][i]["type"], "urn:kakehashi:task-output") == "results");
    CHECK(task["output"][i]["valueReference"]["reference"] ==
          "urn:uuid:" + docs[i]["id"].get<std::string>());
    CHECK(docs[i]["date"] == "2026-03-30T00:00:00Z");
  }
  const document_ref summary = kakehashi::fhir::import_document_reference(docs[0].dump());
  CHECK(summary.id.value() == "D-SK-SUMMARY");
  CHECK(summary.kind == document_kind::discharge_summary);
  CHECK(summary.language == "ja");
  // Results are not what the referral asked with: the ServiceRequest cites the consent alone.
  const json sr = only(c.bundle, "ServiceRequest");
  REQUIRE(sr["supportingInfo"].size() == 1);
  CHECK(sr["supportingInfo"][0]["type"] == "Consent");
}

TEST_CASE("an exported DocumentReference reads back as the document reference it came from",
          "[fhir][document]") {
  const auto& c = case_named("accepted-with-documents");
  const auto docs = resources(c.bundle, "DocumentReference");
  REQUIRE(docs.size() == 3);
  const std::vector<std::pair<std::string, std::uint64_t>> want{
      {"D-LETTER", 48'213}, {"D-CT", 3'000'000'000ULL}, {"D-NOTE", 1}};
  for (std::size_t i = 0; i < docs.size(); ++i) {
    const document_ref d = kakehashi::fhir::import_document_reference(docs[i].dump());
    CHECK(d.id.value() == want[i].first);
    CHECK(d.size == want[i].second);
    CHECK(d.sha256 == std::string(64, 'c'));
    CHECK(d.media_type == "application/pdf");
    CHECK(d.language == "vi");
  }
  const auto refused = [&](const std::function<void(json&)>& edit, const std::string& says) {
    json d = docs[0];
    edit(d);
    CHECK_THROWS_WITH(kakehashi::fhir::import_document_reference(d.dump()), Contains(says));
  };
  refused([](json& d) { d["content"][0]["attachment"]["data"] = "JVBERi0x"; },
          "DocumentReference.content[0].attachment.data: is present; kakehashi records documents "
          "by reference");
  refused([](json& d) { d["content"][0]["attachment"].erase("extension"); },
          "has no urn:kakehashi:fhir:StructureDefinition:document-content with its sha256");
  refused([](json& d) { d["type"]["coding"][0]["code"] = "x-ray"; },
          "DocumentReference.type.coding: 'x-ray' is not a code of urn:kakehashi:document-kind");
  refused([](json& d) { d["type"]["coding"].erase(0); },
          "DocumentReference.type: has no coding of urn:kakehashi:document-kind");
  refused([](json& d) { d.erase("masterIdentifier"); },
          "DocumentReference.masterIdentifier.value: is missing");
  refused([](json& d) { d["content"][0]["attachment"]["language"] = "Vietnamese"; },
          "DocumentReference.language: 'Vietnamese' is not a language tag");
  refused([](json& d) { d["resourceType"] = "Binary"; },
          "DocumentReference.resourceType: is not 'DocumentReference'");
  CHECK_THROWS_WITH(kakehashi::fhir::import_document_reference("{\"resourceType\": "),
                    Contains("DocumentReference"));
}

TEST_CASE("a Task carries the coded reason, the deadline, the period and the agreement",
          "[fhir]") {
  const json declined = only(case_named("closed-declined").bundle, "Task");
  CHECK(code_of(declined["statusReason"], "urn:kakehashi:decline-reason") == "capacity_full");
  const json cancelled = only(case_named("closed-cancelled").bundle, "Task");
  CHECK(code_of(cancelled["statusReason"], "urn:kakehashi:cancel-reason") == "treated_locally");
  // The seed agreements in the tests give 14 days to answer.
  const json proposed = only(case_named("proposed").bundle, "Task");
  CHECK(proposed["restriction"]["period"]["end"] == "2026-03-15T00:00:00Z");
  CHECK(proposed["input"][0]["valueIdentifier"]["value"] == "mou-bach-mai-shonan-kamakura-2025");
  CHECK_FALSE(proposed.contains("executionPeriod"));
  const json completed = only(case_named("closed-completed").bundle, "Task");
  CHECK(completed["executionPeriod"]["start"] == "2026-03-02T00:10:00Z");
  CHECK(completed["executionPeriod"]["end"] == "2026-04-01T00:00:00Z");
  CHECK(completed["authoredOn"] == "2026-03-01T00:00:00Z");
  CHECK(completed["lastModified"] == "2026-04-01T00:00:00Z");
}

TEST_CASE("the Bundle's references resolve inside it and its ids are stable", "[fhir]") {
  for (const auto& c : cases()) {
    INFO(c.name);
    const json b = json::parse(c.bundle);
    CHECK(b["type"] == "collection");
    std::set<std::string> full_urls;
    for (const auto& e : b["entry"]) {
      CHECK(e["fullUrl"] == "urn:uuid:" + e["resource"]["id"].get<std::string>());
      CHECK(full_urls.insert(e["fullUrl"]).second);  // bdl-7: unique
    }
    // Every literal reference points at an entry.
    std::function<void(const json&)> walk = [&](const json& v) {
      if (v.is_object()) {
        if (v.contains("reference") && v["reference"].is_string()) {
          CHECK(full_urls.count(v["reference"]) == 1);
        }
        for (const auto& [k, x] : v.items()) walk(x);
      } else if (v.is_array()) {
        for (const auto& x : v) walk(x);
      }
    };
    walk(b);
  }
  // Exporting again gives the same text.
  const auto& c = case_named("accepted");
  const consent_record consent = good_consent(c.referral.id.value());
  CHECK(fhir::referral_bundle({c.referral, c.history, seed_agreements(), &consent}) == c.bundle);
}

TEST_CASE("the consent travels as a Consent when given, by identifier otherwise", "[fhir]") {
  const auto& with = case_named("transferred");
  const json sr = only(with.bundle, "ServiceRequest");
  const json consent = only(with.bundle, "Consent");
  CHECK(sr["supportingInfo"][0]["reference"] == "urn:uuid:" + consent["id"].get<std::string>());
  CHECK(consent["status"] == "active");
  CHECK(code_of(consent["scope"], "http://terminology.hl7.org/CodeSystem/consentscope") ==
        "patient-privacy");
  CHECK(consent.contains("policyRule"));  // ppc-1
  CHECK(consent["provision"]["type"] == "permit");
  CHECK(consent["provision"]["actor"][0]["role"]["coding"][0]["code"] == "IRCP");

  const auto& without = case_named("transferred-no-consent");
  CHECK(resources(without.bundle, "Consent").empty());
  const json sr2 = only(without.bundle, "ServiceRequest");
  CHECK(sr2["supportingInfo"][0]["identifier"]["value"] == "C-R-transferred");
  CHECK(only(case_named("proposed").bundle, "ServiceRequest").count("supportingInfo") == 0);
}

TEST_CASE("an emergency step's AuditEvent says so, and its review is a Provenance",
          "[fhir][emergency]") {
  const auto& c = case_named("emergency-reviewed");
  const auto events = resources(c.bundle, "AuditEvent");
  REQUIRE(events.size() == c.history.size());
  json step;
  std::size_t emergency_steps = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    INFO(c.history[i].command);
    const bool emergency = c.history[i].reason_code == "emergency";
    CHECK(events[i].contains("purposeOfEvent") == emergency);
    if (!emergency) continue;
    ++emergency_steps;
    CHECK(events[i]["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT");
    if (c.history[i].command == "record_consent") step = events[i];
  }
  CHECK(emergency_steps == 2);  // record_consent and transfer
  REQUIRE(step.is_object());
  const json prov = only(c.bundle, "Provenance");  // one review recorded; the other is open
  CHECK(prov["target"][0]["reference"] == "urn:uuid:" + step["id"].get<std::string>());
  CHECK(prov["entity"][0]["what"] == prov["target"][0]);
  CHECK(prov["entity"][0]["role"] == "source");
  CHECK(prov["recorded"] == "2026-03-02T00:00:00Z");
  CHECK(prov["reason"][0]["coding"][0]["code"] == "ETREAT");
  CHECK(prov["reason"][0]["text"] == "emergency basis justified");
  CHECK(prov["activity"]["coding"][0]["code"] == "review_emergency");
  CHECK(prov["agent"][0]["type"]["coding"][0]["code"] == "verifier");
  CHECK(prov["agent"][0]["who"]["identifier"]["value"] == "dr-bm-2");
  CHECK(prov["agent"][0]["onBehalfOf"]["type"] == "Organization");
}

TEST_CASE("every audit row is an AuditEvent, and a withdrawal is also a Provenance", "[fhir]") {
  const auto& c = case_named("closed-consent-withdrawn");
  const auto events = resources(c.bundle, "AuditEvent");
  REQUIRE(events.size() == c.history.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    INFO(c.history[i].command);
    CHECK(events[i]["recorded"] == to_iso8601(c.history[i].recorded_at));
    CHECK(events[i]["outcome"] == std::to_string(static_cast<int>(c.history[i].outcome)));
    CHECK(events[i]["subtype"][0]["code"] == c.history[i].command);
    CHECK(events[i]["action"] == (c.history[i].command == "propose" ? "C" : "U"));
    CHECK(events[i]["agent"][0]["requestor"] == true);
  }
  // The refused accept (a coordinator) is there with outcome 4 and its reason.
  bool refused = false;
  for (const auto& ev : events) {
    if (ev["outcome"] == "4") {
      refused = true;
      CHECK(ev["outcomeDesc"] == "permission_denied");
    }
  }
  CHECK(refused);
  // A consent refused by a rule: its AuditEvent codes the rule and the finding (issue 20).
  bool coded = false;
  for (const auto& ev :
       resources(case_named("consent-refused-then-recorded").bundle, "AuditEvent")) {
    if (ev["outcome"] == "0") {
      CHECK_FALSE(ev.contains("extension"));
      continue;
    }
    CHECK(ev["outcomeDesc"] == "consent_blocked");
    REQUIRE(ev.contains("extension"));
    for (const auto& x : ev["extension"]) {
      CHECK(x["url"] == "urn:kakehashi:fhir:StructureDefinition:refusal-finding");
      std::map<std::string, json> parts;
      for (const auto& p : x["extension"]) parts[p["url"].get<std::string>()] = p;
      if (parts["rule"]["valueCoding"]["code"] != "VN-09") continue;
      coded = true;
      CHECK(parts["rule"]["valueCoding"]["system"] == "urn:kakehashi:consent-rule");
      CHECK(parts["rule"]["valueCoding"]["display"] ==
            "Patient's written request to give health data");
      CHECK(parts["finding"]["valueCoding"]["system"] == "urn:kakehashi:consent-finding");
      CHECK(parts["finding"]["valueCoding"]["code"] == "VN_ART26_2_WRITTEN_REQUEST_MISSING");
      CHECK(parts["finding"]["valueCoding"]["display"] == "Patient's written request missing");
      CHECK(parts["effect"]["valueCode"] == "require_document");  // attach it, then record
    }
  }
  CHECK(coded);
  const json prov = only(c.bundle, "Provenance");
  CHECK(prov["occurredDateTime"] == "2026-03-04T00:00:00Z");
  CHECK(prov["target"].size() == 2);
  CHECK(resources(case_named("accepted").bundle, "Provenance").empty());

  // The Consent says what the log says (issue 14): withdrawn, so inactive, with the withdrawal's
  // instant and channel, although the record given to the export predates the withdrawal.
  for (const char* name : {"closed-consent-withdrawn", "transferred-consent-withdrawn"}) {
    CAPTURE(name);
    const json consent = only(case_named(name).bundle, "Consent");
    CHECK(consent["status"] == "inactive");
    CHECK(consent.dump().find("\"withdrawal\"") != std::string::npos);
  }
  CHECK(only(case_named("accepted").bundle, "Consent")["status"] == "active");
}

TEST_CASE("a transaction Bundle updates instead of duplicating when sent again", "[fhir]") {
  const auto& c = case_named("closed-consent-withdrawn");
  const json collection = json::parse(c.bundle);
  const json tx = json::parse(c.transaction);
  CHECK(collection["type"] == "collection");
  CHECK(tx["type"] == "transaction");
  REQUIRE(tx["entry"].size() == collection["entry"].size());
  for (const auto& e : collection["entry"]) CHECK_FALSE(e.contains("request"));
  std::set<std::string> methods;
  for (const auto& e : tx["entry"]) {
    const json& resource = e["resource"];
    const std::string type = resource["resourceType"];
    CAPTURE(type);
    REQUIRE(e.contains("request"));
    const json& request = e["request"];
    if (type == "Organization") {
      // Conditional create: a hospital the server has already is not created again.
      CHECK(request["method"] == "POST");
      CHECK(request["url"] == "Organization");
      CHECK(request["ifNoneExist"] == "identifier=urn:kakehashi:hospital|" +
                                          resource["identifier"][0]["value"].get<std::string>());
    } else if (type == "ServiceRequest" || type == "Task" || type == "Consent") {
      // Conditional update on the business identifier.
      CHECK(request["method"] == "PUT");
      CHECK(request["url"] == type + "?identifier=" +
                                  resource["identifier"][0]["system"].get<std::string>() + "|" +
                                  resource["identifier"][0]["value"].get<std::string>());
    } else {
      // AuditEvent, Provenance: their deterministic ids.
      CHECK(request["method"] == "PUT");
      CHECK(request["url"] == type + "/" + resource["id"].get<std::string>());
    }
    methods.insert(request["method"]);
  }
  CHECK(methods == std::set<std::string>{"POST", "PUT"});
  // The same referral exported again makes the same requests: sending it twice is idempotent.
  fhir::options o;
  o.bundle = fhir::bundle_type::transaction;
  const consent_record consent = good_consent(c.referral.id.value());
  const agreement_directory agreements = seed_agreements();
  CHECK(json::parse(fhir::referral_bundle({c.referral, c.history, agreements, &consent},
                                          o))["entry"] == tx["entry"]);
}

TEST_CASE("no patient-identifying data leaves in an export", "[fhir][phi]") {
  const std::string birth = "1970-05-20";  // the toolkit consent's birth date
  for (const auto& c : cases()) {
    INFO(c.name);
    CHECK_THAT(c.bundle, !Contains(birth));
    CHECK_THAT(c.bundle, !Contains("\"Patient\",\"id\""));  // no Patient resource
    CHECK(resources(c.bundle, "Patient").empty());
    // The pseudonymous id is how the patient is named.
    CHECK_THAT(c.bundle, Contains(c.referral.patient.value()));
  }
  CHECK_THAT(fhir::consent_resource(good_consent()), !Contains(birth));
}

TEST_CASE("an export whose parts disagree is refused naming the part", "[fhir]") {
  const auto& a = case_named("accepted");
  const auto& b = case_named("closed-declined");
  const auto agreements = seed_agreements();
  CHECK_THROWS_WITH(fhir::referral_bundle({a.referral, b.history, agreements}),
                    Contains("history") && Contains("R-declined"));
  const consent_record other = kt::valid_consent().id("C-OTHER").build();
  CHECK_THROWS_WITH(fhir::referral_bundle({a.referral, a.history, agreements, &other}),
                    Contains("C-OTHER") && Contains("not the consent"));
  // Same id, other content: the recorded digest tells.
  const consent_record changed = kt::valid_consent()
                                     .id("C-R-accepted")
                                     .patient("P-R-accepted")
                                     .data_classes({"genomic"})
                                     .build();
  CHECK_THROWS_WITH(fhir::referral_bundle({a.referral, a.history, agreements, &changed}),
                    Contains("differs from the consent recorded"));
  const auto lone = agreement_directory::from_values(
      {*agreements.find_hospital(hospital_id{"bach-mai"})}, {});
  CHECK_THROWS_WITH(fhir::referral_bundle({a.referral, a.history, lone}),
                    Contains("shonan-kamakura"));
}

// ---- import ------------------------------------------------------------------------------------

namespace {

fhir::import_options with_birth_date(const consent_record& c) {
  fhir::import_options o;
  o.birth_date = c.birth_date;
  return o;
}

consent_verdict decide(const consent_record& c, const char* when = "2026-03-01T00:00:00Z") {
  return consent_policy::standard().evaluate(kt::referral_context().at(when).with(c));
}

std::string problems_of(const fhir::consent_import_result& r) {
  std::string out;
  for (const auto& p : r.problems) out += p.path + ": " + p.message + "\n";
  return out;
}

}  // namespace

TEST_CASE("STD-08: a consent exports as a BPPC privacy-policy acknowledgement", "[fhir][STD-08]") {
  // Given a consent acknowledging policy OID 1.2.3.4.5.1 (share with the Japanese partner), when
  // exported, then the event codes hold that OID and the class is LOINC 57016-8.
  const consent_record c =
      kt::valid_consent()
          .valid_from("2026-01-10T02:00:00Z")
          .valid_until("2026-12-31T00:00:00Z")
          .acknowledged_policies({"urn:oid:1.2.3.4.5.1", "https://bachmai.example/privacy/2026"});
  const json doc = json::parse(fhir::consent_acknowledgement(c));
  CHECK(doc["resourceType"] == "DocumentReference");
  CHECK(doc["id"] == fhir::resource_id("DocumentReference", "C-TEST-1"));
  CHECK(code_of(doc["category"][0], "http://loinc.org") == "57016-8");
  CHECK(code_of(doc["type"], "http://loinc.org") == "57016-8");
  REQUIRE(doc["context"]["event"].size() == 2);
  CHECK(code_of(doc["context"]["event"][0], "urn:ietf:rfc:3986") == "urn:oid:1.2.3.4.5.1");
  CHECK(code_of(doc["context"]["event"][1], "urn:ietf:rfc:3986") ==
        "https://bachmai.example/privacy/2026");
  CHECK(doc["context"]["period"]["start"] == "2026-01-10T02:00:00Z");
  CHECK(doc["context"]["period"]["end"] == "2026-12-31T00:00:00Z");
  CHECK(doc["subject"]["identifier"]["value"] == "P-TEST-1");
  CHECK(doc["content"][0]["attachment"]["url"] ==
        "Consent/" + fhir::resource_id("Consent", "C-TEST-1"));
  CHECK(doc["status"] == "current");
  // The Consent names the same policies; without a stated start, the capture starts the period;
  // a withdrawal before the end ends it.
  const json consent = json::parse(fhir::consent_resource(c));
  REQUIRE(consent["policy"].size() == 2);
  CHECK(consent["policy"][0]["uri"] == "urn:oid:1.2.3.4.5.1");
  const consent_record withdrawn = kt::valid_consent()
                                       .acknowledged_policies({"urn:oid:1.2.3.4.5.1"})
                                       .valid_until("2026-12-31T00:00:00Z")
                                       .withdrawn_at("2026-02-01T00:00:00Z");
  const json w = json::parse(fhir::consent_acknowledgement(withdrawn));
  CHECK(w["context"]["period"]["start"] == to_iso8601(withdrawn.captured_at));
  CHECK(w["context"]["period"]["end"] == "2026-02-01T00:00:00Z");
  // No policies acknowledged: no event codes (the document still says what was acknowledged).
  const json none = json::parse(fhir::consent_acknowledgement(kt::valid_consent()));
  CHECK_FALSE(none["context"].contains("event"));
  CHECK_FALSE(json::parse(fhir::consent_resource(kt::valid_consent())).contains("policy"));
}

TEST_CASE("export then import gives a record the rules decide the same way", "[fhir][import]") {
  const std::vector<std::pair<std::string, consent_record>> consents{
      {"complete", kt::valid_consent().build()},
      {"child with parent", kt::valid_consent().aged(10).given_by({grantor_role::parent})},
      {"child with the treatment decided by a parent",
       kt::valid_consent()
           .aged(10)
           .given_by({grantor_role::parent})
           .treatment_decided_by(decision_maker_role::representative, "rep-1", "BIRTH-CERT-1")},
      {"privacy policies acknowledged",
       kt::valid_consent().acknowledged_policies(
           {"urn:oid:1.2.3.4.5.1", "https://bachmai.example/privacy/2026"})},
      {"treatment decided without proof", kt::valid_consent().aged(10).treatment_decided_by(
                                              decision_maker_role::facility_lead, "dr-duty-1", "")},
      {"child without parent", kt::valid_consent().aged(10)},
      {"no written request", kt::valid_consent().without_written_request()},
      {"no APPI info", kt::valid_consent().without_japan_info()},
      {"genomic excluded",
       kt::valid_consent().data_classes({"diagnosis", "genomic"}).excluding({"genomic"})},
      {"withdrawn", kt::valid_consent().withdrawn_at("2026-02-01T00:00:00Z")},
      {"emergency", kt::valid_consent().emergency()},
      {"checkbox pre-ticked",
       kt::valid_consent().method(expression_method::checkbox).pre_ticked(true)},
      {"valid for a week",
       kt::valid_consent().valid_from("2026-02-20T00:00:00Z").valid_until("2026-02-27T00:00:00Z")},
  };
  for (const auto& [name, c] : consents) {
    INFO(name);
    const auto r = fhir::import_consent(fhir::consent_resource(c), with_birth_date(c));
    INFO(problems_of(r));
    REQUIRE(r.ok());
    CHECK(r.assumed.empty());  // the extension carried every field
    for (const char* when : {"2025-12-01T00:00:00Z", "2026-03-01T00:00:00Z"}) {
      const auto before = decide(c, when);
      const auto after = decide(*r.record, when);
      CHECK(after.allowed() == before.allowed());
      CHECK(to_json(after) == to_json(before));  // every finding, word for word
    }
    // And the record is the same, field for field, as the engine's digest sees it.
    CHECK(load_consent(r.consent_json).id == c.id);
  }
}

TEST_CASE("an EHR's Consent without kakehashi's extension imports with conservative assumptions",
          "[fhir][import]") {
  // data/fhir/consent-ehr-example.json: as an EHR would send it, without kakehashi's extension.
  const std::string ehr = slurp(KAKEHASHI_SOURCE_DIR "/data/fhir/consent-ehr-example.json");
  fhir::import_options o;
  o.birth_date = date::year{1970} / 5 / 20;
  const auto r = fhir::import_consent(ehr, o);
  INFO(problems_of(r));
  REQUIRE(r.ok());
  const consent_record& c = *r.record;
  CHECK(c.id.value() == "C-EHR-1");
  CHECK(c.controller.value() == "bach-mai");
  CHECK(c.captured_at == parse_instant("2026-01-12T03:30:00Z"));
  CHECK(c.purposes == std::vector<std::string>{"cross_border_referral", "treatment"});
  REQUIRE(c.grantors.size() == 1);
  CHECK(c.grantors[0].role == grantor_role::patient);
  REQUIRE(c.recipients.size() == 1);
  CHECK(c.recipients[0].country == "JP");
  // What the Consent did not say is assumed the way that refuses, and listed.
  CHECK(c.method == expression_method::verbal);
  CHECK_FALSE(c.rights_notice);
  std::set<std::string> assumed;
  for (const auto& a : r.assumed) assumed.insert(a.path);
  CHECK(assumed.count("expression.method") == 1);
  CHECK(assumed.count("notices.rights_obligations") == 1);
  std::set<std::string> ignored;
  for (const auto& i : r.ignored) ignored.insert(i.path);
  CHECK(ignored == std::set<std::string>{"Consent.meta", "Consent.text", "Consent.category",
                                         "Consent.policyRule"});
  // The rules then refuse, saying why (VN-06: not verifiable).
  CHECK(kt::blocks(consent_policy::standard(),
                   kt::referral_context().at("2026-03-01T00:00:00Z").with(c), "VN-06"));
}

TEST_CASE("import reports what it cannot represent at its FHIR path, and bad input clearly",
          "[fhir][import]") {
  const consent_record base = kt::valid_consent();
  const json good = json::parse(fhir::consent_resource(base));
  const auto import = [&](const json& doc, fhir::import_options o) {
    return fhir::import_consent(doc.dump(), o);
  };
  const auto paths = [](const fhir::consent_import_result& r) {
    std::string s;
    for (const auto& p : r.problems) s += p.path + ": " + p.message + "\n";
    return s;
  };
  const fhir::import_options o = with_birth_date(base);

  struct bad {
    const char* name;
    std::function<void(json&)> edit;
    const char* path;
    const char* says;
  };
  const std::vector<bad> table{
      {"deny of an actor", [](json& d) {
         d["provision"]["provision"] = json::array({{{"type", "deny"}, {"class", d["provision"]["class"]}, {"actor", d["provision"]["actor"]}}});
       }, "Consent.provision.provision[0].actor", "narrower than whole data classes"},
      {"nested permit", [](json& d) { d["provision"]["provision"] = json::array({{{"type", "permit"}}}); },
       "Consent.provision.provision[0]", "deny of data classes"},
      {"security label", [](json& d) { d["provision"]["securityLabel"] = json::array({{{"code", "R"}}}); },
       "Consent.provision.securityLabel", "cannot represent"},
      {"data period", [](json& d) { d["provision"]["dataPeriod"] = {{"start", "2020-01-01"}}; },
       "Consent.provision.dataPeriod", "cannot represent"},
      {"modifier extension", [](json& d) { d["modifierExtension"] = json::array({{{"url", "x:y"}, {"valueBoolean", true}}}); },
       "Consent.modifierExtension", "changes the meaning"},
      {"a deny at the top", [](json& d) { d["provision"]["type"] = "deny"; },
       "Consent.provision.type", "expected 'permit'"},
      {"unknown purpose", [](json& d) { d["provision"]["purpose"].push_back({{"system", "http://x"}, {"code", "MARKETING"}}); },
       "Consent.provision.purpose[", "MARKETING"},
      {"no status", [](json& d) { d.erase("status"); }, "Consent.status", "missing"},
      {"a date without time", [](json& d) { d["dateTime"] = "2026-01-12"; },
       "Consent.dateTime", "with a time and an offset"},
      {"a misspelt element", [](json& d) { d["provisions"] = json::object(); },
       "Consent.provisions", "not an element of an R4 Consent"},
      {"a future part of the extension", [](json& d) { d["extension"][0]["extension"].push_back({{"url", "new-thing"}, {"valueBoolean", true}}); },
       "Consent.extension[0].extension[", "new-thing"},
      {"an actor not a recipient", [](json& d) { d["provision"]["actor"][0]["role"]["coding"][0]["code"] = "PRCP"; },
       "Consent.provision.actor[0].role", "IRCP"},
      {"a bad status", [](json& d) { d["status"] = "maybe"; },
       "(as a kakehashi consent) status", "maybe"},
      {"a wrong JSON type deep inside", [](json& d) { d["provision"]["purpose"] = json::array({42}); },
       "Consent.provision.purpose[0]", "Coding"},
  };
  for (const auto& t : table) {
    INFO(t.name);
    json d = good;
    t.edit(d);
    const auto r = import(d, o);
    INFO(paths(r));
    CHECK_FALSE(r.ok());
    CHECK_THAT(paths(r), Contains(t.path) && Contains(t.says));
  }

  CHECK_THAT(paths(fhir::import_consent("{not json", o)),
             Contains("Consent: not valid JSON: parse error at line 1, column 3"));
  CHECK_THAT(paths(fhir::import_consent(R"({"resourceType":"Patient"})", o)),
             Contains("resourceType") && Contains("not a Consent"));
  CHECK_THAT(paths(fhir::import_consent("[]", o)), Contains("expected a JSON object"));
  // No birth date: the rules need the age.
  const auto no_age = import(good, {});
  CHECK_FALSE(no_age.ok());
  CHECK_THAT(paths(no_age), Contains("Consent.patient") && Contains("birthDate"));
}

TEST_CASE("Patient.birthDate is read and never quoted", "[fhir][import]") {
  CHECK(fhir::patient_birth_date(R"({"resourceType":"Patient","birthDate":"1970-05-20"})") ==
        date::year{1970} / 5 / 20);
  for (const char* bad : {R"({"resourceType":"Patient","birthDate":"1970-05"})",
                          R"({"resourceType":"Patient","birthDate":"1970-02-30"})",
                          R"({"resourceType":"Patient"})"}) {
    INFO(bad);
    CHECK_THROWS_WITH(fhir::patient_birth_date(bad),
                      Contains("Patient.birthDate") && !Contains("1970"));
  }
  CHECK_THROWS_WITH(fhir::patient_birth_date(R"({"resourceType":"Consent"})"),
                    Contains("Patient.resourceType"));
  CHECK_THROWS_WITH(fhir::patient_birth_date("nope"),
                    Contains("Patient: not valid JSON: parse error at line 1, column 2"));
  CHECK_THROWS_WITH(fhir::patient_birth_date("[]"), Contains("Patient: is not a JSON object"));
}
