#pragma once
// Private: one name table per public enum gives both to_string() and parse_*(), so the two can
// never disagree. The tables list every enumerator in declaration order.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kakehashi::detail {

template <class E, std::size_t N>
using name_table = std::array<std::pair<E, std::string_view>, N>;

template <class E, std::size_t N>
constexpr std::string_view name_of(const name_table<E, N>& table, E value) noexcept {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <class E, std::size_t N>
constexpr std::optional<E> value_of(const name_table<E, N>& table, std::string_view name) noexcept {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

template <class E, std::size_t N>
std::vector<E> values_in(const name_table<E, N>& table) {
  std::vector<E> out;
  for (const auto& entry : table) out.push_back(entry.first);
  return out;
}

// Every name of the table, in order, joined by ", " (for "expected one of ..." hints).
template <class E, std::size_t N>
std::string names_in(const name_table<E, N>& table) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.second;
  }
  return out;
}

}  // namespace kakehashi::detail
