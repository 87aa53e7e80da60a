// File input and output shared by the tool's commands.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <kakehashi/error.hpp>
#include <sstream>

#include "commands.hpp"

namespace kakehashi::tool {

std::string read_text(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in) {
    throw error(errc::not_found,
                fmt::format("{}: cannot read '{}'; pass a readable file", option, path));
  }
  return ss.str();
}

void write_text(const std::string& path, const std::string& text, const char* option) {
  if (path.empty()) {
    std::cout << text;
    return;
  }
  // A reader never sees half a file: write beside it, then rename over it.
  const std::string temporary = path + ".part";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw error(errc::invalid_argument,
                  fmt::format("{}: cannot write '{}'; pass a writable path", option, path));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw error(errc::invalid_argument,
                fmt::format("{}: cannot write '{}'; pass a writable path", option, path));
  }
}

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = word.size() / 3 + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace kakehashi::tool
