#include "kakehashi/consent_rules.hpp"

#include <date/tz.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/enum_names.hpp"
#include "common/fail.hpp"
#include "common/json_reader.hpp"

namespace kakehashi {
namespace {

// clang-format off
constexpr detail::name_table<vietnam_regime, 2> regime_names{{
  {vietnam_regime::decree_13, "decree_13"},
  {vietnam_regime::law_91,    "law_91"},
}};
constexpr detail::name_table<data_flow, 2> flow_names{{
  {data_flow::outbound,       "outbound"},
  {data_flow::results_return, "return"},
}};
constexpr detail::name_table<rule_effect, 4> effect_names{{
  {rule_effect::block,            "block"},
  {rule_effect::require_document, "require_document"},
  {rule_effect::warn,             "warn"},
  {rule_effect::filter,           "filter"},
}};
constexpr detail::name_table<consent_decision, 2> decision_names{{
  {consent_decision::allow, "allow"},
  {consent_decision::block, "block"},
}};
constexpr detail::name_table<legal_basis, 3> basis_names{{
  {legal_basis::consent,   "consent"},
  {legal_basis::emergency, "emergency"},
  {legal_basis::none,      "none"},
}};
// clang-format on

using ctx_t = const consent_context&;
using basis_t = const basis_info&;
using flags_t = const policy_flags&;

constexpr int child_age = 16;        // under 16: a child (Vietnam, Law on Children 2016)
constexpr int child_assent_age = 7;  // a child of 7 or more consents too (Decree 13 Art. 20)
constexpr int japan_majority = 18;   // Civil Code, since 1 April 2022
constexpr int vietnam_majority = 18;  // Civil Code 2015 Art. 20 (VN-25: a minor's treatment)

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// The calendar day of `at` in a zone: ages are computed on the local date of the rule's country.
date::year_month_day local_day(instant at, const char* zone) {
  const auto local = date::make_zoned(zone, at).get_local_time();
  return date::year_month_day{date::floor<date::days>(local)};
}
std::optional<int> vn_age(const consent_record& c, instant at) {
  return c.age_on(local_day(at, "Asia/Ho_Chi_Minh"));
}
std::optional<int> jp_age(const consent_record& c, instant at) {
  return c.age_on(local_day(at, "Asia/Tokyo"));
}

// A person who cannot consent alone (a minor is judged by age, not by this status).
bool lacks_capacity(const consent_record& c) {
  return c.capacity == capacity_status::lost || c.capacity == capacity_status::restricted ||
         c.capacity == capacity_status::cognitive_difficulty;
}

std::string capacity_text(const consent_record& c) {
  return lacks_capacity(c) ? fmt::format(" (capacity: {})", to_string(c.capacity)) : std::string();
}

bool has_representative(const consent_record& c, bool with_evidence) {
  return std::any_of(c.grantors.begin(), c.grantors.end(), [&](const grantor& g) {
    const bool rep = g.role == grantor_role::legal_representative ||
                     g.role == grantor_role::parent || g.role == grantor_role::guardian;
    return rep && (!with_evidence || !g.authority_evidence.empty());
  });
}

// Does a usable consent exist for rules that examine its content?
bool examinable(ctx_t ctx, basis_t b) {
  return ctx.consent != nullptr && b.basis != legal_basis::emergency &&
         ctx.consent->status != consent_status::entered_in_error;
}

// A U-graded rule's finding: a block under its conservative flag, else a warning.
void block_or_warn(rule_report& out, bool block, std::string code, std::string message) {
  if (block) {
    out.block(std::move(code), std::move(message));
  } else {
    out.warn(std::move(code), std::move(message));
  }
}

bool vn_sends(ctx_t ctx) { return ctx.sender_country() == "VN"; }
bool cross_border(ctx_t ctx) { return ctx.origin_country != ctx.destination_country; }

// A cross-border transfer the Vietnamese hospital makes itself: the duties of Law 91 Art. 20
// (the transfer agreement, the impact assessment and its updates, the recipient's clauses) do
// not apply when the patient carries their own record abroad (Art. 20(6)(c), VN-14).
bool vn_hospital_transfers_abroad(ctx_t ctx) {
  return vn_sends(ctx) && cross_border(ctx) && !ctx.patient_mediated;
}

std::string consent_name(ctx_t ctx) { return "consent " + ctx.consent->id.value(); }

// "consent C was withdrawn (channel) at T" when the consent's withdrawal was received at or
// before the context's instant (never retroactive: VN-15, VN-16, JP-12); nullopt otherwise.
std::optional<std::string> withdrawn_text(ctx_t ctx) {
  if (!ctx.consent) return std::nullopt;
  const auto& w = ctx.consent->withdrawal;
  if (!w || w->received_at > ctx.at) return std::nullopt;
  return fmt::format("{} was withdrawn ({}) at {}", consent_name(ctx), to_string(w->channel),
                     to_iso8601(w->received_at));
}

std::string patient_age_text(std::optional<int> age) {
  return age ? fmt::format("a patient aged {}", *age) : std::string("a patient of unknown age");
}

// The language in which a country's patients read a consent form.
const char* language_of(const std::string& country) {
  if (country == "VN") return "vi";
  if (country == "JP") return "ja";
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Vietnam

consent_rule vn_01() {
  return {"VN-01", "vietnam", "Law 91/2025 Art. 38(1), 39(1)-(2); Decree 13/2023",
          "the regime follows the transfer date; Decree 13 consents stay valid; consent precedes "
          "processing",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !ctx.involves("VN")) return;
            if (ctx.consent->captured_at > ctx.at) {
              out.block("VN_CONSENT_NOT_YET_GIVEN",
                        fmt::format("{} was captured at {}, after the {} at {}; consent is "
                                    "obtained before processing",
                                    consent_name(ctx), to_iso8601(ctx.consent->captured_at),
                                    ctx.action, to_iso8601(ctx.at)));
            }
          }};
}

consent_rule vn_03() {
  return {"VN-03", "vietnam", "Law 91/2025 Art. 26(1)(a), Art. 11(1); Decree 13/2023 Art. 11(1)",
          "health data needs the data subject's consent, except an Art. 19(1) emergency",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!ctx.involves("VN") || b.basis == legal_basis::emergency) return;
            if (!is_sensitive_payload(ctx.payload_classes, b.regime)) return;
            const consent_record* c = ctx.consent;
            if (!c || c->status == consent_status::entered_in_error) {
              out.block("VN_NO_CONSENT_HEALTH",
                        fmt::format("no consent on file for health data ({}) and no emergency "
                                    "basis; record the patient's consent before the {}",
                                    join(ctx.payload_classes), ctx.action));
              return;
            }
            if (c->grantors.empty()) {
              out.block("VN_NO_CONSENT_HEALTH",
                        fmt::format("{} names no one who gave it; record who consented",
                                    consent_name(ctx)));
              return;
            }
            const auto age = vn_age(*c, ctx.at);
            if (age && *age >= japan_majority && c->capacity == capacity_status::full &&
                !c->has_grantor(grantor_role::patient)) {
              out.block("VN_CONSENT_NOT_BY_SUBJECT",
                        fmt::format("{} concerns an adult with full capacity but was not given by "
                                    "the patient; the data subject consents",
                                    consent_name(ctx)));
            }
          }};
}

