#pragma once
// The durable referral engine: one object over one SQLite file (created on first use) that runs
// each referral's state machine, checks eligibility and consent at the right steps, and records
// every step in a tamper-evident, hash-chained audit log in the same transaction.
//
// Every command is one BEGIN IMMEDIATE transaction (WAL, busy timeout): the referral row (with a
// version) and the audit row, which carries the command's unique idempotency key, commit together
// or not at all. A refused
// command changes nothing about the referral and is audited as a refused attempt. A command
// repeated with the same idempotency key returns the first result and writes nothing.
//
// Patients appear only by pseudonymous id. A consent record holds a birth date, so the engine
// never stores a consent: it keeps the consent's id and SHA-256 digest, and `transfer` is given
// the consent again and checks that it is the one recorded.
//
// Thread safety: an engine serialises its own calls (an internal mutex), and commits the commands
// threads submit at the same time together (group commit: engine::stats()); several engines, in
// threads or processes, may share one file.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kakehashi/agreement.hpp"
#include "kakehashi/consent.hpp"
#include "kakehashi/consent_rules.hpp"
#include "kakehashi/eligibility.hpp"
#include "kakehashi/error.hpp"  // what every command throws
#include "kakehashi/holidays.hpp"
#include "kakehashi/referral.hpp"

