#include "kakehashi/document.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/crypto.hpp"
#include "common/document_json.hpp"
#include "common/enum_names.hpp"
#include "common/fail.hpp"
#include "common/json_reader.hpp"  // path_key

namespace kakehashi {
namespace {
// clang-format off
constexpr detail::name_table<document_kind, 10> kind_names{{
  {document_kind::referral_letter,   "referral_letter"},
  {document_kind::imaging,           "imaging"},
  {document_kind::pathology_report,  "pathology_report"},
  {document_kind::laboratory_report, "laboratory_report"},
  {document_kind::discharge_summary, "discharge_summary"},
  {document_kind::treatment_plan,    "treatment_plan"},
  {document_kind::cost_estimate,     "cost_estimate"},
  {document_kind::transfer_paper,    "transfer_paper"},
  {document_kind::consent_form,      "consent_form"},
  {document_kind::other,             "other"},
}};
// clang-format on

bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

// RFC 6838 restricted-name: a letter or digit, then up to 126 of [A-Za-z0-9!#$&^_.+-].
bool is_restricted_name(std::string_view s) {
  if (s.empty() || s.size() > 127 || !is_alnum(s[0])) return false;
  for (char c : s) {
    if (!is_alnum(c) && std::string_view("!#$&^_.+-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool is_media_type(std::string_view s) {
  const auto slash = s.find('/');
  return slash != std::string_view::npos && is_restricted_name(s.substr(0, slash)) &&
         is_restricted_name(s.substr(slash + 1));
}

// BCP 47 in the shape hospitals use: a primary language subtag of 2 or 3 letters, then subtags
// of 1 to 8 letters or digits ("vi", "ja", "en-GB", "zh-Hant-TW"), at most 35 characters.
bool is_language_tag(std::string_view s) {
  if (s.empty() || s.size() > 35) return false;
  std::size_t start = 0;
  bool first = true;
  while (true) {
    const auto dash = s.find('-', start);
    const std::string_view sub =
        s.substr(start, dash == std::string_view::npos ? s.npos : dash - start);
    if (first) {
      if (sub.size() < 2 || sub.size() > 3) return false;
      for (char c : sub) {
        if (!is_alpha(c)) return false;
      }
    } else {
      if (sub.empty() || sub.size() > 8) return false;
      for (char c : sub) {
        if (!is_alnum(c)) return false;
      }
    }
    first = false;
    if (dash == std::string_view::npos) return true;
    start = dash + 1;
  }
}

}  // namespace

std::string_view to_string(document_kind v) noexcept { return detail::name_of(kind_names, v); }
std::optional<document_kind> parse_document_kind(std::string_view name) noexcept {
  return detail::value_of(kind_names, name);
}
const std::vector<document_kind>& all_document_kinds() {
  static const std::vector<document_kind> all = detail::values_in(kind_names);
  return all;
}
std::string document_kind_names() { return detail::names_in(kind_names); }

void validate(std::string_view field, const document_ref& d) {
  const std::string f(field);
  validate(f + ".id", d.id);
  if (!parse_document_kind(to_string(d.kind))) {
    detail::fail(errc::invalid_argument, f + ".kind", "is not a document kind",
                 "expected one of " + document_kind_names());
  }
  bool hex = d.sha256.size() == 64;
  for (char c : d.sha256) hex = hex && is_hex_lower(c);
  if (!hex) {
    detail::fail(errc::invalid_argument, f + ".sha256",
                 fmt::format("'{}' is not a SHA-256 digest", detail::printable(d.sha256)),
                 "expected 64 lower-case hexadecimal digits (sha256sum prints them)");
  }
  if (!is_media_type(d.media_type)) {
    detail::fail(errc::invalid_argument, f + ".media_type",
                 fmt::format("'{}' is not a media type", detail::printable(d.media_type)),
                 "expected type/subtype without parameters, as application/pdf or "
                 "application/dicom");
  }
  if (d.size == 0) {
    detail::fail(errc::invalid_argument, f + ".size", "is 0 bytes",
                 "expected the size of the content in bytes, at least 1");
  }
  if (!is_language_tag(d.language)) {
    detail::fail(errc::invalid_argument, f + ".language",
                 fmt::format("'{}' is not a language tag", detail::printable(d.language)),
                 "expected a BCP 47 tag such as vi, ja, en or en-GB");
  }
}

namespace detail {

nlohmann::json document_json(const document_ref& d) {
  return {{"id", d.id.value()}, {"kind", std::string(to_string(d.kind))},
          {"sha256", d.sha256}, {"media_type", d.media_type},
          {"size", d.size},     {"language", d.language}};
}

document_ref document_from_json(const nlohmann::json& j, std::string_view field) {
  const std::string f(field);
  if (!j.is_object()) {
    fail(errc::invalid_argument, f, "is not an object",
         "expected {\"id\", \"kind\", \"sha256\", \"media_type\", \"size\", \"language\"}");
  }
  for (const auto& [key, value] : j.items()) {
    static_cast<void>(value);
    if (key != "id" && key != "kind" && key != "sha256" && key != "media_type" && key != "size" &&
        key != "language") {
      fail(errc::invalid_argument, path_key(f, key), "is not a member of a document",
           "expected id, kind, sha256, media_type, size and language (never the content)");
    }
  }
  const auto str = [&](const char* key) -> std::string {
    if (!j.contains(key) || !j[key].is_string()) {
      fail(errc::invalid_argument, f + "." + key, "is missing or not a string",
           "expected id, kind, sha256, media_type, size and language");
    }
    return j[key].get<std::string>();
  };
  document_ref d;
  d.id = document_id{str("id")};
  const std::string kind = str("kind");
  const auto k = parse_document_kind(kind);
  if (!k) {
    fail(errc::invalid_argument, f + ".kind",
         fmt::format("'{}' is not a document kind", printable(kind)),
         "expected one of " + document_kind_names());
  }
  d.kind = *k;
  d.sha256 = str("sha256");
  d.media_type = str("media_type");
  if (!j.contains("size") || !j["size"].is_number_unsigned()) {
    fail(errc::invalid_argument, f + ".size", "is missing or not a whole number of bytes",
         "expected the size of the content in bytes, at least 1");
  }
  d.size = j["size"].get<std::uint64_t>();
  d.language = str("language");
  kakehashi::validate(field, d);
  return d;
}

nlohmann::json documents_json(const std::vector<document_ref>& documents) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : documents) out.push_back(document_json(d));
  return out;
}

std::vector<document_ref> documents_from_json(const nlohmann::json& j, std::string_view field) {
  const std::string f(field);
  if (!j.is_array()) {
    fail(errc::invalid_argument, f, "is not an array", "expected an array of documents");
  }
  std::vector<document_ref> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    out.push_back(document_from_json(j[i], fmt::format("{}[{}]", f, i)));
  }
  return out;
}

}  // namespace detail

content_fingerprint fingerprint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    detail::fail(errc::not_found, detail::printable(path, 200), "cannot be opened",
                 "give the path of the document's file");
  }
  content_fingerprint f;
  f.sha256 = detail::sha256_hex(in, f.size);
  if (in.bad()) {
    detail::fail(errc::storage, detail::printable(path, 200), "could not be read to the end",
                 "check the file and read it again");
  }
  return f;
}

std::string to_json(const document_ref& d) { return detail::document_json(d).dump(); }

document_ref document_ref_from_json(std::string_view json_text, std::string_view field) {
  const auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    detail::fail(errc::invalid_argument, field, "is not JSON",
                 "expected {\"id\", \"kind\", \"sha256\", \"media_type\", \"size\", "
                 "\"language\"}");
  }
  return detail::document_from_json(j, field);
}

}  // namespace kakehashi
