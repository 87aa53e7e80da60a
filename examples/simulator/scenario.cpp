#include "scenario.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace simulator {
namespace {

using json = nlohmann::json;
namespace kh = kakehashi;

constexpr std::string_view format_tag = "kakehashi.simulator-scenario/1";

// Walks a parsed document, collecting every problem with its JSON path instead of stopping at
// the first, so that one run of the simulator reports everything wrong with a file.
class reader {
 public:
  std::vector<std::string> problems;

  void add(const std::string& path, const std::string& what) {
    problems.push_back(path + ": " + what);
  }

  static std::string shown(const json& v) {
    std::string s = v.dump();
    return s.size() > 60 ? s.substr(0, 57) + "..." : s;
  }
  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  // The member `key` of `obj`, or nullptr after reporting it missing.
  const json* member(const json& obj, const std::string& path, std::string_view key,
                     std::string_view expected) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
      add(join(path, key), fmt::format("missing; expected {}", expected));
      return nullptr;
    }
    return &*it;
  }

  // True when `v` is an object whose keys are all in `allowed` (reporting the others).
  bool object(const json& v, const std::string& path, std::initializer_list<std::string_view> allowed) {
    if (!v.is_object()) {
      add(path, fmt::format("expected an object, found {}", shown(v)));
      return false;
    }
    for (const auto& item : v.items()) {
      bool known = false;
      for (auto k : allowed) known = known || item.key() == k;
      if (!known) {
        std::string names;
        for (auto k : allowed) names += (names.empty() ? "" : ", ") + std::string(k);
        add(join(path, item.key()), fmt::format("unknown key; the keys here are {}", names));
      }
    }
    return true;
  }

  std::optional<double> number(const json& obj, const std::string& path, std::string_view key,
                               double lo, double hi) {
    const std::string expected = fmt::format("a number from {} to {}", lo, hi);
    const json* v = member(obj, path, key, expected);
    if (!v) return std::nullopt;
    if (!v->is_number() || v->get<double>() < lo || v->get<double>() > hi) {
      add(join(path, key), fmt::format("{} is not {}", shown(*v), expected));
      return std::nullopt;
    }
    return v->get<double>();
  }

  std::optional<int> integer(const json& v, const std::string& path, int lo, int hi) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
      add(path, fmt::format("{} is not a whole number from {} to {}", shown(v), lo, hi));
      return std::nullopt;
    }
    return static_cast<int>(v.get<std::int64_t>());
  }
  std::optional<int> integer(const json& obj, const std::string& path, std::string_view key, int lo,
                             int hi) {
    const json* v = member(obj, path, key, fmt::format("a whole number from {} to {}", lo, hi));
    return v ? integer(*v, join(path, key), lo, hi) : std::nullopt;
  }

  std::optional<std::string> text(const json& obj, const std::string& path, std::string_view key) {
    const json* v = member(obj, path, key, "a string");
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      add(join(path, key), fmt::format("expected a string, found {}", shown(*v)));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::optional<bool> boolean(const json& obj, const std::string& path, std::string_view key) {
    const json* v = member(obj, path, key, "true or false");
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      add(join(path, key), fmt::format("expected true or false, found {}", shown(*v)));
      return std::nullopt;
    }
    return v->get<bool>();
  }

  // "YYYY-MM-DD", a real calendar day.
  std::optional<date::year_month_day> day(const json& v, const std::string& path) {
    if (v.is_string()) {
      if (auto ymd = parse_day(v.get<std::string>())) return ymd;
    }
    add(path, fmt::format("{} is not a calendar day; expected \"YYYY-MM-DD\"", shown(v)));
    return std::nullopt;
  }

  delay_days delay(const json& obj, const std::string& path, std::string_view key) {
    const std::string here = join(path, key);
    const json* v = member(obj, path, key, "an object {\"min\", \"mode\", \"max\"} in days");
    delay_days d;
    if (!v || !object(*v, here, {"min", "mode", "max"})) return d;
    const auto lo = number(*v, here, "min", 0, 3650);
    const auto mode = number(*v, here, "mode", 0, 3650);
    const auto hi = number(*v, here, "max", 0, 3650);
    if (lo && mode && hi) {
      if (!(*lo <= *mode && *mode <= *hi)) {
        add(here, fmt::format("min {} <= mode {} <= max {} does not hold", *lo, *mode, *hi));
      } else if (*lo == *hi) {
        add(here, fmt::format("min and max are both {}; give a range (max > min)", *lo));
      } else {
        d = {*lo, *mode, *hi};
      }
    }
    return d;
  }

  // {"name": weight, ...} with names `parse` accepts, weights >= 0 and at least one > 0.
  template <class Key, class Parse>
  weights<Key> weighted(const json& obj, const std::string& path, std::string_view key,
                        Parse parse, std::string_view valid_names) {
    const std::string here = join(path, key);
    weights<Key> out;
    const json* v = member(obj, path, key, "an object of name: weight");
    if (!v) return out;
    if (!v->is_object()) {
      add(here, fmt::format("expected an object of name: weight, found {}", shown(*v)));
      return out;
    }
    double total = 0;
    for (const auto& item : v->items()) {
      const std::optional<Key> k = parse(item.key());
      if (!k) {
        add(join(here, item.key()), fmt::format("unknown name; valid: {}", valid_names));
        continue;
      }
      const auto w = number(*v, here, item.key(), 0, 1e6);
      if (!w) continue;
      out.emplace_back(*k, *w);
      total += *w;
    }
    if (!v->empty() && total <= 0 && problems.empty()) add(here, "every weight is 0; give one > 0");
    if (v->empty()) add(here, fmt::format("is empty; give at least one of {}", valid_names));
    return out;
  }

  // An optional array of coded names (`what`s that `parse` accepts); empty when left out.
  template <class Code, class Parse>
  std::vector<Code> codes(const json& obj, const std::string& path, std::string_view key,
                          std::string_view what, Parse parse, std::string_view valid_names) {
    std::vector<Code> out;
    const auto v = obj.find(key);
    if (v == obj.end()) return out;
    const std::string here = join(path, key);
    if (!v->is_array()) {
      add(here, fmt::format("expected an array of {}s, found {}", what, shown(*v)));
      return out;
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& item = (*v)[i];
      const auto c = item.is_string() ? parse(item.get<std::string>()) : std::nullopt;
      if (!c) {
        add(fmt::format("{}[{}]", here, i),
            fmt::format("{} is not a {}; expected one of {}", shown(item), what, valid_names));
        continue;
      }
      out.push_back(*c);
    }
    return out;
  }
};

