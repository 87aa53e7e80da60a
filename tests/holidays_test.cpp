// Working-day calendars: the shipped data of Vietnam and Japan, the counting of periods as the
// Civil Codes count them, and the strict loader.
#include "kakehashi/holidays.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "kakehashi/error.hpp"

using namespace kakehashi;
using date::days;
using date::year_month_day;

namespace {

year_month_day ymd(int y, unsigned m, unsigned d) {
  return year_month_day{date::year{y}, date::month{m}, date::day{d}};
}

std::string iso(year_month_day d) { return date::format("%F", d); }

errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("no error was thrown");
  return errc::invalid_argument;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const error& e) {
    return e.what();
  }
  FAIL("no error was thrown");
  return {};
}

// A small valid calendar, edited by the loader tests.
const std::string minimal = R"json({
  "format": "kakehashi.calendar/1", "country": "VN", "time_zone": "Asia/Ho_Chi_Minh",
  "years": [2026, 2026], "weekly_rest_days": ["saturday", "sunday"],
  "days_off": [{"date": "2026-04-30", "name": "Victory Day", "local_name": "Ngày Chiến thắng",
                "basis": "Labour Code 2019 Art. 112(1)(c)", "status": "statutory"}],
  "working_days": [{"date": "2026-04-25", "basis": "an exchanged Saturday"}]
})json";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the shipped calendars cover Vietnam and Japan for 2025 to 2027", "[holidays]") {
  CHECK(working_calendar::builtin_countries() == std::vector<std::string>{"JP", "VN"});
  for (const auto& country : working_calendar::builtin_countries()) {
    const auto& c = working_calendar::builtin(country);
    CHECK(c.first_year() == date::year{2025});
    CHECK(c.last_year() == date::year{2027});
    for (const auto& d : c.days_off()) {
      INFO(country << " " << iso(d.date) << " " << d.name);
      CHECK_FALSE(d.basis.empty());
      CHECK_FALSE(d.local_name.empty());
    }
  }
  CHECK(working_calendar::builtin("VN").time_zone() == "Asia/Ho_Chi_Minh");
  CHECK(working_calendar::builtin("JP").time_zone() == "Asia/Tokyo");
  CHECK(code_of([] { (void)working_calendar::builtin("TH"); }) == errc::not_found);
  CHECK_THAT(message_of([] { (void)working_calendar::builtin("TH"); }),
             Catch::Contains("expected one of JP, VN"));
}

TEST_CASE("Vietnam's days off: Tet, the Hung Kings, 30 April, 1 May, National Day", "[holidays]") {
  const auto& vn = working_calendar::builtin("VN");
  // Tet 2026: 14 to 22 February off (the Lunar New Year is 17 February).
  for (unsigned d = 14; d <= 22; ++d) {
    INFO("2026-02-" << d);
    CHECK_FALSE(vn.is_working_day(ymd(2026, 2, d)));
  }
  CHECK(vn.is_working_day(ymd(2026, 2, 13)));
  CHECK(vn.is_working_day(ymd(2026, 2, 23)));
  REQUIRE(vn.day_off_on(ymd(2026, 2, 17)) != nullptr);
  CHECK(vn.day_off_on(ymd(2026, 2, 17))->local_name == "Tết Nguyên đán");
  CHECK(vn.day_off_on(ymd(2026, 2, 14)) == nullptr);  // a Saturday: a weekly rest day, not listed
  // The Hung Kings' day 2026 is Sunday 26 April: Monday 27 April is given instead
  // (Labour Code Art. 111(3)).
  CHECK_FALSE(vn.is_working_day(ymd(2026, 4, 27)));
  CHECK_FALSE(vn.is_working_day(ymd(2026, 4, 30)));
  CHECK_FALSE(vn.is_working_day(ymd(2026, 5, 1)));
  CHECK_FALSE(vn.is_working_day(ymd(2026, 9, 2)));
  // 2025: Saturday 8 February was worked for Monday 27 January.
  CHECK(vn.is_working_day(ymd(2025, 2, 8)));
  CHECK_FALSE(vn.is_working_day(ymd(2025, 1, 27)));
  CHECK_FALSE(vn.is_working_day(ymd(2025, 2, 9)));  // the Sunday after stays a rest day
  // Japan's holidays are not Vietnam's.
  CHECK(vn.is_working_day(ymd(2026, 5, 4)));
}

