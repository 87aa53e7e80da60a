#include "kakehashi/error.hpp"

#include <ostream>

#include "common/enum_names.hpp"
#include "common/fail.hpp"

namespace kakehashi {
namespace {
// clang-format off
constexpr detail::name_table<errc, 9> errc_names{{
  {errc::invalid_argument,    "invalid_argument"},
  {errc::not_found,           "not_found"},
  {errc::already_exists,      "already_exists"},
  {errc::failed_precondition, "failed_precondition"},
  {errc::permission_denied,   "permission_denied"},
  {errc::not_eligible,        "not_eligible"},
  {errc::consent_blocked,     "consent_blocked"},
  {errc::storage,             "storage"},
  {errc::outcome_unknown,     "outcome_unknown"},
}};
// clang-format on
}  // namespace

std::string_view to_string(errc code) noexcept { return detail::name_of(errc_names, code); }
std::optional<errc> parse_errc(std::string_view name) noexcept {
  return detail::value_of(errc_names, name);
}

std::ostream& operator<<(std::ostream& os, errc code) { return os << to_string(code); }

error::error(errc code, const std::string& detail)
    : std::runtime_error(fmt::format("[kakehashi.{}] {}", to_string(code), detail)), code_(code) {}

namespace detail {

void fail(errc code, std::string_view subject, std::string_view problem, std::string_view valid) {
  if (valid.empty()) throw error(code, fmt::format("{}: {}", subject, problem));
  throw error(code, fmt::format("{}: {}; {}", subject, problem, valid));
}

}  // namespace detail

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(text.size() < max ? text.size() : max + 3);
  std::size_t n = 0;
  for (char ch : text) {
    if (n >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += ch;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++n;
  }
  return out;
}

}  // namespace kakehashi