std::optional<consent_plan> parse_consent_plan(std::string_view name) {
  for (auto p : {consent_plan::complete, consent_plan::missing_japan_notice,
                 consent_plan::missing_written_request, consent_plan::refused,
                 consent_plan::emergency}) {
    if (to_string(p) == name) return p;
  }
  return std::nullopt;
}

std::optional<kh::specialty_code> parse_specialty(std::string_view name) {
  if (!kh::is_valid_id(name)) return std::nullopt;
  return kh::specialty_code{std::string(name)};
}

std::optional<kh::hospital_id> hospital(reader& r, const json& obj, const std::string& path,
                                        std::string_view key) {
  const auto t = r.text(obj, path, key);
  if (!t) return std::nullopt;
  if (!kh::is_valid_id(*t)) {
    r.add(reader::join(path, key),
          fmt::format("{} is not a hospital id (1-128 of A-Z a-z 0-9 . _ : -)",
                      reader::shown(json(*t))));
    return std::nullopt;
  }
  return kh::hospital_id{*t};
}

void read_run(reader& r, const json& v, scenario& s) {
  const std::string p = "run";
  if (!r.object(v, p, {"start", "days", "referrals", "seed", "durability"})) return;
  if (const json* d = r.member(v, p, "start", "\"YYYY-MM-DD\"")) {
    if (auto day = r.day(*d, "run.start")) s.start = *day;
  }
  if (auto d = r.integer(v, p, "days", 1, 3660)) s.days = *d;
  if (auto n = r.integer(v, p, "referrals", 0, 10'000'000)) s.referrals = *n;
  if (const json* seed = r.member(v, p, "seed", "a whole number from 0 to 2^64-1")) {
    if (seed->is_number_unsigned()) {
      s.seed = seed->get<std::uint64_t>();
    } else {
      r.add("run.seed", fmt::format("{} is not a whole number from 0 to 2^64-1",
                                    reader::shown(*seed)));
    }
  }
  if (auto d = r.text(v, p, "durability")) {
    if (*d == "full") {
      s.sync = kh::durability::full;
    } else if (*d == "normal") {
      s.sync = kh::durability::normal;
    } else {
      r.add("run.durability", fmt::format("{} is not \"full\" or \"normal\"",
                                          reader::shown(json(*d))));
    }
  }
}

