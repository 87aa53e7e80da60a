#pragma once
// MoU terms as data: the hospitals of a referral network and the agreements (memoranda of
// understanding) between them, loaded from the JSON format documented in docs/agreements.md.
//
// The loader is strict: unknown keys, wrong types, impossible dates, unknown time zones, unknown
// or duplicate ids, an end before a start, a party missing from the directory... every problem of
// a file is reported at once with its JSON path and the value found, and nothing of a bad file is
// loaded. A loaded agreement_directory is immutable and thread-safe to read.

#include <date/date.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kakehashi/document.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/milestone.hpp"
#include "kakehashi/time.hpp"

namespace kakehashi {

/// What an MoU covers. The seed MoUs name four areas; the second is split into its kinds.
enum class collaboration_area {
  patient_referral,            ///< "Referral of Patients": the area eligibility needs
  human_resource_development,  ///< human-resource development and academic exchange, in general
  clinical_training,
  expert_exchange,
  case_discussion,
  live_surgery,
  telemedicine,
  joint_research,      ///< joint research and development, clinical studies
  seminars_education,  ///< seminars, workshops, continuing medical education
};
std::string_view to_string(collaboration_area v) noexcept;
std::optional<collaboration_area> parse_collaboration_area(std::string_view name) noexcept;

/// Whether an agreement is in force, as its parties have declared it.
enum class agreement_state {
  active,      ///< in force between effective_from and effective_until
  suspended,   ///< not in force from `from` (until `until`, if given; open-ended otherwise)
  terminated,  ///< not in force from `from`, for good
};
std::string_view to_string(agreement_state v) noexcept;

struct agreement_status {
  agreement_state state = agreement_state::active;
  std::optional<date::year_month_day> from;   ///< required for suspended and terminated
  std::optional<date::year_month_day> until;  ///< suspended only: last day of the suspension
};

/// A hospital of the network.
struct hospital {
  hospital_id id;
  std::string name_en;                      ///< required
  std::string name_vi;                      ///< optional, may be empty
  std::string name_ja;                      ///< optional, may be empty
  std::string country;                      ///< ISO 3166-1 alpha-2: "VN", "JP"
  std::string time_zone;                    ///< IANA: "Asia/Ho_Chi_Minh", "Asia/Tokyo"
  std::vector<specialty_code> specialties;  ///< the specialties it offers
  std::vector<std::string> assumptions;     ///< values not stated by the sources, said so

  bool offers(const specialty_code& s) const;
  /// The name in `language` ("vi", "ja"), the English name when there is none in it.
  std::string_view name_in(std::string_view language) const;
};

/// Who may refer to whom under an agreement.
struct referral_direction {
  hospital_id from;
  hospital_id to;
};

/// Where an agreement's terms were taken from.
struct source_document {
  std::string title;
  std::string reference;  ///< file, URL or registry number
  std::optional<date::year_month_day> published;
};

/// What `accept` does when a referral lacks documents its agreement requires.
enum class missing_documents_rule {
  refuse,  ///< accept is refused (failed_precondition), naming the missing kinds
  warn,    ///< accept goes ahead; the audit row lists the missing kinds
};
std::string_view to_string(missing_documents_rule v) noexcept;

/// Whether `complete` needs results returned to the referring hospital first.
enum class results_rule {
  optional,  ///< a referral may be completed without results returned (the default)
  required,  ///< complete is refused (failed_precondition) until return_results succeeded
};
std::string_view to_string(results_rule v) noexcept;

/// One MoU. Dates are calendar days in `time_zone`: effective_from starts at local midnight,
/// effective_until is inclusive (in force until the end of that local day).
struct agreement {
  agreement_id id;
  std::string title;
  std::vector<hospital_id> parties;  ///< two or more hospitals of the directory
  date::year_month_day signed_on;
  date::year_month_day effective_from;
  std::optional<date::year_month_day> effective_until;  ///< nullopt: open-ended
  std::string time_zone;                                ///< IANA zone the dates are meant in
  agreement_status status;
  std::vector<collaboration_area> areas;
  // Referral terms (collaboration_area::patient_referral)
  std::vector<specialty_code> referral_specialties;  ///< specialties covered for referral
  std::vector<referral_direction> directions;        ///< allowed directions
  std::optional<int> response_deadline_days;         ///< how long the destination has to answer
  std::map<specialty_code, int> monthly_capacity;    ///< per specialty, at the destination
  /// Documents a referral must carry before the destination accepts it (a checklist: see
  /// engine::documents()); `missing_documents` says whether accepting without them is refused
  /// (the default) or allowed with the missing ones recorded in the audit row.
  std::vector<document_kind> required_documents;
  missing_documents_rule missing_documents = missing_documents_rule::refuse;
  /// Steps its referrals need between acceptance and arrival (milestone.hpp): the transfer is
  /// refused until each is recorded (engine::milestones()).
  std::vector<milestone> required_milestones;
  /// Whether the destination returns results (event::return_results) before it completes.
  results_rule results_before_completion = results_rule::optional;
  std::vector<std::string> languages;  ///< BCP 47 tags: "en", "vi", "ja"
  source_document source;
  std::vector<std::string> assumptions;  ///< values not stated by the source, said so

