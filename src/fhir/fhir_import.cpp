// FHIR R4 Consent -> kakehashi consent record (docs/fhir.md, "Import").
//
// The Consent is read element by element; each one is used, deliberately ignored (listed), or a
// problem (an element whose loss would change what the consent permits, or one kakehashi cannot
// read). The result is built as kakehashi consent JSON and given to the strict consent loader, so
// an imported record meets every check a hand-written one does.
#include <date/date.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/fail.hpp"
#include "common/json_reader.hpp"
#include "kakehashi/fhir.hpp"

namespace kakehashi::fhir {

namespace {

using json = nlohmann::json;

class importer {
 public:
  importer(const import_options& o, consent_import_result& out) : o_(o), out_(out) {}

  void problem(const std::string& path, std::string message) {
    out_.problems.push_back({path, std::move(message)});
  }
  void ignore(const std::string& path, std::string why) {
    out_.ignored.push_back({path, std::move(why)});
  }
  void assume(const std::string& field, std::string value) {
    out_.assumed.push_back({field, std::move(value)});
  }
  std::string system(std::string_view kind) const { return o_.system_base + std::string(kind); }

  // A string element; reports a wrong type.
  std::optional<std::string> string_at(const json& v, const std::string& path) {
    if (v.is_string()) return v.get<std::string>();
    problem(path, fmt::format("expected a string, found {}", v.type_name()));
    return std::nullopt;
  }

  // A FHIR dateTime/instant with a time and an offset, to kakehashi's seconds.
  std::optional<std::string> instant_at(const json& v, const std::string& path) {
    auto s = string_at(v, path);
    if (!s) return std::nullopt;
    // Sub-second digits ("...T10:30:00.123+07:00") are dropped: kakehashi keeps seconds.
    std::string text = *s;
    if (text.size() > 20 && text[19] == '.') {
      std::size_t end = 20;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      if (end > 20) text.erase(19, end - 19);
    }
    try {
      return to_iso8601(parse_instant(text, path));
    } catch (const error&) {
      problem(path, fmt::format("'{}' is not a dateTime with a time and an offset; kakehashi "
                                "needs the instant, e.g. 2026-01-12T10:30:00+07:00",
                                detail::printable(*s, 60)));
      return std::nullopt;
    }
  }

  // The value of an identifier with kakehashi's system for `kind` in a Reference or Identifier.
  std::optional<std::string> identifier_value(const json& ref, std::string_view kind) {
    const json* id = &ref;
    if (ref.is_object() && ref.contains("identifier")) id = &ref["identifier"];
    if (!id->is_object()) return std::nullopt;
    if (id->value("system", "") != system(kind) || !(*id).contains("value") ||
        !(*id)["value"].is_string())
      return std::nullopt;
    return (*id)["value"].get<std::string>();
  }

  // The code of the first coding of a CodeableConcept (or Coding) with `sys`.
  static std::optional<std::string> code_in(const json& cc, std::string_view sys) {
    const json* codings = &cc;
    json single = json::array();
    if (cc.is_object() && cc.contains("coding")) {
      codings = &cc["coding"];
    } else if (cc.is_object()) {
      single.push_back(cc);
      codings = &single;
    }
    if (!codings->is_array()) return std::nullopt;
    for (const auto& c : *codings) {
      if (c.is_object() && c.value("system", "") == sys && c.contains("code") &&
          c["code"].is_string())
        return c["code"].get<std::string>();
    }
    return std::nullopt;
  }

