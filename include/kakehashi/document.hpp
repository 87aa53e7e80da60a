#pragma once
// A document a referral carries (the referral letter, imaging, a pathology report...), by
// reference: its kind, SHA-256, media type, size and language, never its content. The content
// stays in the hospitals' own systems (a PACS, a document store) and travels by their channels;
// kakehashi records which document was attached, so that the destination can check the file it
// received against the hash, and so that an agreement's required documents become a checklist.
//
//   document_ref d{document_id{"D-77"}, document_kind::imaging,
//                  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
//                  "application/dicom", 52'428'800, "vi"};
//   validate("document", d);  // throws kakehashi::error{errc::invalid_argument} naming the field
//
// Values; thread-safe as values.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kakehashi/ids.hpp"

namespace kakehashi {

struct document_tag {
  static constexpr const char* kind = "document id";
  static constexpr const char* example = "D-2026-0001";
  static constexpr bool personal = false;
};
/// The referring hospital's identifier of a document ("D-2026-0001"): opaque, never a file name
/// (which may hold a patient's name).
using document_id = basic_id<document_tag>;

// clang-format off
/// What a document is. Coded, never free text (a title may hold a patient's name); the FHIR
/// export maps each kind to its LOINC document type where there is one (urn:kakehashi:document-kind
/// lists them with their displays in English, Vietnamese and Japanese).
enum class document_kind {
  referral_letter,    ///< the referring physician's letter (LOINC 57133-1 Referral note)
  imaging,            ///< images or their report: CT, MRI, PET (18748-4 Diagnostic imaging study)
  pathology_report,   ///< histology, cytology (11526-1 Pathology study)
  laboratory_report,  ///< laboratory results (11502-2 Laboratory report)
  discharge_summary,  ///< a summary of a stay (18842-5 Discharge summary)
  treatment_plan,     ///< a proposed plan of care (18776-5 Plan of care note)
  cost_estimate,      ///< the destination's estimate of the cost of treatment
  transfer_paper,     ///< the referring hospital's transfer form (Vietnam: giấy chuyển tuyến)
  consent_form,       ///< the signed consent, as a document (59284-0 Consent)
  other,              ///< anything else the hospitals agree to exchange
};
// clang-format on

std::string_view to_string(document_kind v) noexcept;
/// Inverse of to_string(); std::nullopt for an unknown name.
std::optional<document_kind> parse_document_kind(std::string_view name) noexcept;
/// Every kind, in declaration order.
const std::vector<document_kind>& all_document_kinds();
/// Their names joined by ", ": "referral_letter, imaging, ...".
std::string document_kind_names();

/// A document by reference.
struct document_ref {
  document_id id;
  document_kind kind = document_kind::other;
  std::string sha256;      ///< of the content: 64 lower-case hexadecimal digits
  std::string media_type;  ///< "application/pdf", "application/dicom" (type/subtype, RFC 6838)
  std::uint64_t size = 0;  ///< of the content in bytes, at least 1
  std::string language;    ///< BCP 47 tag of the text: "vi", "ja", "en", "en-GB"

  friend bool operator==(const document_ref& a, const document_ref& b) {
    return a.id == b.id && a.kind == b.kind && a.sha256 == b.sha256 &&
           a.media_type == b.media_type && a.size == b.size && a.language == b.language;
  }
  friend bool operator!=(const document_ref& a, const document_ref& b) { return !(a == b); }
};

/// Throws kakehashi::error{errc::invalid_argument} naming `field`.id, .sha256, .media_type,
/// .size or .language, the value (made printable, bounded) and what would be valid, if `d` is
/// malformed.
void validate(std::string_view field, const document_ref& d);

/// The SHA-256 and size of a file's content, read in blocks and never kept: what a
/// document_ref's sha256 and size hold (sha256sum prints the same digest).
struct content_fingerprint {
  std::string sha256;
  std::uint64_t size = 0;
};
/// Throws kakehashi::error{errc::not_found} if `path` cannot be opened, {errc::storage} if it
/// cannot be read to the end. The path is named in the message; the content never is.
content_fingerprint fingerprint_file(const std::string& path);

/// A document as a JSON object: {"id", "kind", "sha256", "media_type", "size", "language"}; and
/// back, throwing invalid_argument naming the field (`field` prefixes the names).
std::string to_json(const document_ref& d);
document_ref document_ref_from_json(std::string_view json_text,
                                    std::string_view field = "document");

}  // namespace kakehashi
