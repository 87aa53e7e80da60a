#include "store/referral_rows.hpp"

#include <date/date.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/fail.hpp"

namespace kakehashi::store {

namespace {
// The columns every schema has, in the order read_referral() reads them; then the onward link's
// two, which a schema before version 5 lacks (read as NULL).
const std::string columns =
    "SELECT id, origin, destination, specialty, patient, agreement, state, close_reason, "
    "consent_withdrawn, consent_ref, consent_digest, proposed_at, updated_at, version, ";
// The onward referral that replaced a referral is the one whose `replaces` names it (a unique
// index): the link is written once, with the newer referral, and read from both ends. (Named,
// so that ORDER BY id is not ambiguous on PostgreSQL.)
const std::string select_current =
    columns +
    "replaces, (SELECT onward.id FROM referral onward WHERE onward.replaces = referral.id) AS "
    "replaced_by FROM referral";
const std::string select_before_5 = columns + "NULL AS replaces, NULL AS replaced_by FROM referral";
const std::string current_by_id = select_current + " WHERE id = ?";
const std::string for_command_by_id =
    columns + "replaces, NULL AS replaced_by FROM referral WHERE id = ?";
const std::string before_5_by_id = select_before_5 + " WHERE id = ?";
}  // namespace

const std::string& select_referral(const connection& db) {
  return db.schema() >= 5 ? select_current : select_before_5;
}
const std::string& referral_by_id(const connection& db) {
  return db.schema() >= 5 ? current_by_id : before_5_by_id;
}
const std::string& referral_for_command(const connection& db) {
  return db.schema() >= 5 ? for_command_by_id : before_5_by_id;
}

// Rows come from a file that may have been edited: every value is checked by restore().
stored_referral read_referral(statement& q) {
  stored_referral s;
  s.snap.id = referral_id{q.text(0)};
  s.snap.origin = hospital_id{q.text(1)};
  s.snap.destination = hospital_id{q.text(2)};
  s.snap.specialty = specialty_code{q.text(3)};
  s.snap.patient = patient_ref{q.text(4)};
  s.agreement = agreement_id{q.text(5)};
  const auto state = parse_referral_state(q.text(6));
  if (!state) {
    detail::fail(errc::invalid_argument, "referral " + detail::printable(s.snap.id.value()),
                 fmt::format("stored state '{}' is unknown", detail::printable(q.text(6))),
                 "the database was damaged or edited; run verify");
  }
  s.snap.state = *state;
  if (!q.is_null(7)) {
    s.snap.reason = parse_close_reason(q.text(7));
    if (!s.snap.reason) {
      detail::fail(errc::invalid_argument, "referral " + detail::printable(s.snap.id.value()),
                   "stored close reason is unknown", "the database was damaged or edited");
    }
  }
  s.snap.consent_withdrawn = q.int32(8) != 0;
  s.snap.consent = consent_ref{q.text(9)};
  s.consent_digest = q.text(10);
  s.snap.proposed_at = from_seconds(q.int64(11));
  s.snap.updated_at = from_seconds(q.int64(12));
  s.snap.version = static_cast<std::uint64_t>(q.int64(13));
  if (!q.is_null(14)) s.snap.replaces = referral_id{q.text(14)};
  if (!q.is_null(15)) s.snap.replaced_by = referral_id{q.text(15)};
  return s;
}

std::optional<stored_referral> read_one(connection& db, const referral_id& id) {
  auto q = db.prepare(referral_by_id(db));
  q->bind(1, id.value());
  if (!q->step()) return std::nullopt;
  return read_referral(*q);
}

std::vector<stored_referral> read_where(connection& db, const std::string& where,
                                        const std::vector<std::string>& args) {
  auto q = db.prepare(select_referral(db) + where + " ORDER BY id");
  for (std::size_t i = 0; i < args.size(); ++i) q->bind(static_cast<int>(i + 1), args[i]);
  std::vector<stored_referral> out;
  while (q->step()) out.push_back(read_referral(*q));
  return out;
}

std::vector<stored_referral> read_filtered(connection& db, const referral_filter& f) {
  std::string where;
  std::vector<std::string> args;
  const auto add = [&](const char* clause) {
    where += where.empty() ? " WHERE " : " AND ";
    where += clause;
  };
  if (f.hospital) {
    add("(origin = ? OR destination = ?)");
    args.push_back(f.hospital->value());
    args.push_back(f.hospital->value());
  }
  if (f.specialty) {
    add("specialty = ?");
    args.push_back(f.specialty->value());
  }
  if (f.state) {
    add("state = ?");
    args.emplace_back(to_string(*f.state));
  }
  if (f.reason) {
    add("close_reason = ?");
    args.emplace_back(to_string(*f.reason));
  }
  if (f.patient) {
    add("patient = ?");
    args.push_back(f.patient->value());
  }
  if (f.proposed_from) {
    add("proposed_at >= ?");
    args.push_back(std::to_string(to_seconds(*f.proposed_from)));
  }
  if (f.proposed_before) {
    add("proposed_at < ?");
    args.push_back(std::to_string(to_seconds(*f.proposed_before)));
  }
  auto q = db.prepare(select_referral(db) + where + " ORDER BY id LIMIT ? OFFSET ?");
  int n = 0;
  for (const auto& a : args) q->bind(++n, a);
  // No limit is the largest one (SQLite needs a LIMIT before OFFSET; PostgreSQL refuses -1).
  constexpr auto no_limit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  q->bind(++n, static_cast<std::int64_t>(std::min(f.limit.value_or(no_limit), no_limit)));
  q->bind(++n, static_cast<std::int64_t>(f.offset));
  std::vector<stored_referral> out;
  while (q->step()) out.push_back(read_referral(*q));
  return out;
}

std::vector<referral_snapshot> read_overdue(connection& db, const agreement_directory& agreements,
                                            instant at) {
  std::vector<referral_snapshot> out;
  // Only referrals proposed at least the shortest deadline ago can be overdue: the sweep reads
  // those, not every open referral.
  std::optional<int> shortest;
  for (const auto& a : agreements.agreements()) {
    if (a.response_deadline_days) {
      shortest = std::min(shortest.value_or(*a.response_deadline_days), *a.response_deadline_days);
    }
  }
  if (!shortest) return out;
  const std::string latest = std::to_string(to_seconds(at - date::days{*shortest}));
  for (auto& s : read_where(
           db, " WHERE state IN ('proposed', 'consent_recorded') AND proposed_at <= ?", {latest})) {
    const agreement* a = agreements.find_agreement(s.agreement);
    if (!a || !a->response_deadline_days) continue;
    if (at >= s.snap.proposed_at + date::days{*a->response_deadline_days}) {
      out.push_back(std::move(s.snap));
    }
  }
  return out;
}

}  // namespace kakehashi::store