TEST_CASE("Japan's days off: Golden Week, substitute and citizens' holidays, year end",
          "[holidays]") {
  const auto& jp = working_calendar::builtin("JP");
  // Golden Week 2026: 29 April, 3 May (a Sunday) to 6 May (its substitute).
  CHECK_FALSE(jp.is_working_day(ymd(2026, 4, 29)));
  CHECK(jp.is_working_day(ymd(2026, 4, 30)));
  CHECK(jp.is_working_day(ymd(2026, 5, 1)));
  for (unsigned d = 2; d <= 6; ++d) {
    INFO("2026-05-0" << d);
    CHECK_FALSE(jp.is_working_day(ymd(2026, 5, d)));
  }
  CHECK(jp.is_working_day(ymd(2026, 5, 7)));
  REQUIRE(jp.day_off_on(ymd(2026, 5, 6)) != nullptr);
  CHECK(jp.day_off_on(ymd(2026, 5, 6))->local_name == "振替休日");
  // September 2026: 21 (Respect for the Aged), 22 (between two holidays), 23 (equinox).
  CHECK(jp.day_off_on(ymd(2026, 9, 22))->local_name == "国民の休日");
  CHECK_FALSE(jp.is_working_day(ymd(2026, 9, 21)));
  CHECK_FALSE(jp.is_working_day(ymd(2026, 9, 23)));
  // The equinox of 2027 is Sunday 21 March: Monday 22 March is its substitute.
  CHECK_FALSE(jp.is_working_day(ymd(2027, 3, 22)));
  // Government offices close from 29 December to 3 January.
  CHECK_FALSE(jp.is_working_day(ymd(2026, 12, 29)));
  CHECK_FALSE(jp.is_working_day(ymd(2027, 1, 4 - 1)));
  CHECK(jp.is_working_day(ymd(2027, 1, 4)));
}

TEST_CASE("VN-15's deadlines: 2 working days to acknowledge, 20 days to complete",
          "[holidays][VN-15]") {
  const auto& vn = working_calendar::builtin("VN");
  // The reference's example: a withdrawal on day 3 is completed by day 3 + 20.
  CHECK(vn.period_end(ymd(2026, 3, 4), 20) == ymd(2026, 3, 24));
  // Received on Friday 13 February 2026, the eve of Tet: the two working days are 23 and 24
  // February, after the nine days off.
  CHECK(vn.add_working_days(ymd(2026, 2, 13), 1) == ymd(2026, 2, 23));
  CHECK(vn.add_working_days(ymd(2026, 2, 13), 2) == ymd(2026, 2, 24));
  // Received on a working Thursday: Friday and Monday.
  CHECK(vn.add_working_days(ymd(2026, 3, 5), 2) == ymd(2026, 3, 9));
  // A period whose last day is a day off ends on the next working day (Civil Code Art. 148(5)):
  // 20 days from 10 April 2026 end on 30 April, Victory Day, then 1 May, then the weekend:
  // Monday 4 May.
  CHECK(vn.period_end(ymd(2026, 4, 10), 20) == ymd(2026, 5, 4));
  // The day after: a period ending on a working day is not moved.
  CHECK(vn.period_end(ymd(2026, 4, 13), 20) == ymd(2026, 5, 4));
  CHECK(vn.period_end(ymd(2026, 4, 14), 20) == ymd(2026, 5, 4));
  CHECK(vn.period_end(ymd(2026, 4, 15), 20) == ymd(2026, 5, 5));
}

TEST_CASE("a deadline ends at the end of its local day", "[holidays]") {
  const auto& vn = working_calendar::builtin("VN");
  const auto& jp = working_calendar::builtin("JP");
  // 20:00 UTC on 5 March is 6 March in Hanoi and in Kamakura.
  const instant at = parse_instant("2026-03-05T20:00:00Z");
  CHECK(vn.local_date(at) == ymd(2026, 3, 6));
  CHECK(jp.local_date(at) == ymd(2026, 3, 6));
  CHECK(vn.end_of(ymd(2026, 3, 9)) == parse_instant("2026-03-10T00:00:00+07:00"));
  CHECK(jp.end_of(ymd(2026, 3, 9)) == parse_instant("2026-03-10T00:00:00+09:00"));
}