  void run(const json& c) {
    if (!c.is_object()) {
      problem("Consent", fmt::format("expected a JSON object, found {}", c.type_name()));
      return;
    }
    const std::string type = c.value("resourceType", "");
    if (type != "Consent") {
      problem("resourceType",
              type.empty() ? std::string("missing; expected 'Consent'")
                           : fmt::format("'{}' is not a Consent", detail::printable(type, 60)));
      return;
    }
    doc_ = {{"format", "kakehashi.consent/1"}};
    json patient = json::object();
    for (const auto& [key, v] : c.items()) {
      const std::string path = "Consent." + key;
      if (key == "resourceType") continue;
      if (key == "id" || key == "meta" || key == "text" || key == "language" ||
          key == "contained" || key == "category" || key == "policyRule" || key == "verification" ||
          key == "sourceAttachment" || key == "sourceReference" || key.rfind('_', 0) == 0) {
        if (key != "id") ignore(path, ignored_why(key));
      } else if (key == "policy") {
        read_policies(v, path);
      } else if (key == "identifier") {
        read_identifier(v, path);
      } else if (key == "extension") {
        read_extensions(v, path, patient);
      } else if (key == "modifierExtension" || key == "implicitRules") {
        problem(path, "changes the meaning of the Consent in a way kakehashi cannot evaluate");
      } else if (key == "status" || key == "dateTime" || key == "patient" ||
                 key == "organization" || key == "scope" || key == "performer" ||
                 key == "provision") {
        // read below, in an order that does not depend on the document's
      } else {
        problem(path, "is not an element of an R4 Consent");
      }
    }
    if (!doc_.contains("id")) {
      if (c.contains("id") && c["id"].is_string()) {
        doc_["id"] = c["id"];
      } else {
        problem("Consent.identifier",
                fmt::format("missing: kakehashi needs the consent's id (an identifier with system "
                            "{}, or the resource id)",
                            system("consent")));
      }
    }
    read_status(c);
    read_scope(c);
    read_patient(c, patient);
    read_controller(c);
    if (c.contains("dateTime")) {
      if (auto v = instant_at(c["dateTime"], "Consent.dateTime")) doc_["captured_at"] = *v;
    } else {
      problem("Consent.dateTime", "missing: kakehashi needs when the consent was captured");
    }
    read_performers(c, patient);
    read_provision(c);
    doc_["patient"] = patient;
    fill_defaults();
  }

  json doc_;

 private:
  static std::string ignored_why(const std::string& key) {
    if (key == "policyRule") return "kakehashi evaluates its own consent policy (docs/consent.md)";
    if (key == "category") return "kakehashi records consents to share data (scope says which)";
    if (key == "sourceAttachment" || key == "sourceReference")
      return "the form itself is not kept; the kakehashi extension's artifact-sha256 identifies it";
    return "not needed to evaluate the consent";
  }

  // Consent.policy: the acknowledged privacy policies (STD-08) are those with a uri.
  void read_policies(const json& v, const std::string& path) {
    if (!v.is_array()) {
      problem(path, "expected an array of policies");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", path, i);
      if (v[i].is_object() && v[i].contains("uri") && v[i]["uri"].is_string()) {
        if (!doc_.contains("privacy_policies")) doc_["privacy_policies"] = json::array();
        doc_["privacy_policies"].push_back(v[i]["uri"]);
      } else {
        ignore(at, "a policy without a uri names no policy the acknowledgement can carry");
      }
    }
  }

  void read_identifier(const json& v, const std::string& path) {
    if (!v.is_array()) {
      problem(path, "expected an array of Identifier");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (auto id = identifier_value(v[i], "consent")) {
        doc_["id"] = *id;
      } else {
        ignore(fmt::format("{}[{}]", path, i), "another system's identifier");
      }
    }
  }

  void read_status(const json& c) {
    if (!c.contains("status")) {
      problem("Consent.status", "missing");
      return;
    }
    if (auto s = string_at(c["status"], "Consent.status")) doc_["status"] = *s;
  }

  void read_scope(const json& c) {
    if (!c.contains("scope")) {
      problem("Consent.scope", "missing");
      return;
    }
    if (auto code = code_in(c["scope"], "http://terminology.hl7.org/CodeSystem/consentscope")) {
      doc_["scope"] = *code;
    } else {
      problem("Consent.scope", "has no code from http://terminology.hl7.org/CodeSystem/consentscope");
    }
  }

  void read_patient(const json& c, json& patient) {
    std::optional<std::string> ref;
    if (c.contains("patient")) ref = identifier_value(c["patient"], "patient");
    if (!ref && o_.patient) ref = o_.patient->value();
    if (!ref) {
      problem("Consent.patient",
              fmt::format("has no identifier with system {} (the pseudonymous id); give the "
                          "patient's pseudonymous id to the import instead",
                          system("patient")));
      return;
    }
    patient["ref"] = *ref;
    if (!o_.birth_date) {
      problem("Consent.patient",
              "a Consent carries no birth date and the rules need the patient's age; give the "
              "Patient resource's birthDate to the import");
      return;
    }
    patient["birth_date"] = date::format("%F", *o_.birth_date);
  }

