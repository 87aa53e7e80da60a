#include "kakehashi/agreement.hpp"

#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "common/enum_names.hpp"
#include "common/fail.hpp"
#include "common/json_reader.hpp"

namespace kakehashi {
namespace {

// clang-format off
constexpr detail::name_table<collaboration_area, 9> area_names{{
  {collaboration_area::patient_referral,           "patient_referral"},
  {collaboration_area::human_resource_development, "human_resource_development"},
  {collaboration_area::clinical_training,          "clinical_training"},
  {collaboration_area::expert_exchange,            "expert_exchange"},
  {collaboration_area::case_discussion,            "case_discussion"},
  {collaboration_area::live_surgery,               "live_surgery"},
  {collaboration_area::telemedicine,               "telemedicine"},
  {collaboration_area::joint_research,             "joint_research"},
  {collaboration_area::seminars_education,         "seminars_education"},
}};
constexpr detail::name_table<agreement_state, 3> agreement_state_names{{
  {agreement_state::active,     "active"},
  {agreement_state::suspended,  "suspended"},
  {agreement_state::terminated, "terminated"},
}};
// clang-format on

constexpr std::string_view format_tag = "kakehashi.agreements/1";

template <class E, std::size_t N>
std::string names_of(const detail::name_table<E, N>& table) {
  std::string out;
  for (const auto& [v, name] : table) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::string iso(date::year_month_day d) { return date::format("%F", d); }

const date::time_zone* find_zone(const std::string& name) noexcept {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool is_country_code(const std::string& s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

// BCP 47 in the shape hospitals use: "en", "vi", "ja", "ja-JP", "zh-Hant".
bool is_language_tag(const std::string& s) {
  std::size_t i = 0;
  std::size_t primary = 0;
  while (i < s.size() && s[i] >= 'a' && s[i] <= 'z') ++i, ++primary;
  if (primary < 2 || primary > 3) return false;
  while (i < s.size()) {
    if (s[i] != '-') return false;
    std::size_t len = 0;
    for (++i; i < s.size() && std::isalnum(static_cast<unsigned char>(s[i])); ++i) ++len;
    if (len < 2 || len > 8) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// JSON -> values (shape and types)

using detail::json;
using detail::object_reader;
using detail::path_index;

std::vector<specialty_code> read_specialties(object_reader& r, std::string_view key) {
  std::vector<specialty_code> out;
  const json* a = r.array(key);
  if (!a) return out;
  // An unreadable element keeps its place (as an empty code) so that later checks name the
  // right index; its problem is already reported.
  for (std::size_t i = 0; i < a->size(); ++i) {
    auto id = detail::read_id<specialty_tag>((*a)[i], path_index(r.path(key), i), r.problems());
    out.push_back(id ? std::move(*id) : specialty_code{});
  }
  return out;
}

std::optional<date::year_month_day> read_date(object_reader& r, std::string_view key) {
  return r.date(key);
}

hospital read_hospital(const json& j, const std::string& path,
                       std::vector<load_problem>& problems) {
  hospital h;
  object_reader r(j, path, problems, {"id", "names", "country", "time_zone", "specialties"},
                  {"assumptions"});
  if (!r.ok()) return h;
  if (auto id = r.id<hospital_tag>("id")) h.id = *id;
  if (const json* names = r.object("names")) {
    object_reader n(*names, r.path("names"), problems, {"en"}, {"vi", "ja"});
    if (auto s = n.string("en")) h.name_en = *s;
    if (auto s = n.string("vi")) h.name_vi = *s;
    if (auto s = n.string("ja")) h.name_ja = *s;
  }
  if (auto s = r.string("country")) h.country = *s;
  if (auto s = r.string("time_zone")) h.time_zone = *s;
  h.specialties = read_specialties(r, "specialties");
  if (auto a = r.strings("assumptions")) h.assumptions = *a;
  return h;
}

// A term that is one of a few words (each naming a value of E): `out` keeps its default when the
// term is absent; another word is reported, quoted, with `expected` saying what each means.
template <class E>
void read_choice(object_reader& t, std::string_view key,
                 std::initializer_list<std::pair<std::string_view, E>> words,
                 std::string_view expected, E& out) {
  const auto word = t.string(key);
  if (!word) return;
  for (const auto& [w, value] : words) {
    if (*word == w) {
      out = value;
      return;
    }
  }
  t.report(t.path(key),
           fmt::format("{} is not allowed; expected {}", detail::quote(json(*word)), expected));
}

agreement read_agreement(const json& j, const std::string& path,
                         std::vector<load_problem>& problems) {
  agreement a;
  object_reader r(j, path, problems,
                  {"id", "title", "parties", "signed", "effective_from", "time_zone", "status",
                   "areas", "source"},
                  {"effective_until", "referral", "assumptions"});
  if (!r.ok()) return a;
  if (auto id = r.id<agreement_tag>("id")) a.id = *id;
  if (auto s = r.string("title")) a.title = *s;
  if (const json* parties = r.array("parties")) {
    for (std::size_t i = 0; i < parties->size(); ++i) {
      auto id =
          detail::read_id<hospital_tag>((*parties)[i], path_index(r.path("parties"), i), problems);
      a.parties.push_back(id ? std::move(*id) : hospital_id{});  // keeps the index
    }
  }
  if (auto d = read_date(r, "signed")) a.signed_on = *d;
  if (auto d = read_date(r, "effective_from")) a.effective_from = *d;
  if (r.has("effective_until")) {
    // null means open-ended, as does leaving the key out.
    if (!r.member("effective_until")->is_null())
      a.effective_until = read_date(r, "effective_until");
  }
  if (auto s = r.string("time_zone")) a.time_zone = *s;
  if (const json* st = r.object("status")) {
    object_reader s(*st, r.path("status"), problems, {"state"}, {"from", "until"});
    if (auto name = s.string("state")) {
      if (auto v = detail::value_of(agreement_state_names, *name)) {
        a.status.state = *v;
      } else {
        s.report(s.path("state"),
                 fmt::format("unknown state '{}'; expected one of: {}", detail::printable(*name),
                             names_of(agreement_state_names)));
      }
    }
    a.status.from = s.date("from");
    a.status.until = s.date("until");
  }
  if (const json* areas = r.array("areas")) {
    for (std::size_t i = 0; i < areas->size(); ++i) {
      const json& e = (*areas)[i];
      const auto v = e.is_string() ? detail::value_of(area_names, e.get_ref<const std::string&>())
                                   : std::nullopt;
      if (!v) {
        r.report(path_index(r.path("areas"), i),
                 fmt::format("unknown collaboration area {}; expected one of: {}", detail::quote(e),
                             names_of(area_names)));
        continue;
      }
      a.areas.push_back(*v);
    }
  }
  if (const json* terms = r.object("referral")) {
    object_reader t(
        *terms, r.path("referral"), problems, {"specialties", "directions"},
        {"response_deadline_days", "monthly_capacity", "required_documents", "missing_documents",
         "required_milestones", "results_before_completion", "languages"});
    a.referral_specialties = read_specialties(t, "specialties");
    if (const json* dirs = t.array("directions")) {
      for (std::size_t i = 0; i < dirs->size(); ++i) {
        object_reader d((*dirs)[i], path_index(t.path("directions"), i), problems, {"from", "to"});
        auto from = d.id<hospital_tag>("from");
        auto to = d.id<hospital_tag>("to");
        a.directions.push_back({from.value_or(hospital_id{}), to.value_or(hospital_id{})});
      }
    }
    if (auto days = t.integer("response_deadline_days", 1, 365)) {
      a.response_deadline_days = static_cast<int>(*days);
    }
    if (const json* cap = t.object("monthly_capacity")) {
      for (const auto& [key, value] : cap->items()) {
        const std::string p = detail::path_key(t.path("monthly_capacity"), key);
        if (!is_valid_id(key)) {
          t.report(p, detail::bad_id_message(specialty_tag::kind, key));
          continue;
        }
        if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
            value.get<std::int64_t>() > 100000) {
          t.report(p, fmt::format("{} is not a monthly capacity; expected an integer from 0 to "
                                  "100000",
                                  detail::quote(value)));
          continue;
        }
        a.monthly_capacity[specialty_code{key}] = value.get<int>();
      }
    }
    if (auto docs = t.strings("required_documents")) {
      for (std::size_t i = 0; i < docs->size(); ++i) {
        const std::string& name = (*docs)[i];
        if (const auto kind = parse_document_kind(name)) {
          if (std::find(a.required_documents.begin(), a.required_documents.end(), *kind) ==
              a.required_documents.end()) {
            a.required_documents.push_back(*kind);
          }
          continue;
        }
        // Agreements written before documents were coded said "referral letter".
        std::string code;
        for (char c : name) {
          code += c == ' ' || c == '-'
                      ? '_'
                      : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        t.report(path_index(t.path("required_documents"), i),
                 fmt::format(
                     "{} is not a document kind; {}expected one of: {}", detail::quote(json(name)),
                     parse_document_kind(code) ? fmt::format("did you mean '{}'? ", code) : "",
                     document_kind_names()));
      }
    }
    if (auto steps = t.strings("required_milestones")) {
      for (std::size_t i = 0; i < steps->size(); ++i) {
        const auto m = parse_milestone((*steps)[i]);
        if (!m) {
          t.report(path_index(t.path("required_milestones"), i),
                   fmt::format("{} is not a milestone; expected one of: {}",
                               detail::quote(json((*steps)[i])), milestone_names()));
          continue;
        }
        if (std::find(a.required_milestones.begin(), a.required_milestones.end(), *m) ==
            a.required_milestones.end()) {
          a.required_milestones.push_back(*m);
        }
      }
    }
    read_choice(
        t, "missing_documents",
        {{"refuse", missing_documents_rule::refuse}, {"warn", missing_documents_rule::warn}},
        "refuse (accepting without the required documents is refused, the default) or "
        "warn (allowed and audited)",
        a.missing_documents);
    read_choice(t, "results_before_completion",
                {{"optional", results_rule::optional}, {"required", results_rule::required}},
                "optional (a referral may be completed without results returned, the default) or "
                "required",
                a.results_before_completion);
    if (auto langs = t.strings("languages")) a.languages = *langs;
  }
  if (const json* src = r.object("source")) {
    object_reader s(*src, r.path("source"), problems, {"title", "reference"}, {"published"});
    if (auto v = s.string("title")) a.source.title = *v;
    if (auto v = s.string("reference")) a.source.reference = *v;
    a.source.published = s.date("published");
  }
  if (auto v = r.strings("assumptions")) a.assumptions = *v;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Values -> problems (meaning and cross-references). Shared by the JSON loader and from_values.

// Registers the id found at `array[index]`; reports it if an earlier element had it.
template <class Tag>
void register_unique(std::map<basic_id<Tag>, std::size_t>& seen, const basic_id<Tag>& id,
                     std::string_view array, std::size_t index,
                     std::vector<load_problem>& problems) {
  const std::string path = path_index(array, index) + ".id";
  if (!is_valid_id(id.value())) {
    problems.push_back({path, detail::bad_id_message(Tag::kind, id.value())});
    return;
  }
  auto [it, inserted] = seen.emplace(id, index);
  if (!inserted) {
    problems.push_back({path, fmt::format("duplicate {} '{}' (also {}[{}]); ids are unique",
                                          Tag::kind, id.value(), array, it->second)});
  }
}

// Each specialty code well-formed and listed once.
void check_specialties(const std::vector<specialty_code>& list, const std::string& path,
                       std::vector<load_problem>& problems) {
  std::set<specialty_code> seen;
  for (std::size_t s = 0; s < list.size(); ++s) {
    const std::string sp = path_index(path, s);
    if (!is_valid_id(list[s].value())) {
      problems.push_back({sp, detail::bad_id_message(specialty_tag::kind, list[s].value())});
    } else if (!seen.insert(list[s]).second) {
      problems.push_back({sp, fmt::format("duplicate specialty '{}'", list[s].value())});
    }
  }
}

void check_values(const std::vector<hospital>& hospitals, const std::vector<agreement>& agreements,
                  std::vector<load_problem>& problems) {
  const auto report = [&](std::string path, std::string message) {
    problems.push_back({std::move(path), std::move(message)});
  };
  const auto check_zone = [&](const std::string& path, const std::string& zone) {
    if (!find_zone(zone)) {
      report(path, fmt::format("unknown time zone '{}'; expected an IANA zone name such as "
                               "'Asia/Ho_Chi_Minh' or 'Asia/Tokyo'",
                               detail::printable(zone)));
    }
  };

  std::map<hospital_id, std::size_t> hospital_index;
  for (std::size_t i = 0; i < hospitals.size(); ++i) {
    const hospital& h = hospitals[i];
    const std::string p = path_index("hospitals", i);
    register_unique(hospital_index, h.id, "hospitals", i, problems);
    if (h.name_en.empty()) report(p + ".names.en", "is required and must not be empty");
    if (!is_country_code(h.country)) {
      report(p + ".country", fmt::format("'{}' is not a country code; expected ISO 3166-1 "
                                         "alpha-2 in capitals, e.g. 'VN' or 'JP'",
                                         detail::printable(h.country)));
    }
    check_zone(p + ".time_zone", h.time_zone);
    check_specialties(h.specialties, p + ".specialties", problems);
  }

  // A party or direction naming a hospital cannot be judged when the ids it would be checked
  // against were unreadable (their problem is reported already).
  const bool every_hospital_id_read = std::none_of(
      hospitals.begin(), hospitals.end(), [](const hospital& h) { return h.id.value().empty(); });
  const auto known_hospitals = [&] {
    std::string out;
    for (const auto& [id, i] : hospital_index) out += (out.empty() ? "" : ", ") + id.value();
    return out.empty() ? std::string("none") : out;
  }();

  std::map<agreement_id, std::size_t> agreement_index;
  for (std::size_t i = 0; i < agreements.size(); ++i) {
    const agreement& a = agreements[i];
    const std::string p = path_index("agreements", i);
    register_unique(agreement_index, a.id, "agreements", i, problems);
    if (a.title.empty()) report(p + ".title", "is required and must not be empty");
    std::set<hospital_id> parties;
    for (std::size_t k = 0; k < a.parties.size(); ++k) {
      const std::string pp = path_index(p + ".parties", k);
      const hospital_id& party = a.parties[k];
      if (every_hospital_id_read && !party.value().empty() && !hospital_index.count(party)) {
        report(pp, fmt::format("hospital '{}' is not in the directory; known hospitals: {}",
                               detail::printable(party.value()), known_hospitals));
      }
      if (!parties.insert(party).second) {
        report(pp, fmt::format("hospital '{}' is listed twice", detail::printable(party.value())));
      }
    }
    const bool every_party_read = !parties.count(hospital_id{});
    if (parties.size() < 2) {
      report(p + ".parties", fmt::format("has {} distinct hospital(s); an agreement has at least "
                                         "two parties",
                                         parties.size()));
    }
    if (!a.signed_on.ok()) report(p + ".signed", "is not a valid date");
    if (!a.effective_from.ok()) report(p + ".effective_from", "is not a valid date");
    if (a.effective_until && a.effective_from.ok() && a.effective_until->ok() &&
        *a.effective_until < a.effective_from) {
      report(p + ".effective_until",
             fmt::format("{} is before effective_from {}; expected a date on or after it",
                         iso(*a.effective_until), iso(a.effective_from)));
    }
    check_zone(p + ".time_zone", a.time_zone);
    const agreement_status& st = a.status;
    if (st.state == agreement_state::active) {
      if (st.from)
        report(p + ".status.from",
               "is set but the state is 'active'; only a "
               "suspended or terminated agreement has a 'from'");
      if (st.until)
        report(p + ".status.until",
               "is set but the state is 'active'; only a "
               "suspended agreement has an 'until'");
    } else {
      if (!st.from) {
        report(p + ".status.from", fmt::format("is required when the state is '{}': the first "
                                               "day it applies",
                                               to_string(st.state)));
      }
      if (st.state == agreement_state::terminated && st.until) {
        report(p + ".status.until", "is set but a termination does not end; remove it");
      }
      if (st.from && st.until && *st.until < *st.from) {
        report(p + ".status.until",
               fmt::format("{} is before status.from {}", iso(*st.until), iso(*st.from)));
      }
    }
    check_specialties(a.referral_specialties, p + ".referral.specialties", problems);
    const std::set<specialty_code> covered(a.referral_specialties.begin(),
                                           a.referral_specialties.end());
    for (std::size_t d = 0; d < a.directions.size(); ++d) {
      const std::string dp = path_index(p + ".referral.directions", d);
      const referral_direction& dir = a.directions[d];
      if (every_party_read && !parties.count(dir.from)) {
        report(dp + ".from", fmt::format("'{}' is not a party to this agreement",
                                         detail::printable(dir.from.value())));
      }
      if (every_party_read && !parties.count(dir.to)) {
        report(dp + ".to", fmt::format("'{}' is not a party to this agreement",
                                       detail::printable(dir.to.value())));
      }
      if (dir.from == dir.to) report(dp, "goes from a hospital to itself");
    }
    if (a.response_deadline_days &&
        (*a.response_deadline_days < 1 || *a.response_deadline_days > 365)) {
      report(p + ".referral.response_deadline_days",
             fmt::format("{} is out of range; expected 1 to 365 days", *a.response_deadline_days));
    }
    for (const auto& [specialty, capacity] : a.monthly_capacity) {
      const std::string cp = detail::path_key(p + ".referral.monthly_capacity", specialty.value());
      if (!covered.count(specialty)) {
        report(cp, fmt::format("specialty '{}' is not in referral.specialties",
                               detail::printable(specialty.value())));
      }
      if (capacity < 0) report(cp, fmt::format("{} is negative", capacity));
    }
    for (std::size_t l = 0; l < a.languages.size(); ++l) {
      if (!is_language_tag(a.languages[l])) {
        report(path_index(p + ".referral.languages", l),
               fmt::format("'{}' is not a language tag; expected BCP 47 such as 'en', 'vi', 'ja'",
                           detail::printable(a.languages[l])));
      }
    }
    if (a.source.title.empty()) report(p + ".source.title", "is required and must not be empty");
    if (a.source.reference.empty()) {
      report(p + ".source.reference", "is required and must not be empty");
    }
  }
}

}  // namespace

std::string_view to_string(collaboration_area v) noexcept { return detail::name_of(area_names, v); }
std::string_view to_string(missing_documents_rule v) noexcept {
  return v == missing_documents_rule::warn ? "warn" : "refuse";
}
std::string_view to_string(results_rule v) noexcept {
  return v == results_rule::required ? "required" : "optional";
}
std::optional<collaboration_area> parse_collaboration_area(std::string_view name) noexcept {
  return detail::value_of(area_names, name);
}
std::string_view to_string(agreement_state v) noexcept {
  return detail::name_of(agreement_state_names, v);
}

std::string_view hospital::name_in(std::string_view language) const {
  if (language == "vi" && !name_vi.empty()) return name_vi;
  if (language == "ja" && !name_ja.empty()) return name_ja;
  return name_en;
}

bool hospital::offers(const specialty_code& s) const {
  return std::find(specialties.begin(), specialties.end(), s) != specialties.end();
}

bool agreement::has_party(const hospital_id& h) const {
  return std::find(parties.begin(), parties.end(), h) != parties.end();
}
bool agreement::covers(collaboration_area area) const {
  return std::find(areas.begin(), areas.end(), area) != areas.end();
}
bool agreement::covers_specialty(const specialty_code& s) const {
  return std::find(referral_specialties.begin(), referral_specialties.end(), s) !=
         referral_specialties.end();
}
bool agreement::allows_direction(const hospital_id& from, const hospital_id& to) const {
  return std::any_of(directions.begin(), directions.end(),
                     [&](const referral_direction& d) { return d.from == from && d.to == to; });
}

agreements_load_result agreement_directory::try_load(std::string_view json_text) {
  agreements_load_result result;
  auto doc = detail::parse_strict(json_text, result.problems);
  if (!doc) return result;
  object_reader root(*doc, "", result.problems, {"format", "hospitals", "agreements"},
                     {"description"});
  if (!root.ok()) return result;
  if (auto f = root.string("format"); f && *f != format_tag) {
    root.report("format", fmt::format("'{}' is not a format this version reads; expected '{}'",
                                      detail::printable(*f), format_tag));
  }
  root.string("description", true);
  std::vector<hospital> hospitals;
  std::vector<agreement> agreements;
  if (const json* hs = root.array("hospitals")) {
    for (std::size_t i = 0; i < hs->size(); ++i) {
      hospitals.push_back(read_hospital((*hs)[i], path_index("hospitals", i), result.problems));
    }
  }
  if (const json* as = root.array("agreements")) {
    for (std::size_t i = 0; i < as->size(); ++i) {
      agreements.push_back(read_agreement((*as)[i], path_index("agreements", i), result.problems));
    }
  }
  // Meaning is checked whatever the shape problems: every problem of the file at once. A value
  // a shape problem left unread (reported at its path or an ancestor's) is not reported again.
  std::vector<load_problem> meaning;
  check_values(hospitals, agreements, meaning);
  detail::add_unshadowed(result.problems, std::move(meaning));
  if (!result.problems.empty()) return result;
  auto dir = std::shared_ptr<agreement_directory>(new agreement_directory());
  dir->hospitals_ = std::move(hospitals);
  dir->agreements_ = std::move(agreements);
  dir->index();
  result.directory = std::move(dir);
  return result;
}

agreement_directory agreement_directory::load(std::string_view json_text,
                                              std::string_view source_name) {
  auto result = try_load(json_text);
  if (!result.ok()) {
    throw error(errc::invalid_argument, detail::join_problems(source_name, result.problems));
  }
  return *result.directory;
}

agreement_directory agreement_directory::load_file(const std::string& path) {
  auto text = detail::read_file(path);
  if (!text) {
    detail::fail(errc::not_found, detail::printable(path, 200), "cannot read the agreements file",
                 "pass the path of a readable JSON file (see docs/agreements.md)");
  }
  return load(*text, detail::printable(path, 200));
}

agreement_directory agreement_directory::from_values(std::vector<hospital> hospitals,
                                                     std::vector<agreement> agreements) {
  std::vector<load_problem> problems;
  check_values(hospitals, agreements, problems);
  if (!problems.empty()) {
    throw error(errc::invalid_argument, detail::join_problems("agreement directory", problems));
  }
  agreement_directory dir;
  dir.hospitals_ = std::move(hospitals);
  dir.agreements_ = std::move(agreements);
  dir.index();
  return dir;
}

void agreement_directory::index() {
  for (std::size_t i = 0; i < hospitals_.size(); ++i) {
    hospital_at_.emplace(hospitals_[i].id.value(), i);
  }
  for (std::size_t i = 0; i < agreements_.size(); ++i) {
    agreement_at_.emplace(agreements_[i].id.value(), i);
    for (const auto& party : agreements_[i].parties) {
      agreements_by_party_[party.value()].push_back(i);
    }
  }
  // After in_force_ is filled, starts_at() and ends_at() read it; computed here without it.
  std::vector<std::pair<instant, std::optional<instant>>> bounds;
  for (const agreement& a : agreements_) bounds.emplace_back(starts_at(a), ends_at(a));
  in_force_ = std::move(bounds);
}

const std::pair<instant, std::optional<instant>>* agreement_directory::in_force_of(
    const agreement& a) const noexcept {
  // Only an agreement of this directory (by address) has its bounds here.
  if (in_force_.size() != agreements_.size() || agreements_.empty()) return nullptr;
  const agreement* first = agreements_.data();
  // std::less: a total order even for an agreement that lives elsewhere (< on pointers into
  // different objects is unspecified).
  const std::less<const agreement*> before;
  if (before(&a, first) || !before(&a, first + agreements_.size())) return nullptr;
  return &in_force_[static_cast<std::size_t>(&a - first)];
}

const hospital* agreement_directory::find_hospital(const hospital_id& id) const noexcept {
  const auto it = hospital_at_.find(id.value());
  return it == hospital_at_.end() ? nullptr : &hospitals_[it->second];
}

const agreement* agreement_directory::find_agreement(const agreement_id& id) const noexcept {
  const auto it = agreement_at_.find(id.value());
  return it == agreement_at_.end() ? nullptr : &agreements_[it->second];
}

std::vector<const agreement*> agreement_directory::agreements_of(const hospital_id& h) const {
  std::vector<const agreement*> out;
  if (const auto it = agreements_by_party_.find(h.value()); it != agreements_by_party_.end()) {
    for (std::size_t i : it->second) out.push_back(&agreements_[i]);
  }
  return out;
}

const hospital& agreement_directory::hospital_at(std::string_view field,
                                                 const hospital_id& id) const {
  validate(field, id);
  if (const hospital* h = find_hospital(id)) return *h;
  std::string known;
  for (const auto& h : hospitals_) known += (known.empty() ? "" : ", ") + h.id.value();
  detail::fail(errc::not_found, field,
               fmt::format("hospital '{}' is not in the agreements directory", id.value()),
               "known hospitals: " + (known.empty() ? std::string("none") : known));
}

instant agreement_directory::local_midnight(const agreement& a, date::year_month_day day) const {
  const date::time_zone* zone = find_zone(a.time_zone);
  if (!zone) {  // impossible for a loaded directory: the loader checked every zone
    detail::fail(errc::invalid_argument, "agreement " + a.id.value(),
                 fmt::format("unknown time zone '{}'", detail::printable(a.time_zone)),
                 "expected an IANA zone name");
  }
  const date::local_seconds local{date::local_days{day}};
  // choose::earliest: if midnight falls in a daylight-saving gap, the day starts at the gap's end.
  return date::floor<std::chrono::seconds>(zone->to_sys(local, date::choose::earliest));
}

instant agreement_directory::starts_at(const agreement& a) const {
  if (const auto* cached = in_force_of(a)) return cached->first;
  return local_midnight(a, a.effective_from);
}

std::optional<instant> agreement_directory::ends_at(const agreement& a) const {
  if (const auto* cached = in_force_of(a)) return cached->second;
  if (!a.effective_until) return std::nullopt;
  return local_midnight(a,
                        date::year_month_day{date::sys_days{*a.effective_until} + date::days{1}});
}

}  // namespace kakehashi
