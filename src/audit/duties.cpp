// Duties (engine.hpp: duty): their deadlines (deadlines_for), and their reading from the audit
// log. A successful withdraw_consent or request_summary row carries the duty it created under
// "duty", as does a step taken on an emergency basis (its reason_code is "emergency"); a
// successful record_duty row records one of a duty's steps, a review_emergency row a review. Every
// such row is hashed into the chain like any other, so a duty's deadline cannot be moved unseen.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "audit/chain.hpp"
#include "common/fail.hpp"

namespace kakehashi {

namespace {
// The names, in enumeration order, read both ways.
constexpr std::array<std::string_view, 3> kind_name{"withdrawal", "record_summary",
                                                    "emergency_review"};
constexpr std::array<std::string_view, 2> step_name{"acknowledged", "completed"};
constexpr std::array<std::string_view, 2> finding_name{"justified", "not_justified"};

template <class E, std::size_t N>
std::optional<E> named(const std::array<std::string_view, N>& names, std::string_view name) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<E>(it - names.begin());
}
}  // namespace

std::string_view to_string(duty_kind v) noexcept { return kind_name[static_cast<std::size_t>(v)]; }
std::string_view to_string(duty_step v) noexcept { return step_name[static_cast<std::size_t>(v)]; }
std::string_view to_string(review_finding v) noexcept {
  return finding_name[static_cast<std::size_t>(v)];
}

std::optional<duty_step> parse_duty_step(std::string_view name) noexcept {
  return named<duty_step>(step_name, name);
}
std::optional<review_finding> parse_review_finding(std::string_view name) noexcept {
  return named<review_finding>(finding_name, name);
}

bool duty::overdue(instant at) const noexcept {
  if (!open()) return false;
  if (complete_by && at >= *complete_by) return true;
  return !acknowledged_at && acknowledge_by && at >= *acknowledge_by;
}

namespace {
// Decree 356/2025's entry into force, 2026-01-01T00:00:00+07:00.
constexpr instant decree_356_in_force{std::chrono::seconds{1767200400}};
}  // namespace

duty_deadlines deadlines_for(duty_kind kind, std::string_view country, instant at,
                             const working_calendar* calendar, int review_days) {
  duty_deadlines out;
  if (kind == duty_kind::emergency_review && (review_days < 1 || review_days > 30)) {
    out.problem = fmt::format("{} working days to review: expected 1 to 30", review_days);
    return out;
  }
  // Decree 356/2025 Art. 5 as consent_rules.md cites it: acknowledge within 2 working days;
  // complete a withdrawal within 20 days where a processor or third party must also stop
  // (VN-15; JP-12's policy gives a Japanese hospital the same), give a record summary within 10.
  int days = 20;
  if (kind == duty_kind::record_summary) {
    if (country != "VN") {
      out.problem = fmt::format(
          "a hospital in {}: Decree 356's periods bind Vietnamese controllers, and APPI Art. 33 "
          "asks for disclosure without delay, with no period; no deadline",
          detail::printable(country, 8));
      return out;
    }
    if (at < decree_356_in_force) {
      out.problem =
          "received before Decree 356/2025 took effect on 2026-01-01 (Asia/Ho_Chi_Minh); Law "
          "15/2023 sets no period; no deadline";
      return out;
    }
    days = 10;
  }
  try {
    const working_calendar& c = calendar ? *calendar : working_calendar::builtin(country);
    const auto day = c.local_date(at);
    // A review has no acknowledgement; it is due at the end of its last working day.
    const auto done = kind == duty_kind::emergency_review ? c.add_working_days(day, review_days)
                                                          : c.period_end(day, days);
    if (kind != duty_kind::emergency_review)
      out.acknowledge_by = c.end_of(c.add_working_days(day, 2));
    out.complete_by = c.end_of(done);
    out.provisional = c.provisional_between(day, done);
  } catch (const error& e) {
    if (e.code() != errc::not_found && e.code() != errc::failed_precondition) throw;
    out = duty_deadlines{};
    out.problem = e.what();
  }
  return out;
}