  bool has_party(const hospital_id& h) const;
  bool covers(collaboration_area a) const;
  bool covers_specialty(const specialty_code& s) const;
  bool allows_direction(const hospital_id& from, const hospital_id& to) const;
};

/// One problem found while loading: where (a JSON path such as "agreements[1].effective_from")
/// and what (naming the value found and what would be valid).
struct load_problem {
  std::string path;
  std::string message;
};

class agreement_directory;

/// The outcome of try_load: a directory, or every problem found (never both).
struct [[nodiscard]] agreements_load_result {
  std::shared_ptr<const agreement_directory> directory;
  std::vector<load_problem> problems;
  bool ok() const noexcept { return directory != nullptr; }
};

/// The hospitals and agreements of a referral network. Immutable once loaded.
///
/// Example:
///   auto dir = agreement_directory::load_file("data/agreements.json");
///   for (const auto& a : dir.agreements()) std::cout << a.id << ": " << a.title << '\n';
class agreement_directory {
 public:
  /// Parses the JSON text of docs/agreements.md. Never throws for bad input: the problems come
  /// back in the result. `source_name` prefixes nothing; it is used by load() in its message.
  static agreements_load_result try_load(std::string_view json_text);

  /// As try_load(), but throws kakehashi::error{errc::invalid_argument} whose message is
  /// "<source_name>: N problem(s): <path>: <message>; ..." listing every problem.
  static agreement_directory load(std::string_view json_text,
                                  std::string_view source_name = "agreements");

  /// Reads and loads a file. Throws kakehashi::error{errc::not_found} if it cannot be read, and
  /// {errc::invalid_argument} as load() does.
  static agreement_directory load_file(const std::string& path);

  /// Builds a directory from values (for tests and for callers with their own storage), checked
  /// by the same rules as the JSON loader. Throws as load() does.
  static agreement_directory from_values(std::vector<hospital> hospitals,
                                         std::vector<agreement> agreements);

  const std::vector<hospital>& hospitals() const noexcept { return hospitals_; }
  const std::vector<agreement>& agreements() const noexcept { return agreements_; }

  /// nullptr when unknown. Constant time (the directory indexes its ids when it is loaded).
  const hospital* find_hospital(const hospital_id& id) const noexcept;
  const agreement* find_agreement(const agreement_id& id) const noexcept;
  /// The agreements `h` is a party to, in the directory's order; empty for an unknown hospital.
  /// Indexed at load time: the cost grows with `h`'s agreements, not with the directory.
  std::vector<const agreement*> agreements_of(const hospital_id& h) const;

  /// The hospital, or throws kakehashi::error{errc::not_found} naming `field` and the known ids.
  const hospital& hospital_at(std::string_view field, const hospital_id& id) const;

  /// The instants (UTC) at which an agreement's local dates begin and end.
  instant starts_at(const agreement& a) const;
  /// One second past the last in-force second: the local midnight after effective_until.
  std::optional<instant> ends_at(const agreement& a) const;
  /// The local midnight at which `day` begins in `a`'s time zone.
  instant local_midnight(const agreement& a, date::year_month_day day) const;

 private:
  agreement_directory() = default;
  void index();  // fills the three maps below from hospitals_ and agreements_
  std::vector<hospital> hospitals_;
  std::vector<agreement> agreements_;
  // Positions, not pointers: a copied directory's indexes stay right.
  std::unordered_map<std::string, std::size_t> hospital_at_;
  std::unordered_map<std::string, std::size_t> agreement_at_;
  std::unordered_map<std::string, std::vector<std::size_t>> agreements_by_party_;
  // starts_at() and ends_at() of each agreement, by position: computed once (time-zone rules).
  std::vector<std::pair<instant, std::optional<instant>>> in_force_;
  const std::pair<instant, std::optional<instant>>* in_force_of(const agreement& a) const noexcept;
};

}  // namespace kakehashi
