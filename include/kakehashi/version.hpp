#pragma once
// The library's version, for logs and compatibility checks. CMakeLists.txt reads the three
// numbers from this file, so it is the one place the version is written.

#define KAKEHASHI_VERSION_MAJOR 0
#define KAKEHASHI_VERSION_MINOR 1
#define KAKEHASHI_VERSION_PATCH 0

#define KAKEHASHI_DETAIL_STR_(x) #x
#define KAKEHASHI_DETAIL_STR(x) KAKEHASHI_DETAIL_STR_(x)

namespace kakehashi {
/// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
inline constexpr const char* version_string =
    KAKEHASHI_DETAIL_STR(KAKEHASHI_VERSION_MAJOR) "." KAKEHASHI_DETAIL_STR(
        KAKEHASHI_VERSION_MINOR) "." KAKEHASHI_DETAIL_STR(KAKEHASHI_VERSION_PATCH);
}  // namespace kakehashi
