// The coded vocabularies (data/codesystems/, kakehashi/vocabulary.hpp): every code the library
// emits is defined, with its display in English, Vietnamese and Japanese; the files say what
// their names say; the export carries the displays. (The FHIR validators check the files in
// fhir_validation_test.cpp.)
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/eligibility.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/referral.hpp>
#include <kakehashi/vocabulary.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/fhir_fixture.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

template <class E>
std::vector<std::string> names() {
  std::vector<std::string> out;
  for (E e : all_values<E>()) out.emplace_back(to_string(e));
  return out;
}

// Every ineligibility code, in declaration order (to_string says "unknown" past the last).
std::vector<std::string> ineligibility_names() {
  std::vector<std::string> out;
  for (int i = 0;; ++i) {
    const std::string_view name = to_string(static_cast<ineligibility_code>(i));
    if (name == "unknown") return out;
    out.emplace_back(name);
  }
}

std::string hyphenated(std::string s) {
  for (char& c : s) c = c == '_' ? '-' : c;
  return s;
}

// The finding codes the consent rules report: every string literal of src/consent/
// consent_rules.cpp that starts with a pack's prefix (VN_, JP_, FHIR_, MOU_) and is a code
// (capitals, digits, underscores).
std::set<std::string> finding_codes_in_source() {
  const std::string source =
      slurp(std::string(KAKEHASHI_SOURCE_DIR) + "/src/consent/consent_rules.cpp");
  std::set<std::string> codes;
  for (const std::string prefix : {"\"VN_", "\"JP_", "\"FHIR_", "\"MOU_"}) {
    for (auto at = source.find(prefix); at != std::string::npos; at = source.find(prefix, at + 1)) {
      const auto end = source.find('"', at + 1);
      const std::string code = source.substr(at + 1, end - at - 1);
      if (code.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos) {
        codes.insert(code);
      }
    }
  }
  return codes;
}

// What the library emits, kind by kind: each enumeration's names as its export writes them, the
// flags and inputs the export adds, and every specialty the shipped agreements name.
std::map<std::string, std::set<std::string>> emitted() {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& s : names<referral_state>()) out["state"].insert(hyphenated(s));
  out["state"].insert({"consent-withdrawn", "referred-onward"});
  for (const auto& s : names<close_reason>()) out["close-reason"].insert(s);
  for (const auto& s : names<decline_reason>()) out["decline-reason"].insert(s);
  for (const auto& s : names<cancel_reason>()) out["cancel-reason"].insert(s);
  for (const auto& s : names<withdrawal_channel>()) out["withdrawal-channel"].insert(s);
  for (const auto& s : names<actor_role>()) out["role"].insert(s);
  for (const auto& s : names<event_kind>()) out["command"].insert(s);
  out["command"].insert("propose");
  out["command"].insert("record_duty");      // engine::record_duty: a duty's step, no event
  out["command"].insert("request_summary");  // engine::request_summary: a duty, no event
  out["command"].insert("review_emergency");  // engine::review_emergency: a review, no event
  for (const auto k : all_document_kinds()) out["document-kind"].insert(std::string(to_string(k)));
  for (const auto m : all_milestones()) out["milestone"].insert(std::string(to_string(m)));
  // A refused row's reason and every message's prefix: errc's values run from 1 to the last.
  for (int c = 1; c <= static_cast<int>(errc::outcome_unknown); ++c) {
    out["refusal"].insert(std::string(to_string(static_cast<errc>(c))));
  }
  for (const auto& s : ineligibility_names()) out["eligibility-reason"].insert(s);
  // Every rule of every pack, and every finding code a rule can report: the code literals of the
  // rules' source (each code is a string literal there, prefixed by its pack).
  for (const auto& pack : {vietnam_rules(), japan_rules(), fhir_rules(), mou_rules()}) {
    for (const auto& rule : pack) out["consent-rule"].insert(rule.id);
  }
  out["consent-finding"] = finding_codes_in_source();
  out["task-input"] = {"agreement", "specialty", "replaces"};
  out["task-output"] = {"onward-referral", "milestone", "results"};
  std::ifstream in(std::string(KAKEHASHI_SOURCE_DIR) + "/data/agreements.json");
  const json agreements = json::parse(in);
  for (const auto& h : agreements["hospitals"]) {
    for (const auto& s : h["specialties"]) out["specialty"].insert(s.get<std::string>());
  }
  for (const auto& a : agreements["agreements"]) {
    if (!a.contains("referral")) continue;
    for (const auto& s : a["referral"]["specialties"])
      out["specialty"].insert(s.get<std::string>());
  }
  return out;
}