consent_rule vn_04() {
  return {"VN-04", "vietnam", "Law 91/2025 Art. 9(2); Decree 13/2023 Art. 11(2)",
          "consent is informed: data types and purpose, controller, rights (and, under Decree 13, "
          "the recipients)",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx)) return;
            const consent_record& c = *ctx.consent;
            if (c.purposes.empty() || c.data_classes.empty()) {
              out.block("VN_CONSENT_UNINFORMED_PURPOSE",
                        fmt::format("{} does not state {}; the patient must know the types of "
                                    "data and the purpose",
                                    consent_name(ctx),
                                    c.purposes.empty() ? "the purposes" : "the data classes"));
            }
            if (c.controller.empty()) {
              out.block("VN_CONSENT_UNINFORMED_CONTROLLER",
                        fmt::format("{} does not name the controller", consent_name(ctx)));
            }
            if (!c.rights_notice) {
              out.block("VN_CONSENT_UNINFORMED_RIGHTS",
                        fmt::format("{} does not record that the patient was told their rights "
                                    "and obligations",
                                    consent_name(ctx)));
            }
            if (b.regime == vietnam_regime::decree_13 && !c.names_recipient(ctx.receiver())) {
              out.block("VN_CONSENT_UNINFORMED_RECIPIENT",
                        fmt::format("{} does not name the recipient '{}', which Decree 13 "
                                    "requires",
                                    consent_name(ctx), ctx.receiver().value()));
            }
          }};
}

consent_rule vn_05() {
  return {"VN-05", "vietnam", "Decree 13/2023 Art. 11(8), Art. 28(3)",
          "under Decree 13 the patient is told that the data is sensitive",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx) || b.regime != vietnam_regime::decree_13)
              return;
            if (is_sensitive_payload(ctx.payload_classes, b.regime) &&
                !ctx.consent->sensitive_data_notice) {
              out.block("VN_SENSITIVE_NOTICE_MISSING",
                        fmt::format("{} does not record that the patient was told the data is "
                                    "sensitive (Decree 13 regime at {})",
                                    consent_name(ctx), to_iso8601(ctx.at)));
            }
          }};
}

consent_rule vn_06() {
  return {"VN-06", "vietnam", "Law 91/2025 Art. 9(3); Decree 13/2023 Art. 11(3), (5)",
          "consent is in a printable or verifiable form",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx)) return;
            const consent_record& c = *ctx.consent;
            if (c.method == expression_method::verbal ||
                c.method == expression_method::implied_notice) {
              out.block("VN_CONSENT_NOT_VERIFIABLE",
                        fmt::format("{} was expressed as '{}', which cannot be printed or "
                                    "verified; record it in writing, electronically or as a "
                                    "recording",
                                    consent_name(ctx), to_string(c.method)));
            } else if (c.artifact_sha256.empty()) {
              out.block("VN_CONSENT_NOT_VERIFIABLE",
                        fmt::format("{} has no artifact hash; keep the signed form or recording "
                                    "and record its SHA-256",
                                    consent_name(ctx)));
            }
          }};
}

consent_rule vn_07() {
  return {"VN-07", "vietnam", "Law 91/2025 Art. 9(4)(d); Decree 13/2023 Art. 11(6)",
          "silence, a pre-ticked box or a lapsed deadline is not consent",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx)) return;
            if (!ctx.consent->affirmative_action || ctx.consent->pre_ticked) {
              out.block("VN_SILENCE_NOT_CONSENT",
                        fmt::format("{} was {}; consent is an affirmative act", consent_name(ctx),
                                    ctx.consent->pre_ticked ? "a pre-ticked box"
                                                            : "not an affirmative act"));
            }
          }};
}

consent_rule vn_08() {
  return {
      "VN-08", "vietnam", "Law 91/2025 Art. 9(4)(a)-(b); Decree 13/2023 Art. 11(4), (7)",
      "consent is per purpose; only the granted data classes are sent",
      [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
        if (!examinable(ctx, b) || !vn_sends(ctx)) return;
        const consent_record& c = *ctx.consent;
        if (ctx.flow == data_flow::outbound && !c.grants(purpose::cross_border_referral)) {
          out.block("VN_PURPOSE_NOT_COVERED",
                    fmt::format("{} grants {} but not '{}'", consent_name(ctx),
                                c.purposes.empty() ? std::string("no purpose") : join(c.purposes),
                                purpose::cross_border_referral));
        }
        std::vector<std::string> left_out;
        for (const auto& cls : ctx.payload_classes) {
          const bool granted =
              std::find(c.data_classes.begin(), c.data_classes.end(), cls) != c.data_classes.end();
          const bool excluded = std::find(c.excluded_classes.begin(), c.excluded_classes.end(),
                                          cls) != c.excluded_classes.end();
          if (!granted || excluded) left_out.push_back(cls);
        }
        if (left_out.empty()) return;
        if (left_out.size() == ctx.payload_classes.size()) {
          out.block("VN_DATA_CLASS_NOT_COVERED",
                    fmt::format("{} covers none of the data to send ({})", consent_name(ctx),
                                join(left_out)));
        } else {
          out.filter(
              "VN_DATA_CLASS_NOT_COVERED",
              fmt::format("{} does not cover {}: left out", consent_name(ctx), join(left_out)),
              left_out);
        }
      }};
}

consent_rule vn_09() {
  return {"VN-09", "vietnam", "Law 91/2025 Art. 26(2)",
          "giving health data to a healthcare provider needs the patient's written request",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx) || b.regime != vietnam_regime::law_91) return;
            const consent_record& c = *ctx.consent;
            const auto rec = std::find_if(
                c.recipients.begin(), c.recipients.end(),
                [&](const consent_recipient& r) { return r.organisation == ctx.receiver(); });
            if (rec != c.recipients.end() && !rec->healthcare_provider) return;
            if (c.written_request && c.written_request->recipient == ctx.receiver()) return;
            if (flags.vn_consent_form_is_written_request &&
                c.grants(purpose::cross_border_referral) && c.names_recipient(ctx.receiver())) {
              return;
            }
            out.require_document(
                "VN_ART26_2_WRITTEN_REQUEST_MISSING",
                fmt::format("no written request by the patient to give the data to '{}' is on "
                            "file{}; attach it",
                            ctx.receiver().value(),
                            c.written_request ? fmt::format(" (the request on file names '{}')",
                                                            c.written_request->recipient.value())
                                              : std::string()));
          }};
}

consent_rule vn_10() {
  return {"VN-10", "vietnam", "Law 91/2025 Art. 15(2)(b), 17(1)(a); Decree 356/2025 Art. 7(1)",
          "a written data-transfer agreement with the recipient",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!vn_hospital_transfers_abroad(ctx) || b.regime != vietnam_regime::law_91) return;
            if (ctx.compliance.transfer_agreement) return;
            const std::string msg = fmt::format(
                "no data-transfer agreement between '{}' and '{}' is on file; the MoU alone is "
                "not one",
                ctx.sender().value(), ctx.receiver().value());
            block_or_warn(out, !flags.vn_transfer_agreement_warn_only,
                          "VN_TRANSFER_AGREEMENT_MISSING", msg);
          }};
}

