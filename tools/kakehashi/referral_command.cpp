// kakehashi referral show|list|overdue: what a database holds (read-only: nothing is created
// beside it).
// kakehashi referral propose|consent|accept|decline|cancel|withdraw|transfer|complete: the
// workflow, one engine command each, with the library's inputs, rights, idempotency keys and
// refusals (exit 1, the rules that refused printed).
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <kakehashi/consent.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/vocabulary.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

using nlohmann::json;

std::string state_of(const referral_snapshot& s) {
  return s.reason ? fmt::format("closed:{}", to_string(*s.reason))
                  : std::string(to_string(s.state));
}

// ---- reading --------------------------------------------------------------------------------

struct query_options {
  std::string db;
  std::string agreements;
  std::string id;
  std::string hospital;
  std::string specialty;
  std::string state;
  std::string patient;
  std::string proposed_from;
  std::string proposed_before;
  std::size_t limit = 0;
  std::size_t offset = 0;
  std::string at;
  std::string lang;  // en, vi or ja: set by the command from --lang or the locale
  bool json = false;
  bool all = false;      // duties: the completed ones too
  bool overdue = false;  // duties: only those overdue at --at
};

std::optional<agreement_directory> agreements_of(const std::string& path) {
  if (path.empty()) return std::nullopt;
  return agreement_directory::load_file(path);
}

// What `referral show` says, in the reader's language: codes by their vocabulary's display,
// hospitals by their name in that language (the agreements file's, English when it has none),
// instants in the acting hospital's zone with UTC beside.
struct wording {
  std::string lang;
  const agreement_directory* dir = nullptr;

  std::string code(std::string_view kind, std::string_view value) const {
    // A code this release does not know (a newer release's row) is shown as it is.
    return vocabulary::display(kind, value, lang).value_or(std::string(value));
  }
  const kakehashi::hospital* find(const hospital_id& id) const {
    return dir ? dir->find_hospital(id) : nullptr;
  }
  std::string name(const hospital_id& id) const {
    const kakehashi::hospital* h = find(id);
    return h ? std::string(h->name_in(lang)) : id.value();
  }
  std::string state(const std::string& stored) const { return text::state(stored, lang); }
  // In `who`'s zone with UTC beside; in UTC alone when the zone is not known.
  std::string time(instant at, const hospital_id& who) const {
    const std::string utc = text::local_time(at, "UTC", lang);
    const kakehashi::hospital* h = find(who);
    if (!h) return utc;
    return text::format(lang, "time.with_utc",
                        {{"local", text::local_time(at, h->time_zone, lang)}, {"utc", utc}});
  }
  // Referrals a line each: id (first, for scripts' grep), hospitals, specialty, state, proposed.
  std::string rows(const std::vector<referral_snapshot>& found) const {
    std::vector<std::vector<std::string>> cells;
    for (const auto& s : found) {
      cells.push_back({s.id.value(), name(s.origin) + " → " + name(s.destination),
                       code("specialty", s.specialty.value()), state(state_of(s)),
                       time(s.proposed_at, s.origin)});
    }
    return text::table(cells);
  }
  // What a row's details say that a reader needs: the coded reason of a decline, cancel or
  // withdrawal; the rules or eligibility reasons of a refusal.
  template <class Say>
  void explain(const audit_entry& h, const Say& say) const {
    const json d = json::parse(h.details, nullptr, false);
    if (!d.is_object()) return;
    const std::string reason_kind = h.command == "decline" ? "decline-reason" : "cancel-reason";
    if (d.contains("reason") && d["reason"].is_string()) {
      say("show.row_reason", {{"reason", code(reason_kind, d["reason"].get<std::string>())}});
    }
    if (d.contains("channel") && d["channel"].is_string()) {
      say("show.row_channel",
          {{"channel", code("withdrawal-channel", d["channel"].get<std::string>())}});
    }
    if (h.outcome == audit_outcome::success) return;
    if (d.contains("findings") && d["findings"].is_array()) {
      std::vector<std::string> rules;
      for (const auto& f : d["findings"]) {
        const std::string effect = f.value("effect", "");
        if (effect != "block" && effect != "require_document") continue;
        rules.push_back(text::format(lang, "show.rule_finding",
                                     {{"rule", f.value("rule", "")},
                                      {"finding", code("consent-finding", f.value("code", ""))}}));
      }
      if (!rules.empty()) say("show.row_rules", {{"rules", text::list(rules, lang)}});
    }
    if (d.contains("reasons") && d["reasons"].is_array()) {
      std::vector<std::string> reasons;
      for (const auto& r : d["reasons"]) {
        const std::string shown = code("eligibility-reason", r.value("code", ""));
        const std::string under = r.value("agreement", "");
        reasons.push_back(under.empty() ? shown
                                        : text::format(lang, "show.reason_under",
                                                       {{"reason", shown}, {"agreement", under}}));
      }
      say("show.row_eligibility", {{"reasons", text::list(reasons, lang)}});
    }
  }
};

json history_json(const std::vector<audit_entry>& history) {
  json rows = json::array();
  for (const auto& h : history) {
    rows.push_back(
        {{"seq", h.seq},
         {"at", to_iso8601(h.occurred_at)},
         {"recorded_at", to_iso8601(h.recorded_at)},
         {"actor", h.by.organisation.value()},
         {"role", std::string(to_string(h.by.role))},
         {"user", h.by.user.value()},
         {"command", h.command},
         {"before", h.state_before},
         {"after", h.state_after},
         {"outcome", static_cast<int>(h.outcome)},
         {"refused", h.outcome != audit_outcome::success},
         {"reason", h.reason_code},
         {"details", json::parse(h.details, nullptr, false).is_object() ? json::parse(h.details)
                                                                        : json::object()}});
  }
  return rows;
}

