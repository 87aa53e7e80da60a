// File input and output shared by the tool's commands.
#include <fmt/format.h>

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

}  // namespace kakehashi::tool
