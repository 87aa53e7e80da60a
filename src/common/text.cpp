#include "kakehashi/text.hpp"

#include <fmt/format.h>
#include <unicode/dtptngen.h>
#include <unicode/listformatter.h>
#include <unicode/locid.h>
#include <unicode/messagepattern.h>
#include <unicode/msgfmt.h>
#include <unicode/smpdtfmt.h>
#include <unicode/timezone.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fail.hpp"
#include "kakehashi/vocabulary.hpp"

namespace kakehashi::text {
namespace {

// {language, file text}: data/messages/*.json, written in by CMake.
constexpr std::pair<const char*, const char*> shipped[] = {
#include "messages.inc"
};

using catalog = std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>;

// The shipped files are checked by the tests (every id in every language, the same arguments,
// each pattern valid); a file that does not parse is a build defect, reported once here.
const catalog& messages() {
  static const catalog all = [] {
    catalog out;
    for (const auto& [language, body] : shipped) {
      auto& m = out[language];
      const nlohmann::json file = nlohmann::json::parse(body);
      for (const auto& [id, p] : file.items()) {
        m.emplace(id, p.get<std::string>());
      }
    }
    return out;
  }();
  return all;
}

std::string utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

icu::UnicodeString unicode(std::string_view s) {
  return icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
}

void check(UErrorCode status, std::string_view what) {
  if (U_FAILURE(status)) {
    detail::fail(errc::invalid_argument, what, fmt::format("ICU failed ({})", u_errorName(status)),
                 "");
  }
}

// The names of a pattern's arguments, nested ones (inside plural and select) included.
std::set<std::string> argument_names(const icu::UnicodeString& pattern, std::string_view id) {
  UErrorCode status = U_ZERO_ERROR;
  icu::MessagePattern parsed(pattern, nullptr, status);
  check(status, fmt::format("message '{}'", id));
  std::set<std::string> names;
  for (int32_t i = 0; i < parsed.countParts(); ++i) {
    const auto& part = parsed.getPart(i);
    if (part.getType() == UMSGPAT_PART_TYPE_ARG_NAME) {
      names.insert(utf8(parsed.getSubstring(part)));
    }
  }
  return names;
}

}  // namespace

std::string language_of_locale(std::string_view locale) {
  const std::string_view prefix = locale.substr(0, locale.find_first_of("_.@-"));
  std::string lower;
  for (char c : prefix) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  const auto& all = vocabulary::languages();
  return std::find(all.begin(), all.end(), lower) != all.end() ? lower : std::string("en");
}

std::string language_of_environment() {
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return language_of_locale(value);
  }
  return "en";
}

std::string checked_language(std::string_view language, std::string_view field) {
  const auto& all = vocabulary::languages();
  if (std::find(all.begin(), all.end(), language) != all.end()) return std::string(language);
  detail::fail(errc::invalid_argument, field,
               fmt::format("'{}' is not a language kakehashi speaks", printable(language)),
               fmt::format("expected one of: {}", fmt::join(all, ", ")));
}

std::string format(std::string_view language, std::string_view id,
                   const std::vector<argument>& arguments) {
  const std::string lang = checked_language(language);
  const auto& in_language = messages().find(lang)->second;
  const auto found = in_language.find(id);
  if (found == in_language.end()) {
    detail::fail(errc::not_found, fmt::format("message '{}'", printable(id)), "no such message",
                 "text::message_ids() lists them");
  }
  const icu::UnicodeString pattern = unicode(found->second);
  const std::set<std::string> wanted = argument_names(pattern, id);
  std::vector<icu::UnicodeString> names;
  std::vector<icu::Formattable> values;
  std::set<std::string> given;
  for (const auto& a : arguments) {
    if (wanted.count(a.name) == 0) {
      detail::fail(errc::invalid_argument, fmt::format("message '{}'", id),
                   fmt::format("has no argument '{}'", printable(a.name)),
                   fmt::format("its arguments: {}", fmt::join(wanted, ", ")));
    }
    given.insert(a.name);
    names.push_back(unicode(a.name));
    if (const auto* s = std::get_if<std::string>(&a.value)) {
      values.emplace_back(unicode(*s));
    } else if (const auto* i = std::get_if<std::int64_t>(&a.value)) {
      values.emplace_back(static_cast<int64_t>(*i));
    } else {
      values.emplace_back(std::get<double>(a.value));
    }
  }
  for (const auto& w : wanted) {
    if (given.count(w) == 0) {
      detail::fail(errc::invalid_argument, fmt::format("message '{}'", id),
                   fmt::format("argument '{}' is missing", w), "");
    }
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::MessageFormat formatter(pattern, icu::Locale(lang.c_str()), status);
  check(status, fmt::format("message '{}'", id));
  icu::UnicodeString out;
  formatter.format(names.data(), values.data(), static_cast<int32_t>(values.size()), out, status);
  check(status, fmt::format("message '{}'", id));
  return utf8(out);
}

std::vector<std::string> message_ids() {
  std::vector<std::string> ids;
  for (const auto& [id, p] : messages().at("en")) ids.push_back(id);
  return ids;
}

std::string pattern(std::string_view language, std::string_view id) {
  const auto l = messages().find(language);
  if (l == messages().end()) return "";
  const auto m = l->second.find(id);
  return m == l->second.end() ? "" : m->second;
}

namespace {

std::unique_ptr<icu::TimeZone> zone_named(std::string_view zone) {
  std::unique_ptr<icu::TimeZone> tz(icu::TimeZone::createTimeZone(unicode(zone)));
  icu::UnicodeString tz_id;
  if (!tz || tz->getID(tz_id) == icu::UnicodeString(UCAL_UNKNOWN_ZONE_ID)) {
    detail::fail(errc::invalid_argument, "time zone",
                 fmt::format("'{}' is not an IANA time zone", printable(zone)),
                 "expected e.g. Asia/Ho_Chi_Minh, Asia/Tokyo or UTC");
  }
  return tz;
}

std::string formatted(instant at, std::unique_ptr<icu::TimeZone> tz, const std::string& lang,
                      const icu::UnicodeString& pattern) {
  UErrorCode status = U_ZERO_ERROR;
  icu::SimpleDateFormat f(pattern, icu::Locale(lang.c_str()), status);
  check(status, "date format");
  f.adoptTimeZone(tz.release());
  icu::UnicodeString out;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch());
  f.format(static_cast<UDate>(ms.count()), out);
  return utf8(out);
}

icu::UnicodeString best_pattern(const std::string& lang, std::string_view skeleton) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::DateTimePatternGenerator> g(
      icu::DateTimePatternGenerator::createInstance(icu::Locale(lang.c_str()), status));
  check(status, "date pattern");
  icu::UnicodeString p = g->getBestPattern(unicode(skeleton), status);
  check(status, fmt::format("date skeleton '{}'", printable(skeleton)));
  return p;
}

}  // namespace

