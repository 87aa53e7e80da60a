#pragma once
// Strong identifier types: a hospital, a referral, a pseudonymous patient, a specialty code and a
// consent reference cannot be mixed up, and none of them is a bare std::string in the API.
// Values are immutable; the types are thread-safe as values.
//
// Patients are referenced ONLY by a pseudonymous id (for example an HMAC of the record number with
// a key the hospital keeps), never by name, birth date or record number.

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>

namespace kakehashi {

/// An identifier of kind `Tag`. `Tag` supplies `static constexpr const char* kind` used in
/// error messages ("hospital id", ...). Construction does not validate; call validate() (or any
/// kakehashi operation, which does) to check the characters.
template <class Tag>
class basic_id {
 public:
  basic_id() = default;
  explicit basic_id(std::string value) : value_(std::move(value)) {}

  const std::string& value() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

  friend bool operator==(const basic_id& a, const basic_id& b) { return a.value_ == b.value_; }
  friend bool operator!=(const basic_id& a, const basic_id& b) { return a.value_ != b.value_; }
  friend bool operator<(const basic_id& a, const basic_id& b) { return a.value_ < b.value_; }

 private:
  std::string value_;
};

struct hospital_tag {
  static constexpr const char* kind = "hospital id";
  static constexpr const char* example = "k-hospital";
  static constexpr bool personal = false;
};
struct referral_tag {
  static constexpr const char* kind = "referral id";
  static constexpr const char* example = "R-2026-0001";
  static constexpr bool personal = false;
};
struct patient_tag {
  static constexpr const char* kind = "patient pseudonym";
  static constexpr const char* example = "P-3f9c1a";
  static constexpr bool personal = true;
};
struct specialty_tag {
  static constexpr const char* kind = "specialty code";
  static constexpr const char* example = "oncology";
  static constexpr bool personal = false;
};
struct consent_tag {
  static constexpr const char* kind = "consent reference";
  static constexpr const char* example = "C-2026-0001";
  static constexpr bool personal = false;
};
struct agreement_tag {
  static constexpr const char* kind = "agreement id";
  static constexpr const char* example = "mou-k-hospital-shonan-kamakura-2025";
  static constexpr bool personal = false;
};
struct user_tag {
  static constexpr const char* kind = "user id";
  static constexpr const char* example = "dr-sato";
  static constexpr bool personal = true;
};

using hospital_id = basic_id<hospital_tag>;      ///< "k-hospital", "shonan-kamakura"
using referral_id = basic_id<referral_tag>;      ///< "R-2026-0001"
using patient_ref = basic_id<patient_tag>;       ///< pseudonymous, e.g. "P-7f3a9c..."
using specialty_code = basic_id<specialty_tag>;  ///< "oncology", "cardiology"
using consent_ref = basic_id<consent_tag>;       ///< the consent record a referral relies on
using agreement_id = basic_id<agreement_tag>;    ///< an MoU, "mou-k-hospital-shonan-kamakura-2025"
using user_id = basic_id<user_tag>;              ///< a staff member, pseudonymous like patients

/// True when `value` is a well-formed identifier: 1 to 128 characters from [A-Za-z0-9._:-],
/// starting with a letter or digit. This keeps ids printable, unambiguous in logs and free of
/// spaces, quotes and control characters.
bool is_valid_id(std::string_view value) noexcept;

/// Throws kakehashi::error{errc::invalid_argument} naming `field`, the kind and the value (made
/// printable) if `id` is not a valid identifier (see is_valid_id()); the message ends with
/// `example`, a valid id of that kind, when one is given. With `personal` (patient and staff
/// pseudonyms) the value is not quoted: a malformed one is most likely a name typed where the
/// pseudonym belongs.
void validate_id(std::string_view field, std::string_view kind, std::string_view value,
                 std::string_view example = {}, bool personal = false);

template <class Tag>
void validate(std::string_view field, const basic_id<Tag>& id) {
  validate_id(field, Tag::kind, id.value(), Tag::example, Tag::personal);
}

template <class Tag>
std::ostream& operator<<(std::ostream& os, const basic_id<Tag>& id) {
  return os << id.value();
}

}  // namespace kakehashi

template <class Tag>
struct std::hash<kakehashi::basic_id<Tag>> {
  std::size_t operator()(const kakehashi::basic_id<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.value());
  }
};