consent_rule vn_11() {
  return {"VN-11", "vietnam", "Law 91/2025 Art. 20(1)(b), (2), (3)",
          "the cross-border transfer impact assessment is filed within 60 days of the first "
          "transfer",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!vn_hospital_transfers_abroad(ctx) || b.regime != vietnam_regime::law_91) return;
            if (ctx.compliance.impact_assessment_filed_at) return;
            const instant first = ctx.compliance.first_cross_border_transfer.value_or(ctx.at);
            const instant due = first + date::days{flags.vn_impact_assessment_days};
            if (ctx.at > due) {
              out.block("VN_TIA_OVERDUE",
                        fmt::format("'{}' has not filed its cross-border impact assessment, due "
                                    "{} days after the first transfer at {} (by {})",
                                    ctx.sender().value(), flags.vn_impact_assessment_days,
                                    to_iso8601(first), to_iso8601(due)));
            } else {
              out.warn("VN_TIA_DUE",
                       fmt::format("'{}' must file its cross-border impact assessment by {}",
                                   ctx.sender().value(), to_iso8601(due)));
            }
          }};
}

consent_rule vn_13() {
  return {"VN-13", "vietnam", "Law 91/2025 Art. 22(1)-(2); Decree 356/2025 Art. 20",
          "the impact assessment is updated when something changed: a recipient its dossier does "
          "not list is such a change",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!vn_hospital_transfers_abroad(ctx) || b.regime != vietnam_regime::law_91) return;
            const auto& c = ctx.compliance;
            // Only a filed assessment can be out of date (VN-11 asks for one that is missing),
            // and only recorded recipients can be compared.
            if (!flags.vn_new_recipient_needs_tia_update || !c.impact_assessment_filed_at ||
                !c.impact_assessment_recipients) {
              return;
            }
            const auto& listed = *c.impact_assessment_recipients;
            if (std::find(listed.begin(), listed.end(), ctx.receiver()) != listed.end()) return;
            std::string names;
            for (const auto& h : listed) names += (names.empty() ? "'" : ", '") + h.value() + "'";
            out.warn("VN_TIA_UPDATE_NEEDED",
                     fmt::format("the impact assessment '{}' filed on {} lists {}, not '{}': a "
                                 "new recipient is a change, and the dossier must be updated "
                                 "(Decree 356: within 10 days)",
                                 ctx.sender().value(), to_iso8601(*c.impact_assessment_filed_at),
                                 names.empty() ? std::string("no recipient") : names,
                                 ctx.receiver().value()));
          }};
}

consent_rule vn_12() {
  return {"VN-12", "vietnam", "Decree 13/2023 Art. 25(1)-(4), (6)",
          "under Decree 13 the transfer impact assessment rests on a consent given knowing the "
          "feedback and complaint mechanism",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx) || !cross_border(ctx)) return;
            if (b.regime != vietnam_regime::decree_13 || ctx.consent->complaint_mechanism_notice) {
              return;
            }
            out.block("VN_D13_CONSENT_NO_COMPLAINT_MECH",
                      fmt::format("{} does not record that the patient was told how to give "
                                  "feedback or complain, which a transfer abroad under Decree 13 "
                                  "needs (Art. 25(2)(g))",
                                  consent_name(ctx)));
          }};
}

consent_rule vn_14() {
  return {"VN-14", "vietnam", "Law 91/2025 Art. 20(6)(c); Art. 15(2)(a)",
          "a patient who carries their own record abroad transfers it themselves: the hospital's "
          "cross-border duties (VN-10, VN-11, VN-13, VN-20) do not apply to that route",
          [](ctx_t ctx, basis_t, flags_t, rule_report& out) {
            if (!ctx.patient_mediated || !vn_sends(ctx) || !cross_border(ctx)) return;
            // Said, never silent: a compliance officer sees which steps rested on the route.
            out.warn(
                "VN_PATIENT_MEDIATED_ROUTE",
                fmt::format("the patient carries the record from '{}' to '{}' themselves "
                            "(Law 91 Art. 20(6)(c)): '{}' gives the patient a copy (Art. "
                            "15(2)(a)) and its transfer agreement and impact assessment are "
                            "not applicable to this route",
                            ctx.sender().value(), ctx.receiver().value(), ctx.sender().value()));
          }};
}

consent_rule vn_15() {
  return {"VN-15", "vietnam", "Law 91/2025 Art. 10(1)-(4); Decree 13/2023 Art. 12",
          "a withdrawal blocks from the moment it is received, never retroactively",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b)) return;
            if (const auto withdrawn = withdrawn_text(ctx)) {
              out.block("VN_CONSENT_WITHDRAWN",
                        fmt::format("{}; no new {} from then on", *withdrawn, ctx.action));
            }
          }};
}

consent_rule vn_16() {
  return {"VN-16", "vietnam", "Law 91/2025 Art. 10(1) (exception clause), Art. 14(2), Art. 19",
          "an emergency basis carries a step after a withdrawal, and the step is flagged for review",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (b.basis != legal_basis::emergency || !ctx.involves("VN")) return;
            const auto withdrawn = withdrawn_text(ctx);
            if (!withdrawn) return;
            // Allowed (Art. 19 processing is outside the right to withdraw), never silently: the
            // finding lands in the audit row beside the emergency basis it rests on.
            out.warn("VN_ART19_OVERRIDES_WITHDRAWAL",
                     fmt::format("{}; the {} goes ahead on the emergency basis alone (Law 91 Art. "
                                 "19), for the emergency only; its justification is kept with "
                                 "the consent",
                                 *withdrawn, ctx.action));
          }};
}

consent_rule vn_20() {
  return {"VN-20", "vietnam", "Law 91/2025 Art. 1(2)(c), Art. 10(3); Decree 13/2023 Art. 12(4)",
          "the recipient abroad is bound to honour a withdrawal or a stop request passed on to "
          "it: a clause of the transfer agreement",
          [](ctx_t ctx, basis_t, flags_t, rule_report& out) {
            // Without any agreement VN-10 speaks; this asks what the agreement on file says.
            if (!vn_hospital_transfers_abroad(ctx) || !ctx.compliance.transfer_agreement ||
                ctx.compliance.withdrawal_clause) {
              return;
            }
            out.warn("VN_RECIPIENT_NO_WITHDRAWAL_CLAUSE",
                     fmt::format("the transfer agreement between '{}' and '{}' on file does not "
                                 "bind the recipient to honour a withdrawal or a stop request "
                                 "passed on to it",
                                 ctx.sender().value(), ctx.receiver().value()));
          }};
}

consent_rule vn_21() {
  return {"VN-21", "vietnam", "Decree 13/2023 Art. 11(9); Law 91/2025 Art. 24(3)(b)",
          "a competent authority's written request to stop processing stops every transfer",
          [](ctx_t ctx, basis_t, flags_t, rule_report& out) {
            // An order binds the hospital whatever the consent or basis: checked without one.
            const auto& order = ctx.compliance.authority_stop_order_at;
            if (!vn_sends(ctx) || !order || *order > ctx.at) return;
            out.block("VN_AUTHORITY_STOP",
                      fmt::format("a competent authority asked '{}' in writing on {} to stop "
                                  "processing; no {} until the order is lifted",
                                  ctx.sender().value(), to_iso8601(*order), ctx.action));
          }};
}