  void read_controller(const json& c) {
    std::optional<std::string> h;
    if (c.contains("organization") && c["organization"].is_array()) {
      const json& orgs = c["organization"];
      for (std::size_t i = 0; i < orgs.size() && !h; ++i) h = identifier_value(orgs[i], "hospital");
      if (orgs.size() > 1) {
        ignore("Consent.organization",
               "kakehashi keeps one controller: the first organization with a hospital id");
      }
    }
    if (!h && o_.controller) h = o_.controller->value();
    if (!h) {
      problem("Consent.organization",
              fmt::format("has no identifier with system {}; give the controller hospital's id "
                          "to the import instead",
                          system("hospital")));
      return;
    }
    doc_["controller"] = *h;
  }

  void read_performers(const json& c, const json& patient) {
    if (doc_.contains("grantors")) {  // the kakehashi extension said who, with their roles
      if (c.contains("performer")) ignore("Consent.performer", "the kakehashi extension's grantors say who consented, with their roles");
      return;
    }
    json grantors = json::array();
    if (c.contains("performer") && c["performer"].is_array()) {
      const json& ps = c["performer"];
      for (std::size_t i = 0; i < ps.size(); ++i) {
        const std::string path = fmt::format("Consent.performer[{}]", i);
        const auto who = identifier_value(ps[i], "patient");
        if (who && patient.contains("ref") && *who == patient["ref"].get<std::string>()) {
          grantors.push_back({{"role", "patient"}, {"person", *who}});
        } else {
          problem(path,
                  "kakehashi cannot tell this grantor's role (patient, parent, guardian, legal "
                  "representative); add the kakehashi extension's grantor part");
        }
      }
    }
    doc_["grantors"] = grantors;
  }

  void read_provision(const json& c) {
    doc_["purposes"] = json::array();
    doc_["data_classes"] = json::array();
    doc_["recipients"] = json::array();
    if (!c.contains("provision")) {
      problem("Consent.provision", "missing: kakehashi needs what is permitted, to whom, for what");
      return;
    }
    const json& p = c["provision"];
    const std::string base = "Consent.provision";
    if (!p.is_object()) {
      problem(base, "expected an object");
      return;
    }
    for (const auto& [key, v] : p.items()) {
      const std::string path = base + "." + key;
      if (key == "type") {
        if (v != "permit") problem(path, "kakehashi records consents that permit; expected 'permit'");
      } else if (key == "period") {
        json validity = json::object();
        if (v.contains("start")) {
          if (auto s = instant_at(v["start"], path + ".start")) validity["from"] = *s;
        }
        if (v.contains("end")) {
          if (auto s = instant_at(v["end"], path + ".end")) validity["until"] = *s;
        }
        if (!validity.empty()) doc_["validity"] = validity;
      } else if (key == "actor") {
        read_actors(v, path);
      } else if (key == "action") {
        read_actions(v, path);
      } else if (key == "purpose") {
        read_purposes(v, path);
      } else if (key == "class") {
        doc_["data_classes"] = read_classes(v, path);
      } else if (key == "provision") {
        read_exceptions(v, path);
      } else if (key == "id" || key == "extension" || key.rfind('_', 0) == 0) {
        ignore(path, "not needed to evaluate the consent");
      } else {
        problem(path, "restricts the consent in a way kakehashi cannot represent "
                      "(securityLabel, code, dataPeriod, data and modifier extensions are not "
                      "evaluated)");
      }
    }
    if (!p.contains("type")) problem(base + ".type", "missing; expected 'permit'");
  }

  void read_actors(const json& v, const std::string& path) {
    if (!v.is_array()) {
      problem(path, "expected an array");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", path, i);
      const json& a = v[i];
      if (!a.is_object()) {
        problem(at, "expected an object");
        continue;
      }
      if (code_in(a.value("role", json::object()),
                  "http://terminology.hl7.org/CodeSystem/v3-ParticipationType") != "IRCP") {
        problem(at + ".role", "kakehashi reads recipients (role IRCP, information recipient) only");
        continue;
      }
      const auto h = identifier_value(a.value("reference", json::object()), "hospital");
      if (!h) {
        problem(at + ".reference",
                fmt::format("has no identifier with system {}", system("hospital")));
        continue;
      }
      json rec = {{"organisation", *h}};
      if (a.contains("extension") && a["extension"].is_array()) {
        for (const auto& x : a["extension"]) {
          const std::string url = x.value("url", "");
          if (url == recipient_country_url && x.contains("valueCode")) {
            rec["country"] = x["valueCode"];
          } else if (url == healthcare_provider_url && x.contains("valueBoolean")) {
            rec["healthcare_provider"] = x["valueBoolean"];
          }
        }
      }
      if (!rec.contains("country")) {
        problem(at, fmt::format("the recipient's country is missing (extension {})",
                                recipient_country_url));
        continue;
      }
      doc_["recipients"].push_back(rec);
    }
  }

