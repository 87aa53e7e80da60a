#include "common/json_reader.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "common/calendar.hpp"
#include "common/fail.hpp"

namespace kakehashi::detail {
namespace {

struct too_deep {};

// Tracks the path of the parser's position to name duplicate keys.
struct path_tracker {
  struct frame {
    bool is_object = false;
    std::set<std::string> keys;
    std::string key;
    std::size_t count = 0;  // elements begun, for arrays
  };
  std::vector<frame> frames;
  std::vector<load_problem>* problems;
  std::size_t max_depth;

  std::string path() const {
    std::string out;
    for (const auto& f : frames) {
      if (f.is_object) {
        if (!f.key.empty()) out = path_key(out, f.key);
      } else if (f.count > 0) {
        out = path_index(out, f.count - 1);
      }
    }
    return out;
  }
  // The path of the parent element while a new container starts.
  void element_begins() {
    if (!frames.empty() && !frames.back().is_object) ++frames.back().count;
  }
  bool on(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        element_begins();
        if (frames.size() >= max_depth) throw too_deep{};
        frames.push_back({event == json::parse_event_t::object_start, {}, {}, 0});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames.empty()) frames.pop_back();
        break;
      case json::parse_event_t::key: {
        auto& f = frames.back();
        f.key.clear();  // the path of the object itself
        const std::string parent = path();
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!f.keys.insert(key).second) {
          problems->push_back(
              {path_key(parent, key),
               "duplicate key '" + printable(key) + "'; each key may appear once in an object"});
        }
        f.key = key;
        break;
      }
      case json::parse_event_t::value:
        element_begins();
        break;
    }
    return true;
  }
};

}  // namespace