namespace kakehashi {

/// How hard a commit is pushed to disk.
enum class durability {
  full,    ///< synchronous=FULL: a commit survives power loss (the default)
  normal,  ///< synchronous=NORMAL: survives an application crash, may lose the last commits on
           ///< power loss
};

/// The working days engine_options::emergency_review_days gives by default.
inline constexpr int default_emergency_review_days = 3;

struct engine_options {
  durability sync = durability::full;
  int busy_timeout_ms = 5000;
  /// A key kept outside the database. When set, every audit row carries an HMAC-SHA256 of its
  /// hash, so that a forged appended row is detected by verify() with the same key. A keyed log
  /// must always be opened with its key (open() refuses it without one).
  std::optional<std::string> audit_key;
  /// Organisation-level compliance per sending hospital (VN-10, VN-11). When a hospital's
  /// first_cross_border_transfer is unset, the engine uses the first transfer it has recorded.
  std::map<hospital_id, organisation_compliance> compliance;
  /// The SQLite VFS to open the file with; empty for the default. (Tests inject I/O faults
  /// through one.)
  std::string vfs;
  /// The data classes a referral sends, for consent evaluation.
  std::vector<std::string> payload_classes{"diagnosis", "imaging", "pathology"};
  /// The working-day calendars the duties' deadlines are counted on, by country ("VN", "JP"):
  /// a country missing here uses working_calendar::builtin(). (A newer calendar file, loaded
  /// with working_calendar::load, goes here.)
  std::map<std::string, working_calendar> calendars;
  /// The working days a second clinician has to review a step taken on an emergency basis
  /// (duty_kind::emergency_review), counted on the responsible hospital's calendar; 1 to 30.
  int emergency_review_days = default_emergency_review_days;
  /// The engine's clock: the instant it records each command at (the audit row's recorded_at),
  /// read once per command. Unset (the default): a command is recorded at the instant it carries,
  /// which is then both when it happened and when it was recorded. Set: the command's instant is
  /// when it happened (kept in the row as details.occurred_at when it differs), and may be up to
  /// `clock_skew` after the clock's (the partner's clock runs ahead), never more. Inject it (a
  /// test's fixed instant, a simulation's); the library never reads the wall clock itself.
  std::function<instant()> clock;
  std::chrono::seconds clock_skew{300};
  /// How long before the referral's last change an event may have happened and still be
  /// recorded (a partner's message that arrives late): 0, the default, keeps events in time
  /// order; up to 30 days. A late event is recorded in arrival order (its audit row after the
  /// later ones), and the referral's updated_at stays at its latest change.
  std::chrono::seconds late_event_tolerance{0};
};

/// FHIR AuditEvent.outcome codes.
enum class audit_outcome : int {
  success = 0,
  minor_failure = 4,    ///< refused: the request was wrong (state, rights, input)
  serious_failure = 8,  ///< refused by a rule: not eligible, consent blocked
  major_failure = 12,
};

/// One row of the audit log.
struct audit_entry {
  std::int64_t seq = 0;
  referral_id referral;
  instant recorded_at;  ///< when the engine recorded the command (UTC): engine_options::clock's
                        ///< instant, or without a clock the command's own
  instant occurred_at;  ///< when it happened: the command's instant (= recorded_at without a clock)
  actor by;
  std::string command;       ///< "propose", "record_consent", "accept", ..., "expire"
  std::string state_before;  ///< "" before propose; "closed:declined" for a closed referral
  std::string state_after;
  audit_outcome outcome = audit_outcome::success;
  /// The close reason when the command closed the referral; the refusal code (errc) of a
  /// refusal; "emergency" for an accepted step that rested on an emergency basis (it opened an
  /// emergency review); "" otherwise.
  std::string reason_code;
  std::string details;      ///< JSON: eligibility, consent findings' rule ids, agreement id...
  std::string idempotency_key;
  std::string prev_hash;  ///< hex SHA-256
  std::string hash;       ///< hex SHA-256 over a length-prefixed encoding of the row
};

/// A document attached to a referral, as the audit log records it (engine::documents()).
struct attached_document {
  document_ref document;
  actor by;
  instant at;
  std::int64_t audit_seq = 0;  ///< the attach_document row
};

/// A referral's documents against its agreement's required ones.
struct document_checklist {
  std::vector<document_kind> required;      ///< the agreement's required_documents
  std::vector<attached_document> attached;  ///< in the order they were attached
  std::vector<document_kind> missing;       ///< required kinds with no document attached
  missing_documents_rule rule = missing_documents_rule::refuse;  ///< the agreement's
  bool complete() const noexcept { return missing.empty(); }
};
/// The checklist of `attached` against `a`'s required documents.
document_checklist check_documents(const agreement& a, std::vector<attached_document> attached);

/// A milestone recorded on a referral, as the audit log records it (engine::milestones()).
struct recorded_milestone {
  kakehashi::milestone milestone = kakehashi::milestone::travel_arranged;
  actor by;
  instant at;
  std::int64_t audit_seq = 0;  ///< the record_milestone row
};

/// A referral's milestones against its agreement's required ones.
struct milestone_checklist {
  std::vector<kakehashi::milestone> required;  ///< the agreement's required_milestones
  std::vector<recorded_milestone> recorded;    ///< in the order they were recorded
  std::vector<kakehashi::milestone> missing;   ///< required and not recorded
  bool complete() const noexcept { return missing.empty(); }
};
/// The checklist of `recorded` against `a`'s required milestones.
milestone_checklist check_milestones(const agreement& a, std::vector<recorded_milestone> recorded);

/// What verify() found.
struct [[nodiscard]] verify_result {
  bool intact = true;
  std::int64_t rows = 0;
  std::int64_t referrals = 0;
  std::string head_hash;
  std::optional<std::int64_t> first_bad_seq;  ///< the first row where something disagrees
  std::string problem;                        ///< what disagrees, or "" when intact
  /// Transfers and results returns whose provision record (provision_record) was checked, and
  /// those written before the engine kept such records.
  std::int64_t provisions = 0;
  std::int64_t provisions_without_record = 0;
  /// The key does not match the checkpoint's MAC: a wrong key, or a forged checkpoint. The log
  /// is then checked without the key; `intact` is false, and `problem` is the log's own first
  /// problem if it has one, else `key_problem`. (Without a checkpoint a wrong key cannot be told
  /// from forged rows: the first row's MAC fails as tampering.)
  bool key_mismatch = false;
  std::string key_problem;  ///< what did not match, or ""
};

/// The last row of the audit log: its sequence number and hash (0 and 64 zeros when empty).
struct log_head {
  std::int64_t seq = 0;
  std::string hash;
};

/// An anchor of the audit log kept outside the database.
struct checkpoint {
  std::int64_t seq = 0;
  std::string head_hash;
  instant at;
  bool rows_keyed = false;  ///< the log's rows carry MACs (the engine had an audit key)
  std::string mac;          ///< hex HMAC-SHA256 over (seq, head_hash, at, rows_keyed) with the key
};
/// "{"seq":..,"head":..,"at":..,"mac":..}" and back; parse throws invalid_argument naming the
/// field.
std::string to_json(const checkpoint& c);
checkpoint parse_checkpoint(std::string_view json_text);

/// Which referrals list() returns: every condition that is set must hold. Results are in id
/// order; `offset` and `limit` page through them.
struct referral_filter {
  std::optional<hospital_id> hospital;  ///< the origin or the destination
  std::optional<specialty_code> specialty;
  std::optional<referral_state> state;
  std::optional<kakehashi::close_reason> reason;  ///< closed for this reason (state is closed)
  std::optional<patient_ref> patient;
  std::optional<instant> proposed_from;    ///< proposed at or after this instant
  std::optional<instant> proposed_before;  ///< proposed before this instant
  std::size_t offset = 0;                  ///< skip this many matches
  std::optional<std::size_t> limit;        ///< return at most this many
};

/// Conditions a caller may put on a command (an HTTP service puts its If-Match and request body
/// here). Both are checked in the command's own transaction.
struct command_options {
  /// Refuse (failed_precondition: "... is at version V, not the expected E ...") unless the
  /// referral is at this version: optimistic concurrency, as HTTP If-Match.
  std::optional<std::uint64_t> expected_version;
  /// A digest of the request the command came from (say, SHA-256 of a method, path and body),
  /// kept in the audit row. A repeat with the same idempotency key and another digest is refused
  /// (already_exists) instead of being answered from the log: a client that reuses a key for a
  /// different request learns of its mistake.
  std::string request_digest;
};

/// The change feed: what changes() returns. A hospital's events are the accepted commands on the
/// referrals it is a party to, numbered 1, 2, 3... in the order the log holds them; the log is
/// append-only, so an event number always names the same command. This is what a notification
/// sender or an integration engine follows (the audit row is written in the same transaction as
/// the change, so the feed is the outbox: nothing committed is missing from it).
struct change_query {
  hospital_id hospital;
  std::int64_t after_event = 0;           ///< return the events numbered after this one
  std::optional<std::int64_t> after_seq;  ///< event `after_event`'s audit seq, when known: then
                                          ///< only the rows after it are read
  std::size_t limit = 100;
  bool include_own = false;  ///< also the commands `hospital` fired itself
};
struct change {
  std::int64_t event = 0;  ///< 1, 2, 3... for this hospital (and this include_own)
  audit_entry row;
};

/// A provision of the patient's data from one hospital to another, as each side must keep a
/// record of it: the provider's record and the recipient's confirmation of who provided and how
/// the provider acquired the data (JP-07: APPI Art. 29 and 30), and the consent behind it, which
/// the controller must be able to prove (VN-22: Decree 13 Art. 11(10)). The engine writes one in
/// the audit row of every transfer (origin to destination: the referral's data travels with the
/// patient) and of every results return (destination to origin), in the same transaction;
/// `audit verify` checks each against the consent the referral recorded. Pseudonymous: the
/// patient by their pseudonymous id, the consent by id, digest and artifact hash; no justification
/// text.
struct provision_record {
  std::int64_t audit_seq = 0;  ///< the transfer or return_results row
  referral_id referral;
  patient_ref patient;
  instant at;           ///< when the data was provided (the row's occurred_at)
  actor by;             ///< who recorded the step
  std::string command;  ///< "transfer" or "return_results"
  hospital_id provider;
  std::string provider_name;  ///< the agreements' English name, at the time of the provision
  std::string provider_country;
  hospital_id recipient;
  std::string recipient_name;
  std::string recipient_country;
  legal_basis basis = legal_basis::consent;  ///< consent, or emergency
  consent_ref consent;                       ///< the consent recorded for the referral
  hospital_id consent_controller;  ///< who obtained it (how the provider acquired the data)
  instant consent_captured_at;
  std::string consent_method;   ///< expression_method: "written_signature", ...
  std::string consent_digest;   ///< the digest the record_consent row recorded
  std::string artifact_sha256;  ///< the signed form's or recording's hash; "" on an emergency basis
  std::vector<std::string> data_classes;  ///< what was provided (after the policy's filters)
  std::vector<document_ref> documents;    ///< the documents that went with it, by reference
};

/// A hospital's provisions, as provider or recipient, in a period: the record a regulator asks
/// for (engine::provisions, `kakehashi audit provisions`). The period is of when the engine
/// recorded them (the rows' recorded_at; the same as when they happened without an engine clock).
struct provision_query {
  hospital_id hospital;
  std::optional<instant> from;   ///< inclusive; nullopt: from the first
  std::optional<instant> until;  ///< exclusive; nullopt: to the last
};
struct provision_report {
  std::vector<provision_record> provisions;  ///< in log order
  /// Transfers and returns in the period written before the engine kept provision records (their
  /// rows name the consent but carry no record).
  std::int64_t without_record = 0;
};

/// A duty a rule creates: something a hospital must do by a deadline, recorded in the same
/// transaction as the event that created it (docs/duties.md).
///
/// A withdrawal of consent creates one (kind withdrawal): the referring hospital, which obtained
/// the consent, must acknowledge the withdrawal within 2 working days and complete it within 20
/// days: stop every cross-border processing for the referral and have the destination, which
/// received the referral's data from the proposal on, stop too (the stop notice; Decree 356/2025
/// Art. 5(2) as consent_rules.md cites it for VN-15: 15 days, 20 when a third party must also
/// stop). Days are counted on the referring hospital's country's calendar (holidays.hpp). A
/// Japanese referring hospital gets the same figures as library policy (JP-12: the APPI sets no
/// period). The duty's number is the seq of the audit row that created it.
///
/// A patient's written request for a summary of their medical record creates one too (kind
/// record_summary, VN-24: Law 15/2023; Decree 356/2025 Art. 5(3) as consent_rules.md cites it):
/// the hospital that received it acknowledges within 2 working days and gives the summary within
/// 10 days, for a Vietnamese hospital and a request received from 1 January 2026 on (Decree 356
/// in force); otherwise the duty is recorded without deadlines, saying why. The summary is what
/// the patient may carry abroad themselves (VN-14's patient-mediated route).
///
/// A step the consent policy allowed on an emergency basis alone (record_consent, transfer,
/// return_results with legal_basis::emergency) creates one too (kind emergency_review): the
/// hospital that provides the data on that basis (the referring hospital, or the destination
/// for results returned) has a second clinician review it within
/// engine_options::emergency_review_days working days, as break-the-glass access is reviewed
/// (VN-17: Law 91 Art. 19(2)'s monitoring of the Art. 19 processing, and the burden of proof on
/// the controller; JP-10 for a Japanese hospital). The review is not acknowledged: it is done
/// when review_emergency records its finding; the clinicians who took the step or decided the
/// emergency basis may not review it.
enum class duty_kind { withdrawal, record_summary, emergency_review };
enum class duty_step { acknowledged, completed };
/// What the second clinician found: the emergency basis was justified, or it was not (the
/// hospital's data-protection officer follows it up; the finding is the record they start from).
enum class review_finding { justified, not_justified };
std::string_view to_string(duty_kind v) noexcept;
std::string_view to_string(duty_step v) noexcept;
std::string_view to_string(review_finding v) noexcept;
std::optional<duty_step> parse_duty_step(std::string_view name) noexcept;
std::optional<review_finding> parse_review_finding(std::string_view name) noexcept;

struct duty {
  std::int64_t id = 0;  ///< the seq of the audit row that created it
  duty_kind kind = duty_kind::withdrawal;
  std::string rule;     ///< "VN-15" ("JP-12" for a Japanese referring hospital), "VN-24", "VN-17"
                        ///< ("JP-10" for a Japanese hospital)
  std::string command;  ///< the command of the row that created it ("withdraw_consent", ...)
  referral_id referral;
  patient_ref patient;
  hospital_id responsible;             ///< who must do it
  std::vector<hospital_id> must_stop;  ///< the recipients the stop notice goes to
  instant created_at;
  /// The deadlines: the end of the day they fall on, in the responsible hospital's time zone.
  /// Unset when its calendar does not cover the dates (deadline_problem says why): the duty is
  /// recorded all the same, and listed as needing a deadline.
  std::optional<instant> acknowledge_by;
  std::optional<instant> complete_by;
  std::string deadline_problem;
  bool provisional = false;  ///< counted over days off no announcement has fixed yet
  std::optional<instant> acknowledged_at;
  std::optional<instant> completed_at;
  std::int64_t acknowledged_seq = 0;  ///< the record_duty rows, 0 until recorded
  std::int64_t completed_seq = 0;     ///< (a review_emergency row for an emergency review)
  /// emergency_review: who may not review it (the user who took the step, the clinician who
  /// decided the emergency basis); the finding and its reviewer once reviewed.
  std::vector<user_id> decided_by;
  std::optional<review_finding> finding;
  user_id reviewer;

