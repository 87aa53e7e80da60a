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

}  // namespace kakehashi::detail
