#include "kakehashi/eligibility.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "common/enum_names.hpp"
#include "common/fail.hpp"

namespace kakehashi {
namespace {

// clang-format off
constexpr detail::name_table<ineligibility_code, 10> code_names{{
  {ineligibility_code::no_agreement,          "no_agreement"},
  {ineligibility_code::not_yet_effective,     "not_yet_effective"},
  {ineligibility_code::expired,               "expired"},
  {ineligibility_code::suspended,             "suspended"},
  {ineligibility_code::terminated,            "terminated"},
  {ineligibility_code::referral_not_in_scope, "referral_not_in_scope"},
  {ineligibility_code::specialty_not_covered, "specialty_not_covered"},
  {ineligibility_code::specialty_not_offered, "specialty_not_offered"},
  {ineligibility_code::direction_not_allowed, "direction_not_allowed"},
  {ineligibility_code::capacity_reached,      "capacity_reached"},
}};
// clang-format on

std::string iso(date::year_month_day d) { return date::format("%F", d); }

template <class T, class F>
std::string join(const std::vector<T>& items, F&& name) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(name(i));
  return out.empty() ? std::string("none") : out;
}

// Every reason agreement `a` does not allow a referral from q.from to `to` (empty: it does).
std::vector<ineligibility_reason> evaluate(const agreement_directory& dir, const agreement& a,
                                           const hospital& to, const eligibility_query& q) {
  std::vector<ineligibility_reason> out;
  const auto add = [&](ineligibility_code code, std::string message) {
    out.push_back({code, a.id, std::move(message)});
  };
  // Words for a "no" only: an agreement that allows the referral formats nothing.
  const auto name = [&] { return "agreement '" + a.id.value() + "'"; };
  const auto at = [&] { return to_iso8601(q.at); };

  const instant start = dir.starts_at(a);
  if (q.at < start) {
    add(ineligibility_code::not_yet_effective,
        fmt::format("{} takes effect on {} ({}), i.e. at {}; the referral would be at {}", name(),
                    iso(a.effective_from), a.time_zone, to_iso8601(start), at()));
  }
  if (const auto end = dir.ends_at(a); end && q.at >= *end) {
    add(ineligibility_code::expired,
        fmt::format("{} was in force until the end of {} ({}), i.e. until {}; the referral would "
                    "be at {}",
                    name(), iso(*a.effective_until), a.time_zone, to_iso8601(*end), at()));
  }
  const agreement_status& st = a.status;
  if (st.state != agreement_state::active && st.from) {
    const instant from = dir.local_midnight(a, *st.from);
    if (st.state == agreement_state::terminated && q.at >= from) {
      add(ineligibility_code::terminated,
          fmt::format("{} was terminated from {} ({}); the referral would be at {}", name(),
                      iso(*st.from), a.time_zone, at()));
    }
    if (st.state == agreement_state::suspended && q.at >= from) {
      const bool ended =
          st.until && q.at >= dir.local_midnight(a, date::year_month_day{date::sys_days{*st.until} +
                                                                         date::days{1}});
      if (!ended) {
        add(ineligibility_code::suspended,
            fmt::format("{} is suspended from {}{} ({}); the referral would be at {}", name(),
                        iso(*st.from), st.until ? " to " + iso(*st.until) : std::string(),
                        a.time_zone, at()));
      }
    }
  }
  if (!a.covers(collaboration_area::patient_referral)) {
    add(ineligibility_code::referral_not_in_scope,
        fmt::format("{} does not cover patient referral (its areas: {})", name(),
                    join(a.areas, [](collaboration_area c) { return to_string(c); })));
  } else {
    if (!a.covers_specialty(q.specialty)) {
      add(ineligibility_code::specialty_not_covered,
          fmt::format(
              "{} covers referral for {}, not '{}'", name(),
              join(a.referral_specialties, [](const specialty_code& s) { return s.value(); }),
              q.specialty.value()));
    }
    if (!a.allows_direction(q.from, to.id)) {
      add(ineligibility_code::direction_not_allowed,
          fmt::format("{} allows referrals {}, not {} -> {}", name(),
                      join(a.directions,
                           [](const referral_direction& d) {
                             return d.from.value() + " -> " + d.to.value();
                           }),
                      q.from.value(), to.id.value()));
    }
  }
  if (auto cap = a.monthly_capacity.find(q.specialty); cap != a.monthly_capacity.end()) {
    if (auto count = q.month_counts.find(to.id);
        count != q.month_counts.end() && count->second >= cap->second) {
      add(ineligibility_code::capacity_reached,
          fmt::format("{} allows {} '{}' referral(s) a month to '{}'; {} counted this month",
                      name(), cap->second, q.specialty.value(), to.id.value(), count->second));
    }
  }
  return out;
}

std::optional<int> remaining(const agreement& a, const hospital_id& to,
                             const eligibility_query& q) {
  auto cap = a.monthly_capacity.find(q.specialty);
  if (cap == a.monthly_capacity.end()) return std::nullopt;
  auto count = q.month_counts.find(to);
  return count == q.month_counts.end() ? cap->second : cap->second - count->second;
}

}  // namespace