  bool open() const noexcept { return !completed_at.has_value(); }
  /// Open and past a deadline at `at`: acknowledgement (when not yet acknowledged) or completion.
  bool overdue(instant at) const noexcept;
};

/// A duty's deadlines, or why it has none.
struct duty_deadlines {
  std::optional<instant> acknowledge_by;
  std::optional<instant> complete_by;
  bool provisional = false;  ///< counted over days off no announcement has fixed yet
  std::string problem;       ///< why there are no deadlines, or ""
};
/// The deadlines of a duty of `kind` whose responsible hospital is in `country` ("VN", "JP"),
/// created by an event at `at`, exactly as the engine records them: counted from the local day
/// of `at` on `calendar` (the shipped one for `country` when null) to the end of the day they
/// fall on. withdrawal: 2 working days and 20 days. record_summary: 2 working days and 10 days,
/// in Vietnam from 2026-01-01 (Asia/Ho_Chi_Minh), none otherwise. emergency_review: no
/// acknowledgement, completed within `review_days` working days. No deadlines, with the reason
/// in `problem`, when the calendar cannot count them (no calendar for the country, a date
/// outside its years). Never throws for a date or a country.
duty_deadlines deadlines_for(duty_kind kind, std::string_view country, instant at,
                             const working_calendar* calendar = nullptr,
                             int review_days = default_emergency_review_days);

/// Which duties duties() returns, in the order they were created.
struct duty_query {
  std::optional<hospital_id> hospital;  ///< the responsible hospital or a recipient of the notice
  bool open_only = true;                ///< only those not completed
  std::optional<instant> overdue_at;    ///< only those overdue at this instant
  std::optional<referral_id> referral;  ///< only this referral's
};

/// What the engine's group commit has done since it opened (engine::stats()).
struct engine_stats {
  std::uint64_t commands = 0;      ///< commands submitted from outside a batch
  std::uint64_t transactions = 0;  ///< groups committed (or attempted) for them
  std::size_t largest_group = 0;   ///< the most commands one transaction held
  std::size_t waiting = 0;         ///< the longest queue of submitters seen
  std::size_t queued = 0;          ///< submitters queued now (the leader included)
};

class engine {
 public:
  /// Opens (creating if needed) the database at `path` (":memory:" for a private in-memory one).
  /// A `path` starting with postgresql:// or postgres:// is a PostgreSQL 15 connection URI
  /// instead (libpq's: "postgresql://user@host/db?options=-csearch_path%3Dschema", or
  /// "postgresql://" to take all from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE): the
  /// tables are created in search_path's first schema if it is empty, with the same guarantees
  /// (see docs/audit.md, "On PostgreSQL"); `options.vfs` applies to SQLite only.
  /// Throws kakehashi::error{errc::invalid_argument} if the file is not an SQLite database or is
  /// one that is not a kakehashi one (a schema holding other tables), or if its audit log is
  /// keyed (its rows carry MACs) and `options.audit_key` is unset (unkeyed rows would follow keyed
  /// ones); {errc::failed_precondition} if its schema is newer than this library, and
  /// {errc::storage} if it cannot be opened; in each case the database is left untouched.
  static engine open(const std::string& path, agreement_directory agreements, consent_policy policy,
                     engine_options options = {});

