#pragma once
// Private: the digest that identifies a consent record without storing it (the engine keeps it
// beside the consent's id; the FHIR export checks a consent against it).

#include <string>
#include <string_view>

#include "kakehashi/consent.hpp"

namespace kakehashi::detail {

/// The digest a consent is recorded with now (version 2): "2:" and the lower-case hex SHA-256
/// of a canonical JSON of every field of the record, so that editing any of them (the notices,
/// the APPI Art. 28(2) and Law 91 documents, how it was expressed, its validity, an emergency
/// basis) makes it another consent.
std::string consent_digest(const consent_record& c);

/// True when `stored` is the digest of `c` in the version it names: "2:<hex>" as above, or a bare
/// hex digest of version 1 (kakehashi 0.1), which covered fewer fields (id, patient, controller,
/// status, scope, capture, birth date, age check, capacity, purposes, data classes, method,
/// artifact, languages, withdrawal, grantors, recipients): a referral recorded then keeps
/// verifying, with what that version covered. Compares in constant time.
bool consent_digest_matches(const consent_record& c, std::string_view stored);

}  // namespace kakehashi::detail