void read_destination(reader& r, const json& v, scenario& s) {
  const std::string p = "destination";
  if (!r.object(
          v, p,
          {"hospital", "response_deadline_days", "monthly_capacity", "days_to_answer", "no_answer",
           "accept", "decline_reasons", "required_documents", "required_milestones"})) {
    return;
  }
  if (auto h = hospital(r, v, p, "hospital")) s.destination = *h;
  if (const json* d = r.member(v, p, "response_deadline_days", "a number of days, or null")) {
    if (!d->is_null()) s.response_deadline_days = r.integer(*d, p + ".response_deadline_days", 1, 365);
  }
  if (const json* caps = r.member(v, p, "monthly_capacity", "an object of specialty: count")) {
    if (!caps->is_object()) {
      r.add(p + ".monthly_capacity",
            fmt::format("expected an object of specialty: count, found {}", reader::shown(*caps)));
    } else {
      for (const auto& item : caps->items()) {
        const std::string here = p + ".monthly_capacity." + item.key();
        const auto spec = parse_specialty(item.key());
        if (!spec) {
          r.add(here, "is not a specialty code (1-128 of A-Z a-z 0-9 . _ : -)");
          continue;
        }
        if (auto n = r.integer(item.value(), here, 0, 100'000)) s.monthly_capacity[*spec] = *n;
      }
    }
  }
  s.days_to_answer = r.delay(v, p, "days_to_answer");
  if (auto x = r.number(v, p, "no_answer", 0, 1)) s.no_answer = *x;
  if (auto x = r.number(v, p, "accept", 0, 1)) s.accept = *x;
  s.decline_reasons = r.weighted<kh::decline_reason>(
      v, p, "decline_reasons", kh::parse_decline_reason,
      "capacity_full, specialty_unavailable, not_clinically_appropriate, "
      "insufficient_information, patient_not_fit_to_travel, other");
  // Optional: the agreements' own lists when left out.
  s.required_documents =
      r.codes<kh::document_kind>(v, p, "required_documents", "document kind",
                                 kh::parse_document_kind, kh::document_kind_names());
  s.required_milestones = r.codes<kh::milestone>(v, p, "required_milestones", "milestone",
                                                 kh::parse_milestone, kh::milestone_names());
}

void read_documents(reader& r, const json& v, scenario& s) {
  const std::string p = "documents";
  if (!r.object(v, p, {"attached", "days_to_attach", "sent_when_asked", "days_to_send"})) return;
  if (const json* kinds = r.member(v, p, "attached", "an object of document kind: chance")) {
    if (!kinds->is_object()) {
      r.add(p + ".attached", fmt::format("expected an object of document kind: chance, found {}",
                                         reader::shown(*kinds)));
    } else {
      for (const auto& item : kinds->items()) {
        const auto k = kh::parse_document_kind(item.key());
        if (!k) {
          r.add(
              p + ".attached." + item.key(),
              fmt::format("is not a document kind; expected one of {}", kh::document_kind_names()));
          continue;
        }
        if (auto x = r.number(*kinds, p + ".attached", item.key(), 0, 1)) {
          s.documents_attached.emplace_back(*k, *x);
        }
      }
    }
  }
  s.days_to_attach = r.delay(v, p, "days_to_attach");
  if (auto x = r.number(v, p, "sent_when_asked", 0, 1)) s.sent_when_asked = *x;
  s.days_to_send = r.delay(v, p, "days_to_send");
}

void read_milestones(reader& r, const json& v, scenario& s) {
  const std::string p = "milestones";
  if (!v.is_object()) {
    r.add(p, fmt::format("expected an object of milestone: {{\"chance\", "
                         "\"days_after_acceptance\"}}, found {}",
                         reader::shown(v)));
    return;
  }
  for (const auto& item : v.items()) {
    const std::string here = p + "." + item.key();
    const auto m = kh::parse_milestone(item.key());
    if (!m) {
      r.add(here, fmt::format("is not a milestone; expected one of {}", kh::milestone_names()));
      continue;
    }
    if (!r.object(item.value(), here, {"chance", "days_after_acceptance"})) continue;
    scenario::milestone_plan plan;
    plan.milestone = *m;
    if (item.value().contains("chance")) {  // optional: every accepted referral gets it
      if (auto x = r.number(item.value(), here, "chance", 0, 1)) plan.chance = *x;
    }
    plan.days_after_acceptance = r.delay(item.value(), here, "days_after_acceptance");
    s.milestones.push_back(plan);
  }
  // A required milestone that is never recorded would refuse every journey.
  for (const auto m : s.required_milestones) {
    const bool planned =
        std::any_of(s.milestones.begin(), s.milestones.end(),
                    [&](const scenario::milestone_plan& x) { return x.milestone == m; });
    if (!planned) {
      r.add(p, fmt::format("has no entry for {}, which destination.required_milestones lists; "
                           "say when it is recorded",
                           kh::to_string(m)));
    }
  }
}

void read_results(reader& r, const json& v, scenario& s) {
  const std::string p = "results";
  if (!r.object(
          v, p,
          {"returned", "days_before_completion", "consent_missing", "days_to_renew_consent"})) {
    return;
  }
  if (auto x = r.number(v, p, "returned", 0, 1)) s.results_returned = *x;
  s.days_results_before_completion = r.delay(v, p, "days_before_completion");
  if (v.contains("consent_missing")) {
    if (auto x = r.number(v, p, "consent_missing", 0, 1)) s.results_consent_missing = *x;
    s.days_to_renew_consent = r.delay(v, p, "days_to_renew_consent");
  }
}

void read_duties(reader& r, const json& v, scenario& s) {
  const std::string p = "duties";
  if (!r.object(v, p, {"days_to_acknowledge", "completed", "days_to_complete"})) return;
  s.duties = true;
  s.days_to_acknowledge_duty = r.delay(v, p, "days_to_acknowledge");
  if (auto x = r.number(v, p, "completed", 0, 1)) s.duty_completed = *x;
  s.days_to_complete_duty = r.delay(v, p, "days_to_complete");
}

void read_reviews(reader& r, const json& v, scenario& s) {
  const std::string p = "emergency_reviews";
  if (!r.object(v, p, {"days_to_review", "not_justified"})) return;
  s.reviews = true;
  s.days_to_review = r.delay(v, p, "days_to_review");
  if (auto x = r.number(v, p, "not_justified", 0, 1)) s.review_not_justified = *x;
}

void read_origins(reader& r, const json& v, scenario& s) {
  if (!v.is_array() || v.empty()) {
    r.add("origins", fmt::format("expected a non-empty array of origins, found {}",
                                 reader::shown(v)));
    return;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("origins[{}]", i);
    if (!r.object(v[i], p, {"hospital", "share", "specialties"})) continue;
    origin_mix o;
    if (auto h = hospital(r, v[i], p, "hospital")) {
      o.hospital = *h;
      // The file's own consistency, checked with its other problems (the agreements are
      // checked by check_against).
      if (*h == s.destination) {
        r.add(p + ".hospital", "is the destination; an origin refers to another hospital");
      }
      if (!seen.insert(h->value()).second) {
        r.add(p + ".hospital", fmt::format("'{}' is listed twice", h->value()));
      }
    }
    if (auto x = r.number(v[i], p, "share", 0, 1e6)) o.share = *x;
    o.specialties = r.weighted<kh::specialty_code>(v[i], p, "specialties", parse_specialty,
                                                   "specialty codes such as \"oncology\"");
    s.origins.push_back(std::move(o));
  }
}

void read_paperwork(reader& r, const json& v, scenario& s) {
  const std::string p = "paperwork";
  if (!r.object(v, p, {"transfer_agreement", "withdrawal_clause", "impact_assessment_filed"})) {
    return;
  }
  if (auto b = r.boolean(v, p, "transfer_agreement")) s.transfer_agreement = *b;
  if (v.contains("withdrawal_clause")) {  // optional: false when left out
    if (auto b = r.boolean(v, p, "withdrawal_clause")) s.withdrawal_clause = *b;
  }
  if (const json* d = r.member(v, p, "impact_assessment_filed", "\"YYYY-MM-DD\" or null")) {
    if (!d->is_null()) s.impact_assessment_filed = r.day(*d, p + ".impact_assessment_filed");
  }
}

void read_patients(reader& r, const json& v, scenario& s) {
  const std::string p = "patients";
  if (!r.object(v, p, {"ages", "lacks_capacity", "child_assent_missing"})) return;
  if (const json* ages = r.member(v, p, "ages", "an array of age bands")) {
    if (!ages->is_array() || ages->empty()) {
      r.add(p + ".ages", fmt::format("expected a non-empty array of age bands, found {}",
                                     reader::shown(*ages)));
    } else {
      for (std::size_t i = 0; i < ages->size(); ++i) {
        const std::string here = fmt::format("{}.ages[{}]", p, i);
        const json& a = (*ages)[i];
        if (!r.object(a, here, {"name", "min", "max", "share"})) continue;
        age_band b;
        if (auto n = r.text(a, here, "name")) b.name = *n;
        const auto lo = r.integer(a, here, "min", 0, 110);
        const auto hi = r.integer(a, here, "max", 0, 110);
        if (auto x = r.number(a, here, "share", 0, 1e6)) b.share = *x;
        if (lo && hi) {
          if (*lo > *hi) r.add(here, fmt::format("min {} is above max {}", *lo, *hi));
          b.min_age = *lo;
          b.max_age = *hi;
        }
        s.ages.push_back(std::move(b));
      }
    }
  }
  if (auto x = r.number(v, p, "lacks_capacity", 0, 1)) s.lacks_capacity = *x;
  if (auto x = r.number(v, p, "child_assent_missing", 0, 1)) s.child_assent_missing = *x;
}

void read_consent(reader& r, const json& v, scenario& s) {
  const std::string p = "consent";
  if (!r.object(v, p,
                {"days_to_consent", "plans", "fixed_later", "days_to_fix", "days_to_cancel",
                 "withdraw_before_transfer", "withdraw_after_transfer"})) {
    return;
  }
  s.days_to_consent = r.delay(v, p, "days_to_consent");
  s.consent_plans = r.weighted<consent_plan>(
      v, p, "plans", parse_consent_plan,
      "complete, missing_japan_notice, missing_written_request, refused, emergency");
  if (auto x = r.number(v, p, "fixed_later", 0, 1)) s.fixed_later = *x;
  s.days_to_fix = r.delay(v, p, "days_to_fix");
  s.days_to_cancel = r.delay(v, p, "days_to_cancel");
  if (auto x = r.number(v, p, "withdraw_before_transfer", 0, 1)) s.withdraw_before_transfer = *x;
  if (auto x = r.number(v, p, "withdraw_after_transfer", 0, 1)) s.withdraw_after_transfer = *x;
}

void read_journey(reader& r, const json& v, scenario& s) {
  const std::string p = "journey";
  if (!r.object(v, p,
                {"cancel_before_transfer", "cancel_reasons", "days_to_travel",
                 "days_of_treatment"})) {
    return;
  }
  if (auto x = r.number(v, p, "cancel_before_transfer", 0, 1)) s.cancel_before_transfer = *x;
  s.cancel_reasons = r.weighted<kh::cancel_reason>(
      v, p, "cancel_reasons", kh::parse_cancel_reason,
      "patient_request, clinical_change, treated_locally, referred_elsewhere, "
      "entered_in_error, other");
  s.days_to_travel = r.delay(v, p, "days_to_travel");
  s.days_of_treatment = r.delay(v, p, "days_of_treatment");
}

[[noreturn]] void fail(kh::errc code, std::string_view source, const std::string& what) {
  throw kh::error(code, fmt::format("{}: {}", source, what));
}

}  // namespace

std::string_view to_string(consent_plan p) noexcept {
  switch (p) {
    case consent_plan::complete: return "complete";
    case consent_plan::missing_japan_notice: return "missing_japan_notice";
    case consent_plan::missing_written_request: return "missing_written_request";
    case consent_plan::refused: return "refused";
    case consent_plan::emergency: return "emergency";
  }
  return "?";
}

std::optional<date::year_month_day> parse_day(std::string_view text) {
  const std::string s(text);
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (s.size() == 10 && s[4] == '-' && s[7] == '-' &&
      std::sscanf(s.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) == 3) {
    const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
    if (ymd.ok()) return ymd;
  }
  return std::nullopt;
}

scenario scaled_to(scenario s, int referrals) {
  const double scale = referrals / static_cast<double>(std::max(1, s.referrals));
  for (auto& [spec, n] : s.monthly_capacity) {
    n = std::max(1, static_cast<int>(static_cast<double>(n) * scale + 0.5));
  }
  s.referrals = referrals;
  return s;
}

scenario load_scenario(std::string_view json_text, std::string_view source_name) {
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::parse_error& e) {
    // nlohmann's message is "[json.exception.parse_error.N] parse error at line L, column C:
    // <its own words>; last read: '<the input>'": keep its words, never the input.
    std::string what = e.what();
    what.erase(0, what.find("] ") == std::string::npos ? 0 : what.find("] ") + 2);
    what.erase(std::min(what.size(), what.find("; last read:")));
    fail(kh::errc::invalid_argument, source_name,
         fmt::format("is not valid JSON: {}; check the file's syntax", what));
  }
  reader r;
  scenario s;
  if (r.object(doc, "",
               {"format", "description", "run", "destination", "origins", "paperwork", "patients",
                "consent", "documents", "milestones", "results", "duties", "emergency_reviews",
                "journey"})) {
    if (auto f = r.text(doc, "", "format"); f && *f != format_tag) {
      r.add("format", fmt::format("{} is not \"{}\"", reader::shown(json(*f)), format_tag));
    }
    // One text, or one per language: {"en": "...", "vi": "...", "ja": "..."}.
    if (auto d = doc.find("description"); d != doc.end()) {
      const auto& languages = kh::vocabulary::languages();
      if (d->is_string()) {
        s.description[""] = d->get<std::string>();
      } else if (d->is_object()) {
        for (const auto& [language, text] : d->items()) {
          const std::string at = "description." + language;
          if (std::find(languages.begin(), languages.end(), language) == languages.end()) {
            r.add(at, "is not a language the report is written in; expected en, vi or ja");
          } else if (!text.is_string()) {
            r.add(at, fmt::format("expected a string, found {}", reader::shown(text)));
          } else {
            s.description[language] = text.get<std::string>();
          }
        }
      } else {
        r.add("description", fmt::format("expected a string or an object of texts by language "
                                         "(en, vi, ja), found {}",
                                         reader::shown(*d)));
      }
    }
    const std::pair<const char*, void (*)(reader&, const json&, scenario&)> sections[] = {
        {"run", read_run},           {"destination", read_destination},
        {"origins", read_origins},   {"paperwork", read_paperwork},
        {"patients", read_patients}, {"consent", read_consent},
        {"journey", read_journey}};
    for (const auto& [name, read] : sections) {
      if (const json* v = r.member(doc, "", name, "the section (see scenario.json)")) read(r, *v, s);
    }
    // Optional: scenarios written before documents were recorded attach none.
    if (doc.contains("documents")) read_documents(r, doc["documents"], s);
    // Optional too: without it none is recorded (and none may be required).
    read_milestones(r, doc.contains("milestones") ? doc["milestones"] : json::object(), s);
    if (doc.contains("results")) read_results(r, doc["results"], s);
    if (doc.contains("duties")) read_duties(r, doc["duties"], s);
    if (doc.contains("emergency_reviews")) read_reviews(r, doc["emergency_reviews"], s);
  }
  if (!r.problems.empty()) {
    std::string all;
    for (const auto& p : r.problems) all += (all.empty() ? "" : "; ") + p;
    fail(kh::errc::invalid_argument, source_name,
         fmt::format("{} problem(s): {}", r.problems.size(), all));
  }
  return s;
}

scenario load_scenario_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail(kh::errc::not_found, path, "cannot be read; give the path of a scenario file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_scenario(text.str(), path);
}

void check_against(const scenario& s, const kh::agreement_directory& dir) {
  std::vector<std::string> problems;
  std::string known;
  for (const auto& h : dir.hospitals()) known += (known.empty() ? "" : ", ") + h.id.value();
  const auto need = [&](const std::string& path, const kh::hospital_id& h) {
    if (!dir.find_hospital(h)) {
      problems.push_back(fmt::format("{}: '{}' is not a hospital of the agreements; known: {}",
                                     path, h.value(), known));
    }
  };
  need("destination.hospital", s.destination);
  for (std::size_t i = 0; i < s.origins.size(); ++i) {
    need(fmt::format("origins[{}].hospital", i), s.origins[i].hospital);
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    fail(kh::errc::invalid_argument, "scenario",
         fmt::format("{} problem(s): {}", problems.size(), all));
  }
}

}  // namespace simulator
