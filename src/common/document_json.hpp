#pragma once
// Private: a document reference as a JSON value (audit details, the FHIR export, the CLI), and
// back. The public string forms in document.hpp are built on these.

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "kakehashi/document.hpp"

namespace kakehashi::detail {

nlohmann::json document_json(const document_ref& d);
/// Throws error{errc::invalid_argument} naming `field`.<member> when `j` is not such an object
/// or a value is malformed (validate() is applied).
document_ref document_from_json(const nlohmann::json& j, std::string_view field);
/// An array of them (event::return_results), and back; `field`[i] in errors.
nlohmann::json documents_json(const std::vector<document_ref>& documents);
std::vector<document_ref> documents_from_json(const nlohmann::json& j, std::string_view field);

}  // namespace kakehashi::detail
