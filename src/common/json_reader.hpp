#pragma once
// Private: strict reading of JSON documents with a path for every problem. Used by every loader
// (agreements, consent records, FHIR imports), so they all report problems the same way:
// "<path>: <what was found>; <what would be valid>", every problem at once.

#include <date/date.h>

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fail.hpp"          // bad_id_message
#include "kakehashi/agreement.hpp"  // load_problem
#include "kakehashi/ids.hpp"

namespace kakehashi::detail {

using json = nlohmann::json;

/// Parses `text` as one JSON document. Problems: a syntax error (with line and column, never
/// quoting the text, which may hold personal data), invalid UTF-8, a duplicate key (with its path)
/// and nesting deeper than `max_depth`. A UTF-8 byte order mark is accepted.
std::optional<json> parse_strict(std::string_view text, std::vector<load_problem>& problems,
                                 std::size_t max_depth = 64);

/// The message of a JSON library exception that quotes no input: a syntax error keeps its line,
/// column and the parser's own words, never the "last read" text (which may hold a name or a
/// birth date); other kinds keep the library's words up to the first quoted key or value.
std::string json_error_message(const json::exception& e);

/// Appends each of `found` (problems of meaning, found on values read from a document) to
/// `problems` unless `problems` already holds one at its path or at an ancestor of it: a value a
/// shape problem left unread (a missing key, a wrong type) is not reported a second time, and
/// every other problem of the document is, whatever phase found it.
void add_unshadowed(std::vector<load_problem>& problems, std::vector<load_problem> found);

/// "a.b" / "a[3]" path building.
std::string path_key(std::string_view parent, std::string_view key);
std::string path_index(std::string_view parent, std::size_t index);

/// The JSON type of `j` in words: "a string", "an array", "null", ...
std::string_view type_name(const json& j);

/// A value quoted for a problem message: strings in quotes (made printable and cut), other
/// values in their JSON form (cut).
std::string quote(const json& j);

/// Reads the members of one JSON object. Reports, once, a non-object value, unknown keys
/// (listing the allowed ones) and missing required keys. Accessors return nullopt (after
/// reporting) when a member is missing, mistyped or malformed. `redact` hides values in
/// messages (for fields holding personal data such as a birth date).
class object_reader {
 public:
  object_reader(const json& j, std::string path, std::vector<load_problem>& problems,
                std::initializer_list<std::string_view> required,
                std::initializer_list<std::string_view> optional = {});

  bool ok() const noexcept { return object_ != nullptr; }
  bool has(std::string_view key) const;
  std::string path(std::string_view key) const { return path_key(path_, key); }
  const std::string& path() const noexcept { return path_; }
  std::vector<load_problem>& problems() { return *problems_; }

  /// A member of any type, or nullptr when absent (or when the value is not an object).
  const json* member(std::string_view key) const;

  std::optional<std::string> string(std::string_view key, bool allow_empty = false);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max,
                                      bool redact = false);
  std::optional<date::year_month_day> date(std::string_view key, bool redact = false);
  std::optional<instant> instant_value(std::string_view key);
  /// A member that must be an array; nullptr (after reporting) otherwise.
  const json* array(std::string_view key);
  /// A member that must be an object; nullptr (after reporting) otherwise.
  const json* object(std::string_view key);
  /// An array of strings; nullopt if any element is not a string.
  std::optional<std::vector<std::string>> strings(std::string_view key);

  template <class Tag>
  std::optional<basic_id<Tag>> id(std::string_view key) {
    auto s = string(key, true);
    if (!s) return std::nullopt;
    if (!is_valid_id(*s)) {
      report(path(key), bad_id_message(Tag::kind, *s, Tag::personal));
      return std::nullopt;
    }
    return basic_id<Tag>{std::move(*s)};
  }

  void report(std::string path, std::string message);

 private:
  const json* object_ = nullptr;
  std::string path_;
  std::vector<load_problem>* problems_;
};

/// Reads a string element of an array as an id; reports and returns nullopt otherwise.
template <class Tag>
std::optional<basic_id<Tag>> read_id(const json& j, const std::string& path,
                                     std::vector<load_problem>& problems);

/// Parses "YYYY-MM-DD" strictly (exact shape, a real calendar date).
std::optional<date::year_month_day> parse_date(std::string_view text);

/// One message for a list of problems: "<subject>: N problem(s): <path>: <message>\n  ...".
std::string join_problems(std::string_view subject, const std::vector<load_problem>& problems);

/// Reads a whole file; nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path);

// ---------------------------------------------------------------------------------------------

template <class Tag>
std::optional<basic_id<Tag>> read_id(const json& j, const std::string& path,
                                     std::vector<load_problem>& problems) {
  if (!j.is_string()) {
    problems.push_back({path, std::string("expected a ") + Tag::kind + " (a string), found " +
                                  std::string(type_name(j))});
    return std::nullopt;
  }
  const auto& s = j.get_ref<const std::string&>();
  if (!is_valid_id(s)) {
    problems.push_back({path, bad_id_message(Tag::kind, s, Tag::personal)});
    return std::nullopt;
  }
  return basic_id<Tag>{s};
}

}  // namespace kakehashi::detail