int run_show(const query_options& o) {
  const referral_id id{o.id};
  validate("--id", id);
  const auto dir = agreements_of(o.agreements);
  const database_view view = database_view::open(o.db);
  const auto s = view.find(id);
  const auto history = view.history(id);
  if (!s && history.empty()) {
    throw error(errc::not_found, fmt::format("--id: no referral '{}' in {}, and no refused "
                                             "proposal of that id; kakehashi referral list shows "
                                             "the ids",
                                             o.id, printable(o.db, 200)));
  }
  const auto documents = view.documents(id);
  const auto milestones = view.milestones(id);
  const auto results = view.results(id);
  std::optional<milestone_checklist> steps;
  // The checklist needs the referral's agreement (its successful proposal row names it) and the
  // agreements.
  std::optional<document_checklist> checklist;
  for (const auto& h : history) {
    if (!dir || !s || h.command != "propose" || h.outcome != audit_outcome::success) continue;
    const json proposed = json::parse(h.details, nullptr, false);
    if (proposed.is_object() && proposed.contains("agreement") &&
        proposed["agreement"].is_string()) {
      if (const agreement* a =
              dir->find_agreement(agreement_id{proposed["agreement"].get<std::string>()})) {
        checklist = check_documents(*a, documents);
        steps = check_milestones(*a, milestones);
      }
    }
  }
  if (o.json) {
    json j = s ? json::parse(to_json(*s)) : json{{"id", o.id}, {"state", nullptr}};
    if (!s) j["never_opened"] = "every proposal of this id was refused";
    const auto listed = [](const std::vector<attached_document>& docs, const char* verb) {
      json list = json::array();
      for (const auto& d : docs) {
        json doc = json::parse(to_json(d.document));
        doc[std::string(verb) + "_at"] = to_iso8601(d.at);
        doc[std::string(verb) + "_by"] = d.by.organisation.value();
        doc["audit_row"] = d.audit_seq;
        list.push_back(doc);
      }
      return list;
    };
    j["documents"] = listed(documents, "attached");
    j["results"] = listed(results, "returned");
    if (checklist) {
      j["missing_documents"] = json::array();
      for (const auto k : checklist->missing) j["missing_documents"].push_back(to_string(k));
    }
    j["milestones"] = json::array();
    for (const auto& m : milestones) {
      j["milestones"].push_back({{"milestone", std::string(to_string(m.milestone))},
                                 {"recorded_at", to_iso8601(m.at)},
                                 {"recorded_by", m.by.organisation.value()},
                                 {"audit_row", m.audit_seq}});
    }
    if (steps) {
      j["missing_milestones"] = json::array();
      for (const auto m : steps->missing) j["missing_milestones"].push_back(to_string(m));
    }
    j["history"] = history_json(history);
    std::cout << j.dump(2) << '\n';
    return exit_ok;
  }
  const std::string lang = reader_language(o.lang);
  const wording w{lang, dir ? &*dir : nullptr};
  const auto say = [&](std::string_view message, const std::vector<text::argument>& args) {
    std::cout << text::format(lang, message, args) << '\n';
  };
  if (!s) {
    say("show.never_opened", {{"id", o.id}});
  } else {
    say("show.header", {{"id", s->id.value()},
                        {"origin", w.name(s->origin)},
                        {"destination", w.name(s->destination)},
                        {"specialty", w.code("specialty", s->specialty.value())},
                        {"patient", s->patient.value()}});
    say("show.state", {{"state", w.state(state_of(*s))}, {"version", s->version}});
    if (!s->consent.value().empty()) say("show.consent", {{"consent", s->consent.value()}});
    say("show.proposed", {{"time", w.time(s->proposed_at, s->origin)}});
    say("show.updated", {{"time", w.time(s->updated_at, s->origin)}});
    if (s->replaces) say("show.replaces", {{"id", s->replaces->value()}});
    if (s->replaced_by) say("show.replaced_by", {{"id", s->replaced_by->value()}});
    const auto listed = [&](const std::vector<attached_document>& docs, const char* title,
                            const char* verb) {
      if (docs.empty()) return;
      say(title, {{"count", docs.size()}});
      for (const auto& doc : docs) {
        say("show.document", {{"id", doc.document.id.value()},
                              {"kind", w.code("document-kind", to_string(doc.document.kind))},
                              {"media_type", doc.document.media_type},
                              {"size", doc.document.size},
                              {"language", text::language_name(doc.document.language, lang)},
                              {"sha256", doc.document.sha256}});
        say(verb, {{"time", w.time(doc.at, doc.by.organisation)},
                   {"hospital", w.name(doc.by.organisation)}});
      }
    };
    listed(documents, "show.documents", "show.attached");
    if (checklist && !checklist->required.empty()) {
      std::vector<std::string> missing;
      for (const auto k : checklist->missing)
        missing.push_back(w.code("document-kind", to_string(k)));
      if (missing.empty()) {
        say("show.documents_complete", {});
      } else {
        say("show.documents_missing",
            {{"missing", text::list(missing, lang)},
             {"rule", checklist->rule == missing_documents_rule::refuse ? "refuse" : "warn"}});
      }
    }
    if (!milestones.empty()) say("show.milestones", {{"count", milestones.size()}});
    for (const auto& m : milestones) {
      say("show.milestone", {{"milestone", w.code("milestone", to_string(m.milestone))},
                             {"hospital", w.name(m.by.organisation)},
                             {"time", w.time(m.at, m.by.organisation)}});
    }
    if (steps && !steps->required.empty()) {
      std::vector<std::string> missing;
      for (const auto m : steps->missing) missing.push_back(w.code("milestone", to_string(m)));
      if (missing.empty()) {
        say("show.milestones_complete", {});
      } else {
        say("show.milestones_missing", {{"missing", text::list(missing, lang)}});
      }
    }
    listed(results, "show.results", "show.returned");
  }
  say("show.history", {{"count", history.size()}});
  for (const auto& h : history) {
    const std::string command = w.code("command", h.command);
    const std::string seq = std::to_string(h.seq);
    if (h.outcome == audit_outcome::success) {
      if (h.state_before.empty()) {
        say("show.row_opened",
            {{"seq", seq}, {"command", command}, {"after", w.state(h.state_after)}});
      } else {
        say("show.row_ok", {{"seq", seq},
                            {"command", command},
                            {"before", w.state(h.state_before)},
                            {"after", w.state(h.state_after)}});
      }
    } else if (h.state_before.empty()) {
      say("show.row_refused_new",
          {{"seq", seq}, {"command", command}, {"code", w.code("refusal", h.reason_code)}});
    } else {
      say("show.row_refused", {{"seq", seq},
                               {"command", command},
                               {"code", w.code("refusal", h.reason_code)},
                               {"before", w.state(h.state_before)}});
    }
    std::vector<text::argument> by{{"hospital", w.name(h.by.organisation)},
                                   {"role", w.code("role", to_string(h.by.role))},
                                   {"time", w.time(h.occurred_at, h.by.organisation)}};
    if (!h.by.user.value().empty()) by.emplace_back("user", h.by.user.value());
    say(h.by.user.value().empty() ? "show.row_by" : "show.row_by_user", by);
    // An engine with a clock recorded it at another instant (a partner's late message).
    if (h.recorded_at != h.occurred_at) {
      say("show.row_recorded", {{"time", w.time(h.recorded_at, h.by.organisation)}});
    }
    w.explain(h, say);
  }
  return exit_ok;
}

