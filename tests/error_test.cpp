#include <catch2/catch.hpp>
#include <kakehashi/error.hpp>
#include <sstream>
#include <string>

using namespace kakehashi;

TEST_CASE("every error code has a stable name and number", "[error]") {
  // The numbers are part of the API (stored and logged): they may only be appended to.
  const std::vector<std::pair<errc, std::string>> codes{
      {errc::invalid_argument, "invalid_argument"},
      {errc::not_found, "not_found"},
      {errc::already_exists, "already_exists"},
      {errc::failed_precondition, "failed_precondition"},
      {errc::permission_denied, "permission_denied"},
      {errc::not_eligible, "not_eligible"},
      {errc::consent_blocked, "consent_blocked"},
      {errc::storage, "storage"},
      {errc::outcome_unknown, "outcome_unknown"},
  };
  int number = 1;
  for (const auto& [code, name] : codes) {
    CAPTURE(name);
    CHECK(static_cast<int>(code) == number++);
    CHECK(to_string(code) == name);
    std::ostringstream os;
    os << code;
    CHECK(os.str() == name);
  }
}

TEST_CASE("an error carries its code and a prefixed message", "[error]") {
  const error e(errc::not_found, "referral R-9: no such referral; list referrals to see the ids");
  CHECK(e.code() == errc::not_found);
  CHECK(std::string(e.what()) ==
        "[kakehashi.not_found] referral R-9: no such referral; list referrals to see the ids");
  const std::runtime_error& base = e;  // catchable as a standard exception
  CHECK(std::string(base.what()).rfind("[kakehashi.not_found] ", 0) == 0);
}
