#pragma once
// The one exception type kakehashi throws, and its error codes.
//
// Every message has the form `[kakehashi.<code>] <subject>: <what is wrong>; <what would be valid>`
// and names the offending value, so it can be shown to an operator as it is. Messages never contain
// patient-identifying data: patients appear only by their pseudonymous id.
// docs/errors.md lists every code with an example. Thread-safe: error is an immutable value.

#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kakehashi {

/// Error codes, in the spirit of abseil's canonical codes. Prefer the most specific one.
/// New codes are added at the end; the numeric values are stable.
enum class errc {
  invalid_argument = 1,  ///< malformed input, whatever the state (bad id, impossible date, ...)
  not_found,             ///< unknown referral, hospital or agreement
  already_exists,        ///< an id that must be new is taken
  failed_precondition,   ///< a well-formed event that is illegal in the referral's current state
  permission_denied,     ///< the acting organisation or role may not fire this event
  not_eligible,          ///< no agreement allows this destination, specialty and instant
  consent_blocked,       ///< the consent policy does not allow this step
  storage,               ///< the database failed; nothing was applied
  outcome_unknown,  ///< the database cannot say whether a commit happened; retry with the same key
};

/// The stable name of a code: "invalid_argument", "not_found", ...
std::string_view to_string(errc code) noexcept;
/// The code named `name` ("not_found", ...); std::nullopt for an unknown name.
std::optional<errc> parse_errc(std::string_view name) noexcept;
std::ostream& operator<<(std::ostream& os, errc code);

/// Makes untrusted text safe to quote in a message or log line: printable ASCII is kept, every
/// other byte (control characters, a backslash, every byte of non-ASCII text) becomes \xNN, and
/// text longer than `max` bytes is cut with "...". Every value kakehashi quotes goes through it.
std::string printable(std::string_view text, std::size_t max = 80);

/// The exception thrown by every kakehashi operation that is refused or fails.
///
/// Example:
///   try { r.apply(event::accept{...}); }
///   catch (const kakehashi::error& e) {
///     if (e.code() == kakehashi::errc::permission_denied) { ... }
///     log(e.what());  // "[kakehashi.permission_denied] referral R-1: ..."
///   }
class error : public std::runtime_error {
 public:
  /// Builds "[kakehashi.<code>] <detail>". `detail` should read "<subject>: <what is wrong>; <what
  /// would be valid>".
  error(errc code, const std::string& detail);

  errc code() const noexcept { return code_; }

 private:
  errc code_;
};

}  // namespace kakehashi
