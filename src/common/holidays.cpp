// Working-day calendars (kakehashi/holidays.hpp): the strict loader of data/calendars/*.json and
// the counting of periods over weekly rest days and days off.
#include "kakehashi/holidays.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "common/fail.hpp"
#include "common/json_reader.hpp"

namespace kakehashi {
namespace {

using detail::json;
using detail::object_reader;
using detail::path_index;

constexpr std::string_view format_tag = "kakehashi.calendar/1";

// {file name without .json, file text}: data/calendars/*.json, written in by CMake.
constexpr std::pair<const char*, const char*> shipped[] = {
#include "calendars.inc"
};

constexpr std::array<std::string_view, 7> weekday_names{
    "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};

// Long enough for any period the law sets in days or working days, short enough that a wrong
// count cannot loop for long.
constexpr int max_period = 366;

std::string day_text(date::year_month_day d) { return date::format("%F", date::sys_days{d}); }

// The statuses' names, in day_off_status order.
constexpr std::array<std::string_view, 3> status_name{"statutory", "announced", "provisional"};

std::string status_names() { return fmt::format("{}", fmt::join(status_name, ", ")); }

std::optional<day_off_status> parse_status(std::string_view s) {
  const auto it = std::find(status_name.begin(), status_name.end(), s);
  if (it == status_name.end()) return std::nullopt;
  return static_cast<day_off_status>(it - status_name.begin());
}

}  // namespace

std::string_view to_string(day_off_status v) noexcept {
  return status_name[static_cast<std::size_t>(v)];
}

working_calendar working_calendar::load(std::string_view json_text, std::string_view source_name) {
  std::vector<load_problem> problems;
  working_calendar c;
  const auto doc = detail::parse_strict(json_text, problems);
  if (doc) {
    object_reader root(*doc, "", problems,
                       {"format", "country", "time_zone", "years", "weekly_rest_days", "days_off"},
                       {"weekly_rest_basis", "sources", "notes", "working_days"});
    if (root.ok()) {
      if (auto f = root.string("format"); f && *f != format_tag) {
        root.report("format", fmt::format("'{}' is not a format this version reads; expected '{}'",
                                          detail::printable(*f), format_tag));
      }
      if (auto v = root.string("country")) {
        if (v->size() != 2 ||
            !std::all_of(v->begin(), v->end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
          root.report("country", fmt::format("'{}' is not an ISO 3166-1 alpha-2 code; expected "
                                             "two capital letters, e.g. 'VN' or 'JP'",
                                             detail::printable(*v)));
        } else {
          c.country_ = *v;
        }
      }
      if (auto v = root.string("time_zone")) {
        try {
          c.zone_ = date::locate_zone(*v);
          c.time_zone_ = *v;
        } catch (const std::exception&) {
          root.report("time_zone", fmt::format("'{}' is not an IANA time zone; expected one such "
                                               "as 'Asia/Ho_Chi_Minh' or 'Asia/Tokyo'",
                                               detail::printable(*v)));
        }
      }
      root.string("weekly_rest_basis", true);
      root.strings("sources");
      root.string("notes", true);
      bool years_ok = false;
      if (const json* y = root.array("years")) {
        if (y->size() != 2 || !(*y)[0].is_number_integer() || !(*y)[1].is_number_integer() ||
            (*y)[0].get<std::int64_t>() < 2000 || (*y)[1].get<std::int64_t>() > 2100 ||
            (*y)[0].get<std::int64_t>() > (*y)[1].get<std::int64_t>()) {
          root.report("years", fmt::format("{} is not a range of years; expected [first, last], "
                                           "2000 <= first <= last <= 2100, e.g. [2025, 2027]",
                                           detail::printable(y->dump(), 60)));
        } else {
          c.first_ = date::year{static_cast<int>((*y)[0].get<std::int64_t>())};
          c.last_ = date::year{static_cast<int>((*y)[1].get<std::int64_t>())};
          years_ok = true;
        }
      }
      if (auto names = root.strings("weekly_rest_days")) {
        for (std::size_t i = 0; i < names->size(); ++i) {
          const auto it = std::find(weekday_names.begin(), weekday_names.end(), (*names)[i]);
          const std::string p = path_index("weekly_rest_days", i);
          if (it == weekday_names.end()) {
            problems.push_back({p, fmt::format("'{}' is not a day of the week; expected one of "
                                               "monday, ..., sunday (lower case)",
                                               detail::printable((*names)[i]))});
            continue;
          }
          const unsigned bit = 1u << (it - weekday_names.begin());
          if (c.rest_days_ & bit) {
            problems.push_back({p, fmt::format("'{}' is listed twice", *it)});
          }
          c.rest_days_ |= bit;
        }
        if (c.rest_days_ == 0x7f) {
          root.report("weekly_rest_days",
                      "every day of the week is a rest day; expected some "
                      "working days");
        }
      }
      // A date of an entry: well formed and in the covered years.
      const auto entry_date = [&](object_reader& e) -> std::optional<date::year_month_day> {
        auto d = e.date("date");
        if (!d || !years_ok) return std::nullopt;
        if (d->year() < c.first_ || d->year() > c.last_) {
          e.report(
              e.path("date"),
              fmt::format("{} is outside the calendar's years; expected a date from {}-01-01 "
                          "to {}-12-31",
                          day_text(*d), static_cast<int>(c.first_), static_cast<int>(c.last_)));
          return std::nullopt;
        }
        return d;
      };
      std::map<date::sys_days, std::string> seen;  // date -> the path that listed it
      const auto once = [&](object_reader& e, date::year_month_day d) {
        const auto [it, fresh] = seen.emplace(date::sys_days{d}, e.path());
        if (!fresh) {
          e.report(e.path("date"), fmt::format("{} is already listed at {}; expected each day once",
                                               day_text(d), it->second));
        }
        return fresh;
      };
      if (const json* days = root.array("days_off")) {
        for (std::size_t i = 0; i < days->size(); ++i) {
          object_reader e((*days)[i], path_index("days_off", i), problems,
                          {"date", "name", "local_name", "basis", "status"});
          if (!e.ok()) continue;
          const auto d = entry_date(e);
          auto name = e.string("name");
          auto local = e.string("local_name");
          auto basis = e.string("basis");
          std::optional<day_off_status> status;
          if (auto s = e.string("status")) {
            status = parse_status(*s);
            if (!status) {
              e.report(e.path("status"), fmt::format("'{}' is not a status; expected one of {}",
                                                     detail::printable(*s), status_names()));
            }
          }
          if (d && once(e, *d) && name && local && basis && status) {
            c.days_off_.push_back(
                {*d, std::move(*name), std::move(*local), std::move(*basis), *status});
          }
        }
      }
      if (const json* days = root.member("working_days"); days && root.array("working_days")) {
        for (std::size_t i = 0; i < days->size(); ++i) {
          object_reader e((*days)[i], path_index("working_days", i), problems, {"date", "basis"},
                          {"name", "local_name", "status"});
          if (!e.ok()) continue;
          const auto d = entry_date(e);
          e.string("name");
          e.string("local_name");
          if (auto s = e.string("status"); s && !parse_status(*s)) {
            e.report(e.path("status"), fmt::format("'{}' is not a status; expected one of {}",
                                                   detail::printable(*s), status_names()));
          }
          auto basis = e.string("basis");
          if (!d) continue;
          const unsigned w = date::weekday{*d}.c_encoding();
          if (!(c.rest_days_ & (1u << w))) {
            e.report(e.path("date"),
                     fmt::format("{} is a {}, not a weekly rest day; list only the rest days that "
                                 "are working days",
                                 day_text(*d), weekday_names[w]));
            continue;
          }
          if (once(e, *d) && basis) c.working_days_.push_back({*d, std::move(*basis)});
        }
      }
    }
  }
  if (!problems.empty()) {
    throw error(errc::invalid_argument, detail::join_problems(source_name, problems));
  }
  const auto by_date = [](const auto& a, const auto& b) {
    return date::sys_days{a.date} < date::sys_days{b.date};
  };
  std::sort(c.days_off_.begin(), c.days_off_.end(), by_date);
  std::sort(c.working_days_.begin(), c.working_days_.end(), by_date);
  return c;
}

namespace {
// The shipped calendars by country, loaded once.
const std::map<std::string, working_calendar, std::less<>>& shipped_calendars() {
  static const std::map<std::string, working_calendar, std::less<>> all = [] {
    std::map<std::string, working_calendar, std::less<>> out;
    for (const auto& [name, text] : shipped) {
      auto c = working_calendar::load(text, std::string("data/calendars/") + name + ".json");
      out.emplace(c.country(), std::move(c));
    }
    return out;
  }();
  return all;
}
}  // namespace

const working_calendar& working_calendar::builtin(std::string_view country) {
  const auto& all = shipped_calendars();
  const auto it = all.find(country);
  if (it == all.end()) {
    std::string known;
    for (const auto& [name, c] : all) known += (known.empty() ? "" : ", ") + name;
    detail::fail(
        errc::not_found, "calendar",
        fmt::format("no working-day calendar for country '{}'", detail::printable(country, 40)),
        fmt::format("expected one of {}", known));
  }
  return it->second;
}

std::vector<std::string> working_calendar::builtin_countries() {
  std::vector<std::string> out;
  for (const auto& [name, c] : shipped_calendars()) out.push_back(name);
  return out;
}

bool working_calendar::covers(date::year_month_day day) const noexcept {
  return day.ok() && day.year() >= first_ && day.year() <= last_;
}

const day_off* working_calendar::day_off_on(date::year_month_day day) const noexcept {
  const date::sys_days d{day};
  const auto it = std::lower_bound(
      days_off_.begin(), days_off_.end(), d,
      [](const day_off& o, date::sys_days x) { return date::sys_days{o.date} < x; });
  return it != days_off_.end() && date::sys_days{it->date} == d ? &*it : nullptr;
}

void working_calendar::require_covered(date::year_month_day day, std::string_view what) const {
  if (covers(day)) return;
  detail::fail(errc::failed_precondition, fmt::format("calendar {}", country_),
               fmt::format("{} {} is outside the years it covers, {} to {}", what, day_text(day),
                           static_cast<int>(first_), static_cast<int>(last_)),
               "add the year's days off to data/calendars/" + country_ +
                   ".json (docs/duties.md) or use a date in the covered years");
}

bool working_calendar::is_working_day(date::year_month_day day) const {
  require_covered(day, "the day");
  const date::sys_days d{day};
  if (day_off_on(day)) return false;
  if (!(rest_days_ & (1u << date::weekday{d}.c_encoding()))) return true;
  return std::any_of(working_days_.begin(), working_days_.end(),
                     [&](const working_weekend_day& w) { return date::sys_days{w.date} == d; });
}

date::year_month_day working_calendar::add_working_days(date::year_month_day start, int n) const {
  if (n < 1 || n > max_period) {
    detail::fail(errc::invalid_argument, "working days",
                 fmt::format("{} is not a number of working days", n),
                 fmt::format("expected 1 to {}", max_period));
  }
  require_covered(start, "the start");
  date::sys_days d{start};
  for (int counted = 0; counted < n;) {
    d += date::days{1};
    if (is_working_day(date::year_month_day{d})) ++counted;
  }
  return date::year_month_day{d};
}

date::year_month_day working_calendar::period_end(date::year_month_day start, int days) const {
  if (days < 1 || days > max_period) {
    detail::fail(errc::invalid_argument, "period", fmt::format("{} is not a number of days", days),
                 fmt::format("expected 1 to {}", max_period));
  }
  require_covered(start, "the start");
  date::sys_days d = date::sys_days{start} + date::days{days};
  while (!is_working_day(date::year_month_day{d})) d += date::days{1};
  return date::year_month_day{d};
}

bool working_calendar::provisional_between(date::year_month_day start,
                                           date::year_month_day end) const noexcept {
  const date::sys_days a{start}, b{end};
  return std::any_of(days_off_.begin(), days_off_.end(), [&](const day_off& o) {
    const date::sys_days d{o.date};
    return o.status == day_off_status::provisional && d > a && d <= b;
  });
}

date::year_month_day working_calendar::local_date(instant at) const {
  const auto local = zone_->to_local(at);
  return date::year_month_day{date::floor<date::days>(local)};
}

instant working_calendar::end_of(date::year_month_day day) const {
  return date::floor<std::chrono::seconds>(
      zone_->to_sys(date::local_days{day} + date::days{1}, date::choose::earliest));
}

}  // namespace kakehashi