instant day_or_instant(const std::string& text, const char* option) {
  // A bare day is that day's start in UTC.
  return parse_instant(text.size() == 10 ? text + "T00:00:00Z" : text, option);
}

int run_list(const query_options& o) {
  const auto dir = agreements_of(o.agreements);
  referral_filter f;
  if (!o.hospital.empty()) {
    f.hospital = dir ? known_hospital(*dir, o.hospital, "--hospital") : hospital_id{o.hospital};
    validate("--hospital", *f.hospital);
  }
  if (!o.specialty.empty()) {
    f.specialty =
        dir ? known_specialty(*dir, o.specialty, "--specialty") : specialty_code{o.specialty};
    validate("--specialty", *f.specialty);
  }
  if (!o.state.empty()) {
    const state_choice c = parse_state_choice(o.state, "--state");
    f.state = c.state;
    f.reason = c.reason;
  }
  if (!o.patient.empty()) {
    f.patient = patient_ref{o.patient};
    validate("--patient", *f.patient);
  }
  if (!o.proposed_from.empty())
    f.proposed_from = day_or_instant(o.proposed_from, "--proposed-from");
  if (!o.proposed_before.empty()) {
    f.proposed_before = day_or_instant(o.proposed_before, "--proposed-before");
  }
  f.offset = o.offset;
  if (o.limit > 0) f.limit = o.limit;
  const database_view view = database_view::open(o.db);
  const auto found = view.list(f);
  // A hospital or specialty no referral names is most likely a typo: say so (exit 2) rather
  // than print an empty list.
  if (found.empty() && o.offset == 0) {
    referral_filter alone;
    alone.limit = 1;
    if (f.hospital && !dir) {
      alone.hospital = f.hospital;
      if (view.list(alone).empty()) {
        throw error(errc::invalid_argument,
                    fmt::format("--hospital: no referral in {} names hospital '{}'; pass "
                                "--agreements FILE to check the name against the directory",
                                printable(o.db, 200), o.hospital));
      }
    }
    if (f.specialty && !dir) {
      alone = {};
      alone.limit = 1;
      alone.specialty = f.specialty;
      if (view.list(alone).empty()) {
        throw error(errc::invalid_argument,
                    fmt::format("--specialty: no referral in {} has specialty '{}'; pass "
                                "--agreements FILE to check the name against the directory",
                                printable(o.db, 200), o.specialty));
      }
    }
  }
  if (o.json) {
    json arr = json::array();
    for (const auto& s : found) arr.push_back(json::parse(to_json(s)));
    std::cout << arr.dump(2) << '\n';
    return exit_ok;
  }
  const std::string lang = reader_language(o.lang);
  const wording w{lang, dir ? &*dir : nullptr};
  std::cout << w.rows(found);
  const std::string shown = text::format(lang, "list.count", {{"count", found.size()}});
  std::cout << (o.limit > 0 && found.size() == o.limit
                    ? text::format(
                          lang, "list.more",
                          {{"shown", shown}, {"offset", std::to_string(o.offset + o.limit)}})
                    : shown)
            << '\n';
  return exit_ok;
}

int run_overdue(const query_options& o) {
  const agreement_directory dir = agreement_directory::load_file(o.agreements);
  const instant at = instant_or_now(o.at, "--at");
  const database_view view = database_view::open(o.db);
  const auto late = view.overdue(dir, at);
  if (o.json) {
    json arr = json::array();
    for (const auto& s : late) arr.push_back(json::parse(to_json(s)));
    std::cout << arr.dump(2) << '\n';
    return exit_ok;
  }
  const std::string lang = reader_language(o.lang);
  const wording w{lang, &dir};
  std::cout << w.rows(late)
            << text::format(lang, "overdue.count",
                            {{"count", late.size()}, {"time", text::local_time(at, "UTC", lang)}})
            << '\n';
  return exit_ok;
}

// ---- duties -----------------------------------------------------------------------------------

