#pragma once
// Private: the one place kakehashi errors are thrown from, and helpers to build their messages.

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "kakehashi/error.hpp"

namespace kakehashi::detail {

/// Throws error{code, "<subject>: <problem>; <valid>"}. `valid` may be empty.
[[noreturn]] void fail(errc code, std::string_view subject, std::string_view problem,
                       std::string_view valid);

using kakehashi::printable;  // error.hpp

/// "<kind> '<value>' <what is wrong>; expected 1 to 128 characters from [A-Za-z0-9._:-] ...":
/// the message of a malformed id, for loaders and validate(). With `personal` (a patient or
/// staff pseudonym) the value is not quoted: a malformed one is most likely a name.
std::string bad_id_message(std::string_view kind, std::string_view value, bool personal = false,
                           std::string_view example = {});

}  // namespace kakehashi::detail
