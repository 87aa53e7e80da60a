#pragma once
// Private: the digest that identifies a consent record without storing it (the engine keeps it
// beside the consent's id; the FHIR export checks a consent against it).

#include <string>

#include "kakehashi/consent.hpp"

namespace kakehashi::detail {

/// Lower-case hex SHA-256 over a canonical JSON of the record's fields.
std::string consent_digest(const consent_record& c);

}  // namespace kakehashi::detail