json duty_json(const duty& d, instant at) {
  const auto when = [](const std::optional<instant>& t) {
    return t ? json(to_iso8601(*t)) : json(nullptr);
  };
  json must_stop = json::array();
  for (const auto& h : d.must_stop) must_stop.push_back(h.value());
  json decided_by = json::array();
  for (const auto& u : d.decided_by) decided_by.push_back(u.value());
  return {
      {"id", d.id},
      {"kind", std::string(to_string(d.kind))},
      {"rule", d.rule},
      {"command", d.command},
      {"referral", d.referral.value()},
      {"patient", d.patient.value()},
      {"responsible", d.responsible.value()},
      {"must_stop", must_stop},
      {"created_at", to_iso8601(d.created_at)},
      {"acknowledge_by", when(d.acknowledge_by)},
      {"complete_by", when(d.complete_by)},
      {"deadline_problem", d.deadline_problem.empty() ? json(nullptr) : json(d.deadline_problem)},
      {"provisional", d.provisional},
      {"acknowledged_at", when(d.acknowledged_at)},
      {"completed_at", when(d.completed_at)},
      {"decided_by", decided_by},
      {"finding", d.finding ? json(std::string(to_string(*d.finding))) : json(nullptr)},
      {"reviewer", d.reviewer.empty() ? json(nullptr) : json(d.reviewer.value())},
      {"open", d.open()},
      {"overdue", d.overdue(at)}};
}

// A duty in the reader's words, times in the responsible hospital's zone.
std::string duty_line(const duty& d, instant at, const wording& w) {
  std::vector<std::string> recipients;
  for (const auto& h : d.must_stop) recipients.push_back(w.name(h));
  const auto time = [&](const std::optional<instant>& t) {
    return t ? w.time(*t, d.responsible) : std::string();
  };
  const std::string deadlines =
      text::format(w.lang, "duty.deadlines",
                   {{"problem", d.deadline_problem.empty() ? "counted" : "calendar"},
                    {"acknowledge_by", time(d.acknowledge_by)},
                    {"complete_by", time(d.complete_by)},
                    {"provisional", d.provisional ? "yes" : "no"}});
  const std::string overdue = d.overdue(at) ? "yes" : "no";
  if (d.kind == duty_kind::emergency_review) {
    const std::string deadline =
        text::format(w.lang, "review.deadline",
                     {{"problem", d.deadline_problem.empty() ? "counted" : "calendar"},
                      {"complete_by", time(d.complete_by)},
                      {"provisional", d.provisional ? "yes" : "no"}});
    const std::string status =
        d.completed_at ? text::format(w.lang, "review.done",
                                      {{"time", time(d.completed_at)},
                                       {"reviewer", d.reviewer.value()},
                                       {"finding", std::string(to_string(d.finding.value_or(
                                                       review_finding::justified)))}})
                       : text::format(w.lang, "duty.open", {{"overdue", overdue}});
    return text::format(w.lang, "review.line",
                        {{"id", std::to_string(d.id)},
                         {"rule", d.rule},
                         {"referral", d.referral.value()},
                         {"patient", d.patient.value()},
                         {"responsible", w.name(d.responsible)},
                         {"command", w.code("command", d.command)},
                         {"deadline", deadline},
                         {"status", status}});
  }
  const std::string status =
      d.completed_at      ? text::format(w.lang, "duty.completed", {{"time", time(d.completed_at)}})
      : d.acknowledged_at ? text::format(w.lang, "duty.acknowledged",
                                         {{"time", time(d.acknowledged_at)}, {"overdue", overdue}})
                          : text::format(w.lang, "duty.open", {{"overdue", overdue}});
  return text::format(w.lang, "duty.line",
                      {{"id", std::to_string(d.id)},
                       {"kind", std::string(to_string(d.kind))},
                       {"rule", d.rule},
                       {"referral", d.referral.value()},
                       {"patient", d.patient.value()},
                       {"responsible", w.name(d.responsible)},
                       {"recipients", text::list(recipients, w.lang)},
                       {"deadlines", deadlines},
                       {"status", status}});
}

// kakehashi referral duties --db FILE [--hospital ID] [--id R] [--all] [--overdue] [--at T]
int run_duties(const query_options& o) {
  const auto dir = agreements_of(o.agreements);
  const instant at = instant_or_now(o.at, "--at");
  duty_query q;
  if (!o.hospital.empty()) {
    q.hospital = dir ? known_hospital(*dir, o.hospital, "--hospital") : hospital_id{o.hospital};
    validate("--hospital", *q.hospital);
  }
  if (!o.id.empty()) {
    q.referral = referral_id{o.id};
    validate("--id", *q.referral);
  }
  q.open_only = !o.all;
  if (o.overdue) q.overdue_at = at;
  const auto found = database_view::open(o.db).duties(q);
  if (o.json) {
    json arr = json::array();
    for (const auto& d : found) arr.push_back(duty_json(d, at));
    std::cout << arr.dump(2) << '\n';
    return exit_ok;
  }
  const wording w{reader_language(o.lang), dir ? &*dir : nullptr};
  std::int64_t late = 0;
  for (const auto& d : found) {
    late += d.overdue(at) ? 1 : 0;
    std::cout << duty_line(d, at, w) << '\n';
  }
  std::cout << text::format(w.lang, "duty.total",
                            {{"count", static_cast<std::int64_t>(found.size())},
                             {"overdue", late},
                             {"time", text::local_time(at, "UTC", w.lang)}})
            << '\n';
  return exit_ok;
}

// ---- the workflow ---------------------------------------------------------------------------

struct workflow_options : engine_args {
  std::string id;
  std::string by;
  std::string role;
  std::string user;
  std::string at;
  std::string key;
  std::string from;
  std::string to;
  std::string specialty;
  std::string patient;
  std::string replaces;
  std::string consent;
  std::string reason;
  std::string channel;
  // attach
  std::string document_id;
  std::string kind;
  std::string file;
  std::string sha256;
  std::uint64_t size = 0;
  std::string media_type;
  std::string language;
  // milestone
  std::string milestone;
  // duty
  std::int64_t duty = 0;
  std::string step;
  std::string finding;  // review
  std::string lang;  // en, vi or ja: what the reader sees (not --json), from --lang or the locale
  bool json = false;
};