namespace audit {

using nlohmann::json;

duty duty_of(const row& r, const json& details) {
  const json& d = details.at("duty");
  duty out;
  out.id = r.seq;
  const auto kind = named<duty_kind>(kind_name, d.at("kind").get<std::string>());
  if (!kind) throw std::runtime_error("an unknown kind of duty");
  out.kind = *kind;
  out.rule = d.at("rule").get<std::string>();
  out.command = r.command;
  out.referral = referral_id{r.referral_id};
  out.patient = patient_ref{d.at("patient").get<std::string>()};
  out.responsible = hospital_id{d.at("responsible").get<std::string>()};
  for (const auto& h : d.at("must_stop")) out.must_stop.emplace_back(h.get<std::string>());
  out.created_at = occurred_at(r, &details);
  if (d.contains("deadline_problem")) {
    out.deadline_problem = d["deadline_problem"].get<std::string>();
  } else {
    if (out.kind != duty_kind::emergency_review) {
      out.acknowledge_by =
          parse_instant(d.at("acknowledge_by").get<std::string>(), "acknowledge_by");
    }
    out.complete_by = parse_instant(d.at("complete_by").get<std::string>(), "complete_by");
  }
  out.provisional = d.contains("provisional") && d["provisional"].get<bool>();
  if (d.contains("decided_by")) {
    for (const auto& u : d["decided_by"]) out.decided_by.emplace_back(u.get<std::string>());
  }
  return out;
}

std::vector<duty> read_duties(store::connection& db, const duty_query& dq) {
  // Through the audit_duties index (schema 7), which holds only these rows: the cost grows with
  // the duties, not with the log. The WHERE repeats the index's own (SQLite uses a partial index
  // only then). A hospital's are picked here, by the parties each duty names (the referral's
  // origin and destination), not by a join that would lead the planner to read every referral
  // of the hospital.
  auto q = db.prepare(std::string(select_audit) +
                      " WHERE (command IN ('withdraw_consent', 'request_summary', 'record_duty', "
                      "'review_emergency') OR reason_code = 'emergency') AND outcome = 0" +
                      (dq.referral ? " AND referral_id = ?1" : "") + " ORDER BY seq");
  if (dq.referral) q->bind(1, dq.referral->value());
  std::vector<duty> all;
  while (q->step()) {
    const row r = read_row(*q);
    try {
      const json details = json::parse(r.details);
      if (r.command != "record_duty" && r.command != "review_emergency") {  // creates a duty
        if (details.contains("duty")) all.push_back(duty_of(r, details));
        continue;
      }
      const std::int64_t id = details.at("duty").get<std::int64_t>();
      const bool review = r.command == "review_emergency";
      const auto step = review ? std::optional<duty_step>(duty_step::completed)
                               : parse_duty_step(details.at("step").get<std::string>());
      if (!step) throw std::runtime_error("an unknown step");
      std::optional<review_finding> finding;
      if (review) {
        finding = parse_review_finding(details.at("finding").get<std::string>());
        if (!finding) throw std::runtime_error("an unknown finding");
      }
      for (auto& d : all) {
        if (d.id != id) continue;
        const instant at = occurred_at(r, &details);
        if (review) {
          d.finding = finding;
          d.reviewer = user_id{r.actor_user};
        }
        if (*step == duty_step::acknowledged) {
          d.acknowledged_at = at;
          d.acknowledged_seq = r.seq;
        } else {
          d.completed_at = at;
          d.completed_seq = r.seq;
        }
      }
    } catch (const std::exception& e) {
      detail::fail(
          errc::storage, fmt::format("audit row {}", r.seq),
          fmt::format("holds a duty that cannot be read: {}", detail::printable(e.what(), 160)),
          "run kakehashi audit verify: the log may have been altered");
    }
  }
  std::vector<duty> out;
  for (auto& d : all) {
    if (dq.hospital && d.responsible != *dq.hospital &&
        std::find(d.must_stop.begin(), d.must_stop.end(), *dq.hospital) == d.must_stop.end()) {
      continue;
    }
    if (dq.open_only && !d.open()) continue;
    if (dq.overdue_at && !d.overdue(*dq.overdue_at)) continue;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace audit
}  // namespace kakehashi