  void read_actions(const json& v, const std::string& path) {
    bool discloses = false;
    if (v.is_array()) {
      for (const auto& a : v) {
        const auto code = code_in(a, "http://terminology.hl7.org/CodeSystem/consentaction");
        discloses = discloses || code == "disclose" || code == "access" || code == "use";
      }
    }
    if (!discloses) {
      problem(path, "permits no disclosure (expected disclose, access or use): a referral "
                    "sends data");
    }
  }

  void read_purposes(const json& v, const std::string& path) {
    if (!v.is_array()) {
      problem(path, "expected an array of Coding");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const json& p = v[i];
      if (!p.is_object()) {
        problem(fmt::format("{}[{}]", path, i), "expected a Coding");
        continue;
      }
      const std::string sys = p.value("system", "");
      const std::string code = p.value("code", "");
      if (sys == system("purpose") && !code.empty()) {
        doc_["purposes"].push_back(code);
      } else if (sys == "http://terminology.hl7.org/CodeSystem/v3-ActReason" &&
                 (code == "TREAT" || code == "ETREAT")) {
        doc_["purposes"].push_back("treatment");
      } else {
        problem(fmt::format("{}[{}]", path, i),
                fmt::format("purpose '{}|{}' has no kakehashi meaning; use system {}",
                            detail::printable(sys, 80), detail::printable(code, 40),
                            system("purpose")));
      }
    }
  }

  json read_classes(const json& v, const std::string& path) {
    json out = json::array();
    if (!v.is_array()) {
      problem(path, "expected an array of Coding");
      return out;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i].is_object() && v[i].value("system", "") == system("data-class") &&
          v[i].contains("code") && v[i]["code"].is_string()) {
        out.push_back(v[i]["code"]);
      } else {
        problem(fmt::format("{}[{}]", path, i),
                fmt::format("a data class kakehashi cannot read; use system {}",
                            system("data-class")));
      }
    }
    return out;
  }

