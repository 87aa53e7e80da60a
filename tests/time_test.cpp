#include <catch2/catch.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/time.hpp>
#include <string>

using namespace kakehashi;
using Catch::Matchers::Contains;

namespace {
instant utc(int y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  return instant{date::sys_days{date::year{y} / date::month{m} / date::day{d}}} +
         std::chrono::hours{h} + std::chrono::minutes{min} + std::chrono::seconds{s};
}
}  // namespace

TEST_CASE("instants parse in UTC and with offsets", "[time]") {
  CHECK(parse_instant("2026-03-01T00:00:00Z") == utc(2026, 3, 1));
  CHECK(parse_instant("2026-03-01t00:00:00z") == utc(2026, 3, 1));
  // Hanoi (UTC+7) and Tokyo (UTC+9) local midnight of 14 November 2025.
  CHECK(parse_instant("2025-11-14T00:00:00+07:00") == utc(2025, 11, 13, 17));
  CHECK(parse_instant("2025-11-14T00:00:00+09:00") == utc(2025, 11, 13, 15));
  CHECK(parse_instant("2025-11-13T20:30:15-03:30") == utc(2025, 11, 14, 0, 0, 15));
  CHECK(parse_instant("2024-02-29T12:00:00Z") == utc(2024, 2, 29, 12));  // a leap day
}

TEST_CASE("instants format as ISO 8601 UTC and round-trip", "[time]") {
  const instant at = utc(2025, 11, 14, 8, 30, 5);
  CHECK(to_iso8601(at) == "2025-11-14T08:30:05Z");
  CHECK(parse_instant(to_iso8601(at)) == at);
}

TEST_CASE("malformed and impossible instants are refused with the field and value",
          "[time][error]") {
  auto [text, why] = GENERATE(table<std::string, std::string>({
      {"", "not of the form"},
      {"2026-03-01", "not of the form"},
      {"2026-3-1T00:00:00Z", "not of the form"},
      {"2026-03-01 00:00:00Z", "not of the form"},
      {"2025-02-29T00:00:00Z", "the date does not exist"},
      {"2025-02-30T00:00:00Z", "the date does not exist"},
      {"2026-13-01T00:00:00Z", "the date does not exist"},
      {"2026-03-01T24:00:00Z", "a field is out of range"},
      {"2026-03-01T23:60:00Z", "a field is out of range"},
      {"2026-03-01T00:00:00", "not of the form"},
      {"2026-03-01T00:00:00+0700", "the offset must be"},
      {"2026-03-01T00:00:00Zjunk", "the offset must be"},
      {"2026-03-01T00:00:00.5Z", "the offset must be"},
      {"2026-03-01T00:00:00+07:00x", "the offset must be"},
  }));
  CAPTURE(text);
  try {
    parse_instant(text, "event.at");
    FAIL("not refused");
  } catch (const error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK_THAT(e.what(), Contains("[kakehashi.invalid_argument] event.at: '"));
    CHECK_THAT(e.what(), Contains(why));
    CHECK_THAT(e.what(), Contains("expected RFC 3339 with an offset"));
  }
}