consent_rule vn_23() {
  return {"VN-23", "vietnam",
          "Law 15/2023/QH15 on Medical Examination and Treatment, Chapter II (the patient's "
          "right to privacy; the article number is uncertain: Art. 8 or 10); exceptions in Art. "
          "69(3)-(4)",
          "a Vietnamese facility shares the medical record with an outside party only with the "
          "patient's agreement: medical confidentiality, a basis of its own beside VN-03",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!vn_sends(ctx) || b.basis == legal_basis::emergency) return;
            const consent_record* c = ctx.consent;
            if (c && c->status != consent_status::entered_in_error && !c->grantors.empty()) return;
            out.block("VN_MED_CONFIDENTIALITY",
                      fmt::format("the medical record leaves '{}' for '{}' without the patient's "
                                  "agreement ({}) and without an emergency basis; record the "
                                  "patient's (or representative's) consent before the {}",
                                  ctx.sender().value(), ctx.receiver().value(),
                                  c ? consent_name(ctx) + " names no one who gave it"
                                    : std::string("no consent on file"),
                                  ctx.action));
          }};
}

consent_rule vn_26() {
  return {"VN-26", "vietnam",
          "Circular 14/2014/TT-BYT on transfer between medical facilities, Art. 1-3 (form, "
          "conditions, competence, procedures); the form's fields as HIS vendors implement them",
          "a patient transferred from a Vietnamese facility carries its transfer paper (Giay "
          "chuyen tuyen/chuyen vien: the reason, diagnosis, treatment given, condition, transport, "
          "escort, signatures); for a transfer abroad a recommended document, a requirement "
          "when the policy says so",
          [](ctx_t ctx, basis_t, flags_t flags, rule_report& out) {
            if (!vn_sends(ctx) || ctx.action != "transfer" || !ctx.documents) return;
            const auto& kinds = *ctx.documents;
            if (std::find(kinds.begin(), kinds.end(), document_kind::transfer_paper) != kinds.end())
              return;
            const std::string what = fmt::format(
                "referral from '{}' to '{}' carries no transfer paper (Giay chuyen tuyen/chuyen "
                "vien, Circular 14/2014/TT-BYT); attach it as a document of kind transfer_paper",
                ctx.sender().value(), ctx.receiver().value());
            if (flags.vn_require_transfer_paper) {
              out.require_document("VN_TRANSFER_PAPER_MISSING",
                                   fmt::format("the {}", what) + " before the transfer");
            } else {
              out.warn("VN_TRANSFER_PAPER_RECOMMENDED", fmt::format("the {}", what));
            }
          }};
}

consent_rule vn_17() {
  return {"VN-17", "vietnam", "Law 91/2025 Art. 19(1)(a), 19(2); Decree 13/2023 Art. 17(1)",
          "an emergency basis needs a recorded justification and clinician, and consent that "
          "could not practically be obtained",
          [](ctx_t ctx, basis_t, flags_t, rule_report& out) {
            if (!ctx.consent || !ctx.consent->emergency || !ctx.involves("VN")) return;
            const emergency_basis& e = *ctx.consent->emergency;
            if (e.justification.empty() || e.clinician.empty()) {
              out.block("VN_EMERGENCY_UNJUSTIFIED",
                        fmt::format("the emergency basis of {} has no {}; the hospital bears the "
                                    "burden of proof",
                                    consent_name(ctx),
                                    e.justification.empty() ? "justification" : "clinician"));
            }
            if (!e.consent_impracticable) {
              out.block("VN_EMERGENCY_CONSENT_PRACTICABLE",
                        fmt::format("the emergency basis of {} does not record that consent could "
                                    "not be obtained; ask the patient or representative",
                                    consent_name(ctx)));
            }
          }};
}

consent_rule vn_18() {
  return {"VN-18", "vietnam", "Decree 13/2023 Art. 20(1)-(3)",
          "under Decree 13 a child's data needs a parent's or guardian's consent, the child's own "
          "from age 7, and a verified age",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx) || b.regime != vietnam_regime::decree_13)
              return;
            const consent_record& c = *ctx.consent;
            const auto age = vn_age(c, ctx.at);
            if (!age || *age >= child_age) return;
            if (!c.age_verified) {
              out.block("VN_D13_AGE_UNVERIFIED",
                        fmt::format("{} concerns {} whose age was not verified", consent_name(ctx),
                                    patient_age_text(age)));
            }
            if (!has_representative(c, false)) {
              out.block("VN_D13_CHILD_CONSENT_MISSING",
                        fmt::format("{} concerns {} and has no parent's or guardian's consent",
                                    consent_name(ctx), patient_age_text(age)));
            }
            if (*age >= child_assent_age && !c.has_grantor(grantor_role::child_assent)) {
              out.block("VN_D13_CHILD_CONSENT_MISSING",
                        fmt::format("{} concerns {} and lacks the child's own consent (age 7 or "
                                    "more)",
                                    consent_name(ctx), patient_age_text(age)));
            }
          }};
}

consent_rule vn_19() {
  return {"VN-19", "vietnam", "Law 91/2025 Art. 24(2)-(3)",
          "under Law 91 a representative with proof of authority consents for a child or a "
          "person without capacity; a child of 7 or more also assents (policy flag)",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx) || b.regime != vietnam_regime::law_91) return;
            const consent_record& c = *ctx.consent;
            const auto age = vn_age(c, ctx.at);
            const bool child = age && *age < child_age;
            const bool incapable = lacks_capacity(c);
            if (!child && !incapable) return;
            if (!has_representative(c, true)) {
              out.block("VN_L91_REP_CONSENT_MISSING",
                        fmt::format("{} concerns {}{} and has no representative's consent with "
                                    "proof of authority",
                                    consent_name(ctx), patient_age_text(age), capacity_text(c)));
            }
            if (child && *age >= child_assent_age && flags.vn_child_assent_conservative &&
                !c.has_grantor(grantor_role::child_assent)) {
              out.block("VN_L91_CHILD_ASSENT_MISSING",
                        fmt::format("{} concerns {} and lacks the child's own assent (age 7 or "
                                    "more)",
                                    consent_name(ctx), patient_age_text(age)));
            }
          }};
}

