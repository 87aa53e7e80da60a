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

/// Makes untrusted text safe to quote in a message or log line: printable ASCII is kept, every
/// other byte becomes \xNN, and text longer than `max` bytes is cut with "...".
std::string printable(std::string_view text, std::size_t max = 80);

}  // namespace kakehashi::detail