  // Nested provisions: a deny of whole data classes is an exclusion; anything else is not
  // representable and would change what is permitted if dropped.
  void read_exceptions(const json& v, const std::string& path) {
    if (!v.is_array()) {
      problem(path, "expected an array");
      return;
    }
    json excluded = json::array();
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", path, i);
      const json& p = v[i];
      if (!p.is_object() || p.value("type", "") != "deny" || !p.contains("class")) {
        problem(at, "kakehashi represents a nested provision only as a deny of data classes");
        continue;
      }
      for (const auto& [key, value] : p.items()) {
        if (key != "type" && key != "class" && key != "id") {
          problem(at + "." + key, "a deny narrower than whole data classes is not representable");
        }
      }
      for (const auto& c : read_classes(p["class"], at + ".class")) excluded.push_back(c);
    }
    if (!excluded.empty()) doc_["excluded_classes"] = excluded;
  }

  // ---- the kakehashi extension ---------------------------------------------------------------

  void read_extensions(const json& v, const std::string& path, json& patient) {
    if (!v.is_array()) {
      problem(path, "expected an array of Extension");
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", path, i);
      if (v[i].is_object() && v[i].value("url", "") == consent_extension_url) {
        seen_extension_ = true;
        read_record_extension(v[i], at, patient);
      } else {
        ignore(at, "an extension kakehashi does not define (not a modifier: safe to ignore)");
      }
    }
  }

  static const json* value_of(const json& x) {
    for (const auto& [key, v] : x.items()) {
      if (key.rfind("value", 0) == 0) return &v;
    }
    return nullptr;
  }

  // Sub-extensions as (url, value) with their paths, each value checked for a JSON type.
  void read_record_extension(const json& x, const std::string& path, json& patient) {
    if (!x.contains("extension") || !x["extension"].is_array()) {
      problem(path, "kakehashi's consent extension has no parts");
      return;
    }
    json expression = json::object(), notices = json::object();
    notices["languages"] = json::array();
    const json& parts = x["extension"];
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string at = fmt::format("{}.extension[{}]", path, i);
      const std::string url = parts[i].value("url", "");
      const json* value = value_of(parts[i]);
      const auto simple = [&](json& target, const char* key) {
        if (!value) {
          problem(at, fmt::format("'{}' has no value", url));
        } else {
          target[key] = *value;
        }
      };
      if (url == "age-verified") simple(patient, "age_verified");
      else if (url == "capacity") simple(patient, "capacity");
      else if (url == "capacity-assessed") simple(patient, "capacity_assessed");
      else if (url == "method") simple(expression, "method");
      else if (url == "affirmative-action") simple(expression, "affirmative_action");
      else if (url == "pre-ticked") simple(expression, "pre_ticked");
      else if (url == "artifact-sha256") simple(expression, "artifact_sha256");
      else if (url == "sensitive-data-notice") simple(notices, "sensitive_data");
      else if (url == "complaint-mechanism-notice") simple(notices, "complaint_mechanism");
      else if (url == "rights-notice") simple(notices, "rights_obligations");
      else if (url == "recipient-acquisition-notice") simple(notices, "recipient_acquisition");
      else if (url == "language" && value) notices["languages"].push_back(*value);
      else if (url == "grantor") {
        json g = complex(parts[i], at, {{"role", "role"}, {"person", "person"},
                                        {"authority-evidence", "authority_evidence"}});
        if (!doc_.contains("grantors")) doc_["grantors"] = json::array();
        doc_["grantors"].push_back(g);
      } else if (url == "japan-art28-2") {
        json j = complex(parts[i], at,
                         {{"country", "country"},
                          {"country-unidentified-reason", "country_unidentified_reason"},
                          {"country-system-info", "country_system_info"},
                          {"recipient-measures-info", "recipient_measures_info"},
                          {"measures-unavailable-reason", "measures_unavailable_reason"},
                          {"given", ""}});
        doc_["japan_art28_2"] = j;
      } else if (url == "written-request") {
        doc_["written_request"] = complex(
            parts[i], at, {{"reference", "reference"}, {"date", "date"}, {"recipient", "recipient"}});
      } else if (url == "withdrawal") {
        json w = complex(parts[i], at, {{"received-at", "received_at"}, {"channel", "channel"}});
        if (w.contains("received_at") && w["received_at"].is_string()) {
          if (auto s = instant_at(w["received_at"], at + ".received-at")) w["received_at"] = *s;
        }
        doc_["withdrawal"] = w;
      } else if (url == "emergency") {
        json e = complex(parts[i], at,
                         {{"justification", "justification"}, {"clinician", "clinician"},
                          {"at", "at"}, {"consent-impracticable", "consent_impracticable"},
                          {"why-consent-not-obtained", "why_consent_not_obtained"}});
        if (e.contains("at") && e["at"].is_string()) {
          if (auto s = instant_at(e["at"], at + ".at")) e["at"] = *s;
        }
        doc_["emergency"] = e;
      } else if (url == "treatment-decision") {
        doc_["treatment_decision"] = complex(
            parts[i], at,
            {{"role", "role"}, {"person", "person"}, {"authority-evidence", "authority_evidence"}});
      } else {
        problem(at, fmt::format("'{}' is not a part of kakehashi's consent extension (a newer "
                                "version of it?)",
                                detail::printable(url, 80)));
      }
    }
    if (!expression.empty()) doc_["expression"] = expression;
    doc_["notices"] = notices;
  }

  json complex(const json& x, const std::string& path,
               std::initializer_list<std::pair<const char*, const char*>> names) {
    json out = json::object();
    if (!x.contains("extension") || !x["extension"].is_array()) {
      problem(path, "expected parts (extension)");
      return out;
    }
    const json& parts = x["extension"];
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string url = parts[i].value("url", "");
      const json* value = value_of(parts[i]);
      bool known = false;
      for (const auto& [fhir_name, key] : names) {
        if (url != fhir_name) continue;
        known = true;
        if (!value) problem(fmt::format("{}.extension[{}]", path, i), "has no value");
        else if (*key) out[key] = *value;
      }
      if (!known) {
        problem(fmt::format("{}.extension[{}]", path, i),
                fmt::format("'{}' is not a part kakehashi knows here",
                            detail::printable(url, 80)));
      }
    }
    return out;
  }

  // The record's fields a Consent without kakehashi's extension does not carry: the value that
  // the rules may refuse, never one that grants more.
  void fill_defaults() {
    json& patient = doc_["patient"];
    const auto fill = [&](json& obj, const char* key, json value, const char* field) {
      if (obj.contains(key)) return;
      assume(field, value.dump());
      obj[key] = std::move(value);
    };
    fill(patient, "age_verified", false, "patient.age_verified");
    fill(patient, "capacity", "full", "patient.capacity");
    if (!doc_.contains("expression")) doc_["expression"] = json::object();
    json& e = doc_["expression"];
    fill(e, "method", "verbal", "expression.method");
    fill(e, "affirmative_action", false, "expression.affirmative_action");
    fill(e, "pre_ticked", false, "expression.pre_ticked");
    if (!doc_.contains("notices")) {
      doc_["notices"] = json::object();
      doc_["notices"]["languages"] = json::array();
      assume("notices.languages", "[]");
    }
    json& n = doc_["notices"];
    fill(n, "sensitive_data", false, "notices.sensitive_data");
    fill(n, "complaint_mechanism", false, "notices.complaint_mechanism");
    fill(n, "rights_obligations", false, "notices.rights_obligations");
    fill(n, "recipient_acquisition", false, "notices.recipient_acquisition");
    if (!seen_extension_) {
      assume("japan_art28_2", "absent");
      assume("written_request", "absent");
    }
  }

  const import_options& o_;
  consent_import_result& out_;
  bool seen_extension_ = false;
};

}  // namespace

