// kakehashi/text.hpp: the messages in every language, ICU's plurals, numbers, lists and times.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/vocabulary.hpp>
#include <optional>
#include <string>
#include <vector>

using namespace kakehashi;

namespace {

// The arguments an English pattern names ("{name}", "{name, type, ...}"), each with a value of
// the type its use wants: an integer for plural and number arguments, a word for the others (a
// select's "other"). A brace in text opens an argument; a brace inside a plural or select
// argument opens one of its messages ("{# bytes}", "{allow}", "{refused until ...}"), whose own
// braces are arguments again.
std::vector<text::argument> sample_arguments(const std::string& pattern) {
  const auto skip_spaces = [&](std::size_t j) {
    while (j < pattern.size() && pattern[j] == ' ') ++j;
    return j;
  };
  const auto word_end = [&](std::size_t j) {
    while (j < pattern.size() &&
           (std::isalnum(static_cast<unsigned char>(pattern[j])) != 0 || pattern[j] == '_')) {
      ++j;
    }
    return j;
  };
  std::vector<text::argument> out;
  std::vector<std::string> seen;
  std::vector<bool> in_text{true};  // per open brace: does it hold text (else an argument)?
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '}') {
      if (in_text.size() > 1) in_text.pop_back();
      continue;
    }
    if (pattern[i] != '{') continue;
    if (!in_text.back()) {  // a plural's or select's message
      in_text.push_back(true);
      continue;
    }
    in_text.push_back(false);
    const std::size_t start = skip_spaces(i + 1);
    std::size_t j = word_end(start);
    if (j == start) continue;
    const std::string name = pattern.substr(start, j - start);
    j = skip_spaces(j);
    std::string type;
    if (j < pattern.size() && pattern[j] == ',') {
      const std::size_t type_start = skip_spaces(j + 1);
      j = word_end(type_start);
      type = pattern.substr(type_start, j - type_start);
      j = skip_spaces(j);
    }
    if (j >= pattern.size() || (pattern[j] != ',' && pattern[j] != '}')) continue;
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    if (type == "plural" || type == "number") {
      out.emplace_back(name, 2);
    } else {
      out.emplace_back(name, "x" + name);
    }
  }
  return out;
}

// The pattern's own words: the arguments and their nested forms left out.
std::string literal_text(const std::string& pattern) {
  std::string out;
  int depth = 0;
  for (char c : pattern) {
    if (c == '{') ++depth;
    if (depth == 0) out += c;
    if (c == '}') --depth;
  }
  return out;
}

bool has_letters(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

bool has_non_ascii(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

errc code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const error& e) {
    return e.code();
  }
  FAIL("no kakehashi::error was thrown");
  return errc::invalid_argument;
}

instant at(const char* text) { return parse_instant(text); }

}  // namespace

TEST_CASE("every message exists in every language, with the same arguments", "[text]") {
  const auto ids = text::message_ids();
  REQUIRE(ids.size() >= 30);
  for (const auto& id : ids) {
    INFO(id);
    const auto args = sample_arguments(text::pattern("en", id));
    for (const auto& language : vocabulary::languages()) {
      INFO(language);
      REQUIRE_FALSE(text::pattern(language, id).empty());
      // format() refuses an argument the pattern lacks and a missing one: the same names.
      const std::string out = text::format(language, id, args);
      CHECK(out.find('{') == std::string::npos);
      for (const auto& a : args) {
        if (const auto* s = std::get_if<std::string>(&a.value)) {
          // Every argument is shown, except a select's keyword.
          if (text::pattern("en", id).find(a.name + ", select") == std::string::npos)
            CHECK(out.find(*s) != std::string::npos);
        }
      }
    }
  }
}

TEST_CASE("no message is an untranslated copy of the English", "[text]") {
  for (const auto& id : text::message_ids()) {
    INFO(id);
    const std::string en = text::pattern("en", id);
    if (!has_letters(literal_text(en))) continue;  // punctuation and arguments alone
    CHECK(text::pattern("vi", id) != en);
    CHECK(text::pattern("ja", id) != en);
    CHECK(has_non_ascii(literal_text(text::pattern("ja", id))));
  }
}

TEST_CASE("plurals and numbers follow the language", "[text]") {
  CHECK(text::format("en", "show.history", {{"count", 1}}) == "history (1 row):");
  CHECK(text::format("en", "show.history", {{"count", 2}}) == "history (2 rows):");
  CHECK(text::format("ja", "show.history", {{"count", 1200}}) == "履歴（1,200 件）:");
  const std::vector<text::argument> doc{
      {"id", "D-1"},     {"kind", "Imaging"}, {"media_type", "image/png"},
      {"size", 1234567}, {"language", "ja"},  {"sha256", "ab"}};
  CHECK(text::format("en", "show.document", doc).find("1,234,567 bytes") != std::string::npos);
  CHECK(text::format("vi", "show.document", doc).find("1.234.567 byte") != std::string::npos);
  CHECK(
      text::format("en", "show.documents_missing", {{"missing", "Imaging"}, {"rule", "refuse"}}) ==
      "required documents missing: Imaging (acceptance is refused until they are attached)");
  CHECK(text::format("en", "show.documents_missing", {{"missing", "Imaging"}, {"rule", "warn"}}) ==
        "required documents missing: Imaging (acceptance is allowed, and audited as such)");
}

