#include "api.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <kakehashi/consent.hpp>
#include <kakehashi/eligibility.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/fhir.hpp>
#include <kakehashi/version.hpp>
#include <kakehashi/vocabulary.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "common/crypto.hpp"       // SHA-256 of a request, for the engine's request digest
#include "common/json_reader.hpp"  // the strict reader: bodies are read as strictly as files
#include "notifier.hpp"

namespace kakehashi::serve {
namespace {

using nlohmann::json;

constexpr std::string_view system_base = "urn:kakehashi:";

// ---- HTTP helpers ----------------------------------------------------------------------------

std::string decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct target {
  std::vector<std::string> path;  // decoded segments
  std::multimap<std::string, std::string> query;
};

target parse_target(const std::string& raw) {
  target t;
  const auto q = raw.find('?');
  const std::string path = raw.substr(0, q);
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const std::string segment =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!segment.empty()) t.path.push_back(decoded(segment));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (q != std::string::npos) {
    std::istringstream in(raw.substr(q + 1));
    for (std::string pair; std::getline(in, pair, '&');) {
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      t.query.emplace(decoded(pair.substr(0, eq)),
                      eq == std::string::npos ? std::string() : decoded(pair.substr(eq + 1)));
    }
  }
  return t;
}

std::string header(const request& r, const char* name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

// The service's base URL as the client addressed it.
std::string base_url(const request& r) {
  const std::string host = header(r, "host");
  return "https://" + (host.empty() ? std::string("localhost") : host) + "/";
}

response json_response(int status, std::string body) {
  response out;
  out.status = status;
  out.body = std::move(body);
  return out;
}

response problem(int status, const char* code, const std::string& diagnostics) {
  return json_response(
      status,
      json{{"resourceType", "OperationOutcome"},
           {"issue",
            json::array({{{"severity", "error"}, {"code", code}, {"diagnostics", diagnostics}}})}}
          .dump());
}

[[noreturn]] void bad(const std::string& subject, const std::string& what) {
  throw error(errc::invalid_argument, subject + ": " + what);
}

std::string etag_of(const referral_snapshot& s) { return fmt::format("W/\"{}\"", s.version); }

// A search's answer: every match on one page (the Task search pages its own, with links).
response searchset(json entries) {
  json bundle = {{"resourceType", "Bundle"}, {"type", "searchset"}, {"total", entries.size()}};
  bundle["entry"] = std::move(entries);
  return json_response(200, bundle.dump());
}

// ---- FHIR helpers ----------------------------------------------------------------------------

// The value of the first identifier of `system` in an identifier array or a reference.
std::optional<std::string> identifier_value(const json& j, std::string_view kind) {
  const std::string system = std::string(system_base) + std::string(kind);
  const json* ids = nullptr;
  if (j.is_object() && j.contains("identifier")) ids = &j["identifier"];
  if (ids == nullptr) return std::nullopt;
  const auto match = [&](const json& id) -> std::optional<std::string> {
    if (id.is_object() && id.value("system", "") == system && id.contains("value") &&
        id["value"].is_string()) {
      return id["value"].get<std::string>();
    }
    return std::nullopt;
  };
  if (ids->is_array()) {
    for (const auto& id : *ids) {
      if (auto v = match(id)) return v;
    }
    return std::nullopt;
  }
  return match(*ids);
}

// The named parameter of a Parameters resource, or nullptr.
const json* parameter(const json& params, std::string_view name) {
  if (!params.is_object() || !params.contains("parameter") || !params["parameter"].is_array()) {
    return nullptr;
  }
  for (const auto& p : params["parameter"]) {
    if (p.is_object() && p.value("name", "") == name) return &p;
  }
  return nullptr;
}

// Every parameter called `name`, in order (a repeated parameter: $return-results' documents).
std::vector<const json*> parameters(const json& params, std::string_view name) {
  std::vector<const json*> out;
  if (!params.is_object() || !params.contains("parameter") || !params["parameter"].is_array()) {
    return out;
  }
  for (const auto& p : params["parameter"]) {
    if (p.is_object() && p.value("name", "") == name) out.push_back(&p);
  }
  return out;
}

std::string code_parameter(const json& params, std::string_view name, const char* what) {
  const json* p = parameter(params, name);
  if (p == nullptr || !p->contains("valueCode") || !(*p)["valueCode"].is_string()) {
    bad(fmt::format("Parameters.parameter[{}]", name),
        fmt::format("is missing; give the {} as valueCode", what));
  }
  return (*p)["valueCode"].get<std::string>();
}

// A body as JSON, read strictly (line and column only on a syntax error).
json body_json(const request& r, const char* resource_type) {
  std::vector<load_problem> problems;
  auto doc = detail::parse_strict(r.body, problems);
  if (!doc) {
    const auto& p = problems.front();
    bad("body", p.path.empty() ? p.message : p.path + ": " + p.message);
  }
  if (!doc->is_object() || doc->value("resourceType", "") != resource_type) {
    bad("body.resourceType", fmt::format("expected a {} resource", resource_type));
  }
  return std::move(*doc);
}

template <class E, class Parse>
E parse_code(const std::string& text, const char* subject, Parse parse,
             const std::string& valid = all_names<E>()) {
  if (auto v = parse(text)) return *v;
  bad(subject, fmt::format("'{}' is not allowed; expected one of: {}", printable(text), valid));
}

int status_of(errc c) {
  switch (c) {
    case errc::invalid_argument:
      return 400;
    case errc::not_found:
      return 404;
    case errc::already_exists:
    case errc::failed_precondition:
      return 409;
    case errc::permission_denied:
      return 403;
    case errc::not_eligible:
    case errc::consent_blocked:
      return 422;
    case errc::storage:
    case errc::outcome_unknown:
      return 503;
  }
  return 500;
}

const char* issue_code_of(int status) {
  switch (status) {
    case 400:
      return "invalid";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 409:
      return "conflict";
    case 412:
      return "conflict";
    case 422:
      return "business-rule";
    case 503:
      return "transient";
    default:
      return "exception";
  }
}

}  // namespace

response error_response(const error& e) {
  const int status = status_of(e.code());
  response out = problem(status, issue_code_of(status), e.what());
  if (status == 503) out.headers["Retry-After"] = "1";
  return out;
}

api::api(const config& c, engine& e, const agreement_directory& agreements,
         std::function<instant()> clock)
    : config_(c), engine_(e), agreements_(agreements), clock_(std::move(clock)) {
  for (const auto& cl : c.clients) clients_[cl.certificate_sha256] = cl.hospital;
}

std::optional<hospital_id> api::hospital_of(const request& r) const {
  const auto it = clients_.find(r.client_sha256);
  if (it == clients_.end()) return std::nullopt;
  return it->second;
}

response api::handle(const request& r) {
  const auto caller = hospital_of(r);
  response out;
  if (!caller) {
    // A certificate the CA signed but no hospital was given: it never reaches the engine.
    out = problem(403, "forbidden",
                  "[kakehashi.permission_denied] client certificate: it is not registered to any "
                  "hospital; register its SHA-256 fingerprint in the service's configuration");
  } else {
    try {
      out = route(r, *caller);
    } catch (const error& e) {
      out = error_response(e);
    }
  }
  if (const auto id = header(r, "x-correlation-id"); !id.empty()) {
    out.headers["X-Correlation-ID"] = printable(id, 200);
  }
  if (const auto id = header(r, "x-request-id"); !id.empty()) {
    out.headers["X-Request-ID"] = printable(id, 200);
  }
  return out;
}

response api::route(const request& r, const hospital_id& caller) {
  const target t = parse_target(r.target);
  const auto& p = t.path;
  if (r.method == "GET" && p.size() == 1 && p[0] == "metadata") return capability();
  if (r.method == "GET" && p.size() == 1 && p[0] == "health") {
    response out = json_response(200, json{{"status", "ok"}}.dump());
    out.content_type = "application/json";
    return out;
  }
  if (r.method == "GET" && !p.empty() && p[0] == "Subscription") return subscription(r, caller, p);
  if ((r.method == "GET" || r.method == "POST") && p.size() == 1 && p[0] == "$eligibility") {
    return eligibility(r, caller);
  }
  if (r.method == "GET" && p.size() == 1 && p[0] == "AuditEvent") return audit_events(r, caller);
  if (!p.empty() && p[0] == "Task") {
    if (p.size() == 1 && r.method == "GET") return search_tasks(r, caller);
    if (p.size() == 1 && r.method == "POST") return create_task(r, caller);
    if (p.size() >= 2) {
      const auto s = task(p[1], caller);
      if (!s) {
        throw error(errc::not_found, fmt::format("Task/{}: no such Task among the referrals of "
                                                 "'{}'; search /Task to see them",
                                                 printable(p[1], 80), caller.value()));
      }
      if (p.size() == 2 && r.method == "GET") return task_response(*s, 200);
      if (p.size() == 3 && r.method == "GET" && p[2] == "$everything") return get_task(*s, true);
      if (p.size() == 3 && r.method == "POST" && !p[2].empty() && p[2][0] == '$') {
        return operation(r, caller, *s, p[2].substr(1));
      }
    }
  }
  return problem(404, "not-supported",
                 fmt::format("[kakehashi.not_found] {} {}: no such interaction; GET /metadata "
                             "lists them",
                             printable(r.method, 16), printable(r.target, 200)));
}

std::optional<referral_snapshot> api::task(const std::string& id, const hospital_id& caller) {
  std::optional<referral_id> rid;
  {
    std::lock_guard<std::mutex> lock(ids_mutex_);
    if (const auto it = task_ids_.find(id); it != task_ids_.end()) rid = it->second;
  }
  // Task ids are derived from referral ids (fhir::resource_id, a UUID): an id of another shape
  // names no Task. Otherwise learn the referrals the caller became a party to since this service
  // last looked (another process on the same database may have proposed them a moment ago): its
  // change feed after the last event read, an indexed read of the new rows only, so a stream of
  // unknown ids costs one empty read each.
  const bool uuid_shaped =
      id.size() == 36 && id.find_first_not_of("0123456789abcdef-") == std::string::npos;
  if (!rid && uuid_shaped) {
    std::lock_guard<std::mutex> lock(ids_mutex_);
    auto& cursor = learned_[caller];
    change_query q;
    q.hospital = caller;
    q.include_own = true;
    q.limit = 1000;
    for (;;) {
      q.after_event = cursor.event;
      q.after_seq = cursor.event == 0 ? std::nullopt : std::optional<std::int64_t>(cursor.seq);
      const auto page = engine_.changes(q);
      for (const auto& c : page) {
        if (c.row.command == "propose") {
          task_ids_.emplace(fhir::resource_id("Task", c.row.referral.value()), c.row.referral);
        }
        cursor = {c.event, c.row.seq};
      }
      if (page.size() < q.limit) break;
    }
    if (const auto it = task_ids_.find(id); it != task_ids_.end()) rid = it->second;
  }
  if (!rid) return std::nullopt;
  auto s = engine_.find(*rid);
  if (!s || (s->origin != caller && s->destination != caller)) return std::nullopt;
  return s;
}

response api::task_response(const referral_snapshot& s, int status, const request* change) const {
  // Prefer (RFC 7240, as FHIR's RESTful API uses it): return=minimal spares the client the Task
  // it may not read, and the service the history read and the Task it would build.
  const std::string prefer = change ? header(*change, "prefer") : std::string();
  const auto prefers = [&](std::string_view what) {
    return prefer.find(fmt::format("return={}", what)) != std::string::npos;
  };
  response out;
  out.status = status;
  if (prefers("minimal")) {
    out.headers["Preference-Applied"] = "return=minimal";
  } else if (prefers("OperationOutcome")) {
    out.headers["Preference-Applied"] = "return=OperationOutcome";
    out.body =
        json{
            {"resourceType", "OperationOutcome"},
            {"issue",
             json::array({{{"severity", "information"},
                           {"code", "informational"},
                           {"diagnostics", fmt::format("referral {}: {} (version {})", s.id.value(),
                                                       to_string(s.state), s.version)}}})}}
            .dump();
  } else {
    const auto history = engine_.history(s.id);
    out.body = fhir::task({s, history, agreements_});
  }
  out.headers["ETag"] = etag_of(s);
  out.headers["Last-Modified"] = to_iso8601(std::max(s.updated_at, s.proposed_at));
  if (status == 201) out.headers["Location"] = "Task/" + fhir::resource_id("Task", s.id.value());
  return out;
}

response api::get_task(const referral_snapshot& s, bool) const {
  const auto history = engine_.history(s.id);
  response out = json_response(200, fhir::referral_bundle({s, history, agreements_}));
  out.headers["ETag"] = etag_of(s);
  return out;
}

response api::search_tasks(const request& r, const hospital_id& caller) const {
  const target t = parse_target(r.target);
  referral_filter f;
  f.hospital = caller;
  std::size_t count = 20;
  std::size_t offset = 0;
  std::optional<std::string> identifier, owner, requester;
  std::optional<std::set<std::string, std::less<>>> statuses;
  std::vector<std::pair<std::string, instant>> updated;  // prefix, instant
  for (const auto& [name, value] : t.query) {
    const auto number = [&](std::size_t max) {
      std::size_t used = 0;
      long v = -1;
      try {
        v = std::stol(value, &used);
      } catch (const std::exception&) {
      }
      if (used != value.size() || v < 0 || static_cast<std::size_t>(v) > max) {
        bad(name, fmt::format("'{}' is not a number from 0 to {}", printable(value), max));
      }
      return static_cast<std::size_t>(v);
    };
    if (name == "_count") {
      count = number(100);
    } else if (name == "_offset") {
      offset = number(10'000'000);
    } else if (name == "identifier") {
      identifier = value.substr(value.find('|') == std::string::npos ? 0 : value.find('|') + 1);
    } else if (name == "status") {
      // A token, or several separated by commas (any of them matches), from FHIR's TaskStatus.
      static constexpr std::string_view codes[] = {
          "draft",     "requested",   "received", "accepted", "rejected",  "ready",
          "cancelled", "in-progress", "on-hold",  "failed",   "completed", "entered-in-error"};
      statuses.emplace();
      std::istringstream in(value);
      for (std::string code; std::getline(in, code, ',');) {
        if (const auto bar = code.find('|'); bar != std::string::npos) code = code.substr(bar + 1);
        if (std::find(std::begin(codes), std::end(codes), code) == std::end(codes)) {
          bad("status", fmt::format("'{}' is not a FHIR Task status; expected one of draft, "
                                    "requested, received, accepted, rejected, ready, cancelled, "
                                    "in-progress, on-hold, failed, completed, entered-in-error "
                                    "(kakehashi uses requested, accepted, in-progress, completed, "
                                    "rejected, cancelled)",
                                    printable(code, 40)));
        }
        statuses->insert(code);
      }
    } else if (name == "owner" || name == "requester") {
      // Organization/<id>, an identifier token, or a hospital id.
      std::string h = value.substr(
          value.find_last_of("|/") == std::string::npos ? 0 : value.find_last_of("|/") + 1);
      (name == "owner" ? owner : requester) = h;
    } else if (name == "_lastUpdated") {
      const std::string prefix =
          value.size() > 2 && std::isalpha(static_cast<unsigned char>(value[0]))
              ? value.substr(0, 2)
              : "eq";
      const std::string when = prefix == "eq" && !std::isalpha(static_cast<unsigned char>(value[0]))
                                   ? value
                                   : value.substr(2);
      if (prefix != "gt" && prefix != "ge" && prefix != "lt" && prefix != "le" && prefix != "eq") {
        bad("_lastUpdated", "expected a prefix gt, ge, lt, le or eq and an instant");
      }
      updated.emplace_back(
          prefix, parse_instant(when.size() == 10 ? when + "T00:00:00Z" : when, "_lastUpdated"));
    } else {
      bad(name,
          "is not a search parameter of Task here; expected identifier, status, owner, "
          "requester, _lastUpdated, _count or _offset");
    }
  }
  std::vector<referral_snapshot> matches;
  for (auto& s : engine_.list(f)) {
    if (identifier && s.id.value() != *identifier) continue;
    if (owner && s.destination.value() != *owner) continue;
    if (requester && s.origin.value() != *requester) continue;
    const instant last = std::max(s.updated_at, s.proposed_at);
    bool in_range = true;
    for (const auto& [prefix, at] : updated) {
      in_range = in_range && (prefix == "gt"   ? last > at
                              : prefix == "ge" ? last >= at
                              : prefix == "lt" ? last < at
                              : prefix == "le" ? last <= at
                                               : last == at);
    }
    if (!in_range) continue;
    if (statuses && statuses->count(fhir::task_status(s)) == 0) continue;
    matches.push_back(std::move(s));
  }
  const std::string base = base_url(r);
  json entries = json::array();
  for (std::size_t i = offset; i < matches.size() && i < offset + count; ++i) {
    const auto& s = matches[i];
    entries.push_back(
        {{"fullUrl", base + "Task/" + fhir::resource_id("Task", s.id.value())},
         {"resource", json::parse(fhir::task({s, engine_.history(s.id), agreements_}))},
         {"search", {{"mode", "match"}}}});
  }
  // The links repeat the query with the page's offset.
  std::string query;
  for (const auto& [name, value] : t.query) {
    if (name == "_offset") continue;
    query += (query.empty() ? "" : "&") + name + "=" + value;
  }
  const auto page = [&](std::size_t at) {
    return base + "Task?" + query + (query.empty() ? "" : "&") + "_offset=" + std::to_string(at);
  };
  json links = json::array({{{"relation", "self"}, {"url", page(offset)}}});
  if (offset + count < matches.size())
    links.push_back({{"relation", "next"}, {"url", page(offset + count)}});
  if (offset > 0)
    links.push_back({{"relation", "previous"}, {"url", page(offset > count ? offset - count : 0)}});
  return json_response(200, json{{"resourceType", "Bundle"},
                                 {"type", "searchset"},
                                 {"total", matches.size()},
                                 {"link", links},
                                 {"entry", entries}}
                                .dump());
}

namespace {

actor actor_from(const request& r, const hospital_id& caller) {
  actor a;
  a.organisation = caller;
  const std::string role = header(r, "x-actor-role");
  if (role.empty()) bad("X-Actor-Role", "is missing; give clinician or coordinator");
  // A hospital's system acts for a person; `system` is the engine's own role (the sweep).
  a.role = parse_code<actor_role>(role, "X-Actor-Role", parse_actor_role, "clinician, coordinator");
  a.user = user_id{header(r, "x-actor-user")};
  if (!a.user.value().empty()) validate("X-Actor-User", a.user);
  return a;
}

// What binds a request id to its request: a retry must repeat the method, path, acting person
// and body exactly (NHS BaRS); the same id with anything else is refused (409).
std::string request_digest(const request& r) {
  std::string text;
  for (const std::string& part : {r.method, r.target.substr(0, r.target.find('?')),
                                  header(r, "x-actor-role"), header(r, "x-actor-user"), r.body}) {
    detail::append_field(text, part);
  }
  return detail::sha256_hex(text);
}

// If-Match: W/"<version>", or nothing.
std::optional<std::uint64_t> expected_version(const request& r) {
  const std::string match = header(r, "if-match");
  if (match.empty()) return std::nullopt;
  std::size_t used = 0;
  unsigned long long v = 0;
  const bool shaped = match.size() > 4 && match.rfind("W/\"", 0) == 0 && match.back() == '"';
  if (shaped) {
    try {
      v = std::stoull(match.substr(3, match.size() - 4), &used);
    } catch (const std::exception&) {
      used = 0;
    }
  }
  if (!shaped || used != match.size() - 4) {
    bad("If-Match", fmt::format("'{}' is not an ETag of this service; expected W/\"<version>\" as "
                                "ETag gave it",
                                printable(match, 40)));
  }
  return v;
}

std::string request_id(const request& r) {
  const std::string id = header(r, "x-request-id");
  if (id.empty()) {
    bad("X-Request-ID",
        "is missing; every request that changes something carries a unique id "
        "(a UUID), and a retry carries the same one");
  }
  return id;
}

}  // namespace

response api::create_task(const request& r, const hospital_id& caller) {
  const json task = body_json(r, "Task");
  const std::string key = request_id(r);
  const actor by = actor_from(r, caller);
  proposal p;
  const auto rid = identifier_value(task, "referral");
  if (!rid)
    bad("Task.identifier",
        "give the referral id as an identifier of system urn:kakehashi:referral");
  p.id = referral_id{*rid};
  const auto requester =
      task.contains("requester") ? identifier_value(task["requester"], "hospital") : std::nullopt;
  if (requester && *requester != caller.value()) {
    throw error(errc::permission_denied,
                fmt::format("Task.requester: '{}' is not the hospital of the client certificate "
                            "('{}'); a hospital proposes its own referrals",
                            printable(*requester), caller.value()));
  }
  p.origin = caller;
  const auto owner =
      task.contains("owner") ? identifier_value(task["owner"], "hospital") : std::nullopt;
  if (!owner)
    bad("Task.owner",
        "give the receiving hospital as an identifier of system urn:kakehashi:hospital");
  p.destination = hospital_id{*owner};
  const auto patient =
      task.contains("for") ? identifier_value(task["for"], "patient") : std::nullopt;
  if (!patient)
    bad("Task.for",
        "give the patient's pseudonym as an identifier of system urn:kakehashi:patient");
  p.patient = patient_ref{*patient};
  std::optional<std::string> specialty;
  if (task.contains("input") && task["input"].is_array()) {
    for (const auto& in : task["input"]) {
      if (!in.is_object()) continue;
      const json& type = in.value("type", json::object());
      const std::string code = type.is_object() && type.contains("coding") &&
                                       type["coding"].is_array() && !type["coding"].empty() &&
                                       type["coding"][0].is_object()
                                   ? type["coding"][0].value("code", "")
                                   : "";
      if (code == "specialty" && in.contains("valueCodeableConcept")) {
        const json& c = in["valueCodeableConcept"];
        if (c.contains("coding") && c["coding"].is_array() && !c["coding"].empty()) {
          specialty = c["coding"][0].value("code", "");
        }
      } else if (code == "replaces") {
        // Onward referral: the declined or expired referral this one sends on.
        const auto old = in.contains("valueIdentifier")
                             ? identifier_value(json{{"identifier", in["valueIdentifier"]}},
                                                "referral")
                             : std::nullopt;
        if (!old) {
          bad("Task.input",
              "an input of type urn:kakehashi:task-input#replaces gives the replaced referral as "
              "a valueIdentifier of system urn:kakehashi:referral");
        }
        p.replaces = referral_id{*old};
      }
    }
  }
  if (!specialty || specialty->empty()) {
    bad("Task.input",
        "give the specialty as an input of type urn:kakehashi:task-input#specialty "
        "with a valueCodeableConcept of system urn:kakehashi:specialty");
  }
  p.specialty = specialty_code{*specialty};
  p.by = by;
  p.at = clock_();
  const referral_snapshot s = engine_.propose(p, key, {std::nullopt, request_digest(r)});
  {
    std::lock_guard<std::mutex> lock(ids_mutex_);
    task_ids_.emplace(fhir::resource_id("Task", s.id.value()), s.id);
  }
  return task_response(s, 201, &r);
}

response api::operation(const request& r, const hospital_id& caller, const referral_snapshot& s,
                        const std::string& op) {
  const std::string key = request_id(r);
  const actor by = actor_from(r, caller);
  // If-Match is checked here (412 without a refusal row) and again by the engine in the
  // command's own transaction (a change by another writer in between is caught too).
  const command_options conditions{expected_version(r), request_digest(r)};
  if (const std::string match = header(r, "if-match"); !match.empty() && match != etag_of(s)) {
    return problem(412, "conflict",
                   fmt::format("[kakehashi.failed_precondition] referral {}: If-Match {} does not "
                               "match its version {}; read the Task again and retry",
                               s.id.value(), printable(match, 40), etag_of(s)));
  }
  const json params =
      r.body.empty() ? json{{"resourceType", "Parameters"}} : body_json(r, "Parameters");
  const instant at = clock_();
  const auto consent_of = [&]() -> consent_record {
    if (const json* k = parameter(params, "consent-record")) {
      if (!k->contains("valueString") || !(*k)["valueString"].is_string()) {
        bad("Parameters.parameter[consent-record]",
            "give the kakehashi consent JSON as valueString");
      }
      return load_consent((*k)["valueString"].get<std::string>(), "consent-record");
    }
    const json* c = parameter(params, "consent");
    const json* born = parameter(params, "birthDate");
    if (c == nullptr || !c->contains("resource") || born == nullptr ||
        !born->contains("valueDate")) {
      bad("Parameters",
          "give the consent as parameter 'consent' (a FHIR Consent resource) with "
          "'birthDate' (valueDate), or as 'consent-record' (kakehashi consent JSON)");
    }
    fhir::import_options io;
    io.birth_date = fhir::patient_birth_date(
        json{{"resourceType", "Patient"}, {"birthDate", (*born)["valueDate"]}}.dump());
    io.patient = s.patient;
    const auto imported = fhir::import_consent((*c)["resource"].dump(), io);
    if (!imported.ok()) {
      std::string problems;
      for (const auto& p : imported.problems) {
        problems += (problems.empty() ? "" : "; ") + p.path + ": " + p.message;
      }
      bad("Parameters.parameter[consent].resource", problems);
    }
    return *imported.record;
  };
  referral_snapshot after;
  try {
    if (op == "record-consent") {
      after = engine_.record_consent(s.id, consent_of(), by, at, key, conditions);
    } else if (op == "transfer") {
      after = engine_.transfer(s.id, consent_of(), by, at, key, conditions);
    } else if (op == "attach-document" || op == "return-results") {
      // One document to attach; one or more to return, with the recorded consent.
      const auto found = parameters(params, "document");
      std::vector<document_ref> documents;
      for (const json* d : found) {
        if (!d->contains("resource")) break;
        documents.push_back(fhir::import_document_reference((*d)["resource"].dump()));
      }
      if (documents.empty() || documents.size() != found.size() ||
          (op == "attach-document" && documents.size() > 1)) {
        bad("Parameters",
            fmt::format("give {} as parameter 'document': a FHIR DocumentReference resource with "
                        "its kind, media type, language, size and SHA-256, never the content "
                        "(docs/fhir.md)",
                        op == "attach-document" ? "the document" : "each document returned"));
      }
      after = op == "attach-document"
                  ? engine_.attach_document(s.id, documents.front(), by, at, key, conditions)
                  : engine_.return_results(s.id, consent_of(), documents, by, at, key, conditions);
    } else if (op == "accept") {
      after = engine_.apply(s.id, event::accept{by, at}, key, conditions);
    } else if (op == "complete") {
      after = engine_.apply(s.id, event::complete{by, at}, key, conditions);
    } else if (op == "decline") {
      after = engine_.apply(s.id,
                            event::decline{by, at,
                                           parse_code<decline_reason>(
                                               code_parameter(params, "reason", "decline reason"),
                                               "reason", parse_decline_reason)},
                            key, conditions);
    } else if (op == "cancel") {
      after = engine_.apply(
          s.id,
          event::cancel{by, at,
                        parse_code<cancel_reason>(code_parameter(params, "reason", "cancel reason"),
                                                  "reason", parse_cancel_reason)},
          key, conditions);
    } else if (op == "record-milestone") {
      after =
          engine_.apply(s.id,
                        event::record_milestone{
                            by, at,
                            parse_code<milestone>(code_parameter(params, "milestone", "milestone"),
                                                  "milestone", parse_milestone, milestone_names())},
                        key, conditions);
    } else if (op == "withdraw-consent") {
      after = engine_.apply(
          s.id,
          event::withdraw_consent{
              by, at,
              parse_code<withdrawal_channel>(code_parameter(params, "channel", "channel"),
                                             "channel", parse_withdrawal_channel)},
          key, conditions);
    } else {
      return problem(404, "not-supported",
                     fmt::format("[kakehashi.not_found] ${}: no such operation on Task; expected "
                                 "$record-consent, $attach-document, $accept, $decline, $cancel, "
                                 "$withdraw-consent, $record-milestone, "
                                 "$transfer, $return-results, $complete or $everything (GET)",
                                 printable(op, 40)));
    }
  } catch (const error& e) {
    // The engine's own If-Match check, after a change between the two: still a 412.
    if (conditions.expected_version && e.code() == errc::failed_precondition &&
        std::string_view(e.what()).find("not the expected") != std::string_view::npos) {
      return problem(412, "conflict", e.what());
    }
    throw;
  }
  return task_response(after, 200, &r);
}

// A hospital's Subscription is the notification endpoint the configuration gives it: it reads
// it, its status, and every event again ($events), by number.
response api::subscription(const request& r, const hospital_id& caller,
                           const std::vector<std::string>& p) const {
  const auto& endpoints = config_.notifications.endpoints;
  const auto mine =
      std::find_if(endpoints.begin(), endpoints.end(),
                   [&](const notification_endpoint& e) { return e.hospital == caller; });
  const std::string id = subscription_id(caller);
  const std::string base = base_url(r);
  const auto resource = [&] {
    return json{
        {"resourceType", "Subscription"},
        {"id", id},
        {"status", "active"},
        {"reason", "Changes to the referrals of " + caller.value()},
        {"criteria", "Task"},
        {"channel",
         {{"type", "rest-hook"}, {"endpoint", mine->url}, {"payload", "application/fhir+json"}}}};
  };
  if (p.size() == 1) {
    json entries = json::array();
    if (mine != endpoints.end()) {
      entries.push_back({{"fullUrl", base + "Subscription/" + id},
                         {"resource", resource()},
                         {"search", {{"mode", "match"}}}});
    }
    return searchset(std::move(entries));
  }
  if (p[1] != id || mine == endpoints.end()) {
    throw error(errc::not_found, fmt::format("Subscription/{}: no such Subscription of '{}'; GET "
                                             "/Subscription shows it",
                                             printable(p[1], 80), caller.value()));
  }
  if (p.size() == 2) return json_response(200, resource().dump());
  const target t = parse_target(r.target);
  const auto total = [&] {
    // The number of the last event so far (the feed is numbered 1, 2, 3...).
    std::int64_t last = 0;
    for (;;) {
      const auto page = engine_.changes({caller, last, std::nullopt, 1000, false});
      if (page.empty()) return last;
      last = page.back().event;
    }
  };
  if (p.size() == 3 && p[2] == "$status") {
    return json_response(200, notification_bundle(caller, {}, total(), base));
  }
  if (p.size() == 3 && p[2] == "$events") {
    std::int64_t since = 0;
    std::optional<std::int64_t> until;
    for (const auto& [name, value] : t.query) {
      std::size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(value, &used);
      } catch (const std::exception&) {
      }
      if (used != value.size() || v < 0) {
        bad(name, fmt::format("'{}' is not an event number", printable(value)));
      }
      if (name == "eventsSinceNumber") {
        since = v;
      } else if (name == "eventsUntilNumber") {
        until = v;
      } else {
        bad(name, "is not a parameter of $events; expected eventsSinceNumber, eventsUntilNumber");
      }
    }
    // Events after `since`, up to `until` (inclusive), at most 100: what the partner missed.
    auto events = engine_.changes({caller, since > 0 ? since - 1 : 0, std::nullopt, 100, false});
    if (until) {
      events.erase(std::remove_if(events.begin(), events.end(),
                                  [&](const change& c) { return c.event > *until; }),
                   events.end());
    }
    return json_response(200, notification_bundle(caller, events, total(), base));
  }
  throw error(errc::not_found, fmt::format("Subscription/{}/{}: no such interaction; expected "
                                           "$status or $events",
                                           id, printable(p[2], 40)));
}

