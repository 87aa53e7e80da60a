#pragma once
// Private: strict fixed-width parsing of calendar dates and times of day. The formats kakehashi
// reads (YYYY-MM-DD, hh:mm:ss, +hh:mm) have exact shapes, so digits are read by position and the
// calendar is checked with date::year_month_day::ok(); no locale, no leniency about widths.

#include <date/date.h>

#include <optional>
#include <string_view>

namespace kakehashi::detail {

/// The value of `n` decimal digits at `text[pos]`, or -1 if any is not a digit.
constexpr int digits(std::string_view text, std::size_t pos, std::size_t n) noexcept {
  if (pos + n > text.size()) return -1;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

/// "YYYY-MM-DD" exactly, naming a date that exists; nullopt otherwise.
inline std::optional<date::year_month_day> parse_calendar_date(std::string_view text) noexcept {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const int y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
  if (y < 0 || m < 0 || d < 0) return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

}  // namespace kakehashi::detail