TEST_CASE("a message refuses an unknown language, id or argument, naming it", "[text]") {
  CHECK(code_of([] {
          text::format("fr", "show.history", {{"count", 1}});
        }) == errc::invalid_argument);
  try {
    text::format("fr", "show.history", {{"count", 1}});
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("'fr' is not a language") &&
                             Catch::Contains("expected one of: en, vi, ja"));
  }
  CHECK(code_of([] { text::format("en", "show.nothing"); }) == errc::not_found);
  try {
    text::format("ja", "show.history");
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("message 'show.history': argument 'count' is missing"));
  }
  try {
    text::format("en", "show.history", {{"count", 1}, {"counts", 2}});
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::Contains("has no argument 'counts'"));
  }
  CHECK(text::checked_language("vi", "--lang") == "vi");
  try {
    text::checked_language("vi_VN", "--lang");
  } catch (const error& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("[kakehashi.invalid_argument] --lang: 'vi_VN'"));
  }
}

TEST_CASE("a POSIX locale selects a language, English when kakehashi has none of it", "[text]") {
  CHECK(text::language_of_locale("vi_VN.UTF-8") == "vi");
  CHECK(text::language_of_locale("ja_JP.UTF-8") == "ja");
  CHECK(text::language_of_locale("ja") == "ja");
  CHECK(text::language_of_locale("JA_JP") == "ja");
  CHECK(text::language_of_locale("en_GB.UTF-8") == "en");
  CHECK(text::language_of_locale("fr_FR.UTF-8") == "en");
  CHECK(text::language_of_locale("C.UTF-8") == "en");
  CHECK(text::language_of_locale("POSIX") == "en");
  CHECK(text::language_of_locale("") == "en");
}

TEST_CASE("the environment's locale, in POSIX's order", "[text]") {
  // Set, checked, and put back as they were.
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* v = std::getenv(name);
    saved.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
  }
  ::setenv("LC_ALL", "", 1);  // empty: not set, as POSIX reads it
  ::unsetenv("LC_MESSAGES");
  ::setenv("LANG", "vi_VN.UTF-8", 1);
  CHECK(text::language_of_environment() == "vi");
  ::setenv("LC_MESSAGES", "ja_JP.UTF-8", 1);
  CHECK(text::language_of_environment() == "ja");
  ::setenv("LC_ALL", "C", 1);
  CHECK(text::language_of_environment() == "en");
  for (const auto& [name, value] : saved) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
}

TEST_CASE("an instant in a hospital's zone, as each language writes it, with the zone's name",
          "[text]") {
  const instant t = at("2026-03-01T01:00:00Z");
  CHECK(text::local_time(t, "Asia/Tokyo", "ja") == "2026年3月1日 10:00 日本標準時");
  CHECK(text::local_time(t, "Asia/Ho_Chi_Minh", "ja") == "2026年3月1日 8:00 インドシナ時間");
  CHECK(text::local_time(t, "Asia/Ho_Chi_Minh", "en") == "Mar 1, 2026, 08:00 Indochina Time");
  CHECK(text::local_time(t, "Asia/Tokyo", "vi") == "10:00 Giờ Chuẩn Nhật Bản 1 thg 3, 2026");
  CHECK(text::local_time(t, "UTC", "en") == "Mar 1, 2026, 01:00 UTC");
  CHECK(text::local_time(t, "UTC", "ja") == "2026年3月1日 1:00 UTC");
  // The day changes with the zone: 23:30 UTC is the next morning in Tokyo.
  CHECK(text::local_time(at("2026-12-31T23:30:00Z"), "Asia/Tokyo", "en") ==
        "Jan 1, 2027, 08:30 Japan Standard Time");
  CHECK(code_of([&] { text::local_time(t, "Mars/Olympus_Mons", "en"); }) == errc::invalid_argument);
  CHECK(code_of([&] { text::local_time(t, "Asia/Tokyo", "de"); }) == errc::invalid_argument);
}

TEST_CASE("the columns a text takes in a terminal", "[text]") {
  CHECK(text::width("") == 0);
  CHECK(text::width("closed: Expired") == 15);
  CHECK(text::width("終了: 治療完了") == 14);      // five wide characters, ':' and ' '
  CHECK(text::width("Bệnh viện Bạch Mai") == 18);  // precomposed letters: one column each
  CHECK(text::width("e\xcc\x81") == 1);            // e + a combining acute accent
  CHECK(text::width("\xff") == 1);                 // a malformed byte: one replacement mark
}

TEST_CASE("a terminal table lines up by display width", "[text]") {
  CHECK(text::table({{"R-1", "終了", "12"}, {"R-10", "Closed", "3"}}, {2}) ==
        "R-1   終了    12\n"
        "R-10  Closed   3\n");
  CHECK(text::table({{"a", "b"}, {"long"}}) == "a     b\nlong\n");  // ragged, no trailing spaces
  CHECK(text::table({}).empty());
}

TEST_CASE("lists and language names as each language writes them", "[text]") {
  const std::vector<std::string> three{"imaging", "pathology", "letter"};
  CHECK(text::list(three, "en") == "imaging, pathology, and letter");
  CHECK(text::list(three, "vi") == "imaging, pathology và letter");
  CHECK(text::list(three, "ja") == "imaging、pathology、letter");
  CHECK(text::list({"one"}, "ja") == "one");
  CHECK(text::list({}, "en").empty());
  CHECK(text::language_name("vi", "ja") == "ベトナム語");
  CHECK(text::language_name("ja", "vi") == "Tiếng Nhật");
  CHECK(text::language_name("vi", "en") == "Vietnamese");
}