template <class E, class Parse>
E choice(const std::string& text, const char* option, Parse parse,
         const std::vector<E>& all = all_values<E>()) {
  if (auto v = parse(text)) return *v;
  std::vector<std::string> names;
  for (E e : all) names.emplace_back(to_string(e));
  throw error(errc::invalid_argument, fmt::format("{}: '{}' is not allowed here; {}", option,
                                                  printable(text), expected_one_of(text, names)));
}

actor actor_of(const workflow_options& o, const agreement_directory& dir) {
  actor a;
  a.organisation = known_hospital(dir, o.by, "--by");
  a.role = choice<actor_role>(o.role, "--role", parse_actor_role);
  a.user = user_id{o.user};
  if (!o.user.empty()) validate("--user", a.user);
  return a;
}

// The document an attach command names: its fingerprint from --file (read here, never sent or
// stored), or given as --sha256 and --size.
document_ref document_of(const workflow_options& o) {
  document_ref d;
  d.id = document_id{o.document_id};
  d.kind = choice<document_kind>(o.kind, "--kind", parse_document_kind, all_document_kinds());
  if (!o.file.empty()) {
    if (!o.sha256.empty() || o.size != 0) {
      throw error(errc::invalid_argument,
                  "--file: given with --sha256 or --size; give the file (its digest and size are "
                  "computed) or both --sha256 and --size, not both");
    }
    const content_fingerprint f = fingerprint_file(o.file);
    d.sha256 = f.sha256;
    d.size = f.size;
  } else {
    if (o.sha256.empty() || o.size == 0) {
      throw error(errc::invalid_argument,
                  "--file: missing; give the document's file (its SHA-256 and size are computed "
                  "here, the content is never stored) or both --sha256 and --size");
    }
    d.sha256 = o.sha256;
    d.size = o.size;
  }
  d.media_type = o.media_type;
  d.language = o.language;
  validate("document", d);
  return d;
}

// A referral after a command, in the reader's words: "R-1: Accepted (version 4), Bach Mai
// Hospital → Shonan Kamakura General Hospital, Oncology" (its id first, for scripts).
void print_snapshot(const referral_snapshot& s, bool as_json, const wording& w) {
  if (as_json) {
    std::cout << to_json(s, 2) << '\n';
    return;
  }
  std::cout << text::format(w.lang, "workflow.done",
                            {{"id", s.id.value()},
                             {"state", w.state(state_of(s))},
                             {"version", std::to_string(s.version)},
                             {"origin", w.name(s.origin)},
                             {"destination", w.name(s.destination)},
                             {"specialty", w.code("specialty", s.specialty.value())}})
            << '\n';
}

// A refused command: its message (English, with its [kakehashi.<code>] prefix, as logs keep it),
// then for the reader, in their language, what was refused and what its audit row recorded
// (the rules and their findings, the eligibility reasons). Exit 1 for a refusal by a rule or
// state, 2 for bad input, 4 for storage.
int refused(const error& e, const workflow_options& o, const wording& w) {
  std::optional<audit_entry> row;
  if (e.code() != errc::invalid_argument && e.code() != errc::storage &&
      e.code() != errc::outcome_unknown && std::ifstream(o.db).good()) {
    try {
      for (auto& h : database_view::open(o.db).history(referral_id{o.id})) {
        if (h.idempotency_key == o.key) row = std::move(h);
      }
    } catch (const error&) {
      // The refusal itself is what matters; its row is a detail.
    }
  }
  std::cerr << e.what() << '\n';
  const auto say = [&](std::string_view id, const std::vector<text::argument>& args) {
    const std::string line = text::format(w.lang, id, args);
    std::cerr << "  " << line.substr(std::min(line.find_first_not_of(' '), line.size())) << '\n';
  };
  const std::string code(to_string(e.code()));
  if (!row && w.lang != "en") say("refused.reason", {{"code", w.code("refusal", code)}});
  if (row) {
    w.explain(*row, say);
    say("refused.audited",
        {{"seq", std::to_string(row->seq)}, {"code", w.code("refusal", row->reason_code)}});
  }
  if (o.json) {
    std::cout << json{{"refused", true},
                      {"code", std::string(to_string(e.code()))},
                      {"message", e.what()},
                      {"audit_row", row ? json(row->seq) : json(nullptr)},
                      {"details", row ? history_json({*row})[0]["details"] : json::object()}}
                     .dump(2)
              << '\n';
  }
  return exit_code_of(e.code());
}

// What every workflow command starts from: the agreements, the reader's words, the engine, and
// the referral, actor and instant the options name (each checked), given to `body`.
template <class Body>
int with_workflow(const workflow_options& o, Body&& body) {
  const agreement_directory dir = agreement_directory::load_file(o.agreements);
  const wording w{reader_language(o.lang), &dir};
  engine e = open_engine(o, dir);
  const referral_id id{o.id};
  validate("--id", id);
  const actor by = actor_of(o, dir);
  const instant at = instant_or_now(o.at, "--at");
  return body(dir, w, e, id, by, at);
}