std::optional<json> parse_strict(std::string_view text, std::vector<load_problem>& problems,
                                 std::size_t max_depth) {
  const std::size_t before = problems.size();
  path_tracker tracker{{}, &problems, max_depth};
  try {
    json value = json::parse(
        text.begin(), text.end(),
        [&tracker](int depth, json::parse_event_t event, json& parsed) {
          return tracker.on(depth, event, parsed);
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
    if (problems.size() != before) return std::nullopt;
    return value;
  } catch (const too_deep&) {
    problems.push_back({tracker.path(), "nesting deeper than " + std::to_string(max_depth) +
                                            " levels; this format needs far fewer"});
  } catch (const json::parse_error& e) {
    problems.push_back({"", "not valid JSON: " + json_error_message(e)});
  } catch (const json::out_of_range& e) {
    // 1e400 and the like: nlohmann reports a number that overflows a double this way.
    problems.push_back({tracker.path(), json_error_message(e)});
  }
  return std::nullopt;
}

std::string json_error_message(const json::exception& e) {
  std::string msg = e.what();
  if (msg.rfind("[json.exception.", 0) == 0) {
    if (const auto p = msg.find("] "); p != std::string::npos) msg.erase(0, p + 2);
  }
  if (dynamic_cast<const json::parse_error*>(&e) != nullptr) {
    // "parse error at line L, column C: syntax error while parsing <context> - <lexer's error>"
    // is the parser's own vocabulary; "; last read: '<text>'" quotes the input and is dropped;
    // "; expected <token>" is kept only when it is one of the parser's token names (the input
    // could itself contain "'; expected ...").
    if (const auto last = msg.find("; last read: '"); last != std::string::npos) {
      static const std::set<std::string, std::less<>> tokens = {
          "true literal", "false literal", "null literal", "string literal", "number literal",
          "'['", "'{'", "']'", "'}'", "':'", "','", "end of input", "'[', '{', or a literal"};
      std::string expected;
      if (const auto x = msg.rfind("'; expected "); x != std::string::npos && x > last) {
        if (tokens.count(std::string_view(msg).substr(x + 12)) != 0) expected = msg.substr(x + 1);
      }
      msg = msg.substr(0, last) + expected;
    }
    return printable(msg, 200);
  }
  if (const auto* o = dynamic_cast<const json::out_of_range*>(&e); o && o->id == 406) {
    return "a number is out of range: it does not fit a double";  // "...parsing '<number>'"
  }
  // Other messages name keys or values in quotes: keep the library's words before the first.
  if (const auto q = msg.find('\''); q != std::string::npos) msg.erase(q);
  while (!msg.empty() && (msg.back() == ' ' || msg.back() == ':')) msg.pop_back();
  return printable(msg, 200);
}

void add_unshadowed(std::vector<load_problem>& problems, std::vector<load_problem> found) {
  std::set<std::string, std::less<>> reported;
  for (const auto& p : problems) reported.insert(p.path);
  const auto shadowed = [&](std::string_view path) {
    if (reported.count("") != 0) return true;
    for (;;) {
      if (reported.count(path) != 0) return true;
      const auto cut = path.find_last_of(".[");
      if (cut == std::string_view::npos || cut == 0) return false;
      path = path.substr(0, cut);
    }
  };
  for (auto& p : found) {
    if (!shadowed(p.path)) problems.push_back(std::move(p));
  }
}

std::string path_key(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += printable(key, 64);
  return out;
}

std::string path_index(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string_view type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number with a fraction";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      break;
  }
  return "an unusable value";
}

std::string quote(const json& j) {
  if (j.is_string()) return "'" + printable(j.get_ref<const std::string&>()) + "'";
  if (j.is_object() || j.is_array()) return std::string(type_name(j));
  return printable(j.dump(), 40);
}

std::optional<date::year_month_day> parse_date(std::string_view text) {
  return parse_calendar_date(text);
}

std::string join_problems(std::string_view subject, const std::vector<load_problem>& problems) {
  std::string out =
      fmt::format("{}: {} problem{}: ", subject, problems.size(), problems.size() == 1 ? "" : "s");
  // One line, as every kakehashi message: a log line per error, whatever the values.
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const auto& p = problems[i];
    if (i > 0) out += "; ";
    out += p.path.empty() ? "(document)" : p.path;
    out += ": ";
    out += p.message;
  }
  return out;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

// ---------------------------------------------------------------------------------------------

object_reader::object_reader(const json& j, std::string path, std::vector<load_problem>& problems,
                             std::initializer_list<std::string_view> required,
                             std::initializer_list<std::string_view> optional)
    : path_(std::move(path)), problems_(&problems) {
  if (!j.is_object()) {
    report(path_, fmt::format("expected an object, found {}", type_name(j)));
    return;
  }
  object_ = &j;
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (auto k : required) known = known || k == key;
    for (auto k : optional) known = known || k == key;
    if (!known) {
      std::string allowed;
      for (auto k : required) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      for (auto k : optional) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      report(path_key(path_, key),
             fmt::format("unknown key '{}'; allowed keys here: {}", printable(key, 64), allowed));
    }
  }
  for (auto k : required) {
    if (!j.contains(std::string(k))) {
      report(path_key(path_, k), "is required but missing");
    }
  }
}

bool object_reader::has(std::string_view key) const { return member(key) != nullptr; }

const json* object_reader::member(std::string_view key) const {
  if (!object_) return nullptr;
  auto it = object_->find(std::string(key));
  return it == object_->end() ? nullptr : &*it;
}

void object_reader::report(std::string path, std::string message) {
  problems_->push_back({std::move(path), std::move(message)});
}