consent_rule vn_25() {
  return {"VN-25", "vietnam",
          "Law 15/2023/QH15 on Medical Examination and Treatment, Chapter II (the rights of "
          "patients who lack capacity and of minors; the article number is uncertain); Civil "
          "Code 2015 Art. 20 (a minor is under 18)",
          "who decides the treatment referral of a minor or of an adult without capacity is "
          "recorded with their authority, separate from the data consent: an adult's prior "
          "lawful written wishes, else the representative, else the facility's professional "
          "lead or on-duty leader",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !vn_sends(ctx)) return;
            const consent_record& c = *ctx.consent;
            const auto age = vn_age(c, ctx.at);
            const bool minor = age && *age < vietnam_majority;
            if (!minor && !lacks_capacity(c)) return;  // the patient decides
            const std::string who = fmt::format("{}{}", patient_age_text(age), capacity_text(c));
            const auto& d = c.treatment_decision;
            if (!d) {
              out.require_document(
                  "VN_TREATMENT_DECISION_MAKER_MISSING",
                  fmt::format("{} concerns {}, and who decided the treatment referral is not "
                              "recorded; record the representative (or, without one, the "
                              "facility's professional lead or on-duty leader) with their "
                              "authority",
                              consent_name(ctx), who));
              return;
            }
            if (d->role == decision_maker_role::patient ||
                (minor && d->role == decision_maker_role::prior_written_wishes)) {
              out.block(
                  "VN_TREATMENT_DECISION_MAKER_INVALID",
                  fmt::format("{} records the treatment referral as decided by {} for {}; "
                              "{}the representative decides, or without one the "
                              "facility's professional lead or on-duty leader",
                              consent_name(ctx),
                              d->role == decision_maker_role::patient ? "the patient"
                                                                      : "prior written wishes",
                              who, minor ? "" : "an adult's prior lawful written wishes, else "));
              return;
            }
            if (d->role == decision_maker_role::facility_lead && has_representative(c, false)) {
              out.warn("VN_TREATMENT_DECISION_REPRESENTATIVE_AVAILABLE",
                       fmt::format("{} records the treatment referral as decided by the "
                                   "facility's leader although a representative consented to the "
                                   "data's transfer; the leader decides only without a "
                                   "representative",
                                   consent_name(ctx)));
            }
            if (d->authority_evidence.empty()) {
              out.require_document(
                  "VN_TREATMENT_DECISION_AUTHORITY_MISSING",
                  fmt::format("{} records who decided the treatment referral ({}) without proof "
                              "of their authority",
                              consent_name(ctx), to_string(d->role)));
            }
          }};
}

// ---------------------------------------------------------------------------------------------
// Japan

consent_rule jp_02() {
  return {"JP-02", "japan", "APPI Art. 20(2)",
          "the Japanese recipient acquires special care-required information only with prior "
          "consent naming it",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || ctx.receiver_country() != "JP") return;
            // Art. 20(2) is about acquiring special care-required information (JP-01).
            if (!is_special_care_required(ctx.payload_classes)) return;
            const consent_record& c = *ctx.consent;
            if (c.names_recipient(ctx.receiver()) && c.recipient_acquisition_notice) return;
            const std::string msg = fmt::format(
                "{} does not {} the acquisition of the data by '{}'", consent_name(ctx),
                c.names_recipient(ctx.receiver()) ? "state" : "name the recipient or state",
                ctx.receiver().value());
            block_or_warn(out, flags.jp_strict_acquisition_consent, "JP_ACQ_CONSENT_SCOPE", msg);
          }};
}

consent_rule jp_03() {
  return {"JP-03", "japan", "APPI Art. 27(1) and the proviso to Art. 27(2)",
          "special care-required personal information (medical data) goes from Japan to any third "
          "party, at home or abroad, only with prior consent: never on an opt-out notice",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || ctx.sender_country() != "JP") return;
            if (ctx.consent->method != expression_method::implied_notice) return;
            if (!is_special_care_required(ctx.payload_classes)) return;  // JP-01
            out.block("JP_OPTOUT_NOT_FOR_SCRPI",
                      fmt::format("{} rests on a notice the patient did not object to (opt-out), "
                                  "which Art. 27(2) does not allow for special care-required "
                                  "data ({}) given by '{}' to '{}'",
                                  consent_name(ctx), join(ctx.payload_classes),
                                  ctx.sender().value(), ctx.receiver().value()));
          }};
}

consent_rule jp_04() {
  return {"JP-04", "japan", "APPI Art. 28(1)",
          "a Japanese hospital gives data to a third party abroad only with prior consent to "
          "that provision (Vietnam is not an equivalent country)",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (ctx.sender_country() != "JP" || !cross_border(ctx)) return;
            if (b.basis == legal_basis::emergency) return;
            if (ctx.consent && ctx.consent->status != consent_status::entered_in_error &&
                ctx.consent->grants(purpose::results_return)) {
              return;
            }
            out.block("JP_ART28_CONSENT_MISSING",
                      fmt::format("no consent to the provision of data by '{}' to '{}' in {} "
                                  "(purpose '{}') is on file",
                                  ctx.sender().value(), ctx.receiver().value(),
                                  ctx.receiver_country(), purpose::results_return));
          }};
}

consent_rule jp_05() {
  return {"JP-05", "japan", "APPI Art. 28(2); PPC Rules Art. 17(2)-(4); PPC FAQ Q5-8, Q5-9",
          "before consenting to a foreign provision the person is told the country, its "
          "protection system and the recipient's measures",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b) || !ctx.involves("JP")) return;
            const consent_record& c = *ctx.consent;
            const bool applies = ctx.sender_country() == "JP" || c.grants(purpose::results_return);
            if (!applies) return;
            std::vector<std::string> missing;
            const japan_foreign_provision_info none;
            const auto& info = c.japan_art28_2 ? *c.japan_art28_2 : none;
            if (info.country.empty() && info.country_unidentified_reason.empty()) {
              missing.emplace_back("the foreign country's name");
            }
            if (info.country_system_info.empty()) {
              missing.emplace_back("information on its personal-information protection system");
            }
            if (info.recipient_measures_info.empty() && info.measures_unavailable_reason.empty()) {
              missing.emplace_back("information on the recipient's protection measures");
            }
            if (missing.empty()) return;
            out.block("JP_ART28_2_INFO_MISSING",
                      fmt::format("{} consents to a foreign provision but the patient was not "
                                  "given: {}",
                                  consent_name(ctx), join(missing)));
          }};
}

consent_rule jp_06() {
  return {"JP-06", "japan", "APPI Art. 28(3); PPC Rules Art. 18(1), (3)",
          "under the equivalent-system route the provider checks the recipient's measures "
          "periodically, and stops providing when a problem is found",
          [](ctx_t ctx, basis_t, flags_t flags, rule_report& out) {
            const auto& c = ctx.compliance;
            if (ctx.sender_country() != "JP" || !cross_border(ctx) ||
                c.jp_equivalent_system_contract.empty()) {
              return;
            }
            // The provider's duty whatever the basis: an emergency does not lift it.
            if (c.jp_periodic_check_problem) {
              out.block("JP_ART28_3_PROBLEM",
                        fmt::format("the latest periodic check of '{}''s measures under contract "
                                    "'{}' found a problem; '{}' stops providing until it is "
                                    "resolved",
                                    ctx.receiver().value(), c.jp_equivalent_system_contract,
                                    ctx.sender().value()));
              return;
            }
            const auto& last = c.jp_last_periodic_check_at;
            if (last && ctx.at <= *last + date::days{flags.jp_check_interval_days}) return;
            out.block("JP_ART28_3_CHECK_OVERDUE",
                      last ? fmt::format("the periodic check of '{}''s measures under contract "
                                         "'{}' was last made at {}, more than {} days before",
                                         ctx.receiver().value(), c.jp_equivalent_system_contract,
                                         to_iso8601(*last), flags.jp_check_interval_days)
                           : fmt::format("the measures of '{}' under contract '{}' have never been "
                                         "checked",
                                         ctx.receiver().value(), c.jp_equivalent_system_contract));
          }};
}

