#include "audit/chain.hpp"

#include <fmt/format.h>

#include "common/crypto.hpp"
#include "common/document_json.hpp"
#include "common/fail.hpp"
#include "store/referral_rows.hpp"

namespace kakehashi {
namespace audit {

using nlohmann::json;
using store::read_referral;
using store::select_referral;
using store::stored_referral;

const std::string genesis_hash(64, '0');
const std::string select_history =
    std::string(select_audit) + " WHERE referral_id = ? ORDER BY seq";
const std::string audit_by_key = std::string(select_audit) + " WHERE idempotency_key = ?";
const std::string audit_replay_until =
    std::string(select_audit) + " WHERE referral_id = ? AND seq <= ? AND outcome = 0 ORDER BY seq";
const std::string select_documents =
    std::string(select_audit) +
    " WHERE referral_id = ? AND command = 'attach_document' AND outcome = 0 ORDER BY seq";
const std::string select_results =
    std::string(select_audit) +
    " WHERE referral_id = ? AND command = 'return_results' AND outcome = 0 ORDER BY seq";
const std::string select_milestones =
    std::string(select_audit) +
    " WHERE referral_id = ? AND command = 'record_milestone' AND outcome = 0 ORDER BY seq";

std::string state_text(const referral_snapshot& s) {
  std::string out(to_string(s.state));
  if (s.reason) out += ":" + std::string(to_string(*s.reason));
  return out;
}

std::string row::encoding() const {
  const std::string seq_text = std::to_string(seq);
  const std::string outcome_text = std::to_string(outcome);
  std::string out;
  out.reserve(15 * 8 + referral_id.size() + recorded_at.size() + actor_org.size() +
              actor_role.size() + actor_user.size() + command.size() + state_before.size() +
              state_after.size() + reason_code.size() + details.size() + idempotency_key.size() +
              prev_hash.size() + 40);
  for (const std::string_view f :
       {chain_tag, std::string_view(seq_text), std::string_view(referral_id),
        std::string_view(recorded_at), std::string_view(actor_org), std::string_view(actor_role),
        std::string_view(actor_user), std::string_view(command), std::string_view(state_before),
        std::string_view(state_after), std::string_view(outcome_text),
        std::string_view(reason_code), std::string_view(details), std::string_view(idempotency_key),
        std::string_view(prev_hash)}) {
    detail::append_field(out, f);
  }
  return out;
}

row read_row(store::statement& q) {
  row r;
  r.seq = q.int64(0);
  r.referral_id = q.text(1);
  r.recorded_at = q.text(2);
  r.actor_org = q.text(3);
  r.actor_role = q.text(4);
  r.actor_user = q.text(5);
  r.command = q.text(6);
  r.state_before = q.text(7);
  r.state_after = q.text(8);
  r.outcome = q.int32(9);
  r.reason_code = q.text(10);
  r.details = q.text(11);
  r.idempotency_key = q.text(12);
  r.prev_hash = q.text(13);
  r.hash = q.text(14);
  r.mac = q.is_null(15) ? std::string() : q.text(15);
  return r;
}

namespace {
// The row's details' occurred_at, if it has one (parsed here only when the text names it).
std::optional<instant> occurred_in(const row& r, const json* details) {
  if (details) {
    if (const auto it = details->find("occurred_at"); it != details->end() && it->is_string()) {
      return parse_instant(it->get<std::string>(), "audit.details.occurred_at");
    }
  } else if (r.details.find("\"occurred_at\"") != std::string::npos) {
    const json d = json::parse(r.details, nullptr, false);
    if (d.is_object()) return occurred_in(r, &d);
  }
  return std::nullopt;
}
}  // namespace

instant occurred_at(const row& r, const json* details) {
  if (auto at = occurred_in(r, details)) return *at;
  return parse_instant(r.recorded_at, "audit.recorded_at");
}

audit_entry entry_of(const row& r) {
  audit_entry a;
  a.seq = r.seq;
  a.referral = referral_id{r.referral_id};
  a.recorded_at = parse_instant(r.recorded_at, "audit.recorded_at");
  a.occurred_at = occurred_in(r, nullptr).value_or(a.recorded_at);
  a.by = {hospital_id{r.actor_org}, parse_actor_role(r.actor_role).value_or(actor_role::system),
          user_id{r.actor_user}};
  a.command = r.command;
  a.state_before = r.state_before;
  a.state_after = r.state_after;
  a.outcome = static_cast<audit_outcome>(r.outcome);
  a.reason_code = r.reason_code;
  a.details = r.details;
  a.idempotency_key = r.idempotency_key;
  a.prev_hash = r.prev_hash;
  a.hash = r.hash;
  return a;
}

// The change feed: a hospital's events, numbered in log order. The rows never change once
// written, so an event number always names the same row.
constexpr const char* select_changes =
    "SELECT a.seq, a.referral_id, a.recorded_at, a.actor_org, a.actor_role, a.actor_user, "
    "a.command, a.state_before, a.state_after, a.outcome, a.reason_code, a.details, "
    "a.idempotency_key, a.prev_hash, a.hash, a.mac, "
    "?3 + row_number() OVER (ORDER BY a.seq) AS event "
    "FROM audit a JOIN referral r ON r.id = a.referral_id "
    "WHERE a.outcome = 0 AND (r.origin = ?1 OR r.destination = ?1) AND (?2 OR a.actor_org <> ?1) "
    "AND a.seq > ?4";

std::vector<change> read_changes(store::connection& db, const change_query& c) {
  // Without the seq of event `after_event`, number every event and skip the first ones.
  auto q = db.prepare(std::string("SELECT * FROM (") + select_changes +
                      ") AS feed WHERE event > ?5 ORDER BY event LIMIT ?6");
  q->bind(1, c.hospital.value());
  q->bind(2, c.include_own ? 1 : 0);
  q->bind(3, c.after_seq ? c.after_event : std::int64_t{0});
  q->bind(4, c.after_seq.value_or(0));
  q->bind(5, c.after_event);
  q->bind(6, static_cast<std::int64_t>(c.limit));
  std::vector<change> out;
  while (q->step()) out.push_back({q->int64(16), entry_of(read_row(*q))});
  return out;
}

namespace {

bool provides(std::string_view command) {
  return command == "transfer" || command == "return_results";
}

std::string text_at(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    throw std::runtime_error(fmt::format("the provision record lacks '{}'", key));
  }
  return it->get<std::string>();
}

// A row's provision record (its details' "provision"). Throws std::runtime_error naming the
// missing or malformed member.
provision_record provision_of(const row& r, const json& details) {
  const json& p = details.at("provision");
  const audit_entry e = entry_of(r);
  provision_record out;
  out.audit_seq = e.seq;
  out.referral = e.referral;
  out.at = e.occurred_at;
  out.by = e.by;
  out.command = e.command;
  out.patient = patient_ref{text_at(p, "patient")};
  out.provider = hospital_id{text_at(p, "provider")};
  out.provider_name = text_at(p, "provider_name");
  out.provider_country = text_at(p, "provider_country");
  out.recipient = hospital_id{text_at(p, "recipient")};
  out.recipient_name = text_at(p, "recipient_name");
  out.recipient_country = text_at(p, "recipient_country");
  const std::string basis = text_at(p, "basis");
  if (basis == "consent") {
    out.basis = legal_basis::consent;
  } else if (basis == "emergency") {
    out.basis = legal_basis::emergency;
  } else {
    throw std::runtime_error(
        fmt::format("the provision record's basis '{}' is neither consent nor emergency",
                    detail::printable(basis, 40)));
  }
  out.consent = consent_ref{text_at(p, "consent")};
  out.consent_controller = hospital_id{text_at(p, "consent_controller")};
  out.consent_captured_at =
      parse_instant(text_at(p, "consent_captured_at"), "provision.consent_captured_at");
  out.consent_method = text_at(p, "consent_method");
  out.consent_digest = text_at(p, "consent_digest");
  out.artifact_sha256 = text_at(p, "artifact_sha256");
  const auto classes = p.find("data_classes");
  if (classes == p.end() || !classes->is_array()) {
    throw std::runtime_error("the provision record lacks 'data_classes'");
  }
  for (const auto& c : *classes) {
    if (!c.is_string()) throw std::runtime_error("the provision record's data_classes is not text");
    out.data_classes.push_back(c.get<std::string>());
  }
  out.documents = detail::documents_from_json(p.at("documents"), "provision.documents");
  return out;
}

}  // namespace

provision_report read_provisions(store::connection& db, const provision_query& pq) {
  // recorded_at is ISO 8601 in UTC with a fixed width, so text order is time order (in any
  // collation: the strings differ only in their digits). An open end adds no condition.
  auto q = db.prepare(
      std::string("SELECT a.seq, a.referral_id, a.recorded_at, a.actor_org, a.actor_role, "
                  "a.actor_user, a.command, a.state_before, a.state_after, a.outcome, "
                  "a.reason_code, a.details, a.idempotency_key, a.prev_hash, a.hash, a.mac "
                  "FROM audit a JOIN referral r ON r.id = a.referral_id "
                  "WHERE a.outcome = 0 AND a.command IN ('transfer', 'return_results') "
                  "AND (r.origin = ?1 OR r.destination = ?1)") +
      (pq.from ? " AND a.recorded_at >= ?2" : "") +
      (pq.until ? (pq.from ? " AND a.recorded_at < ?3" : " AND a.recorded_at < ?2") : "") +
      " ORDER BY a.seq");
  int n = 1;
  q->bind(n++, pq.hospital.value());
  if (pq.from) q->bind(n++, to_iso8601(*pq.from));
  if (pq.until) q->bind(n++, to_iso8601(*pq.until));
  provision_report out;
  while (q->step()) {
    const row r = read_row(*q);
    try {
      const json details = json::parse(r.details);
      if (!details.contains("provision")) {
        ++out.without_record;
        continue;
      }
      out.provisions.push_back(provision_of(r, details));
    } catch (const std::exception& e) {
      detail::fail(errc::storage, fmt::format("audit row {}", r.seq),
                   fmt::format("holds a provision record that cannot be read: {}",
                               detail::printable(e.what(), 160)),
                   "run kakehashi audit verify: the log may have been altered");
    }
  }
  return out;
}

std::vector<audit_entry> read_history(store::statement& q, const referral_id& id) {
  q.bind(1, id.value());
  std::vector<audit_entry> out;
  while (q.step()) out.push_back(entry_of(read_row(q)));
  return out;
}

std::vector<attached_document> read_documents(store::statement& q, const referral_id& id) {
  q.bind(1, id.value());
  std::vector<attached_document> out;
  while (q.step()) {
    const audit_entry e = entry_of(read_row(q));
    out.push_back({detail::document_from_json(json::parse(e.details).at("document"), "document"),
                   e.by, e.occurred_at, e.seq});
  }
  return out;
}

std::vector<attached_document> read_results(store::statement& q, const referral_id& id) {
  q.bind(1, id.value());
  std::vector<attached_document> out;
  while (q.step()) {
    const audit_entry e = entry_of(read_row(q));
    for (auto& d :
         detail::documents_from_json(json::parse(e.details).at("documents"), "documents")) {
      out.push_back({std::move(d), e.by, e.occurred_at, e.seq});
    }
  }
  return out;
}

std::vector<recorded_milestone> read_milestones(store::statement& q, const referral_id& id) {
  q.bind(1, id.value());
  std::vector<recorded_milestone> out;
  while (q.step()) {
    const audit_entry e = entry_of(read_row(q));
    const std::string name = json::parse(e.details).at("milestone").get<std::string>();
    const auto m = parse_milestone(name);
    if (!m) {
      detail::fail(errc::storage, fmt::format("audit row {}", e.seq),
                   fmt::format("records an unknown milestone '{}'", detail::printable(name)),
                   "run kakehashi audit verify: the log may have been altered");
    }
    out.push_back({*m, e.by, e.occurred_at, e.seq});
  }
  return out;
}

std::pair<std::int64_t, std::string> read_head(store::connection& db) {
  auto q = db.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
  if (!q->step()) return {0, genesis_hash};
  return {q->int64(0), q->text(1)};
}

std::int64_t count_audit_rows(store::connection& db) {
  auto q = db.prepare("SELECT count(*) FROM audit");
  q->step();
  return q->int64(0);
}

checkpoint checkpoint_of(store::connection& db, const std::string& key, instant at, bool keyed) {
  const auto [seq, head] = read_head(db);
  if (seq == 0) {
    detail::fail(errc::failed_precondition, "audit log", "is empty",
                 "make a checkpoint once the log has rows");
  }
  checkpoint c{seq, head, at, keyed, ""};
  c.mac = checkpoint_mac(key, c);
  return c;
}

bool first_row_keyed(store::connection& db) {
  auto q = db.prepare("SELECT mac FROM audit ORDER BY seq LIMIT 1");
  return q->step() && !q->is_null(0);
}

std::string checkpoint_mac(const std::string& key, const checkpoint& c) {
  return detail::hmac_sha256_hex(
      key, fmt::format("{}|{}|{}|{}", c.seq, c.head_hash, to_iso8601(c.at), c.rows_keyed ? 1 : 0));
}

// Rebuilds the event a successful audit row records.
namespace {
std::optional<event::any> event_of(const row& r, const json& details) {
  const actor by{hospital_id{r.actor_org},
                 parse_actor_role(r.actor_role).value_or(actor_role::system),
                 user_id{r.actor_user}};
  const instant at = occurred_at(r, &details);
  const auto kind = parse_event_kind(r.command);
  if (!kind) return std::nullopt;
  switch (*kind) {
    case event_kind::record_consent:
      return event::record_consent{by, at, consent_ref{details.at("consent").get<std::string>()}};
    case event_kind::attach_document:
      return event::attach_document{by, at,
                                    detail::document_from_json(details.at("document"), "document")};
    case event_kind::accept:
      return event::accept{by, at};
    case event_kind::decline:
      return event::decline{by, at,
                            parse_decline_reason(details.at("reason").get<std::string>()).value()};
    case event_kind::cancel:
      return event::cancel{by, at,
                           parse_cancel_reason(details.at("reason").get<std::string>()).value()};
    case event_kind::withdraw_consent:
      return event::withdraw_consent{
          by, at, parse_withdrawal_channel(details.at("channel").get<std::string>()).value()};
    case event_kind::record_milestone:
      return event::record_milestone{
          by, at, parse_milestone(details.at("milestone").get<std::string>()).value()};
    case event_kind::transfer:
      return event::transfer{by, at};
    case event_kind::return_results:
      return event::return_results{
          by, at, detail::documents_from_json(details.at("documents"), "documents")};
    case event_kind::complete:
      return event::complete{by, at};
    case event_kind::expire:
      return event::expire{by, at};
  }
  return std::nullopt;
}
}  // namespace

void replay_row(std::map<std::string, referral>& replayed, const row& r) {
  replay_row(replayed, r, json::parse(r.details));
}

void replay_row(std::map<std::string, referral>& replayed, const row& r, const json& details) {
  if (r.command == "propose") {
    if (replayed.count(r.referral_id))
      throw std::runtime_error("a second proposal of the referral");
    const proposal p{
        referral_id{r.referral_id},
        hospital_id{details.at("origin").get<std::string>()},
        hospital_id{details.at("destination").get<std::string>()},
        specialty_code{details.at("specialty").get<std::string>()},
        patient_ref{details.at("patient").get<std::string>()},
        {hospital_id{r.actor_org}, parse_actor_role(r.actor_role).value_or(actor_role::system),
         user_id{r.actor_user}},
        occurred_at(r, &details),
        details.contains("replaces")
            ? std::optional<referral_id>(referral_id{details["replaces"].get<std::string>()})
            : std::nullopt};
    replayed.emplace(r.referral_id, referral::propose(p));
    return;
  }
  auto it = replayed.find(r.referral_id);
  // A duty's rows (a summary requested, a step recorded, a review): the referral does not change.
  if (r.command == "record_duty" || r.command == "request_summary" ||
      r.command == "review_emergency") {
    if (it == replayed.end()) {
      throw std::runtime_error("the row applies to a referral that was never proposed");
    }
    return;
  }
  const auto e = event_of(r, details);
  if (it == replayed.end() || !e) {
    throw std::runtime_error("the row applies to a referral that was never proposed");
  }
  // The engine accepted it, late or not (engine_options::late_event_tolerance): the log
  // decides the order.
  it->second.apply(*e, std::chrono::seconds::max());
}

// Two passes, each holding one row or one referral at a time, so that verifying a large
// database does not hold its referrals in memory: (1) the chain in sequence order; (2) each
// referral's rows in order (the audit_referral index), replayed and merged by id with the stored
// referrals. The problem reported is the one at the earliest row.
namespace {

verify_result verify_on(store::connection& db, const std::optional<checkpoint>& anchor,
                        const std::optional<std::string>& key) {
  verify_result v;
  const auto bad = [&](std::int64_t seq, std::string problem) {
    if (!v.intact && *v.first_bad_seq <= seq) return;
    v.intact = false;
    v.first_bad_seq = seq;
    v.problem = std::move(problem);
  };

  // A key that does not match the checkpoint is a wrong key or a forged checkpoint, not a
  // tampered log: said apart, and the log is checked without the key.
  std::optional<std::string> row_key = key;
  if (key && anchor && !detail::equal_constant_time(checkpoint_mac(*key, *anchor), anchor->mac)) {
    v.key_mismatch = true;
    v.key_problem =
        "the key does not match the checkpoint's MAC: a wrong key, or a forged checkpoint";
    row_key.reset();
  }

  // (1) The chain: sequence, links, hashes, MACs.
  std::string prev = genesis_hash;
  std::optional<bool> rows_keyed;
  if (row_key && anchor) rows_keyed = anchor->rows_keyed;
  std::int64_t expected_seq = 1;
  auto q = db.prepare_stream(std::string(select_audit) + " ORDER BY seq");
  // The log keeps provision records from the first one on (rows written before the engine kept
  // them have none): the seq of that first one.
  std::optional<std::int64_t> provisions_from;
  while (q->step()) {
    const row r = read_row(*q);
    ++v.rows;
    if (!provisions_from && r.outcome == 0 && provides(r.command) &&
        r.details.find("\"provision\"") != std::string::npos) {
      try {
        if (json::parse(r.details).contains("provision")) provisions_from = r.seq;
      } catch (const std::exception&) {  // reported by the replay
      }
    }
    if (!v.intact) continue;
    if (r.seq != expected_seq) {
      bad(r.seq,
          fmt::format("sequence jumps from {} to {}: rows are missing", expected_seq - 1, r.seq));
      continue;
    }
    ++expected_seq;
    if (r.prev_hash != prev) {
      bad(r.seq, "the previous-hash link does not match the row before it");
      continue;
    }
    if (detail::sha256_hex(r.encoding()) != r.hash) {
      bad(r.seq, "the row's hash does not match its content: the row was edited");
      continue;
    }
    if (!rows_keyed) rows_keyed = !r.mac.empty();  // without a checkpoint: as the first row says
    if (row_key && *rows_keyed &&
        (r.mac.empty() ||
         !detail::equal_constant_time(detail::hmac_sha256_hex(*row_key, r.hash), r.mac))) {
      bad(r.seq,
          "the row's MAC does not verify with the audit key: the row was not written by "
          "the engine");
      continue;
    }
    prev = r.hash;
  }
  v.head_hash = prev;
  if (anchor && v.intact && !v.key_mismatch) {  // a checkpoint nothing vouches for proves nothing
    if (anchor->seq > v.rows) {
      bad(v.rows + 1, fmt::format("the log ends at row {} but the checkpoint covers {}: the tail "
                                  "was truncated",
                                  v.rows, anchor->seq));
    } else {
      auto h = db.prepare("SELECT hash FROM audit WHERE seq = ?");
      h->bind(1, anchor->seq);
      if (!h->step() || h->text(0) != anchor->head_hash) {
        bad(anchor->seq, "the row at the checkpoint has another hash: the chain was rewritten");
      }
    }
  }

  // (2) Each referral's successful rows replayed (refused attempts change nothing), merged by id
  // with the referral table: every stored referral equals its replay, and every replayed one is
  // stored.
  auto aq =
      db.prepare_stream(std::string(select_audit) + " WHERE outcome = 0 ORDER BY referral_id, seq");
  bool more_rows = aq->step();
  struct replay {
    std::string id;
    std::optional<referral> result;  // nullopt when a row could not be replayed
  };
  // What the referral's last record_consent row recorded: the consent, its digest, and (rows
  // written since provision records are kept) its artifact hash.
  struct recorded_consent {
    std::string id, digest;
    std::optional<std::string> artifact;
  };
  // A transfer's or a results return's provision record (JP-07, VN-22) against the referral
  // and the consent it recorded. The problems name the rule and the code a compliance officer
  // looks for.
  const auto check_provision = [&](const row& r, const json& details, const referral_snapshot& s,
                                   const std::optional<recorded_consent>& consent) {
    if (!details.contains("provision")) {
      if (provisions_from && r.seq > *provisions_from) {
        bad(r.seq, fmt::format("JP-07/VN-22 JP_PROVISION_RECORD_MISSING: the {} of referral {} "
                               "has no provision record, though the log keeps them from row {}",
                               r.command, detail::printable(r.referral_id), *provisions_from));
      } else {
        ++v.provisions_without_record;
      }
      return;
    }
    ++v.provisions;
    provision_record p;
    try {
      p = provision_of(r, details);
    } catch (const std::exception& e) {
      bad(r.seq,
          fmt::format("JP-07 JP_PROVISION_RECORD_MISSING: the {} of referral {}: {}", r.command,
                      detail::printable(r.referral_id), detail::printable(e.what(), 160)));
      return;
    }
    const bool outbound = r.command == "transfer";
    const hospital_id& provider = outbound ? s.origin : s.destination;
    const hospital_id& recipient = outbound ? s.destination : s.origin;
    if (p.provider != provider || p.recipient != recipient || p.patient != s.patient) {
      bad(r.seq,
          fmt::format("JP-07 JP_PROVISION_RECORD_MISSING: the {} of referral {} records "
                      "a provision from {} to {}, but the referral's data went from {} "
                      "to {}",
                      r.command, detail::printable(r.referral_id),
                      detail::printable(p.provider.value()), detail::printable(p.recipient.value()),
                      provider.value(), recipient.value()));
      return;
    }
    if (p.recipient_country == "JP" &&
        (p.provider_name.empty() || p.provider_country.empty() ||
         (p.basis == legal_basis::consent && p.consent_controller.empty()))) {
      bad(r.seq, fmt::format("JP-07 JP_RECIPIENT_CONFIRMATION_MISSING: the {} of referral {} to "
                             "{} does not record who provided the data and how they acquired it",
                             r.command, detail::printable(r.referral_id), recipient.value()));
      return;
    }
    if (p.provider_country == "JP" && (p.recipient_name.empty() || p.data_classes.empty())) {
      bad(r.seq, fmt::format("JP-07 JP_PROVISION_RECORD_MISSING: the {} of referral {} from {} "
                             "does not record to whom and which data",
                             r.command, detail::printable(r.referral_id), provider.value()));
      return;
    }
    if (!consent || p.consent.value() != consent->id) {
      bad(r.seq, fmt::format("VN-22 VN_CONSENT_PROOF_MISSING: the {} of referral {} names "
                             "consent {}, which is not the consent the referral recorded ({})",
                             r.command, detail::printable(r.referral_id),
                             detail::printable(p.consent.value()),
                             consent ? detail::printable(consent->id) : std::string("none")));
      return;
    }
    if (!consent->digest.empty() && p.consent_digest != consent->digest) {
      bad(r.seq, fmt::format("VN-22 VN_CONSENT_PROOF_MISSING: the {} of referral {} names "
                             "consent {} with another digest than the one recorded: not the "
                             "record the referral relied on",
                             r.command, detail::printable(r.referral_id), consent->id));
      return;
    }
    if (p.basis == legal_basis::consent &&
        (p.artifact_sha256.empty() ||
         (consent->artifact && *consent->artifact != p.artifact_sha256))) {
      bad(r.seq, fmt::format("VN-22 VN_CONSENT_PROOF_MISSING: the {} of referral {} on consent "
                             "{} {}",
                             r.command, detail::printable(r.referral_id), consent->id,
                             p.artifact_sha256.empty()
                                 ? "names no artifact hash: the consent cannot be proven"
                                 : "names an artifact hash the recorded consent does not have"));
    }
  };
  const auto next_replay = [&]() -> std::optional<replay> {
    if (!more_rows) return std::nullopt;
    std::map<std::string, referral> one;  // replay_row's map, holding this referral only
    replay out{aq->text(1), std::nullopt};
    bool replayable = true;
    std::optional<recorded_consent> consent;
    while (more_rows && aq->text(1) == out.id) {
      const row r = read_row(*aq);
      if (replayable) {
        try {
          const json details = json::parse(r.details);  // once: the replay and the checks read it
          replay_row(one, r, details);
          const referral_snapshot after = one.at(r.referral_id).snapshot();
          if (state_text(after) != r.state_after) {
            bad(r.seq, "replaying the log does not reach the state the row records");
          }
          if (r.command == "record_consent") {
            consent = recorded_consent{
                details.at("consent").get<std::string>(),
                details.contains("digest") ? details["digest"].get<std::string>() : "",
                std::nullopt};
            if (details.contains("artifact")) {
              consent->artifact = details["artifact"].get<std::string>();
            }
          } else if (provides(r.command)) {
            check_provision(r, details, after, consent);
          }
        } catch (const std::exception& e) {
          bad(r.seq,
              fmt::format("the row cannot be replayed: {}", detail::printable(e.what(), 160)));
          replayable = false;
        }
      }
      more_rows = aq->step();
    }
    if (replayable) out.result = one.at(out.id);
    return out;
  };
  const auto missing_from_table = [&](const replay& r) {
    bad(v.rows, fmt::format("referral {} is in the log but missing from the referral table",
                            detail::printable(r.id)));
  };
  std::optional<replay> current = next_replay();
  auto rq = db.prepare_stream(select_referral(db) + " ORDER BY id");
  while (rq->step()) {
    ++v.referrals;
    const std::string id = rq->text(0);
    while (current && current->id < id) {
      missing_from_table(*current);
      current = next_replay();
    }
    if (!current || current->id != id) {
      bad(v.rows, fmt::format("referral {} is stored but the log never proposed it",
                              detail::printable(id)));
      continue;
    }
    try {
      const stored_referral s = read_referral(*rq);
      // A referral's own rows say what it replaces; which referral replaced it is the other
      // one's `replaces` (checked by that one's replay), read from the table.
      std::optional<referral_snapshot> replay;
      if (current->result) {
        replay = current->result->snapshot();
        replay->replaced_by = s.snap.replaced_by;
      }
      if (replay && *replay != s.snap) {
        const bool link = replay->replaces != s.snap.replaces;
        bad(v.rows,
            fmt::format(
                "referral {} as stored ({}{}) differs from the log's replay ({}{})",
                detail::printable(id), state_text(s.snap),
                link ? ", replacing " +
                           detail::printable(s.snap.replaces.value_or(referral_id{}).value())
                     : "",
                state_text(*replay),
                link ? ", replacing " + replay->replaces.value_or(referral_id{}).value() : ""));
      }
    } catch (const std::exception& e) {
      bad(v.rows,
          fmt::format("a stored referral cannot be read: {}", detail::printable(e.what(), 160)));
    }
    current = next_replay();
  }
  for (; current; current = next_replay()) missing_from_table(*current);
  if (v.key_mismatch && v.intact) {
    // The log agrees with itself, but nothing vouches for it: never "intact" on a key that
    // does not match.
    v.intact = false;
    v.first_bad_seq = anchor->seq;
    v.problem = v.key_problem;
  }
  return v;
}

}  // namespace

// verify_on() inside one read transaction: a consistent view while other writers go on.
verify_result verify_consistently(store::connection& db, const std::optional<checkpoint>& anchor,
                                  const std::optional<std::string>& key) {
  try {
    db.begin_read();
    verify_result v = verify_on(db, anchor, key);
    db.exec("COMMIT");
    return v;
  } catch (const store::failure&) {
    db.try_exec("ROLLBACK");
    throw;
  }
}

}  // namespace audit