consent_import_result import_consent(std::string_view fhir_json, const import_options& o) {
  consent_import_result out;
  // The strict reader: a syntax error by line and column (never the text around it, which may
  // hold the narrative's names and dates), duplicate keys refused, nesting bounded.
  std::vector<load_problem> syntax;
  const std::optional<json> c = detail::parse_strict(fhir_json, syntax);
  if (!c) {
    for (auto& p : syntax) {
      out.problems.push_back(
          {p.path.empty() ? "Consent" : "Consent." + p.path, std::move(p.message)});
    }
    return out;
  }
  importer in(o, out);
  try {
    in.run(*c);
  } catch (const json::exception& e) {  // a value of an unexpected JSON type deep inside
    out.problems.push_back(
        {"Consent", fmt::format("malformed: {}", detail::json_error_message(e))});
  }
  if (!out.problems.empty()) return out;
  const std::string text = in.doc_.dump(2);
  consent_load_result loaded = try_load_consent(text);
  if (!loaded.ok()) {
    for (auto& p : loaded.problems) {
      out.problems.push_back({"(as a kakehashi consent) " + p.path, std::move(p.message)});
    }
    return out;
  }
  out.record = std::move(loaded.record);
  out.consent_json = text;
  return out;
}

date::year_month_day patient_birth_date(std::string_view fhir_json) {
  std::vector<load_problem> syntax;
  const std::optional<json> parsed = detail::parse_strict(fhir_json, syntax);
  if (!parsed) {
    // Line and column only: a Patient holds names, addresses and the birth date itself.
    const load_problem& first = syntax.front();
    detail::fail(errc::invalid_argument, first.path.empty() ? "Patient" : "Patient." + first.path,
                 first.message, "give a FHIR R4 Patient resource");
  }
  const json& p = *parsed;
  if (!p.is_object()) {
    detail::fail(errc::invalid_argument, "Patient", "is not a JSON object",
                 "give a FHIR R4 Patient resource");
  }
  if (p.value("resourceType", "") != "Patient") {
    detail::fail(errc::invalid_argument, "Patient.resourceType", "is not 'Patient'",
                 "give a FHIR R4 Patient resource");
  }
  const std::string text =
      p.contains("birthDate") && p["birthDate"].is_string() ? p["birthDate"].get<std::string>() : "";
  date::year_month_day day{};
  if (text.size() == 10) {
    std::istringstream in(text);
    in >> date::parse("%F", day);
    if (in.fail() || !day.ok()) day = {};
  }
  if (!day.ok()) {
    detail::fail(errc::invalid_argument, "Patient.birthDate",
                 "is missing or not a full date (the value is not shown: personal data)",
                 "the rules need the day of birth, YYYY-MM-DD");
  }
  return day;
}

