#pragma once
// The kakehashi tool's subcommands, and what they share. Each add_*_command registers its
// subcommand on the app and returns the function that runs it.
//
// Exit codes, the same for every command (docs/cli.md):
//   0  done (or evaluated: eligible, consent check without --exit-code)
//   1  refused by a rule or the referral's state (not eligible, consent blocked, not allowed in
//      this state, no right, an id that is taken), a tampered audit log, a blocked consent check
//      with --exit-code
//   2  bad input: a malformed or unknown value, an unreadable file, a wrong key
//   3  a bug in kakehashi (please report it)
//   4  the database failed (nothing was applied), or cannot say whether the command was applied:
//      retry with the same idempotency key

#include <CLI/CLI.hpp>
#include <functional>
#include <kakehashi/agreement.hpp>
#include <kakehashi/consent_rules.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kakehashi::tool {

using command = std::function<int()>;

/// `kakehashi eligible`: which partners may take a patient, and why each other may not.
command add_eligible_command(CLI::App& app);
/// `kakehashi consent check`: evaluate a consent record against the standard or a given policy.
command add_consent_command(CLI::App& app);
/// `kakehashi audit verify|checkpoint`.
command add_audit_command(CLI::App& app);
/// `kakehashi referral show|list|overdue|propose|consent|accept|decline|cancel|withdraw|
/// transfer|complete`.
command add_referral_command(CLI::App& app);
/// `kakehashi sweep`: the deadline sweep.
command add_sweep_command(CLI::App& app);
/// `kakehashi fhir export|import-consent`.
command add_fhir_command(CLI::App& app);
/// `kakehashi witness add|compare`: the partner's side of the signed checkpoints.
command add_witness_command(CLI::App& app);
/// `kakehashi serve`: the FHIR R4 referral service (docs/api.md).
command add_serve_command(CLI::App& app);
/// `kakehashi completion bash`: a bash completion script for the whole tool.
command add_completion_command(CLI::App& app);

constexpr int exit_ok = 0;
constexpr int exit_refused = 1;   ///< refused by a rule or state; audit verify found tampering
constexpr int exit_tampered = 1;  ///< audit verify found tampering
constexpr int exit_bad_input = 2;
constexpr int exit_internal = 3;  ///< a bug in kakehashi
constexpr int exit_storage = 4;   ///< storage failed or the outcome is unknown: retry, same key

/// The exit code for an error of code `c` (see above).
int exit_code_of(errc c) noexcept;

/// The whole file; throws kakehashi::error{errc::not_found} naming `option` if it cannot be read.
std::string read_text(const std::string& path, const char* option);
/// Writes `text` to `path` (through a temporary file renamed into place), or to standard output
/// when `path` is empty; throws kakehashi::error{errc::invalid_argument} naming `option` if it
/// cannot be written.
void write_text(const std::string& path, const std::string& text, const char* option);
/// The audit key in `path` (trailing newlines dropped); throws if it is shorter than 16 bytes.
std::string read_key(const std::string& path);
/// `text` as an instant, or the current time when it is empty (the tool's clock; the library
/// never reads one).
instant instant_or_now(const std::string& text, const char* option);

/// The candidate nearest to `word` (edit distance, ignoring case) if it is near enough to be a
/// typo (at most a third of the word's letters differ), else "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);
/// "expected one of: a, b, c (did you mean 'b'?)": the end of a message refusing `word`.
std::string expected_one_of(const std::string& word, const std::vector<std::string>& candidates);

/// `id` if the directory has that hospital; else throws invalid_argument naming `option`, listing
/// the hospitals and the nearest one.
hospital_id known_hospital(const agreement_directory& dir, const std::string& id,
                           const char* option);
/// `code` if some hospital or agreement of the directory names that specialty; else throws
/// invalid_argument naming `option` with the right spelling when only the case differs.
specialty_code known_specialty(const agreement_directory& dir, const std::string& code,
                               const char* option);
/// A state name as `referral list --state` takes it: a state, or closed:<reason>.
struct state_choice {
  std::optional<referral_state> state;
  std::optional<close_reason> reason;
};
state_choice parse_state_choice(const std::string& text, const char* option);

/// What the commands that write need: the database, the agreements, the policy, the key.
struct engine_args {
  std::string db;
  std::string agreements;
  std::string policy;
  std::string key_file;
  std::string durability = "full";
};
/// Registers --db, --agreements, --policy, --key-file and --durability on `cmd`.
void add_engine_options(CLI::App* cmd, engine_args& args);
/// Opens the engine the options name, over `agreements` (loaded from args.agreements). Refuses
/// (invalid_argument) to write unkeyed rows into a log whose rows carry MACs: pass the
/// --key-file the log was written with.
engine open_engine(const engine_args& args, const agreement_directory& agreements);

/// The local time of `at` in a hospital's zone: "2026-03-01 09:00 Asia/Tokyo" (or the zone's
/// name alone if it is unknown to this machine).
std::string local_time(const hospital& h, instant at);

/// The language a person reads a command's output in: `option` (--lang) when given, checked
/// (en, vi or ja); else the locale's (LC_ALL, LC_MESSAGES, then LANG, as POSIX orders them);
/// else English.
std::string reader_language(const std::string& option);

using kakehashi::printable;

}  // namespace kakehashi::tool
