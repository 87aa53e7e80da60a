#include "kakehashi/time.hpp"

#include <sstream>

#include "fail.hpp"

namespace kakehashi {

instant parse_instant(std::string_view text, std::string_view field) {
  const auto bad = [&](std::string_view why) {
    detail::fail(errc::invalid_argument, field,
                 fmt::format("'{}' is not a valid instant: {}", detail::printable(text), why),
                 "expected RFC 3339 with an offset, e.g. '2026-03-01T00:00:00Z' or "
                 "'2026-03-01T07:00:00+07:00'");
  };
  // A fixed shape first: date::parse is lenient about field widths ("2026-3-1").
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    bad("not of the form YYYY-MM-DDThh:mm:ss followed by Z or +hh:mm");
  }
  // Check the calendar date on its own, so an impossible date is named as such.
  {
    std::istringstream in{std::string(text.substr(0, 10))};
    date::year_month_day ymd{};
    in >> date::parse("%F", ymd);
    if (in.fail() || !ymd.ok()) bad("the date does not exist");
  }
  std::string s(text);
  s[10] = 'T';
  const bool zulu = s.size() == 20 && (s[19] == 'Z' || s[19] == 'z');
  std::istringstream in{zulu ? s.substr(0, 19) : s};
  instant at{};
  if (zulu) {
    in >> date::parse("%FT%T", at);
  } else {
    if (s.size() != 25 || (s[19] != '+' && s[19] != '-') || s[22] != ':') {
      bad("the offset must be Z or +hh:mm / -hh:mm");
    }
    in >> date::parse("%FT%T%Ez", at);
  }
  if (in.fail()) bad("a field is out of range");
  if (in.peek() != std::char_traits<char>::eof()) bad("unexpected characters after the instant");
  return at;
}

std::string to_iso8601(instant at) { return date::format("%FT%TZ", at); }

}  // namespace kakehashi