std::optional<std::string> object_reader::string(std::string_view key, bool allow_empty) {
  const json* j = member(key);
  if (!j) return std::nullopt;
  if (!j->is_string()) {
    report(path(key), fmt::format("expected a string, found {} {}", type_name(*j), quote(*j)));
    return std::nullopt;
  }
  const auto& s = j->get_ref<const std::string&>();
  if (s.empty() && !allow_empty) {
    report(path(key), "is empty; expected a non-empty string");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> object_reader::boolean(std::string_view key) {
  const json* j = member(key);
  if (!j) return std::nullopt;
  if (!j->is_boolean()) {
    report(path(key), fmt::format("expected true or false, found {} {}", type_name(*j), quote(*j)));
    return std::nullopt;
  }
  return j->get<bool>();
}

std::optional<std::int64_t> object_reader::integer(std::string_view key, std::int64_t min,
                                                   std::int64_t max, bool redact) {
  const json* j = member(key);
  if (!j) return std::nullopt;
  const std::string found = redact ? std::string("a value") : quote(*j);
  if (j->is_number_unsigned()) {
    const auto u = j->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max) || static_cast<std::int64_t>(u) < min) {
      report(path(key),
             fmt::format("{} is out of range; expected an integer from {} to {}", found, min, max));
      return std::nullopt;
    }
    return static_cast<std::int64_t>(u);
  }
  if (j->is_number_float() && std::isfinite(j->get<double>()) &&
      std::floor(j->get<double>()) == j->get<double>()) {
    // An integer too large for 64 bits arrives as a floating-point number.
    report(path(key),
           fmt::format("{} is out of range; expected an integer from {} to {}", found, min, max));
    return std::nullopt;
  }
  if (!j->is_number_integer()) {
    report(path(key), fmt::format("expected an integer from {} to {}, found {} {}", min, max,
                                  type_name(*j), found));
    return std::nullopt;
  }
  const auto v = j->get<std::int64_t>();
  if (v < min || v > max) {
    report(path(key),
           fmt::format("{} is out of range; expected an integer from {} to {}", found, min, max));
    return std::nullopt;
  }
  return v;
}

std::optional<date::year_month_day> object_reader::date(std::string_view key, bool redact) {
  if (const json* j = member(key); redact && j && !j->is_string()) {
    report(path(key), fmt::format("expected a date string YYYY-MM-DD, found {}", type_name(*j)));
    return std::nullopt;
  }
  auto s = string(key, true);
  if (!s) return std::nullopt;
  auto ymd = parse_date(*s);
  if (!ymd) {
    report(path(key), fmt::format("{} is not a valid date; expected an existing calendar date "
                                  "as YYYY-MM-DD, e.g. 2025-11-14",
                                  redact ? std::string("the value") : "'" + printable(*s) + "'"));
  }
  return ymd;
}

std::optional<instant> object_reader::instant_value(std::string_view key) {
  auto s = string(key, true);
  if (!s) return std::nullopt;
  try {
    return parse_instant(*s, path(key));
  } catch (const error& e) {
    // parse_instant's message already starts with the path; keep what follows it.
    std::string msg = e.what();
    const std::string prefix = "[kakehashi.invalid_argument] " + path(key) + ": ";
    if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
    report(path(key), msg);
    return std::nullopt;
  }
}

const json* object_reader::array(std::string_view key) {
  const json* j = member(key);
  if (!j) return nullptr;
  if (!j->is_array()) {
    report(path(key), fmt::format("expected an array, found {}", type_name(*j)));
    return nullptr;
  }
  return j;
}

const json* object_reader::object(std::string_view key) {
  const json* j = member(key);
  if (!j) return nullptr;
  if (!j->is_object()) {
    report(path(key), fmt::format("expected an object, found {}", type_name(*j)));
    return nullptr;
  }
  return j;
}

std::optional<std::vector<std::string>> object_reader::strings(std::string_view key) {
  const json* a = array(key);
  if (!a) return std::nullopt;
  std::vector<std::string> out;
  bool good = true;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& e = (*a)[i];
    if (!e.is_string() || e.get_ref<const std::string&>().empty()) {
      report(path_index(path(key), i),
             fmt::format("expected a non-empty string, found {} {}", type_name(e), quote(e)));
      good = false;
      continue;
    }
    out.push_back(e.get<std::string>());
  }
  if (!good) return std::nullopt;
  return out;
}

}  // namespace kakehashi::detail