  engine(engine&&) noexcept;
  engine& operator=(engine&&) noexcept;
  ~engine();

  // Commands. Each returns the referral as it now stands, or throws kakehashi::error and changes
  // nothing but the audit row of the refusal:
  //   invalid_argument, permission_denied, failed_precondition (as referral::apply), not_found
  //   (unknown referral), already_exists (a new referral id that is taken, an open referral for
  //   the same patient, specialty and destination, or an idempotency key used for another
  //   command), not_eligible, consent_blocked, storage, outcome_unknown.

  /// Opens a referral if the destination is eligible under an agreement at p.at and the patient
  /// has no open referral (any state but closed) for the same specialty and destination: a
  /// second one is refused as already_exists, naming the open one. Once that one is closed,
  /// whatever the reason, the patient can be referred again.
  referral_snapshot propose(const proposal& p, const std::string& idempotency_key,
                            const command_options& options = {});
  /// Attaches a document (by reference) to a referral: apply(id, event::attach_document{...})
  /// does the same. Refused as already_exists if the referral has a document with the same id
  /// (naming its kind and when it was attached); the content is never stored.
  referral_snapshot attach_document(const referral_id& id, const document_ref& document,
                                    const actor& by, instant at, const std::string& idempotency_key,
                                    const command_options& options = {});
  /// Records the consent the referral relies on, if the consent policy allows it now.
  referral_snapshot record_consent(const referral_id& id, const consent_record& consent,
                                   const actor& by, instant at, const std::string& idempotency_key,
                                   const command_options& options = {});
  /// The patient arrived: allowed only if every milestone the agreement requires is recorded
  /// (failed_precondition naming the others), `consent` is the one recorded (same id and digest)
  /// and the consent policy allows the transfer now.
  referral_snapshot transfer(const referral_id& id, const consent_record& consent, const actor& by,
                             instant at, const std::string& idempotency_key,
                             const command_options& options = {});
  /// The destination returns results to the referring hospital (event::return_results: the
  /// references of the documents sent): allowed only after the transfer, while consent stands,
  /// if `consent` is the one recorded and the consent policy allows the return flow now
  /// (consent_blocked naming the rules otherwise). A document id the referral has already
  /// (attached or returned) is refused as already_exists.
  referral_snapshot return_results(const referral_id& id, const consent_record& consent,
                                   const std::vector<document_ref>& documents, const actor& by,
                                   instant at, const std::string& idempotency_key,
                                   const command_options& options = {});
  /// Records a step of a duty (acknowledged, completed), by the responsible hospital, each step
  /// once, at or after the duty's creation; the referral itself does not change (its version
  /// neither). Refused as not_found for a duty the referral does not have, permission_denied for
  /// another hospital, already_exists for a step already recorded (naming when),
  /// invalid_argument for an emergency review (review_emergency records it, with its finding).
  referral_snapshot record_duty(const referral_id& id, std::int64_t duty, duty_step step,
                                const actor& by, instant at, const std::string& idempotency_key,
                                const command_options& options = {});
  /// The patient's written request for a summary of their medical record, received by `by`'s
  /// hospital (a party to the referral; at or after the proposal, in any state): records the
  /// duty it creates (duty_kind::record_summary, VN-24). The referral does not change.
  referral_snapshot request_summary(const referral_id& id, const actor& by, instant at,
                                    const std::string& idempotency_key,
                                    const command_options& options = {});
  /// A second clinician's review of a step taken on an emergency basis (the emergency_review
  /// duty `duty` of the referral): records the finding and completes the duty; the referral
  /// does not change. Refused as not_found for a duty the referral does not have,
  /// invalid_argument for a duty of another kind or an instant before the step,
  /// permission_denied unless `by` is a clinician of the responsible hospital, named (user set),
  /// and neither the user who took the step nor the clinician who decided the emergency basis;
  /// already_exists for a review already recorded (naming when and its finding).
  referral_snapshot review_emergency(const referral_id& id, std::int64_t duty,
                                     review_finding finding, const actor& by, instant at,
                                     const std::string& idempotency_key,
                                     const command_options& options = {});
  /// attach_document, accept, decline, cancel, withdraw_consent, record_milestone, complete,
  /// expire. record_milestone is refused as already_exists for a milestone the referral has.
  /// `complete` is refused (failed_precondition) when the agreement's results_before_completion
  /// is required and no results were returned.
  /// (record_consent, transfer and return_results need the consent: use the functions above.)
  /// `accept` checks the referral's documents against its agreement's required_documents: with
  /// missing_documents = refuse, a referral lacking one is refused (failed_precondition, naming
  /// the missing kinds); with warn, it is accepted and the audit row lists them.
  referral_snapshot apply(const referral_id& id, const event::any& e,
                          const std::string& idempotency_key, const command_options& options = {});
  /// Expires every referral in proposed or consent_recorded whose destination did not answer
  /// within its agreement's response deadline, among those `system`'s hospital is a party to and
  /// whose last change is not later than `at` (events arrive in time order: a later sweep
  /// expires those). Returns the referrals it expired. Throws {errc::permission_denied} before
  /// doing anything unless `system` has role system; a referral another writer changes during
  /// the sweep is left as that writer left it (its refused expiry is audited).
  std::vector<referral_snapshot> expire_overdue(const actor& system, instant at);

