#include "kakehashi/time.hpp"

#include "common/calendar.hpp"
#include "common/fail.hpp"

namespace kakehashi {

instant parse_instant(std::string_view text, std::string_view field) {
  const auto bad = [&](std::string_view why) {
    detail::fail(errc::invalid_argument, field,
                 fmt::format("'{}' is not a valid instant: {}", detail::printable(text), why),
                 "expected RFC 3339 with an offset, e.g. '2026-03-01T00:00:00Z' or "
                 "'2026-03-01T07:00:00+07:00'");
  };
  using detail::digits;
  // YYYY-MM-DDThh:mm:ss then Z or +hh:mm / -hh:mm, nothing else.
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':' ||
      digits(text, 11, 2) < 0 || digits(text, 14, 2) < 0 || digits(text, 17, 2) < 0) {
    bad("not of the form YYYY-MM-DDThh:mm:ss followed by Z or +hh:mm");
  }
  const auto day = detail::parse_calendar_date(text.substr(0, 10));
  if (!day) bad("the date does not exist");
  const int hh = digits(text, 11, 2), mm = digits(text, 14, 2), ss = digits(text, 17, 2);
  if (hh > 23 || mm > 59 || ss > 59) bad("a field is out of range");
  std::chrono::minutes offset{0};
  const std::string_view zone = text.substr(19);
  if (zone != "Z" && zone != "z") {
    const int oh = digits(zone, 1, 2), om = digits(zone, 4, 2);
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || oh < 0 ||
        om < 0) {
      bad("the offset must be Z or +hh:mm / -hh:mm");
    }
    if (oh > 23 || om > 59) bad("a field is out of range");
    offset = std::chrono::hours{oh} + std::chrono::minutes{om};
    if (zone[0] == '-') offset = -offset;
  }
  // Local time minus its offset is UTC.
  return instant{date::sys_days{*day}} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
         std::chrono::seconds{ss} - offset;
}

std::string to_iso8601(instant at) {
  // Hot in the audit path: fixed-width fields, no stream.
  const auto day = date::floor<date::days>(at);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<std::chrono::seconds> tod{at - day};
  const int year = static_cast<int>(ymd.year());
  if (year >= 0 && year <= 9999) {  // every instant the library meets: digits written directly
    char out[] = "0000-00-00T00:00:00Z";
    const auto put = [&out](int pos, int width, long long v) {
      for (int k = width - 1; k >= 0; --k, v /= 10) out[pos + k] = static_cast<char>('0' + v % 10);
    };
    put(0, 4, year);
    put(5, 2, static_cast<unsigned>(ymd.month()));
    put(8, 2, static_cast<unsigned>(ymd.day()));
    put(11, 2, tod.hours().count());
    put(14, 2, tod.minutes().count());
    put(17, 2, tod.seconds().count());
    return std::string(out, sizeof out - 1);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count());
}

}  // namespace kakehashi