consent_rule jp_08() {
  return {"JP-08", "japan",
          "MHLW guidance for medical and nursing-care providers (2017, rev. 2023) p. 27",
          "a minor or a person who cannot judge the consequences consents through a "
          "representative (minors: at or under the JP-09 threshold)",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || !ctx.involves("JP")) return;
            const consent_record& c = *ctx.consent;
            const auto age = jp_age(c, ctx.at);
            const bool young = age && *age <= flags.jp_minor_threshold;
            if (has_representative(c, false) || !(young || lacks_capacity(c))) return;
            out.block("JP_MINOR_REP_CONSENT_MISSING",
                      fmt::format("{} concerns {}{} and has no representative's consent "
                                  "(threshold: {} or younger)",
                                  consent_name(ctx), patient_age_text(age), capacity_text(c),
                                  flags.jp_minor_threshold));
          }};
}

consent_rule jp_09() {
  return {"JP-09", "japan",
          "PPC APPI Q&A 1-62 (the number may have changed); JIS Q 15001 practice; Civil Code "
          "Art. 4 (majority at 18)",
          "minors older than the threshold (jp_minor_threshold, 15) and under 18 may consent "
          "alone with a recorded assessment of their capacity",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || !ctx.involves("JP")) return;
            const consent_record& c = *ctx.consent;
            const auto age = jp_age(c, ctx.at);
            const bool older_minor =
                age && *age > flags.jp_minor_threshold && *age < japan_majority;
            if (!older_minor || lacks_capacity(c) || has_representative(c, false) ||
                c.capacity_assessed) {
              return;
            }
            out.block("JP_MINOR_CAPACITY_NOT_ASSESSED",
                      fmt::format("{} concerns {} who consented alone without a recorded "
                                  "assessment of their capacity",
                                  consent_name(ctx), patient_age_text(age)));
          }};
}

consent_rule jp_10() {
  return {"JP-10", "japan", "APPI Art. 27(1)(ii), 28(1), 20(2)(ii)",
          "an emergency basis in Japan only when protecting life or body and consent is "
          "difficult to obtain, with a justification",
          [](ctx_t ctx, basis_t, flags_t, rule_report& out) {
            if (!ctx.consent || !ctx.consent->emergency || !ctx.involves("JP")) return;
            const emergency_basis& e = *ctx.consent->emergency;
            if (!e.consent_impracticable) {
              out.block("JP_EMERGENCY_CONSENT_PRACTICABLE",
                        fmt::format("the emergency basis of {} does not record that consent was "
                                    "difficult to obtain",
                                    consent_name(ctx)));
            }
            if (e.justification.empty()) {
              out.block(
                  "JP_EMERGENCY_UNJUSTIFIED",
                  fmt::format("the emergency basis of {} has no justification", consent_name(ctx)));
            }
          }};
}

consent_rule jp_11() {
  return {"JP-11", "japan",
          "MHLW guidance for medical and nursing-care providers (implied consent through "
          "in-hospital notices) with APPI Art. 28(2)",
          "implied consent through an in-hospital notice is not consent to a provision abroad",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || ctx.sender_country() != "JP" || !cross_border(ctx)) return;
            if (ctx.consent->method != expression_method::implied_notice) return;
            block_or_warn(
                out, flags.jp_implied_consent_blocks_foreign, "JP_IMPLIED_CONSENT_NOT_FOR_FOREIGN",
                fmt::format("{} rests on an in-hospital notice (implied consent), which cannot "
                            "carry Art. 28(2)'s prior information for a provision by '{}' to "
                            "'{}' in {}",
                            consent_name(ctx), ctx.sender().value(), ctx.receiver().value(),
                            ctx.receiver_country()));
          }};
}

consent_rule jp_12() {
  return {"JP-12", "japan",
          "APPI Art. 35 (requests to cease use or third-party provision); the MoUs' commitment "
          "to respect patients' rights",
          "a patient's withdrawal stops every later provision from Japan, never retroactively",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (!examinable(ctx, b) || ctx.sender_country() != "JP") return;
            const auto withdrawn = withdrawn_text(ctx);
            if (!withdrawn) return;
            block_or_warn(out, flags.jp_withdrawal_stops_provision, "JP_CONSENT_WITHDRAWN_POLICY",
                          fmt::format("{}; '{}' provides no data from then on (library policy: "
                                      "APPI Art. 35 obliges this only in the cases it lists)",
                                      *withdrawn, ctx.sender().value()));
          }};
}

// ---------------------------------------------------------------------------------------------
// HL7 FHIR Consent

consent_rule std_01() {
  return {"STD-01", "fhir", "HL7 FHIR R4 Consent.status (consent-state-codes)",
          "only an active consent is followed",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!ctx.consent || b.basis == legal_basis::emergency) return;
            const consent_status s = ctx.consent->status;
            if (s == consent_status::active || s == consent_status::inactive) return;
            out.block("FHIR_STATUS_NOT_ACTIVE",
                      fmt::format("{} has status '{}'{}; only an active consent is followed",
                                  consent_name(ctx), to_string(s),
                                  s == consent_status::entered_in_error
                                      ? " and is ignored as if it did not exist"
                                      : ""));
          }};
}

consent_rule std_02() {
  return {"STD-02", "fhir", "HL7 FHIR Consent Management IG, Revoke Consent; HL7 v2 Table 0498",
          "a revoked or replaced consent (inactive) is not followed",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!ctx.consent || b.basis == legal_basis::emergency) return;
            if (ctx.consent->status != consent_status::inactive) return;
            out.block("FHIR_INACTIVE",
                      fmt::format("{} is inactive (revoked or replaced)", consent_name(ctx)));
          }};
}

consent_rule std_03() {
  return {"STD-03", "fhir", "HL7 FHIR R4 Consent.scope, invariants ppc-1..ppc-5",
          "sharing data needs a patient-privacy consent; a treatment consent does not authorise it",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b)) return;
            if (ctx.consent->scope == consent_scope::patient_privacy) return;
            out.block("FHIR_NO_PRIVACY_CONSENT",
                      fmt::format("{} has scope '{}'; sharing data needs scope 'patient-privacy'",
                                  consent_name(ctx), to_string(ctx.consent->scope)));
          }};
}

consent_rule std_04() {
  return {"STD-04", "fhir", "HL7 FHIR R4 Consent.provision.period",
          "the instant falls within the consent's period",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b)) return;
            const consent_record& c = *ctx.consent;
            if (c.valid_from && ctx.at < *c.valid_from) {
              out.block("FHIR_PERIOD_NOT_STARTED",
                        fmt::format("{} is valid from {}; the {} is at {}", consent_name(ctx),
                                    to_iso8601(*c.valid_from), ctx.action, to_iso8601(ctx.at)));
            }
            if (c.valid_until && ctx.at > *c.valid_until) {
              out.block("FHIR_PERIOD_EXPIRED",
                        fmt::format("{} was valid until {}; the {} is at {}", consent_name(ctx),
                                    to_iso8601(*c.valid_until), ctx.action, to_iso8601(ctx.at)));
            }
          }};
}

consent_rule std_05() {
  return {"STD-05", "fhir", "HL7 FHIR R4 Consent.provision.actor",
          "a consent that lists its recipients permits only them (and the hospital that obtained "
          "it)",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b)) return;
            const consent_record& c = *ctx.consent;
            // No actor listed: "no specific actor" (FHIR); the MoU rule asks for one by name.
            if (c.recipients.empty() || c.names_recipient(ctx.receiver()) ||
                ctx.receiver() == c.controller) {
              return;
            }
            std::string listed;
            for (const auto& r : c.recipients) {
              listed += (listed.empty() ? "" : ", ") + r.organisation.value();
            }
            out.block("FHIR_ACTOR_MISMATCH",
                      fmt::format("{} permits its data to {} only; the {} sends it to '{}'",
                                  consent_name(ctx), listed, ctx.action, ctx.receiver().value()));
          }};
}