using nlohmann::json;

std::string to_json(const checkpoint& c) {
  return json{{"seq", c.seq},
              {"head", c.head_hash},
              {"at", to_iso8601(c.at)},
              {"rows_keyed", c.rows_keyed},
              {"mac", c.mac}}
      .dump();
}

checkpoint parse_checkpoint(std::string_view text) {
  std::vector<load_problem> problems;
  checkpoint c;
  try {
    const json j = json::parse(text);
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_integer() ||
        !j.contains("head") || !j["head"].is_string() || !j.contains("at") ||
        !j["at"].is_string() || !j.contains("mac") || !j["mac"].is_string() ||
        !j.contains("rows_keyed") || !j["rows_keyed"].is_boolean()) {
      detail::fail(errc::invalid_argument, "checkpoint",
                   "expected an object with seq (integer), head, at, mac (strings) and "
                   "rows_keyed (boolean)",
                   "use the output of 'kakehashi audit checkpoint'");
    }
    c.seq = j["seq"].get<std::int64_t>();
    c.head_hash = j["head"].get<std::string>();
    c.at = parse_instant(j["at"].get<std::string>(), "checkpoint.at");
    c.mac = j["mac"].get<std::string>();
    c.rows_keyed = j["rows_keyed"].get<bool>();
  } catch (const json::exception&) {
    detail::fail(errc::invalid_argument, "checkpoint", "is not valid JSON",
                 "use the output of 'kakehashi audit checkpoint'");
  }
  return c;
}

}  // namespace kakehashi