std::string_view to_string(ineligibility_code v) noexcept { return detail::name_of(code_names, v); }
std::optional<ineligibility_code> parse_ineligibility_code(std::string_view name) noexcept {
  return detail::value_of(code_names, name);
}

bool eligibility_result::is_eligible(const hospital_id& h) const noexcept {
  return find_eligible(h) != nullptr;
}

const eligible_destination* eligibility_result::find_eligible(const hospital_id& h) const noexcept {
  for (const auto& e : eligible) {
    if (e.hospital == h) return &e;
  }
  return nullptr;
}

std::vector<ineligibility_reason> eligibility_result::reasons_for(const hospital_id& h) const {
  std::vector<ineligibility_reason> out;
  if (is_eligible(h)) return out;
  for (const auto& i : ineligible) {
    if (i.hospital == h) out.insert(out.end(), i.reasons.begin(), i.reasons.end());
  }
  return out;
}

eligibility_result check_eligibility(const agreement_directory& dir, const eligibility_query& q) {
  validate("query.specialty", q.specialty);
  for (const auto& [h, count] : q.month_counts) {
    validate("query.month_counts", h);
    if (count < 0) {
      detail::fail(errc::invalid_argument, "query.month_counts." + h.value(),
                   fmt::format("{} is negative", count), "expected a count of 0 or more");
    }
  }
  const hospital& from = dir.hospital_at("query.from", q.from);

  eligibility_result result;
  result.query = q;
  // The origin's agreements come from the directory's index; each destination looks only at them.
  const std::vector<const agreement*> of_origin = dir.agreements_of(from.id);
  std::vector<const hospital*> destinations;
  switch (q.scope) {
    case eligibility_scope::directory:
      for (const hospital& h : dir.hospitals()) {
        if (h.id != from.id) destinations.push_back(&h);
      }
      break;
    case eligibility_scope::partners: {
      std::set<hospital_id> seen;
      for (const agreement* a : of_origin) {
        for (const auto& party : a->parties) {
          if (party != from.id && seen.insert(party).second) {
            destinations.push_back(dir.find_hospital(party));  // a loaded party is known
          }
        }
      }
      break;
    }
    case eligibility_scope::destination:
      if (!q.destination) {
        detail::fail(errc::invalid_argument, "query.destination",
                     "is missing but the scope is destination",
                     "name the destination, or use the scope directory or partners");
      }
      if (*q.destination == from.id) {
        detail::fail(errc::invalid_argument, "query.destination",
                     fmt::format("'{}' is the referring hospital itself", from.id.value()),
                     "name another hospital");
      }
      destinations.push_back(&dir.hospital_at("query.destination", *q.destination));
      break;
  }
  for (const hospital* dp : destinations) {
    const hospital& to = *dp;
    std::vector<ineligible_destination> misses;
    bool eligible = false;
    bool any_agreement = false;
    for (const agreement* ap : of_origin) {
      const agreement& a = *ap;
      if (!a.has_party(to.id)) continue;
      any_agreement = true;
      auto reasons = evaluate(dir, a, to, q);
      if (!to.offers(q.specialty)) {
        reasons.push_back(
            {ineligibility_code::specialty_not_offered, a.id,
             fmt::format("'{}' does not offer '{}' (it offers: {})", to.id.value(),
                         q.specialty.value(),
                         join(to.specialties, [](const specialty_code& s) { return s.value(); }))});
      }
      if (reasons.empty()) {
        eligible = true;
        result.eligible.push_back({to.id, a.id, remaining(a, to.id, q), a.response_deadline_days});
      } else {
        misses.push_back({to.id, a.id, std::move(reasons)});
      }
    }
    if (!any_agreement) {
      ineligible_destination miss{to.id, std::nullopt, {}};
      miss.reasons.push_back(
          {ineligibility_code::no_agreement, std::nullopt,
           fmt::format("no agreement between '{}' and '{}'", from.id.value(), to.id.value())});
      if (!to.offers(q.specialty)) {
        miss.reasons.push_back(
            {ineligibility_code::specialty_not_offered, std::nullopt,
             fmt::format("'{}' does not offer '{}'", to.id.value(), q.specialty.value())});
      }
      misses.push_back(std::move(miss));
    }
    if (!eligible) {
      for (auto& m : misses) result.ineligible.push_back(std::move(m));
    }
  }

  const auto rank = [](const eligible_destination& e) {
    constexpr int unlimited = std::numeric_limits<int>::max();
    return std::make_tuple(-(e.remaining_capacity ? *e.remaining_capacity : unlimited),
                           e.response_deadline_days ? *e.response_deadline_days : unlimited,
                           e.hospital.value(), e.agreement.value());
  };
  std::sort(result.eligible.begin(), result.eligible.end(),
            [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  std::sort(result.ineligible.begin(), result.ineligible.end(), [](const auto& a, const auto& b) {
    const std::string none;
    return std::tie(a.hospital.value(), a.agreement ? a.agreement->value() : none) <
           std::tie(b.hospital.value(), b.agreement ? b.agreement->value() : none);
  });
  return result;
}

std::string to_json(const eligibility_result& r, int indent) {
  using nlohmann::json;
  const auto opt_id = [](const std::optional<agreement_id>& a) -> json {
    return a ? json(a->value()) : json(nullptr);
  };
  const auto opt_int = [](const std::optional<int>& v) -> json {
    return v ? json(*v) : json(nullptr);
  };
  json out = json::object();
  out["from"] = r.query.from.value();
  out["specialty"] = r.query.specialty.value();
  out["at"] = to_iso8601(r.query.at);
  out["eligible"] = json::array();
  for (const auto& e : r.eligible) {
    out["eligible"].push_back({{"hospital", e.hospital.value()},
                               {"agreement", e.agreement.value()},
                               {"remaining_capacity", opt_int(e.remaining_capacity)},
                               {"response_deadline_days", opt_int(e.response_deadline_days)}});
  }
  out["ineligible"] = json::array();
  for (const auto& i : r.ineligible) {
    json reasons = json::array();
    for (const auto& reason : i.reasons) {
      reasons.push_back({{"code", std::string(to_string(reason.code))},
                         {"agreement", opt_id(reason.agreement)},
                         {"message", reason.message}});
    }
    out["ineligible"].push_back({{"hospital", i.hospital.value()},
                                 {"agreement", opt_id(i.agreement)},
                                 {"reasons", reasons}});
  }
  return out.dump(indent);
}

}  // namespace kakehashi