// $eligibility: which partners may take a referral from the caller, for a specialty, at an
// instant (default: now), with every reason for every "no".
response api::eligibility(const request& r, const hospital_id& caller) const {
  std::string specialty;
  std::string at_text;
  if (r.method == "POST" && !r.body.empty()) {
    const json params = body_json(r, "Parameters");
    specialty = code_parameter(params, "specialty", "specialty code");
    if (const json* a = parameter(params, "at"); a && a->contains("valueInstant")) {
      at_text = (*a)["valueInstant"].is_string() ? (*a)["valueInstant"].get<std::string>() : "";
    }
  } else {
    for (const auto& [name, value] : parse_target(r.target).query) {
      if (name == "specialty") {
        specialty = value;
      } else if (name == "at") {
        at_text = value;
      } else {
        bad(name, "is not a parameter of $eligibility; expected specialty, at");
      }
    }
  }
  if (specialty.empty()) bad("specialty", "is missing; give the specialty code, e.g. oncology");
  const instant at = at_text.empty() ? clock_() : parse_instant(at_text, "at");
  const eligibility_result e = engine_.eligibility(caller, specialty_code{specialty}, at);
  const auto hospital = [](const hospital_id& h) {
    return json{{"system", std::string(system_base) + "hospital"}, {"value", h.value()}};
  };
  json parameters = json::array();
  for (const auto& d : e.eligible) {
    json parts = json::array(
        {{{"name", "hospital"}, {"valueIdentifier", hospital(d.hospital)}},
         {{"name", "agreement"},
          {"valueIdentifier",
           {{"system", std::string(system_base) + "agreement"}, {"value", d.agreement.value()}}}}});
    if (d.remaining_capacity) {
      parts.push_back({{"name", "remaining-capacity"}, {"valueInteger", *d.remaining_capacity}});
    }
    if (d.response_deadline_days) {
      parts.push_back(
          {{"name", "response-deadline-days"}, {"valueInteger", *d.response_deadline_days}});
    }
    parameters.push_back({{"name", "eligible"}, {"part", parts}});
  }
  for (const auto& d : e.ineligible) {
    json parts = json::array({{{"name", "hospital"}, {"valueIdentifier", hospital(d.hospital)}}});
    for (const auto& reason : d.reasons) {
      parts.push_back(
          {{"name", "reason"},
           {"valueCoding",
            {{"system", std::string(system_base) + "eligibility-reason"},
             {"code", std::string(to_string(reason.code))},
             {"display", vocabulary::display("eligibility-reason", to_string(reason.code))
                             .value_or(std::string(to_string(reason.code)))}}}});
      parts.push_back({{"name", "explanation"}, {"valueString", reason.message}});
    }
    parameters.push_back({{"name", "ineligible"}, {"part", parts}});
  }
  return json_response(200, json{{"resourceType", "Parameters"}, {"parameter", parameters}}.dump());
}

