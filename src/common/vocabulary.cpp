#include "kakehashi/vocabulary.hpp"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/fail.hpp"

namespace kakehashi::vocabulary {
namespace {

// {file name without .json, file text}: data/codesystems/*.json, written in by CMake.
constexpr std::pair<const char*, const char*> shipped[] = {
#include "codesystems.inc"
};

struct code_system {
  std::string text;
  std::vector<std::string> codes;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> displays;  // code, lang
};

using table = std::map<std::string, code_system, std::less<>>;

// The shipped files are checked by the tests (every concept displayed in every language, the
// kind named by the url); a file that does not parse is a build defect, reported once here.
const table& systems() {
  static const table all = [] {
    table out;
    for (const auto& [name, text] : shipped) {
      const nlohmann::json j = nlohmann::json::parse(text);
      const std::string url = j.at("url").get<std::string>();
      const std::string kind = url.substr(url.rfind(':') + 1);
      code_system cs;
      cs.text = text;
      for (const auto& c : j.at("concept")) {
        const std::string code = c.at("code").get<std::string>();
        cs.codes.push_back(code);
        auto& d = cs.displays[code];
        d["en"] = c.at("display").get<std::string>();
        for (const auto& g : c.value("designation", nlohmann::json::array())) {
          d[g.at("language").get<std::string>()] = g.at("value").get<std::string>();
        }
      }
      out.emplace(kind, std::move(cs));
      static_cast<void>(name);
    }
    return out;
  }();
  return all;
}

}  // namespace

const std::vector<std::string>& languages() {
  static const std::vector<std::string> all{"en", "vi", "ja"};
  return all;
}

std::vector<std::string> kinds() {
  std::vector<std::string> out;
  for (const auto& [kind, cs] : systems()) out.push_back(kind);
  return out;
}

std::vector<std::string> codes(std::string_view kind) {
  const auto it = systems().find(kind);
  return it == systems().end() ? std::vector<std::string>{} : it->second.codes;
}

std::optional<std::string> display(std::string_view kind, std::string_view code,
                                   std::string_view language) {
  const auto cs = systems().find(kind);
  if (cs == systems().end()) return std::nullopt;
  const auto concept_it = cs->second.displays.find(code);
  if (concept_it == cs->second.displays.end()) return std::nullopt;
  const auto d = concept_it->second.find(std::string(language));
  if (d == concept_it->second.end()) return std::nullopt;
  return d->second;
}

const std::string& code_system_json(std::string_view kind) {
  const auto it = systems().find(kind);
  if (it == systems().end()) {
    std::string known;
    for (const auto& k : kinds()) known += (known.empty() ? "" : ", ") + k;
    detail::fail(
        errc::not_found, "code system kind",
        fmt::format("'{}' is not one of kakehashi's", detail::printable(std::string(kind))),
        "one of " + known);
  }
  return it->second.text;
}

}  // namespace kakehashi::vocabulary