  /// Runs `body` in one transaction: the commands it issues commit together. A command that
  /// throws inside is undone (its refusal row stays); if `body` throws, everything is rolled back.
  /// Commands other threads submit meanwhile wait for the batch to end, then commit as a group.
  void batch(const std::function<void()>& body);

  /// Group commit: commands that threads submit while a transaction is committing wait, and the
  /// first of them then commits them all in one transaction (one fsync), each in its own
  /// savepoint, in arrival order, and returns each its own result. A lone command commits at
  /// once. A refused command is refused alone (its audit row stays); a storage error in one
  /// command runs the others again without it; a failed commit gives each command of the group
  /// the commit's error (outcome_unknown after an I/O error: retry with the same key).
  engine_stats stats() const;

  // Queries
  std::optional<referral_snapshot> find(const referral_id& id) const;
  /// Throws kakehashi::error{errc::not_found} for an unknown id.
  referral_snapshot get(const referral_id& id) const;
  std::vector<audit_entry> history(const referral_id& id) const;
  /// The referral's documents against its agreement's checklist. Throws {errc::not_found} for
  /// an unknown id.
  document_checklist documents(const referral_id& id) const;
  /// The referral's milestones against its agreement's required ones. Throws {errc::not_found}
  /// for an unknown id.
  milestone_checklist milestones(const referral_id& id) const;
  /// The documents returned to the referring hospital, in order (one return_results row may
  /// return several). Throws {errc::not_found} for an unknown id.
  std::vector<attached_document> results(const referral_id& id) const;
  std::vector<referral_snapshot> list(std::optional<referral_state> state = std::nullopt) const;
  std::vector<referral_snapshot> list(const referral_filter& filter) const;
  std::vector<referral_snapshot> by_hospital(const hospital_id& h) const;
  /// Open referrals past their agreement's response deadline at `at`.
  std::vector<referral_snapshot> overdue(instant at) const;
  /// Which partners may take a referral from `from` for `specialty` at `at`, with every reason
  /// for every "no": check_eligibility() over the engine's agreements, with each destination's
  /// count this month taken from the database, as propose() counts it.
  eligibility_result eligibility(const hospital_id& from, const specialty_code& specialty,
                                 instant at) const;
  /// A hospital's events after a given one (see change_query).
  std::vector<change> changes(const change_query& q) const;
  /// The provisions of the patients' data the hospital made or received in a period.
  provision_report provisions(const provision_query& q) const;
  /// Duties, open or all, overdue or all (duty_query).
  std::vector<duty> duties(const duty_query& q = {}) const;
  std::int64_t audit_rows() const;
  /// The log's last row now (what a signed checkpoint covers: witness.hpp).
  log_head head() const;

