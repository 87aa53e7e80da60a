#pragma once
// Referrals in every state and with every close reason, and a declined one sent on as an onward
// referral, made by the engine (with refused attempts in their histories), and their FHIR Bundles:
// what the FHIR tests export and validate.

#include <algorithm>
#include <functional>
#include <kakehashi/fhir.hpp>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/engine_fixture.hpp"

namespace kakehashi::test {

struct exported_case {
  std::string name;  ///< "proposed", "closed-declined", ...
  referral_snapshot referral;
  std::vector<audit_entry> history;
  bool with_consent = false;
  std::string bundle;       ///< the Bundle's JSON text (a collection)
  std::string transaction;  ///< the same as a transaction Bundle
};

/// One engine database holding a referral per case; the Bundle of each (with its consent where
/// one was recorded, and once without it for the transferred one).
inline std::vector<exported_case> every_state_bundles(const std::string& db_path) {
  const auto at = [](const char* t) { return parse_instant(t); };
  // With a second partner of Bach Mai, so that a declined referral can be sent on.
  const agreement_directory agreements = with_second_partner();
  engine e = engine::open(db_path, agreements, consent_policy::standard(), paperwork_on_file());
  // Each case is its own patient's referral (open ones side by side would be duplicates), with
  // that patient's consent.
  std::map<std::string, consent_record> consents;
  const auto consent_of = [&](const referral_id& r) -> const consent_record& {
    return consents.emplace(r.value(), good_consent(r.value())).first->second;
  };
  const referral_id withdrawn_after{"R-withdrawn-after-transfer"};
  int key = 0;
  const auto k = [&key] { return "k" + std::to_string(++key); };
  const auto propose = [&](const std::string& id) {
    e.propose(bm_proposal(id), k());
    return referral_id{id};
  };
  const auto consented = [&](const std::string& id) {
    const referral_id r = propose(id);
    e.record_consent(r, consent_of(r), bm_coordinator(), at("2026-03-01T01:00:00Z"), k());
    return r;
  };
  const auto accepted = [&](const std::string& id) {
    const referral_id r = consented(id);
    try {  // a refused attempt: a coordinator may not accept
      e.apply(r, event::accept{sk_coordinator(), at("2026-03-02T00:00:00Z")}, k());
    } catch (const error&) {
    }
    e.apply(r, event::accept{sk_clinician(), at("2026-03-02T00:10:00Z")}, k());
    return r;
  };
  const auto transferred = [&](const std::string& id) {
    const referral_id r = accepted(id);
    e.transfer(r, consent_of(r), sk_coordinator(), at("2026-03-10T00:00:00Z"), k());
    return r;
  };

  struct made {
    std::string name;
    referral_id id;
    bool with_consent;
  };
  std::vector<made> cases;
  cases.push_back({"proposed", propose("R-proposed"), false});
  cases.push_back({"consent-recorded", consented("R-consent-recorded"), true});
  cases.push_back({"accepted", accepted("R-accepted"), true});
  cases.push_back({"transferred", transferred("R-transferred"), true});
  cases.push_back({"transferred-no-consent", referral_id{"R-transferred"}, false});
  {
    const referral_id r = transferred("R-completed");
    e.apply(r, event::complete{sk_clinician(), at("2026-04-01T00:00:00Z")}, k());
    cases.push_back({"closed-completed", r, true});
  }
  {
    // The loop closed: a discharge summary and a follow-up plan returned, then completed.
    const referral_id r = transferred("R-results");
    const auto doc = [](const char* id, document_kind kind) {
      return document_ref{document_id{id},   kind,   std::string(64, 'd'),
                          "application/pdf", 91'000, "ja"};
    };
    e.return_results(r, consent_of(r),
                     {doc("D-SK-SUMMARY", document_kind::discharge_summary),
                      doc("D-SK-PLAN", document_kind::treatment_plan)},
                     sk_clinician(), at("2026-03-30T00:00:00Z"), k());
    e.apply(r, event::complete{sk_clinician(), at("2026-04-01T00:00:00Z")}, k());
    cases.push_back({"closed-completed-with-results", r, true});
  }
  {
    // A consent refused first (no written request, VN-09), then the complete one recorded.
    const referral_id r = propose("R-consent-refused");
    consent_record incomplete = consent_of(r);
    incomplete.written_request.reset();
    try {
      e.record_consent(r, incomplete, bm_coordinator(), at("2026-03-01T00:30:00Z"), k());
      throw std::logic_error("fixture: the consent without a written request was recorded");
    } catch (const error&) {
    }
    e.record_consent(r, consent_of(r), bm_coordinator(), at("2026-03-01T01:00:00Z"), k());
    cases.push_back({"consent-refused-then-recorded", r, true});
  }
  {
    const referral_id r = consented("R-declined");
    e.apply(r,
            event::decline{sk_clinician(), at("2026-03-03T00:00:00Z"),
                           decline_reason::capacity_full},
            k());
    cases.push_back({"closed-declined", r, true});
  }
  {
    const referral_id r = propose("R-cancelled");
    e.apply(r,
            event::cancel{bm_coordinator(), at("2026-03-02T00:00:00Z"),
                          cancel_reason::treated_locally},
            k());
    cases.push_back({"closed-cancelled", r, false});
  }
  {
    const referral_id r = accepted("R-withdrawn");
    e.apply(r,
            event::withdraw_consent{bm_coordinator(), at("2026-03-04T00:00:00Z"),
                                    withdrawal_channel::written},
            k());
    cases.push_back({"closed-consent-withdrawn", r, true});
  }
  {
    const referral_id r = transferred(withdrawn_after.value());
    e.apply(r,
            event::withdraw_consent{sk_coordinator(), at("2026-03-12T00:00:00Z"),
                                    withdrawal_channel::verbal},
            k());
    cases.push_back({"transferred-consent-withdrawn", r, true});
  }
  {
    // Proposed earlier than the others, swept when only it is past its 14 days.
    e.propose(bm_proposal("R-expired", "2026-02-15T00:00:00Z"), k());
    const referral_id r{"R-expired"};
    const auto expired = e.expire_overdue(
        {hospital_id{"shonan-kamakura"}, actor_role::system, user_id{}}, at("2026-03-05T00:00:00Z"));
    if (expired.size() != 1 || expired[0].id != r) throw std::logic_error("fixture: sweep");
    cases.push_back({"closed-expired", r, false});
  }
  {
    // Declined by Shonan Kamakura and sent on to the second partner: both ends of the link.
    const referral_id r = consented("R-sent-on");
    e.apply(r,
            event::decline{sk_clinician(), at("2026-03-03T00:00:00Z"),
                           decline_reason::specialty_unavailable},
            k());
    proposal onward = bm_proposal("R-onward", "2026-03-04T00:00:00Z", test_patient("R-sent-on"));
    onward.destination = hospital_id{"jp-second"};
    onward.replaces = r;
    e.propose(onward, k());
    cases.push_back({"closed-declined-sent-on", r, true});
    cases.push_back({"onward", onward.id, false});
  }

  {
    // Accepted with three documents attached: a referral letter and imaging (LOINC types), the
    // imaging larger than a FHIR unsignedInt, and one of kind other (no LOINC type).
    const referral_id r = consented("R-documents");
    const auto attach = [&](const char* id, document_kind kind, std::uint64_t size,
                            const char* when) {
      e.attach_document(
          r, {document_id{id}, kind, std::string(64, 'c'), "application/pdf", size, "vi"},
          bm_coordinator(), at(when), k());
    };
    attach("D-LETTER", document_kind::referral_letter, 48'213, "2026-03-01T02:00:00Z");
    attach("D-CT", document_kind::imaging, 3'000'000'000, "2026-03-01T03:00:00Z");
    attach("D-NOTE", document_kind::other, 1, "2026-03-01T04:00:00Z");
    e.apply(r, event::accept{sk_clinician(), at("2026-03-02T00:10:00Z")}, k());
    // Two milestones before the journey, one by each hospital.
    e.apply(r,
            event::record_milestone{sk_coordinator(), at("2026-03-03T00:00:00Z"),
                                    milestone::guarantor_confirmed},
            k());
    e.apply(r,
            event::record_milestone{bm_coordinator(), at("2026-03-04T00:00:00Z"),
                                    milestone::medical_visa_issued},
            k());
    cases.push_back({"accepted-with-documents", r, true});
  }
  {
    // An unconscious patient: consent recorded and the transfer made on an emergency basis
    // alone, each opening Bach Mai's review; a second clinician reviews the first.
    const referral_id r{"R-emergency"};
    consent_record c = testing::valid_consent().given_by({}).emergency().build();
    c.id = consent_ref{"C-R-emergency"};
    c.patient = patient_ref{test_patient(r.value())};
    consents.emplace(r.value(), c);
    const referral_id t = transferred(r.value());
    const auto reviews = e.duties();
    const auto consent_review = std::find_if(reviews.begin(), reviews.end(), [&](const duty& d) {
      return d.referral == t && d.command == "record_consent";
    });
    if (consent_review == reviews.end()) throw std::logic_error("fixture: no emergency review");
    e.review_emergency(t, consent_review->id, review_finding::justified,
                       {bm, actor_role::clinician, user_id{"dr-bm-2"}}, at("2026-03-02T00:00:00Z"),
                       k());
    cases.push_back({"emergency-reviewed", t, true});
  }

  std::vector<exported_case> out;
  for (const auto& c : cases) {
    exported_case x;
    x.name = c.name;
    x.referral = e.get(c.id);
    x.history = e.history(c.id);
    x.with_consent = c.with_consent;
    const consent_record* consent = c.with_consent ? &consent_of(c.id) : nullptr;
    x.bundle = fhir::referral_bundle({x.referral, x.history, agreements, consent});
    fhir::options transaction;
    transaction.bundle = fhir::bundle_type::transaction;
    x.transaction =
        fhir::referral_bundle({x.referral, x.history, agreements, consent}, transaction);
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace kakehashi::test
