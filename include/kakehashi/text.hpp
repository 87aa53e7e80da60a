#pragma once
// Text a person reads, in English, Vietnamese or Japanese: kakehashi's messages (data/messages/
// <language>.json, ICU MessageFormat patterns compiled into the library and installed beside it
// in share/kakehashi/messages/) and instants in a hospital's zone, formatted by ICU for the
// language (its date order, its month names, the zone's name from CLDR).
//
//   using namespace kakehashi;
//   text::format("ja", "show.documents", {{"count", 2}})    // "文書（2 件）:"
//   text::local_time(at, "Asia/Tokyo", "vi")    // "10:00 Giờ Chuẩn Nhật Bản 1 thg 3, 2026"
//
// Coded values (states, reasons, roles, ...) are displayed by kakehashi/vocabulary.hpp. Nothing
// falls back to English: an unknown language, message or argument throws, and the tests check
// that every message exists in every language with the same arguments. Error messages
// (kakehashi::error) stay in English, for logs; a person's screen shows them beside translated
// text. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <kakehashi/time.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace kakehashi::text {

/// One named argument of a message: text (inserted as it is), an integer (formatted for the
/// language: 1,234 or 1.234; and chosen by `plural` patterns) or a number (`{x, number, ::.0}`
/// writes 29.6 or 29,6).
struct argument {
  std::string name;
  std::variant<std::string, std::int64_t, double> value;

  argument(std::string n, std::string v) : name(std::move(n)), value(std::move(v)) {}
  argument(std::string n, const char* v) : name(std::move(n)), value(std::string(v)) {}
  argument(std::string n, std::string_view v) : name(std::move(n)), value(std::string(v)) {}
  argument(std::string n, double v) : name(std::move(n)), value(v) {}
  template <class Int, class = std::enable_if_t<std::is_integral_v<Int>>>
  argument(std::string n, Int v) : name(std::move(n)), value(static_cast<std::int64_t>(v)) {}
};

/// The language a POSIX locale name selects: "vi" for "vi_VN.UTF-8", "ja" for "ja_JP", "en" for
/// "en_GB", "C", "POSIX", an empty name or any language kakehashi has no messages in.
std::string language_of_locale(std::string_view locale);

/// The language of this process's locale, as POSIX orders its variables: the first of LC_ALL,
/// LC_MESSAGES and LANG that is set and not empty, through language_of_locale(); "en" when none
/// is. (The one place kakehashi reads the environment; a program passes the result on.)
std::string language_of_environment();

/// `language` when it is one of vocabulary::languages() ("en", "vi", "ja"); otherwise throws
/// kakehashi::error{errc::invalid_argument} naming `field`, the value and the languages.
std::string checked_language(std::string_view language, std::string_view field = "language");

/// The message `id` in `language` with its arguments filled in (ICU MessageFormat: plurals and
/// numbers follow the language). Throws kakehashi::error: invalid_argument for an unknown
/// language or an argument missing or unknown to the message (naming it), not_found for an
/// unknown id.
std::string format(std::string_view language, std::string_view id,
                   const std::vector<argument>& arguments = {});

/// The ids of the messages, sorted: every language has each of them.
std::vector<std::string> message_ids();

/// The pattern of `id` in `language` as shipped (for tests and translators): empty when unknown.
std::string pattern(std::string_view language, std::string_view id);

/// `at` in the IANA zone `zone`, as `language` writes a date and a time, with the zone's name:
/// "Mar 1, 2026, 10:00 Japan Standard Time", "2026年3月1日 8:00 インドシナ時間"; zone "UTC"
/// gives "... 01:00 UTC". Throws invalid_argument for an unknown zone or language.
std::string local_time(instant at, std::string_view zone, std::string_view language);

/// `at` in `zone` by a CLDR skeleton, as `language` writes it: "yMMM" gives "Nov 2025",
/// "thg 11 2025", "2025年11月"; "MMM" the month alone. Throws invalid_argument for an unknown
/// zone, language or skeleton.
std::string local_date(instant at, std::string_view zone, std::string_view language,
                       std::string_view skeleton);

/// A state as the audit log stores it ("consent_recorded", "closed:declined") as a person reads
/// it in `language`: "Consent recorded", "Closed (Declined)", "終了（受入不可）". A state this
/// release does not know is returned as it is.
std::string state(std::string_view stored, std::string_view language);

/// The columns `text` takes in a terminal: 2 for each wide or full-width character (CJK,
/// kana), 0 for a combining mark, 1 for the others (Unicode's East Asian Width), so that
/// tables line up in Japanese and Vietnamese too.
std::size_t width(std::string_view text);

/// `rows` as a terminal table: each column as wide as its widest cell (by width()), cells two
/// spaces apart, the columns whose index `right` holds aligned right (numbers), the others left;
/// no trailing spaces. A row may have fewer cells than another.
std::string table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<std::size_t>& right = {});

/// `items` joined as `language` writes a list (ICU ListFormatter): "a, b, and c" in English,
/// "a, b và c" in Vietnamese, "a、b、c" in Japanese.
std::string list(const std::vector<std::string>& items, std::string_view language);

/// The name of the language `code` ("vi", "ja", "en", "fr", ...) written in `language`:
/// "Vietnamese", "Tiếng Việt", "ベトナム語"; `code` itself when CLDR has no name for it.
std::string language_name(std::string_view code, std::string_view language);

}  // namespace kakehashi::text