int run_workflow(event_kind kind, const workflow_options& o, bool propose) {
  return with_workflow(o, [&](const agreement_directory& dir, const wording& w, engine& e,
                              const referral_id& id, const actor& by, instant at) {
    std::optional<consent_record> consent;
    if (!o.consent.empty()) consent = load_consent_file(o.consent);
    try {
      referral_snapshot s;
      if (propose) {
        proposal p;
        p.id = id;
        p.origin = o.from.empty() ? by.organisation : known_hospital(dir, o.from, "--from");
        p.destination = known_hospital(dir, o.to, "--to");
        p.specialty = known_specialty(dir, o.specialty, "--specialty");
        p.patient = patient_ref{o.patient};
        validate("--patient", p.patient);
        if (!o.replaces.empty()) {
          p.replaces = referral_id{o.replaces};
          validate("--replaces", *p.replaces);
        }
        p.by = by;
        p.at = at;
        s = e.propose(p, o.key);
      } else {
        switch (kind) {
          case event_kind::record_consent:
            s = e.record_consent(id, *consent, by, at, o.key);
            break;
          case event_kind::transfer:
            s = e.transfer(id, *consent, by, at, o.key);
            break;
          case event_kind::return_results:
            s = e.return_results(id, *consent, {document_of(o)}, by, at, o.key);
            break;
          case event_kind::record_milestone:
            s = e.apply(
                id,
                event::record_milestone{by, at,
                                        choice<milestone>(o.milestone, "--milestone",
                                                          parse_milestone, all_milestones())},
                o.key);
            break;
          case event_kind::attach_document:
            s = e.attach_document(id, document_of(o), by, at, o.key);
            break;
          case event_kind::accept:
            s = e.apply(id, event::accept{by, at}, o.key);
            break;
          case event_kind::complete:
            s = e.apply(id, event::complete{by, at}, o.key);
            break;
          case event_kind::decline:
            s = e.apply(
                id,
                event::decline{by, at,
                               choice<decline_reason>(o.reason, "--reason", parse_decline_reason)},
                o.key);
            break;
          case event_kind::cancel:
            s = e.apply(
                id,
                event::cancel{by, at,
                              choice<cancel_reason>(o.reason, "--reason", parse_cancel_reason)},
                o.key);
            break;
          case event_kind::withdraw_consent:
            s = e.apply(
                id,
                event::withdraw_consent{
                    by, at,
                    choice<withdrawal_channel>(o.channel, "--channel", parse_withdrawal_channel)},
                o.key);
            break;
          case event_kind::expire:
            s = e.apply(id, event::expire{by, at}, o.key);
            break;
        }
      }
      print_snapshot(s, o.json, w);
      return exit_ok;
    } catch (const error& err) {
      return refused(err, o, w);
    }
  });
}

// What a duty's step (record_duty, review_emergency) prints: the duty as JSON, or the message
// `message_id` with the step or finding as its argument `what_name`.
int print_duty_step(const workflow_options& o, const wording& w, engine& e, const referral_id& id,
                    const actor& by, instant at, const char* message_id, const char* what_name,
                    std::string_view what) {
  if (o.json) {
    duty_query q;
    q.referral = id;
    q.open_only = false;
    for (const auto& d : e.duties(q)) {
      if (d.id == o.duty) std::cout << duty_json(d, at).dump(2) << '\n';
    }
    return exit_ok;
  }
  std::cout << text::format(w.lang, message_id,
                            {{"id", std::to_string(o.duty)},
                             {"referral", id.value()},
                             {what_name, std::string(what)},
                             {"time", w.time(at, by.organisation)}})
            << '\n';
  return exit_ok;
}

// kakehashi referral duty --id R --duty N --step acknowledged|completed --by H --role ROLE ...
int run_record_duty(const workflow_options& o) {
  return with_workflow(o, [&](const agreement_directory&, const wording& w, engine& e,
                              const referral_id& id, const actor& by, instant at) {
    const duty_step step =
        choice<duty_step>(o.step, "--step", parse_duty_step,
                          std::vector<duty_step>{duty_step::acknowledged, duty_step::completed});
    try {
      e.record_duty(id, o.duty, step, by, at, o.key);
      return print_duty_step(o, w, e, id, by, at, "duty.recorded", "step", to_string(step));
    } catch (const error& err) {
      return refused(err, o, w);
    }
  });
}

// kakehashi referral review --id R --duty N --finding justified|not_justified --by H --role
// clinician --user U ...: a second clinician's review of a step taken on an emergency basis.
int run_review(const workflow_options& o) {
  return with_workflow(o, [&](const agreement_directory&, const wording& w, engine& e,
                              const referral_id& id, const actor& by, instant at) {
    const review_finding finding =
        choice<review_finding>(o.finding, "--finding", parse_review_finding,
                               {review_finding::justified, review_finding::not_justified});
    try {
      e.review_emergency(id, o.duty, finding, by, at, o.key);
      return print_duty_step(o, w, e, id, by, at, "review.recorded", "finding", to_string(finding));
    } catch (const error& err) {
      return refused(err, o, w);
    }
  });
}

// kakehashi referral request-summary --id R --by H --role ROLE ...: the patient's written
// request for a summary of their record (VN-24); prints the duty it created.
int run_request_summary(const workflow_options& o) {
  return with_workflow(o, [&](const agreement_directory&, const wording& w, engine& e,
                              const referral_id& id, const actor& by, instant at) {
    try {
      e.request_summary(id, by, at, o.key);
      duty_query q;
      q.referral = id;
      q.open_only = false;
      const auto duties = e.duties(q);
      for (auto it = duties.rbegin(); it != duties.rend(); ++it) {
        if (it->kind != duty_kind::record_summary || it->created_at != at) continue;
        std::cout << (o.json ? duty_json(*it, at).dump(2) : duty_line(*it, at, w)) << '\n';
        break;
      }
      return exit_ok;
    } catch (const error& err) {
      return refused(err, o, w);
    }
  });
}

