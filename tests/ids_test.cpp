#include <catch2/catch.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/ids.hpp>
#include <string>
#include <unordered_set>

using namespace kakehashi;
using Catch::Matchers::Contains;

TEST_CASE("identifiers accept a printable, unambiguous alphabet only", "[ids]") {
  auto [value, valid] = GENERATE(table<std::string, bool>({
      {"k-hospital", true},
      {"shonan-kamakura", true},
      {"R-2026-0001", true},
      {"urn:oid:1.2.392", true},
      {"a", true},
      {std::string(128, 'x'), true},
      {std::string(129, 'x'), false},
      {"", false},
      {"-leading-dash", false},
      {".hidden", false},
      {"has space", false},
      {"quote'", false},
      {"semi;colon", false},
      {"new\nline", false},
      {"tab\t", false},
      {std::string("nul\0byte", 8), false},
      {"caf\xc3\xa9", false},  // non-ASCII: names belong in display fields, not ids
      {"Bạch Mai", false},
  }));
  CAPTURE(value);
  CHECK(is_valid_id(value) == valid);
}

TEST_CASE("validate names the field, the kind and the value made printable", "[ids][error]") {
  const hospital_id bad{"x\x01y"};
  try {
    validate("agreements[0].parties[1]", bad);
    FAIL("not refused");
  } catch (const error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(std::string(e.what()) ==
          "[kakehashi.invalid_argument] agreements[0].parties[1]: hospital id 'x\\x01y' has a "
          "character outside [A-Za-z0-9._:-]; expected 1 to 128 characters from [A-Za-z0-9._:-] "
          "starting with a letter or digit, e.g. 'k-hospital'");
  }
  CHECK_NOTHROW(validate("field", hospital_id{"bach-mai"}));
  // The example is one of the id's own kind (it used to be a hospital id for every kind).
  CHECK_THROWS_WITH(validate("--patient", patient_ref{"Nguyen Van A"}),
                    Contains("patient pseudonym") && Contains("e.g. 'P-3f9c1a'") &&
                        !Contains("Nguyen"));
  CHECK_THROWS_WITH(validate("--id", referral_id{"R 1"}), Contains("e.g. 'R-2026-0001'"));
  CHECK_THROWS_WITH(validate("--specialty", specialty_code{""}), Contains("e.g. 'oncology'"));
  // A very long hostile value is cut in the message.
  const hospital_id huge{std::string(10000, '%')};
  CHECK_THROWS_WITH(validate("hospital", huge), Contains("%%%...' is longer than 128 characters"));
  // A patient's or staff member's malformed pseudonym is most likely a name: never quoted.
  CHECK_THROWS_WITH(validate("patient", patient_ref{std::string(10000, '%')}),
                    Contains("patient pseudonym (the value is not shown: it may be a name) is "
                             "longer than 128 characters") &&
                        !Contains("%%"));
  CHECK_THROWS_WITH(validate("--user", user_id{"Sato Hanako"}),
                    Contains("user id (the value is not shown") && !Contains("Sato"));
}

TEST_CASE("ids of different kinds are distinct types that compare and hash by value", "[ids]") {
  static_assert(!std::is_convertible_v<hospital_id, referral_id>);
  static_assert(!std::is_convertible_v<std::string, hospital_id>);  // explicit construction only
  CHECK(hospital_id{"a"} == hospital_id{"a"});
  CHECK(hospital_id{"a"} != hospital_id{"b"});
  CHECK(hospital_id{"a"} < hospital_id{"b"});
  std::unordered_set<hospital_id> set{hospital_id{"a"}, hospital_id{"a"}, hospital_id{"b"}};
  CHECK(set.size() == 2);
}
