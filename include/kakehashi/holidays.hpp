#pragma once
// Working days, as each country's law and government count them, for the deadlines the law
// sets in working days or in days (a withdrawal's acknowledgement within 2 working days, its
// completion within 20 days: Decree 356/2025 Art. 5(2) as consent_rules.md cites it).
//
// A calendar is data: data/calendars/<country>.json (format "kakehashi.calendar/1", documented
// in docs/duties.md) lists the country's days off for the years it covers (public holidays,
// the days government offices close, days exchanged for a working Saturday) and the weekend days
// that are working days, each with the law or announcement behind it. Vietnam's and Japan's for
// 2025 to 2027 are compiled into the library (working_calendar::builtin). Nothing is guessed: a
// date outside the years a calendar covers is refused, and a day the law counts but no
// announcement has fixed yet (Vietnam's Lunar New Year of 2027) is marked provisional, so that a
// deadline that depends on one can say so.
//
// Periods are counted as both countries' Civil Codes count them (Vietnam's Civil Code 2015
// Art. 147 and 148(5); Japan's Civil Code Art. 140 and 142): the day of the event is not counted,
// and a period whose last day is a day off ends at the end of the next working day.
//
// Thread safety: a calendar is an immutable value once loaded.

#include <date/date.h>

#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/time.hpp"

namespace date {
class time_zone;  // date/tz.h, which the library links privately
}  // namespace date

namespace kakehashi {

/// How sure a day off is.
enum class day_off_status {
  statutory,    ///< the law alone fixes it (a fixed date, a lunar date, a substitute day)
  announced,    ///< the government's announcement for that year fixed it
  provisional,  ///< the law's count, on days no announcement has fixed yet
};
std::string_view to_string(day_off_status v) noexcept;

/// A day off: a public holiday, a substitute day, a closure of government offices, or a day
/// exchanged for a working Saturday.
struct day_off {
  date::year_month_day date;
  std::string name;        ///< in English
  std::string local_name;  ///< in the country's language
  std::string basis;       ///< the law or announcement behind it
  day_off_status status = day_off_status::statutory;
};

/// A weekend day that is a working day (the Saturday a day off was exchanged for).
struct working_weekend_day {
  date::year_month_day date;
  std::string basis;
};

/// One country's working days for a range of years.
class working_calendar {
 public:
  /// Reads a calendar ("kakehashi.calendar/1"). Throws kakehashi::error{errc::invalid_argument}
  /// listing every problem with its path (an unknown key, a date outside `years`, a day listed
  /// twice, a working day that is no weekend day, an unknown time zone...).
  static working_calendar load(std::string_view json_text,
                               std::string_view source_name = "calendar");
  /// The calendar compiled into the library for a country ("VN", "JP"). Throws
  /// {errc::not_found} naming the countries there are.
  static const working_calendar& builtin(std::string_view country);
  /// The countries builtin() knows, in order.
  static std::vector<std::string> builtin_countries();

  const std::string& country() const noexcept { return country_; }
  const std::string& time_zone() const noexcept { return time_zone_; }
  date::year first_year() const noexcept { return first_; }
  date::year last_year() const noexcept { return last_; }
  bool covers(date::year_month_day day) const noexcept;
  /// Every day off, in date order.
  const std::vector<day_off>& days_off() const noexcept { return days_off_; }
  const std::vector<working_weekend_day>& working_weekend_days() const noexcept {
    return working_days_;
  }

  /// The day off on `day`, or nullptr (weekly rest days are not listed: see is_working_day).
  const day_off* day_off_on(date::year_month_day day) const noexcept;
  /// False on a weekly rest day (unless it is listed as a working day) and on a day off.
  /// Throws {errc::failed_precondition} for a day outside the years the calendar covers.
  bool is_working_day(date::year_month_day day) const;
  /// The `n`th working day after `start` (which is not counted), n >= 1: "within 2 working days"
  /// of an event on `start` ends at the end of add_working_days(start, 2). Throws
  /// {errc::invalid_argument} for n < 1 and {errc::failed_precondition} when the count leaves
  /// the covered years.
  date::year_month_day add_working_days(date::year_month_day start, int n) const;
  /// The last day of a period of `days` days counted from the day after `start`, moved to the
  /// next working day when it is not one. Throws as add_working_days.
  date::year_month_day period_end(date::year_month_day start, int days) const;
  /// True when a provisional day off lies after `start` and up to `end`: a deadline counted over
  /// them may move when the day is announced.
  bool provisional_between(date::year_month_day start, date::year_month_day end) const noexcept;

  /// The date `at` falls on in the calendar's time zone.
  date::year_month_day local_date(instant at) const;
  /// The instant `day` ends in the calendar's time zone (the next day's local midnight).
  instant end_of(date::year_month_day day) const;

 private:
  working_calendar() = default;
  void require_covered(date::year_month_day day, std::string_view what) const;

  std::string country_;
  std::string time_zone_;
  const date::time_zone* zone_ = nullptr;  ///< time_zone_, located once by load()
  date::year first_{2000};
  date::year last_{2000};
  unsigned rest_days_ = 0;  ///< bit w set: weekday w (0 = Sunday) is a weekly rest day
  std::vector<day_off> days_off_;
  std::vector<working_weekend_day> working_days_;
};

}  // namespace kakehashi
