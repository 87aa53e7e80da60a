#include "kakehashi/ids.hpp"

#include "common/fail.hpp"

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

namespace detail {

std::string bad_id_message(std::string_view kind, std::string_view value, bool personal,
                           std::string_view example) {
  const char* why = value.empty()                  ? "is empty"
                    : value.size() > max_id_length ? "is longer than 128 characters"
                                                   : "has a character outside [A-Za-z0-9._:-]";
  return fmt::format(
      "{}{} {}; expected 1 to 128 characters from [A-Za-z0-9._:-] starting with a letter or "
      "digit{}",
      kind,
      personal ? std::string(" (the value is not shown: it may be a name)")
               : fmt::format(" '{}'", printable(value)),
      why, example.empty() ? "" : fmt::format(", e.g. '{}'", example));
}

}  // namespace detail

void validate_id(std::string_view field, std::string_view kind, std::string_view value,
                 std::string_view example, bool personal) {
  if (is_valid_id(value)) return;
  throw error(errc::invalid_argument,
              fmt::format("{}: {}", field, detail::bad_id_message(kind, value, personal, example)));
}

}  // namespace kakehashi