std::string local_time(instant at, std::string_view zone, std::string_view language) {
  const std::string lang = checked_language(language);
  // The pattern each language writes a date, an hour and a zone's name with (CLDR, through
  // ICU's pattern generator), found once per language.
  static const std::map<std::string, icu::UnicodeString, std::less<>> patterns = [] {
    std::map<std::string, icu::UnicodeString, std::less<>> out;
    for (const auto& l : vocabulary::languages()) out[l] = best_pattern(l, "yMMMdHHmmzzzz");
    return out;
  }();
  auto tz = zone_named(zone);
  icu::UnicodeString p = patterns.find(lang)->second;
  // UTC has no long "standard time" name worth reading: "UTC" in every language.
  if (zone == "UTC") p.findAndReplace(icu::UnicodeString("zzzz"), icu::UnicodeString("z"));
  return formatted(at, std::move(tz), lang, p);
}

std::string local_date(instant at, std::string_view zone, std::string_view language,
                       std::string_view skeleton) {
  const std::string lang = checked_language(language);
  auto tz = zone_named(zone);
  return formatted(at, std::move(tz), lang, best_pattern(lang, skeleton));
}

std::string state(std::string_view stored, std::string_view language) {
  const std::string lang = checked_language(language);
  const auto colon = stored.find(':');
  std::string name(stored.substr(0, colon));
  for (char& c : name) c = c == '_' ? '-' : c;
  const auto shown = [&](std::string_view kind, std::string_view code) {
    return vocabulary::display(kind, code, lang).value_or(std::string(code));
  };
  if (colon == std::string_view::npos) return shown("state", name);
  return format(lang, "show.closed_state",
                {{"closed", shown("state", name)},
                 {"reason", shown("close-reason", stored.substr(colon + 1))}});
}

std::size_t width(std::string_view text) {
  std::size_t columns = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) {
      ++columns;  // a malformed byte shows as one replacement character
      continue;
    }
    const auto east_asian = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
    if (u_charType(c) == U_NON_SPACING_MARK) continue;
    columns += (east_asian == U_EA_WIDE || east_asian == U_EA_FULLWIDTH) ? 2 : 1;
  }
  return columns;
}

std::string table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<std::size_t>& right) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string gap(widths[c] - width(row[c]), ' ');
      const bool to_right = std::find(right.begin(), right.end(), c) != right.end();
      line += (c == 0 ? "" : "  ") + (to_right ? gap + row[c] : row[c] + gap);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + '\n';
  }
  return out;
}

std::string list(const std::vector<std::string>& items, std::string_view language) {
  const std::string lang = checked_language(language);
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::ListFormatter> f(
      icu::ListFormatter::createInstance(icu::Locale(lang.c_str()), status));
  check(status, "list format");
  std::vector<icu::UnicodeString> u;
  for (const auto& i : items) u.push_back(unicode(i));
  icu::UnicodeString out;
  f->format(u.data(), static_cast<int32_t>(u.size()), out, status);
  check(status, "list format");
  return utf8(out);
}

std::string language_name(std::string_view code, std::string_view language) {
  const std::string lang = checked_language(language);
  const std::string c(code);
  icu::UnicodeString name;
  icu::Locale(c.c_str()).getDisplayLanguage(icu::Locale(lang.c_str()), name);
  const std::string out = utf8(name);
  return out.empty() ? c : out;
}

}  // namespace kakehashi::text
