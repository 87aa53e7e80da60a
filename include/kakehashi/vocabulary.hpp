#pragma once
// kakehashi's coded vocabularies: the codes the library emits (states, close, decline and cancel
// reasons, withdrawal channels, roles, commands, eligibility reasons, refusal codes, specialties,
// document kinds, milestones, a Task's inputs and outputs, the consent rules and their findings'
// codes), each defined once as an HL7 FHIR R4 CodeSystem in
// data/codesystems/
// (one file per kind, compiled into the library and installed beside it in
// share/kakehashi/codesystems/), with its display in English and designations in Vietnamese
// and Japanese. The FHIR export takes its displays from here.
//
//   kakehashi::vocabulary::display("close-reason", "declined", "ja")  // "受入不可"
//
// A kind is the last part of the CodeSystem's url (urn:kakehashi:<kind>), as the export names
// its systems (fhir::options::system_base + kind). Thread-safe: the vocabularies are read once.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kakehashi::vocabulary {

/// The languages every concept is displayed in: "en" (the display), "vi" and "ja"
/// (designations).
const std::vector<std::string>& languages();

/// The kinds of code system, sorted: "cancel-reason", "close-reason", "command", ...
std::vector<std::string> kinds();

/// The codes of `kind` in the CodeSystem's order; empty for an unknown kind.
std::vector<std::string> codes(std::string_view kind);

/// The display of `code` of `kind` in `language` ("en", "vi" or "ja"); nullopt when the kind,
/// the code or the language is unknown.
std::optional<std::string> display(std::string_view kind, std::string_view code,
                                   std::string_view language = "en");

/// The CodeSystem resource of `kind` as FHIR R4 JSON, as shipped. Throws
/// kakehashi::error{errc::not_found} for an unknown kind, naming the kinds there are.
const std::string& code_system_json(std::string_view kind);

}  // namespace kakehashi::vocabulary