  /// Recomputes the chain, replays the audit log and compares the result with every stored
  /// referral. With a checkpoint, also checks the log against it. With a key, checks the
  /// checkpoint's MAC, and the rows' MACs when the log is keyed: as the checkpoint says, or,
  /// without one, when the first row carries a MAC. (Without a checkpoint, an attacker who strips
  /// every MAC makes a keyed log look unkeyed: keep checkpoints outside the database.)
  verify_result verify(const std::optional<checkpoint>& anchor = std::nullopt,
                       const std::optional<std::string>& key = std::nullopt) const;
  /// An HMAC'd anchor of the current head. Throws {errc::failed_precondition} on an empty log.
  checkpoint make_checkpoint(const std::string& key, instant at) const;

 private:
  struct impl;
  explicit engine(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

/// A read-only view of an engine's database, for tools and auditors: it never creates, migrates
/// or writes the file, and creates nothing beside it, so that it reads an evidence copy in a
/// read-only directory and leaves the directory byte for byte as it was. Rows still in a -wal
/// file are read: a database with its -wal and -shm files is read in place (a live database
/// too); a -wal without its -shm is read from a private copy of the two files in the temporary
/// directory (TMPDIR), removed when the view closes; a database without a -wal is read as it is,
/// and if a writer opens it meanwhile the view reads again through the writer's files.
/// On PostgreSQL (a URI as engine::open() takes) every transaction of the view's session is
/// read-only, so the server itself refuses any write; the schema is checked, never created.
/// Throws like engine::open() (and {errc::not_found} if the file is missing).
class database_view {
 public:
  static database_view open(const std::string& path);
  database_view(database_view&&) noexcept;
  database_view& operator=(database_view&&) noexcept;
  ~database_view();

  std::optional<referral_snapshot> find(const referral_id& id) const;
  std::vector<audit_entry> history(const referral_id& id) const;
  /// The documents attached to a referral, in order (empty for an unknown id).
  std::vector<attached_document> documents(const referral_id& id) const;
  /// The milestones recorded on a referral, in order (empty for an unknown id).
  std::vector<recorded_milestone> milestones(const referral_id& id) const;
  /// The documents returned to the referring hospital, in order (empty for an unknown id).
  std::vector<attached_document> results(const referral_id& id) const;
  std::vector<referral_snapshot> list(std::optional<referral_state> state = std::nullopt) const;
  std::vector<referral_snapshot> list(const referral_filter& filter) const;
  /// Open referrals past their agreement's response deadline at `at`, by the deadlines of
  /// `agreements` (as engine::overdue).
  std::vector<referral_snapshot> overdue(const agreement_directory& agreements, instant at) const;
  /// A hospital's events after a given one (see change_query).
  std::vector<change> changes(const change_query& q) const;
  /// The provisions of the patients' data the hospital made or received in a period.
  provision_report provisions(const provision_query& q) const;
  /// Duties, open or all, overdue or all (duty_query).
  std::vector<duty> duties(const duty_query& q = {}) const;
  /// The number of rows in the audit log.
  std::int64_t audit_rows() const;
  /// The log's last row; and the hash of row `seq`, if the log has it.
  log_head head() const;
  std::optional<std::string> hash_at(std::int64_t seq) const;
  /// True when the log's rows carry MACs (the engine that wrote them had an audit key), as its
  /// first row says; false for an empty log.
  bool keyed() const;
  verify_result verify(const std::optional<checkpoint>& anchor = std::nullopt,
                       const std::optional<std::string>& key = std::nullopt) const;
  checkpoint make_checkpoint(const std::string& key, instant at) const;

 private:
  struct impl;
  explicit database_view(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

/// Verifies a database file without opening an engine on it (read-only). Throws like open().
verify_result verify_database(const std::string& path,
                              const std::optional<checkpoint>& anchor = std::nullopt,
                              const std::optional<std::string>& key = std::nullopt);

}  // namespace kakehashi
