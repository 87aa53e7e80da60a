#pragma once
// The kakehashi tool's subcommands. Each registers itself on the app and returns the function
// that runs it. Exit codes: 0 when the command evaluated (whatever the answer), 2 on bad input.

#include <CLI/CLI.hpp>
#include <functional>
#include <kakehashi/error.hpp>
#include <string>
#include <vector>

namespace kakehashi::tool {

using command = std::function<int()>;

/// `kakehashi eligible`: which partners may take a patient, and why each other may not.
command add_eligible_command(CLI::App& app);
/// `kakehashi consent check`: evaluate a consent record against the standard policy.
command add_consent_command(CLI::App& app);
/// `kakehashi audit verify|checkpoint`.
command add_audit_command(CLI::App& app);
/// `kakehashi referral show|list`.
command add_referral_command(CLI::App& app);

/// `kakehashi fhir export|import-consent`.
command add_fhir_command(CLI::App& app);

/// The whole file; throws kakehashi::error{errc::not_found} naming `option` if it cannot be read.
std::string read_text(const std::string& path, const char* option);
/// Writes `text` to `path` (through a temporary file renamed into place), or to standard output
/// when `path` is empty; throws kakehashi::error{errc::invalid_argument} naming `option` if it
/// cannot be written.
void write_text(const std::string& path, const std::string& text, const char* option);

/// The candidate nearest to `word` (edit distance, ignoring case) if it is near enough to be a
/// typo (at most a third of the word's letters differ), else "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

using kakehashi::printable;

constexpr int exit_ok = 0;
constexpr int exit_tampered = 1;  ///< audit verify found tampering
constexpr int exit_bad_input = 2;
constexpr int exit_internal = 3;  ///< a bug in kakehashi

}  // namespace kakehashi::tool
