#pragma once
// Runs a program as a user would, capturing its exit status, stdout and stderr (through files in
// the test's temporary directory).

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace kakehashi::test {

struct run_result {
  int exit_code;
  std::string out;
  std::string err;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `program args` through the shell; `args` must already be quoted as needed.
inline run_result run_program(const std::string& program, const std::string& args) {
  static int counter = 0;
  // ctest runs test cases as parallel processes: the pid keeps their files apart.
  const std::string base = std::string(KAKEHASHI_TEST_TMP) + "/run." + std::to_string(getpid()) +
                           "." + std::to_string(++counter);
  const std::string cmd = program + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(base + ".out"),
          read_text(base + ".err")};
}

}  // namespace kakehashi::test