consent_rule std_06() {
  return {"STD-06", "fhir", "HL7 FHIR R4 Consent.provision.purpose (v3-PurposeOfUse)",
          "a consent that lists purposes permits only those purposes",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b)) return;
            const consent_record& c = *ctx.consent;
            // The purpose of this flow: the referral going out, or results coming back.
            const std::string_view wanted = ctx.flow == data_flow::outbound
                                                ? purpose::cross_border_referral
                                                : purpose::results_return;
            if (c.purposes.empty() || c.grants(wanted)) return;  // none listed: all purposes
            out.block("FHIR_PURPOSE_MISMATCH",
                      fmt::format("{} permits the purposes {} only; the {} is for '{}'",
                                  consent_name(ctx), join(c.purposes), ctx.action, wanted));
          }};
}

consent_rule std_07() {
  return {"STD-07", "fhir",
          "HL7 FHIR R4 Consent.provision.type and Consent.provision.provision (nested exceptions), "
          "Consent.provision.class",
          "a nested deny provision carves its data classes out of what the consent permits",
          [](ctx_t ctx, basis_t b, flags_t, rule_report& out) {
            if (!examinable(ctx, b)) return;
            const auto& denied = ctx.consent->excluded_classes;
            std::vector<std::string> carved;
            for (const auto& cls : ctx.payload_classes) {
              if (std::find(denied.begin(), denied.end(), cls) != denied.end()) {
                carved.push_back(cls);
              }
            }
            if (carved.empty()) return;
            if (carved.size() == ctx.payload_classes.size()) {
              out.block("FHIR_DENY_PROVISION",
                        fmt::format("{} denies every class of the data to send ({})",
                                    consent_name(ctx), join(carved)));
              return;
            }
            out.filter("FHIR_DENY_PROVISION",
                       fmt::format("{} denies {}: left out, the rest is sent", consent_name(ctx),
                                   join(carved)),
                       carved);
          }};
}

// ---------------------------------------------------------------------------------------------
// MoU

consent_rule mou_01() {
  return {"MOU-01", "mou",
          "K Hospital and Bach Mai MoUs with Shonan Kamakura (14 and 15 November 2025): referral "
          "'while respecting patients' consent and rights'",
          "explicit, per-referral, bilingual consent; no-consent bases only through a justified "
          "emergency",
          [](ctx_t ctx, basis_t b, flags_t flags, rule_report& out) {
            if (ctx.consent && ctx.consent->emergency && !flags.allow_emergency_basis) {
              out.block("MOU_EMERGENCY_NOT_ACCEPTED",
                        "this policy does not accept an emergency basis; record the patient's "
                        "consent");
            }
            if (b.basis == legal_basis::emergency) return;
            if (!ctx.consent || ctx.consent->status == consent_status::entered_in_error) {
              out.block("MOU_CONSENT_REQUIRED",
                        fmt::format("the MoU requires the patient's explicit consent to every "
                                    "referral; none is on file for the {}",
                                    ctx.action));
              return;
            }
            const consent_record& c = *ctx.consent;
            // The referral's partner hospital, whichever way the data flows.
            const hospital_id& partner = ctx.destination;
            if (!c.names_recipient(partner)) {
              out.block("MOU_RECIPIENT_NOT_NAMED",
                        fmt::format("{} does not name '{}'; consent is per referral and names the "
                                    "partner hospital",
                                    consent_name(ctx), partner.value()));
            }
            std::vector<std::string> missing;
            for (const std::string* country : {&ctx.origin_country, &ctx.destination_country}) {
              const char* lang = language_of(*country);
              if (lang &&
                  std::find(c.languages.begin(), c.languages.end(), lang) == c.languages.end() &&
                  std::find(missing.begin(), missing.end(), lang) == missing.end()) {
                missing.emplace_back(lang);
              }
            }
            if (!missing.empty()) {
              out.block("MOU_CONSENT_NOT_BILINGUAL",
                        fmt::format("{} was given in {} and not in {}; the form is in both "
                                    "countries' languages",
                                    consent_name(ctx),
                                    c.languages.empty() ? std::string("no recorded language")
                                                        : join(c.languages),
                                    join(missing)));
            }
          }};
}

bool emergency_is_valid(const consent_context& ctx, const policy_flags& flags) {
  if (!ctx.consent || !ctx.consent->emergency || !flags.allow_emergency_basis) return false;
  const emergency_basis& e = *ctx.consent->emergency;
  return !e.justification.empty() && !e.clinician.empty() && e.consent_impracticable;
}

bool is_country_code(const std::string& s) {
  return s.size() == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

}  // namespace

std::string_view to_string(vietnam_regime v) noexcept { return detail::name_of(regime_names, v); }
std::string_view to_string(data_flow v) noexcept { return detail::name_of(flow_names, v); }
std::optional<data_flow> parse_data_flow(std::string_view name) noexcept {
  return detail::value_of(flow_names, name);
}
std::string_view to_string(rule_effect v) noexcept { return detail::name_of(effect_names, v); }
std::string_view to_string(consent_decision v) noexcept {
  return detail::name_of(decision_names, v);
}
std::string_view to_string(legal_basis v) noexcept { return detail::name_of(basis_names, v); }

vietnam_regime vietnam_regime_at(instant at) {
  // 2026-01-01T00:00 in Asia/Ho_Chi_Minh (UTC+7, no daylight saving since 1975).
  static const instant law_91_starts = date::floor<std::chrono::seconds>(
      date::make_zoned("Asia/Ho_Chi_Minh", date::local_days{date::year{2026} / 1 / 1})
          .get_sys_time());
  return at < law_91_starts ? vietnam_regime::decree_13 : vietnam_regime::law_91;
}

bool is_sensitive_payload(const std::vector<std::string>& data_classes, vietnam_regime regime) {
  for (const auto& cls : data_classes) {
    // Decree 13 Art. 2(4)(b) excludes blood group from health data; Law 91 does not say so.
    if (cls == "blood_group" && regime == vietnam_regime::decree_13) continue;
    if (cls == "demographics") continue;
    return true;
  }
  return false;
}

bool is_special_care_required(const std::vector<std::string>& data_classes) {
  return std::any_of(data_classes.begin(), data_classes.end(),
                     [](const std::string& cls) { return cls != "demographics"; });
}

void rule_report::add(rule_effect e, std::string code, std::string message,
                      std::vector<std::string> classes) {
  out_->push_back(
      {rule_id_, e, std::move(code), std::move(message), citation_, std::move(classes)});
}
void rule_report::block(std::string code, std::string message) {
  add(rule_effect::block, std::move(code), std::move(message), {});
}
void rule_report::require_document(std::string code, std::string message) {
  add(rule_effect::require_document, std::move(code), std::move(message), {});
}
void rule_report::warn(std::string code, std::string message) {
  add(rule_effect::warn, std::move(code), std::move(message), {});
}
void rule_report::filter(std::string code, std::string message, std::vector<std::string> classes) {
  add(rule_effect::filter, std::move(code), std::move(message), std::move(classes));
}

