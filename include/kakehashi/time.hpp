#pragma once
// Instants. kakehashi never reads the wall clock: every operation takes the instant at which it
// happens, so tests and simulations are deterministic. Instants are UTC with second precision;
// local dates (an agreement's "effective from 14 November" in Asia/Tokyo) are converted by the
// callers that know the time zone. Thread-safe: free functions over values.

#include <date/date.h>

#include <string>
#include <string_view>

namespace kakehashi {

/// A point in time, UTC, whole seconds.
using instant = date::sys_seconds;

/// Parses an RFC 3339 / ISO 8601 instant with an explicit offset: "2026-03-01T00:00:00Z" or
/// "2026-03-01T07:00:00+07:00". Fractional seconds are not accepted.
/// Throws kakehashi::error{errc::invalid_argument} naming `field` and the value if the text is
/// malformed, has trailing characters, names an impossible date (2025-02-30) or has no offset.
instant parse_instant(std::string_view text, std::string_view field = "instant");

/// Formats as "2026-03-01T00:00:00Z".
std::string to_iso8601(instant at);

}  // namespace kakehashi
