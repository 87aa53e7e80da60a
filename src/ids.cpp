#include "kakehashi/ids.hpp"

#include "fail.hpp"

namespace kakehashi {
namespace {
constexpr std::size_t max_id_length = 128;

constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
}  // namespace

bool is_valid_id(std::string_view value) noexcept {
  if (value.empty() || value.size() > max_id_length || !is_alnum(value.front())) return false;
  for (char c : value) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

void validate_id(std::string_view field, std::string_view kind, std::string_view value) {
  if (is_valid_id(value)) return;
  const char* why = value.empty()                  ? "is empty"
                    : value.size() > max_id_length ? "is longer than 128 characters"
                                                   : "has a character outside [A-Za-z0-9._:-]";
  detail::fail(errc::invalid_argument, field,
               fmt::format("{} '{}' {}", kind, detail::printable(value), why),
               "expected 1 to 128 characters from [A-Za-z0-9._:-] starting with a letter or "
               "digit, e.g. 'k-hospital'");
}

}  // namespace kakehashi