document_ref import_document_reference(std::string_view fhir_json, std::string_view system_base) {
  const auto bad = [](const std::string& path, const std::string& problem,
                      std::string_view valid =
                          "a DocumentReference as kakehashi's export writes "
                          "it (docs/fhir.md)") {
    detail::fail(errc::invalid_argument, "DocumentReference" + path, problem, valid);
  };
  std::vector<load_problem> syntax;
  const std::optional<json> parsed = detail::parse_strict(fhir_json, syntax);
  if (!parsed)
    bad(syntax.front().path.empty() ? "" : "." + syntax.front().path, syntax.front().message);
  const json& d = *parsed;
  if (!d.is_object() || d.value("resourceType", "") != "DocumentReference") {
    bad(".resourceType", "is not 'DocumentReference'");
  }
  const auto text_at = [&](const json& parent, const char* key, const std::string& path) {
    if (!parent.is_object() || !parent.contains(key) || !parent[key].is_string()) {
      bad(path, "is missing or not a string");
    }
    return parent[key].get<std::string>();
  };
  document_ref out;
  out.id = document_id{text_at(d.contains("masterIdentifier") ? d["masterIdentifier"] : json(),
                               "value", ".masterIdentifier.value")};
  const std::string kind_system = std::string(system_base) + "document-kind";
  std::optional<document_kind> kind;
  if (d.contains("type") && d["type"].is_object() && d["type"].contains("coding") &&
      d["type"]["coding"].is_array()) {
    for (const auto& c : d["type"]["coding"]) {
      if (c.is_object() && c.value("system", "") == kind_system && c.contains("code") &&
          c["code"].is_string()) {
        kind = parse_document_kind(c["code"].get<std::string>());
        if (!kind) {
          bad(".type.coding",
              fmt::format("'{}' is not a code of {}", printable(c["code"].get<std::string>()),
                          kind_system),
              "expected one of " + document_kind_names());
        }
      }
    }
  }
  if (!kind)
    bad(".type", "has no coding of " + kind_system, "expected one of " + document_kind_names());
  out.kind = *kind;
  if (!d.contains("content") || !d["content"].is_array() || d["content"].size() != 1 ||
      !d["content"][0].is_object() || !d["content"][0].contains("attachment") ||
      !d["content"][0]["attachment"].is_object()) {
    bad(".content", "is not one content with an attachment");
  }
  const json& a = d["content"][0]["attachment"];
  const std::string at = ".content[0].attachment";
  if (a.contains("data")) {
    bad(at + ".data", "is present",
        "kakehashi records documents by reference: give the SHA-256 "
        "and size, never the content");
  }
  out.media_type = text_at(a, "contentType", at + ".contentType");
  out.language = text_at(a, "language", at + ".language");
  if (a.contains("size")) {
    if (!a["size"].is_number_unsigned()) bad(at + ".size", "is not a whole number of bytes");
    out.size = a["size"].get<std::uint64_t>();
  }
  bool have_sha = false;
  if (a.contains("extension") && a["extension"].is_array()) {
    for (const auto& x : a["extension"]) {
      if (!x.is_object() || x.value("url", "") != document_content_url) continue;
      if (!x.contains("extension") || !x["extension"].is_array()) continue;
      for (const auto& part : x["extension"]) {
        if (!part.is_object()) continue;
        const std::string url = part.value("url", "");
        if (url == "sha256") {
          out.sha256 = text_at(part, "valueString", at + ".extension.sha256");
          have_sha = true;
        } else if (url == "size") {
          if (!part.contains("valueDecimal") || !part["valueDecimal"].is_number_unsigned()) {
            bad(at + ".extension.size", "is not a whole number of bytes");
          }
          out.size = part["valueDecimal"].get<std::uint64_t>();
        }
      }
    }
  }
  if (!have_sha) {
    bad(at + ".extension", fmt::format("has no {} with its sha256", document_content_url),
        "give the content's SHA-256 in the extension (R4's Attachment.hash is SHA-1)");
  }
  // Named by kakehashi's fields (DocumentReference.sha256, .media_type, ...).
  validate("DocumentReference", out);
  return out;
}

}  // namespace kakehashi::fhir