bool consent_verdict::blocked_by(std::string_view rule_id, std::string_view code) const {
  return std::any_of(findings.begin(), findings.end(), [&](const finding& f) {
    return f.rule_id == rule_id && (code.empty() || f.code == code) &&
           (f.effect == rule_effect::block || f.effect == rule_effect::require_document);
  });
}

bool consent_verdict::has_finding(std::string_view rule_id, std::string_view code) const {
  return std::any_of(findings.begin(), findings.end(), [&](const finding& f) {
    return f.rule_id == rule_id && (code.empty() || f.code == code);
  });
}

std::vector<std::string> consent_verdict::filtered_classes() const {
  std::vector<std::string> out;
  for (const auto& f : findings) {
    for (const auto& c : f.filtered_classes) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

std::vector<consent_rule> vietnam_rules() {
  return {vn_01(), vn_03(), vn_04(), vn_05(), vn_06(), vn_07(), vn_08(), vn_09(),
          vn_10(), vn_11(), vn_12(), vn_13(), vn_14(), vn_15(), vn_16(), vn_17(),
          vn_18(), vn_19(), vn_20(), vn_21(), vn_23(), vn_25(), vn_26()};
}
std::vector<consent_rule> japan_rules() {
  return {jp_02(), jp_03(), jp_04(), jp_05(), jp_06(), jp_08(), jp_09(), jp_10(), jp_11(), jp_12()};
}
std::vector<consent_rule> fhir_rules() {
  return {std_01(), std_02(), std_03(), std_04(), std_05(), std_06(), std_07()};
}
std::vector<consent_rule> mou_rules() { return {mou_01()}; }

consent_policy consent_policy::standard(policy_flags flags) {
  consent_policy p;
  p.flags_ = flags;
  for (auto* pack : {&fhir_rules, &mou_rules, &vietnam_rules, &japan_rules}) {
    for (auto& r : (*pack)()) p.rules_.push_back(std::move(r));
  }
  return p;
}

consent_policy& consent_policy::add(consent_rule rule) {
  if (!is_valid_id(rule.id)) {
    detail::fail(errc::invalid_argument, "consent rule", detail::bad_id_message("rule id", rule.id),
                 "give the rule an id such as 'BM-01'");
  }
  if (!rule.evaluate) {
    detail::fail(errc::invalid_argument, "consent rule " + rule.id, "has no evaluate function",
                 "set consent_rule::evaluate");
  }
  for (const auto& r : rules_) {
    if (r.id == rule.id) {
      detail::fail(errc::already_exists, "consent rule " + rule.id, "the policy has it already",
                   "choose another id, or remove() the existing rule first");
    }
  }
  rules_.push_back(std::move(rule));
  return *this;
}

consent_policy& consent_policy::remove(std::string_view rule_id) {
  auto it = std::find_if(rules_.begin(), rules_.end(),
                         [&](const consent_rule& r) { return r.id == rule_id; });
  if (it == rules_.end()) {
    std::string ids;
    for (const auto& r : rules_) ids += (ids.empty() ? "" : ", ") + r.id;
    detail::fail(errc::not_found, "consent rule " + detail::printable(rule_id),
                 "is not in the policy", "the policy's rules: " + (ids.empty() ? "none" : ids));
  }
  rules_.erase(it);
  return *this;
}

consent_policy& consent_policy::remove_pack(std::string_view pack) {
  const auto before = rules_.size();
  rules_.erase(std::remove_if(rules_.begin(), rules_.end(),
                              [&](const consent_rule& r) { return r.pack == pack; }),
               rules_.end());
  if (rules_.size() == before) {
    detail::fail(errc::not_found, "rule pack " + detail::printable(pack),
                 "has no rule in the policy",
                 "packs: vietnam, japan, fhir, mou, or a pack of your own rules");
  }
  return *this;
}

consent_policy& consent_policy::set_flags(policy_flags flags) {
  flags_ = flags;
  return *this;
}

consent_verdict consent_policy::evaluate(const consent_context& ctx) const {
  validate("context.origin", ctx.origin);
  validate("context.destination", ctx.destination);
  for (const auto& [field, country] :
       {std::pair<const char*, const std::string*>{"context.origin_country", &ctx.origin_country},
        {"context.destination_country", &ctx.destination_country}}) {
    if (!is_country_code(*country)) {
      detail::fail(errc::invalid_argument, field,
                   fmt::format("'{}' is not a country code", detail::printable(*country)),
                   "expected ISO 3166-1 alpha-2 in capitals, e.g. 'VN' or 'JP'");
    }
  }
  basis_info b;
  b.regime = vietnam_regime_at(ctx.at);
  b.basis = emergency_is_valid(ctx, flags_) ? legal_basis::emergency
            : ctx.consent                   ? legal_basis::consent
                                            : legal_basis::none;
  consent_verdict v;
  v.regime = b.regime;
  for (const auto& rule : rules_) {
    rule_report report(rule.id, rule.citation, v.findings);
    try {
      rule.evaluate(ctx, b, flags_, report);
    } catch (const std::exception& e) {
      // A rule that fails blocks: an unevaluated rule must never let a step through.
      report.block("RULE_FAILED", fmt::format("the rule could not be evaluated: {}",
                                              detail::printable(e.what(), 200)));
    }
  }
  const bool blocked = std::any_of(v.findings.begin(), v.findings.end(), [](const finding& f) {
    return f.effect == rule_effect::block || f.effect == rule_effect::require_document;
  });
  if (b.basis == legal_basis::none && !blocked) {
    v.findings.push_back({"policy",
                          rule_effect::block,
                          "NO_LEGAL_BASIS",
                          "no consent and no emergency basis is on file",
                          "",
                          {}});
  }
  v.decision =
      blocked || b.basis == legal_basis::none ? consent_decision::block : consent_decision::allow;
  v.basis = v.decision == consent_decision::allow ? b.basis : legal_basis::none;
  if (v.basis == legal_basis::emergency)
    v.basis_justification = ctx.consent->emergency->justification;
  return v;
}

std::string to_json(const consent_verdict& v, int indent) {
  using nlohmann::json;
  json out = {{"decision", std::string(to_string(v.decision))},
              {"basis", std::string(to_string(v.basis))},
              {"regime", std::string(to_string(v.regime))},
              {"findings", json::array()}};
  if (v.basis == legal_basis::emergency) out["basis_justification"] = v.basis_justification;
  for (const auto& f : v.findings) {
    json j = {{"rule", f.rule_id},
              {"effect", std::string(to_string(f.effect))},
              {"code", f.code},
              {"message", f.message},
              {"citation", f.citation}};
    if (!f.filtered_classes.empty()) j["filtered_classes"] = f.filtered_classes;
    out["findings"].push_back(std::move(j));
  }
  return out.dump(indent);
}

std::ostream& operator<<(std::ostream& os, const consent_verdict& v) {
  os << to_string(v.decision) << " (basis: " << to_string(v.basis)
     << ", regime: " << to_string(v.regime) << ")";
  for (const auto& f : v.findings) {
    os << "\n  " << f.rule_id << " " << to_string(f.effect) << " " << f.code << ": " << f.message;
  }
  return os;
}

}  // namespace kakehashi
