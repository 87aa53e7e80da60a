#pragma once
// caught(f): the kakehashi::error that `f` throws, for a test to check its code and message; the
// test fails if `f` throws nothing.

#include <catch2/catch.hpp>
#include <kakehashi/error.hpp>

namespace kakehashi::test {

template <class F>
error caught(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e;
  }
  FAIL("expected a kakehashi::error");
  return error(errc::invalid_argument, "unreachable");
}

}  // namespace kakehashi::test