TEST_CASE("provisional days are told apart", "[holidays]") {
  const auto& vn = working_calendar::builtin("VN");
  // Tet 2027 is not announced yet: a count across it says so; one across 2026's does not.
  CHECK(vn.day_off_on(ymd(2027, 2, 8))->status == day_off_status::provisional);
  CHECK(vn.provisional_between(ymd(2027, 2, 1), vn.period_end(ymd(2027, 2, 1), 20)));
  CHECK_FALSE(vn.provisional_between(ymd(2026, 2, 1), vn.period_end(ymd(2026, 2, 1), 20)));
  CHECK(to_string(day_off_status::announced) == "announced");
}

TEST_CASE("a date outside the calendar's years is refused, never guessed", "[holidays]") {
  const auto& vn = working_calendar::builtin("VN");
  CHECK(code_of([&] { (void)vn.is_working_day(ymd(2028, 1, 3)); }) == errc::failed_precondition);
  CHECK_THAT(message_of([&] { (void)vn.is_working_day(ymd(2024, 12, 31)); }),
             Catch::Contains("2024-12-31 is outside the years it covers, 2025 to 2027"));
  // A count that runs past the last covered day is refused too.
  CHECK(code_of([&] { (void)vn.period_end(ymd(2027, 12, 20), 20); }) == errc::failed_precondition);
  CHECK(code_of([&] { (void)vn.add_working_days(ymd(2026, 1, 5), 0); }) == errc::invalid_argument);
  CHECK(code_of([&] { (void)vn.period_end(ymd(2026, 1, 5), -3); }) == errc::invalid_argument);
}

TEST_CASE("the calendar loader reads a calendar and names every problem", "[holidays]") {
  const auto c = working_calendar::load(minimal);
  CHECK(c.country() == "VN");
  CHECK(c.is_working_day(ymd(2026, 4, 25)));  // the exchanged Saturday
  CHECK_FALSE(c.is_working_day(ymd(2026, 4, 26)));
  CHECK_FALSE(c.is_working_day(ymd(2026, 4, 30)));

  struct bad_case {
    std::string from, to, expected;
  };
  const bad_case cases[] = {
      {"kakehashi.calendar/1", "kakehashi.calendar/9", "format: 'kakehashi.calendar/9' is not"},
      {"\"VN\"", "\"Vietnam\"", "country: 'Vietnam' is not an ISO 3166-1 alpha-2 code"},
      {"Asia/Ho_Chi_Minh", "Asia/Hanoi_City", "time_zone: 'Asia/Hanoi_City' is not an IANA"},
      {"[2026, 2026]", "[2027, 2026]", "years: [2027,2026] is not a range of years"},
      {"\"saturday\", \"sunday\"", "\"saturday\", \"sabbath\"",
       "weekly_rest_days[1]: 'sabbath' is not a day of the week"},
      {"2026-04-30", "2025-04-30", "days_off[0].date: 2025-04-30 is outside the calendar's years"},
      {"2026-04-30", "2026-02-30", "days_off[0].date"},
      {"\"statutory\"", "\"rumoured\"", "days_off[0].status: 'rumoured' is not a status"},
      {"2026-04-25", "2026-04-27",
       "working_days[0].date: 2026-04-27 is a monday, not a weekly rest day"},
      {"2026-04-25", "2026-04-30",
       "working_days[0].date: 2026-04-30 is a thursday, not a weekly rest day"},
      {"\"basis\": \"an", "\"bases\": \"an", "working_days[0]"},
      {"\"name\": \"Victory Day\",", "", "days_off[0].name: is required but missing"},
  };
  for (const auto& b : cases) {
    INFO(b.from << " -> " << b.to);
    const std::string text = replaced(minimal, b.from, b.to);
    CHECK(code_of([&] { (void)working_calendar::load(text, "test.json"); }) ==
          errc::invalid_argument);
    CHECK_THAT(message_of([&] { (void)working_calendar::load(text, "test.json"); }),
               Catch::Contains(b.expected) && Catch::Contains("test.json"));
  }
  // A day listed twice names both places.
  const std::string twice =
      replaced(minimal, "\"days_off\": [",
               R"("days_off": [{"date": "2026-04-30", "name": "x", "local_name": "x", "basis": "x",
                       "status": "announced"}, )");
  CHECK_THAT(message_of([&] { (void)working_calendar::load(twice); }),
             Catch::Contains("days_off[1].date: 2026-04-30 is already listed at days_off[0]"));
  CHECK(code_of([] { (void)working_calendar::load("{\"format\": "); }) == errc::invalid_argument);
  CHECK(code_of([] { (void)working_calendar::load("[]"); }) == errc::invalid_argument);
}