// The options every workflow command has.
CLI::App* workflow_command(CLI::App* ref, const char* name, const char* help, workflow_options& o) {
  CLI::App* c = ref->add_subcommand(name, help);
  add_engine_options(c, o);
  c->add_option("--id", o.id, "Referral id")->required();
  c->add_option("--by", o.by, "The acting hospital's id")->required();
  c->add_option("--role", o.role, all_names<actor_role>())->required();
  c->add_option("--user", o.user, "The acting person's pseudonymous staff id");
  c->add_option("--at", o.at, "When it happened, RFC 3339 with offset (default: now)");
  c->add_option("--idempotency-key", o.key,
                "A unique key for this command (e.g. a UUID): a retry with the same key is "
                "answered from the log and writes nothing")
      ->required();
  c->add_flag("--json", o.json, "Print the referral (or the refusal) as one JSON object");
  c->add_option("--lang", o.lang,
                "en, vi or ja: the language of the confirmation or the refusal's explanation "
                "(default: the locale's; the refusal's first line stays English, for logs)");
  return c;
}

}  // namespace

command add_referral_command(CLI::App& app) {
  auto q = std::make_shared<query_options>();
  auto w = std::make_shared<workflow_options>();
  CLI::App* ref = app.add_subcommand("referral", "Run referrals and read them");
  ref->require_subcommand(1);

  CLI::App* show = ref->add_subcommand(
      "show", "A referral's state and history, refusals with their rules (read-only)");
  show->add_option("--db", q->db, "kakehashi database (only read)")->required();
  show->add_option("--id", q->id, "Referral id (a refused proposal's too)")->required();
  show->add_option("--agreements", q->agreements,
                   "Agreements file: times are also shown in both hospitals' zones");
  show->add_flag("--json", q->json, "Print one JSON object");
  show->add_option("--lang", q->lang,
                   "en, vi or ja: the language of the words and times shown (default: the "
                   "locale's, LC_ALL, LC_MESSAGES or LANG; English when it is none of these)");

  CLI::App* list = ref->add_subcommand("list", "Referrals, filtered and paged (read-only)");
  list->add_option("--db", q->db, "kakehashi database (only read)")->required();
  list->add_option("--agreements", q->agreements,
                   "Agreements file, to check --hospital and --specialty against");
  list->add_option("--hospital", q->hospital, "Referring or receiving hospital id");
  list->add_option("--specialty", q->specialty, "Specialty code");
  list->add_option("--state", q->state,
                   "proposed, consent_recorded, accepted, transferred, closed, or "
                   "closed:<reason> (completed, declined, cancelled, consent_withdrawn, "
                   "expired)");
  list->add_option("--patient", q->patient, "Patient pseudonym");
  list->add_option("--proposed-from", q->proposed_from,
                   "Proposed at or after: RFC 3339, or YYYY-MM-DD (UTC midnight)");
  list->add_option("--proposed-before", q->proposed_before, "Proposed before (as above)");
  list->add_option("--limit", q->limit, "At most this many")->check(CLI::Range(1, 1000000));
  list->add_option("--offset", q->offset, "Skip this many (paging)");
  list->add_flag("--json", q->json, "Print one JSON array");
  list->add_option("--lang", q->lang, "en, vi or ja (default: the locale's; see show)");

  CLI::App* overdue = ref->add_subcommand(
      "overdue", "Open referrals past their agreement's response deadline (read-only)");
  overdue->add_option("--db", q->db, "kakehashi database (only read)")->required();
  overdue->add_option("--agreements", q->agreements, "Agreements file (the deadlines)")->required();
  overdue->add_option("--at", q->at, "The instant (default: now)");
  overdue->add_flag("--json", q->json, "Print one JSON array");
  overdue->add_option("--lang", q->lang, "en, vi or ja (default: the locale's; see show)");

  CLI::App* propose =
      workflow_command(ref, "propose", "Propose a referral (eligibility checked)", *w);
  propose->add_option("--from", w->from, "Referring hospital (default: --by)");
  propose->add_option("--to", w->to, "Receiving hospital")->required();
  propose->add_option("--specialty", w->specialty, "Specialty code")->required();
  propose->add_option("--patient", w->patient, "Patient pseudonym (never a name)")->required();
  propose->add_option("--replaces", w->replaces,
                      "Onward referral: the declined or expired referral this one sends on to "
                      "another destination");
  CLI::App* consent =
      workflow_command(ref, "consent", "Record the consent (the consent policy checked)", *w);
  consent->add_option("--consent", w->consent, "Consent JSON file (docs/consent.md)")->required();
  // A document by reference: the options of attach and return-results.
  const auto document_options = [&w](CLI::App* c) {
    c->add_option("--document-id", w->document_id, "The document's id (never a file name)")
        ->required();
    c->add_option("--kind", w->kind, document_kind_names())->required();
    c->add_option("--file", w->file,
                  "The document's file: its SHA-256 and size are computed here (the content is "
                  "neither stored nor sent)");
    c->add_option("--sha256", w->sha256, "The content's SHA-256 (instead of --file)");
    c->add_option("--size", w->size, "The content's size in bytes (with --sha256)");
    c->add_option("--media-type", w->media_type, "application/pdf, application/dicom, ...")
        ->required();
    c->add_option("--language", w->language, "The document's language: vi, ja, en, ...")
        ->required();
  };
  CLI::App* attach = workflow_command(
      ref, "attach",
      "Attach a document by reference: its SHA-256, size and kind, never the content", *w);
  document_options(attach);
  CLI::App* milestone_cmd = workflow_command(
      ref, "milestone", "Record a step before the journey (visa issued, travel arranged, ...)", *w);
  milestone_cmd->add_option("--milestone", w->milestone, milestone_names())->required();
  CLI::App* accept = workflow_command(ref, "accept", "The destination accepts", *w);
  CLI::App* decline = workflow_command(ref, "decline", "The destination declines", *w);
  decline->add_option("--reason", w->reason, all_names<decline_reason>())->required();
  CLI::App* cancel = workflow_command(ref, "cancel", "The referring hospital cancels", *w);
  cancel->add_option("--reason", w->reason, all_names<cancel_reason>())->required();
  CLI::App* withdraw = workflow_command(ref, "withdraw", "The patient withdrew consent", *w);
  withdraw->add_option("--channel", w->channel, all_names<withdrawal_channel>())->required();
  CLI::App* transfer = workflow_command(
      ref, "transfer", "The patient arrived (the recorded consent given again)", *w);
  transfer->add_option("--consent", w->consent, "The consent JSON file recorded")->required();
  CLI::App* results = workflow_command(
      ref, "return-results",
      "The destination returns results (a discharge summary, ...) to the referring hospital: "
      "one document by reference, the recorded consent given again",
      *w);
  document_options(results);
  results->add_option("--consent", w->consent, "The consent JSON file recorded")->required();
  CLI::App* complete = workflow_command(ref, "complete", "Treatment completed", *w);
  CLI::App* duty_cmd = workflow_command(
      ref, "duty",
      "Record a step of a duty (a withdrawal's acknowledgement or completion), by the hospital "
      "responsible for it",
      *w);
  duty_cmd->add_option("--duty", w->duty, "The duty's number (referral duties lists them)")
      ->required();
  duty_cmd->add_option("--step", w->step, "acknowledged, completed")->required();
  CLI::App* review = workflow_command(
      ref, "review",
      "A second clinician's review of a step taken on an emergency basis (an emergency_review "
      "duty): records whether the basis was justified",
      *w);
  review->add_option("--duty", w->duty, "The review's number (referral duties lists it)")
      ->required();
  review->add_option("--finding", w->finding, "justified, not_justified")->required();
  CLI::App* summary = workflow_command(
      ref, "request-summary",
      "The patient asked in writing for a summary of their medical record (VN-24): records the "
      "receiving hospital's duty to acknowledge it within 2 working days and give it within 10 "
      "days",
      *w);
  CLI::App* duties = ref->add_subcommand(
      "duties",
      "Duties rules created (a withdrawal: acknowledge within 2 working days, complete within 20 "
      "days, with the stop notice to the destination), open or all (read-only)");
  duties->add_option("--db", q->db, "kakehashi database (only read)")->required();
  duties->add_option("--agreements", q->agreements,
                     "Agreements file: hospitals by their names, times in their zones");
  duties->add_option("--hospital", q->hospital, "The responsible hospital or a recipient");
  duties->add_option("--id", q->id, "Only this referral's");
  duties->add_flag("--all", q->all, "The completed duties too");
  duties->add_flag("--overdue", q->overdue, "Only those overdue at --at");
  duties->add_option("--at", q->at, "The instant (default: now)");
  duties->add_flag("--json", q->json, "Print one JSON array");
  duties->add_option("--lang", q->lang, "en, vi or ja (default: the locale's)");

  const std::vector<std::pair<CLI::App*, event_kind>> events = {
      {consent, event_kind::record_consent},
      {attach, event_kind::attach_document},
      {accept, event_kind::accept},
      {decline, event_kind::decline},
      {cancel, event_kind::cancel},
      {withdraw, event_kind::withdraw_consent},
      {milestone_cmd, event_kind::record_milestone},
      {transfer, event_kind::transfer},
      {results, event_kind::return_results},
      {complete, event_kind::complete}};
  return [q, w, show, list, overdue, propose, events, duty_cmd, review, duties, summary] {
    if (show->parsed()) return run_show(*q);
    if (list->parsed()) return run_list(*q);
    if (overdue->parsed()) return run_overdue(*q);
    if (duties->parsed()) return run_duties(*q);
    if (duty_cmd->parsed()) return run_record_duty(*w);
    if (review->parsed()) return run_review(*w);
    if (summary->parsed()) return run_request_summary(*w);
    if (propose->parsed()) return run_workflow(event_kind::record_consent, *w, true);
    for (const auto& [cmd, kind] : events) {
      if (cmd->parsed()) return run_workflow(kind, *w, false);
    }
    return exit_bad_input;
  };
}