bool has_non_ascii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("every code the library emits has a display in English, Vietnamese and Japanese",
          "[vocabulary]") {
  const auto all = emitted();
  for (const auto& [kind, codes] : all) {
    for (const auto& code : codes) {
      INFO(kind << " " << code);
      for (const auto& language : vocabulary::languages()) {
        INFO(language);
        const auto d = vocabulary::display(kind, code, language);
        REQUIRE(d);
        CHECK_FALSE(d->empty());
      }
    }
  }
  // And nothing more: a code the library no longer emits is not left behind in a file.
  for (const auto& kind : vocabulary::kinds()) {
    INFO(kind);
    REQUIRE(all.count(kind) == 1);
    const auto codes = vocabulary::codes(kind);
    CHECK(std::set<std::string>(codes.begin(), codes.end()) == all.at(kind));
  }
}

TEST_CASE("each CodeSystem file is what its name says, and every concept is translated",
          "[vocabulary]") {
  for (const auto& kind : vocabulary::kinds()) {
    INFO(kind);
    const std::string path =
        std::string(KAKEHASHI_SOURCE_DIR) + "/data/codesystems/" + kind + ".json";
    REQUIRE(std::ifstream(path).good());
    const std::string file = slurp(path);
    CHECK(file == vocabulary::code_system_json(kind));  // the library holds the file as shipped
    const json cs = json::parse(file);
    CHECK(cs["resourceType"] == "CodeSystem");
    CHECK(cs["id"] == "kakehashi-" + kind);
    CHECK(cs["url"] == "urn:kakehashi:" + kind);
    CHECK(cs["language"] == "en");
    CHECK(cs["content"] == "complete");
    CHECK(cs["count"] == cs["concept"].size());
    std::set<std::string> codes;
    for (const auto& c : cs["concept"]) {
      const std::string code = c["code"];
      INFO(code);
      CHECK(codes.insert(code).second);  // unique
      CHECK_FALSE(c["definition"].get<std::string>().empty());
      std::map<std::string, std::string> by_language;
      for (const auto& d : c["designation"]) by_language[d["language"]] = d["value"];
      CHECK(by_language.size() == 2);
      // Translated, not copied: Vietnamese and Japanese each differ from the English display and
      // are written with their own letters.
      for (const char* language : {"vi", "ja"}) {
        INFO(language);
        REQUIRE(by_language.count(language) == 1);
        CHECK(by_language[language] != c["display"].get<std::string>());
        CHECK(has_non_ascii(by_language[language]));
      }
    }
  }
}

TEST_CASE("an unknown kind, code or language has no display, and no CodeSystem",
          "[vocabulary][error]") {
  CHECK(vocabulary::display("close-reason", "declined", "ja") == std::string("受入不可"));
  CHECK(vocabulary::display("close-reason", "declined") == std::string("Declined"));
  CHECK_FALSE(vocabulary::display("close-reason", "declined", "fr"));
  CHECK_FALSE(vocabulary::display("close-reason", "nonsense"));
  CHECK_FALSE(vocabulary::display("nonsense", "declined"));
  CHECK(vocabulary::codes("nonsense").empty());
  try {
    (void)vocabulary::code_system_json("close_reason");
    FAIL("expected not_found");
  } catch (const error& e) {
    CHECK(e.code() == errc::not_found);
    CHECK_THAT(e.what(), Contains("'close_reason' is not one of kakehashi's"));
    CHECK_THAT(e.what(), Contains("close-reason"));
  }
}

TEST_CASE("the export's codings of kakehashi's systems carry the vocabulary's English display",
          "[vocabulary][fhir]") {
  temp_db db;
  std::set<std::string> seen;
  for (const auto& c : every_state_bundles(db.path())) {
    std::function<void(const json&)> walk = [&](const json& v) {
      if (v.is_object()) {
        if (v.contains("system") && v.contains("code") && v["system"].is_string()) {
          const std::string system = v["system"];
          const std::string prefix = "urn:kakehashi:";
          const std::string kind = system.rfind(prefix, 0) == 0 ? system.substr(prefix.size()) : "";
          // Purposes and data classes come from the consent record: not a closed vocabulary.
          if (!kind.empty() && kind != "purpose" && kind != "data-class") {
            INFO(c.name << " " << kind << " " << v["code"]);
            const auto d = vocabulary::display(kind, v["code"].get<std::string>());
            REQUIRE(d);
            CHECK(v.value("display", "") == *d);
            seen.insert(kind);
          }
        }
        for (const auto& [k, x] : v.items()) walk(x);
      } else if (v.is_array()) {
        for (const auto& x : v) walk(x);
      }
    };
    walk(json::parse(c.bundle));
  }
  CHECK(seen == std::set<std::string>{"state", "close-reason", "decline-reason", "cancel-reason",
                                      "role", "command", "specialty", "task-input", "task-output",
                                      "document-kind", "milestone", "consent-rule",
                                      "consent-finding"});
}