// AuditEvent search by referral: every audit row of a referral the caller is a party to.
response api::audit_events(const request& r, const hospital_id& caller) {
  std::optional<std::string> entity;
  for (const auto& [name, value] : parse_target(r.target).query) {
    if (name == "entity") {
      entity = value;
    } else {
      bad(name, "is not a search parameter of AuditEvent here; expected entity=Task/{id}");
    }
  }
  if (!entity || entity->rfind("Task/", 0) != 0) {
    bad("entity", "give the referral's Task, as entity=Task/{id}");
  }
  const auto s = task(entity->substr(5), caller);
  json entries = json::array();
  const std::string base = base_url(r);
  if (s) {
    for (const auto& row : engine_.history(s->id)) {
      const json ev = json::parse(fhir::audit_event(row, *s));
      entries.push_back({{"fullUrl", base + "AuditEvent/" + ev["id"].get<std::string>()},
                         {"resource", ev},
                         {"search", {{"mode", "match"}}}});
    }
  }
  return searchset(std::move(entries));
}

response api::capability() const {
  json ops = json::array();
  for (const char* name :
       {"everything", "record-consent", "attach-document", "accept", "decline", "cancel",
        "withdraw-consent", "record-milestone", "transfer", "return-results", "complete"}) {
    ops.push_back({{"name", name},
                   {"definition", std::string("urn:kakehashi:OperationDefinition:Task-") + name}});
  }
  json params = json::array();
  for (const auto& [name, type] :
       std::vector<std::pair<const char*, const char*>>{{"identifier", "token"},
                                                        {"status", "token"},
                                                        {"owner", "reference"},
                                                        {"requester", "reference"},
                                                        {"_lastUpdated", "date"},
                                                        {"_count", "number"}}) {
    params.push_back({{"name", name}, {"type", type}});
  }
  const json cs = {
      {"resourceType", "CapabilityStatement"},
      {"status", "active"},
      {"date", "2026-11-30"},
      {"kind", "instance"},
      {"software", {{"name", "kakehashi"}, {"version", version_string}}},
      {"implementation",
       {{"description", "kakehashi serve: cross-border referrals as FHIR Tasks"}}},
      {"fhirVersion", "4.0.1"},
      {"format", json::array({"application/fhir+json"})},
      {"rest",
       json::array(
           {{{"mode", "server"},
             {"security",
              {{"description", "Mutual TLS: the client certificate decides the hospital"}}},
             {"resource",
              json::array(
                  {{{"type", "Task"},
                    {"interaction",
                     json::array(
                         {{{"code", "read"}}, {{"code", "search-type"}}, {{"code", "create"}}})},
                    {"searchParam", params},
                    {"operation", ops}},
                   {{"type", "AuditEvent"},
                    {"interaction", json::array({{{"code", "search-type"}}})},
                    {"searchParam", json::array({{{"name", "entity"}, {"type", "reference"}}})}},
                   {{"type", "Subscription"},
                    {"interaction", json::array({{{"code", "read"}}, {{"code", "search-type"}}})},
                    {"operation",
                     json::array({{{"name", "status"},
                                   {"definition",
                                    "http://hl7.org/fhir/uv/subscriptions-backport/"
                                    "OperationDefinition/backport-subscription-status"}},
                                  {{"name", "events"},
                                   {"definition",
                                    "http://hl7.org/fhir/uv/subscriptions-backport/"
                                    "OperationDefinition/backport-subscription-events"}}})}}})},
             {"operation", json::array({{{"name", "eligibility"},
                                         {"definition",
                                          "urn:kakehashi:OperationDefinition:eligibility"}}})}}})}};
  return json_response(200, cs.dump());
}

}  // namespace kakehashi::serve