// kakehashi sweep --db FILE --agreements FILE --by HOSPITAL [--at INSTANT] [--json]
command add_sweep_command(CLI::App& app) {
  auto o = std::make_shared<workflow_options>();
  CLI::App* sweep = app.add_subcommand(
      "sweep", "Expire every open referral past its response deadline (run it from cron)");
  add_engine_options(sweep, *o);
  sweep->add_option("--by", o->by, "The hospital running the sweep (its referrals only)")
      ->required();
  sweep->add_option("--at", o->at, "The sweep's instant (default: now)");
  sweep->add_flag("--json", o->json, "Print the expired referrals as one JSON array");
  sweep->add_option("--lang", o->lang, "en, vi or ja (default: the locale's)");
  return [o] {
    const agreement_directory dir = agreement_directory::load_file(o->agreements);
    const wording w{reader_language(o->lang), &dir};
    engine e = open_engine(*o, dir);
    const actor system{known_hospital(dir, o->by, "--by"), actor_role::system, user_id{}};
    const instant at = instant_or_now(o->at, "--at");
    const auto expired = e.expire_overdue(system, at);
    if (o->json) {
      json arr = json::array();
      for (const auto& s : expired) arr.push_back(json::parse(to_json(s)));
      std::cout << arr.dump(2) << '\n';
    } else {
      for (const auto& s : expired) print_snapshot(s, false, w);
      std::cout << text::format(
                       w.lang, "sweep.count",
                       {{"count", expired.size()}, {"time", text::local_time(at, "UTC", w.lang)}})
                << '\n';
      // The duties of the sweep's hospital past a deadline: reported, never closed by the sweep.
      duty_query late;
      late.hospital = system.organisation;
      late.overdue_at = at;
      const auto overdue_duties = e.duties(late);
      for (const auto& d : overdue_duties) std::cout << duty_line(d, at, w) << '\n';
      std::cout << text::format(w.lang, "sweep.overdue_duties",
                                {{"count", static_cast<std::int64_t>(overdue_duties.size())}})
                << '\n';
    }
    return exit_ok;
  };
}

}  // namespace kakehashi::tool
