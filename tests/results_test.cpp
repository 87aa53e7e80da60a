// Results returned (issue 16, item 5): after the transfer the destination returns results to the
// referring hospital, by reference, under the recorded consent and the consent policy's return
// flow; an agreement may require them before the referral is completed.

#include <date/date.h>

#include <catch2/catch.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/testing.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/caught.hpp"
#include "support/engine_fixture.hpp"
#include "support/referral_fixtures.hpp"

using namespace kakehashi;
using namespace kakehashi::test;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

instant at(const char* t) { return parse_instant(t); }

// The seed agreements with the Bach Mai MoU requiring results before completion.
agreement_directory requiring_results() {
  return with_bach_mai_terms(
      [](agreement& a) { a.results_before_completion = results_rule::required; });
}

// R-1 proposed, consented (with `consent`), accepted and transferred.
void transferred(engine& e, const consent_record& consent) {
  const referral_id r1{"R-1"};
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, consent, bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  e.attach_document(r1, sample_document("D-1"), bm_coordinator(), at("2026-03-01T02:00:00Z"), "d1");
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");
  e.transfer(r1, consent, sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1");
}

// R-1 transferred on a consent that allows the journey (the outbound flow) but not the
// provision back from Japan (no results_return purpose); that consent.
consent_record transferred_without_return(engine& e) {
  const consent_record outbound_only =
      testing::valid_consent().without_purpose(purpose::results_return).build();
  transferred(e, outbound_only);
  return outbound_only;
}

const std::vector<document_ref> discharge{
    sample_document("D-SK-1", document_kind::discharge_summary),
    sample_document("D-SK-2", document_kind::treatment_plan)};

}  // namespace

TEST_CASE("results go back to the referring hospital and close the loop",
          "[engine][results][backends]") {
  temp_db db;
  engine e =
      engine::open(db.path(), requiring_results(), consent_policy::standard(), paperwork_on_file());
  const referral_id r1{"R-1"};
  transferred(e, good_consent());

  // The agreement requires results first: completing now is refused and changes nothing.
  const referral_snapshot arrived = e.get(r1);
  auto rows = e.audit_rows();
  error err = caught([&] {
    e.apply(r1, event::complete{sk_clinician(), at("2026-03-20T00:00:00Z")}, "x1");
  });
  CHECK(err.code() == errc::failed_precondition);
  CHECK(std::string(err.what()) ==
        "[kakehashi.failed_precondition] referral R-1: cannot be completed: the agreement "
        "mou-bach-mai-shonan-kamakura-2025 requires results returned to the referring hospital "
        "first; the destination returns them (return_results), then completes");
  CHECK(e.get(r1) == arrived);
  CHECK(e.audit_rows() == rows + 1);
  CHECK(e.results(r1).empty());

  // Returned: one row, the documents by reference, the state unchanged.
  const referral_snapshot after = e.return_results(r1, good_consent(), discharge, sk_clinician(),
                                                   at("2026-03-19T00:00:00Z"), "r1");
  CHECK(after.state == referral_state::transferred);
  CHECK(after.version == arrived.version + 1);
  const audit_entry row = e.history(r1).back();
  CHECK(row.command == "return_results");
  const json details = json::parse(row.details);
  CHECK(details.at("consent") == "C-TEST-1");
  CHECK(details.at("documents").size() == 2);
  CHECK(details.at("documents")[0].at("kind") == "discharge_summary");
  CHECK(details.at("basis") == "consent");  // the policy's verdict for the return flow
  const auto returned = e.results(r1);
  REQUIRE(returned.size() == 2);
  CHECK(returned[0].document == discharge[0]);
  CHECK(returned[1].document == discharge[1]);
  CHECK(returned[1].by.organisation == sk);
  CHECK(returned[1].audit_seq == row.seq);
  // A retry with the same key is the same answer, not a second return.
  CHECK(e.return_results(r1, good_consent(), discharge, sk_clinician(), at("2026-03-19T00:00:00Z"),
                         "r1") == after);
  CHECK(e.results(r1).size() == 2);

  CHECK(e.apply(r1, event::complete{sk_clinician(), at("2026-03-20T00:00:00Z")}, "x2").state ==
        referral_state::closed);
  CHECK(e.verify().intact);  // the log replays the return row
  if (db.schema().empty()) {
    const auto view = database_view::open(db.path());
    CHECK(view.results(r1).size() == 2);
    CHECK(view.results(referral_id{"R-404"}).empty());
  }
}

TEST_CASE("a refused return of results changes nothing and says why", "[engine][results][error]") {
  temp_db db;
  engine e = open_engine(db.path());
  const referral_id r1{"R-1"};
  e.propose(bm_proposal("R-1"), "p1");
  e.record_consent(r1, good_consent(), bm_coordinator(), at("2026-03-01T01:00:00Z"), "c1");
  e.attach_document(r1, sample_document("D-1"), bm_coordinator(), at("2026-03-01T02:00:00Z"), "d1");
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");
  const auto back = [&](const std::vector<document_ref>& docs, const actor& by, const char* when,
                        const std::string& key, const consent_record& c = good_consent()) {
    return e.return_results(r1, c, docs, by, at(when), key);
  };

  // Before the transfer there is nothing to return.
  error err = caught([&] { back(discharge, sk_clinician(), "2026-03-03T00:00:00Z", "k1"); });
  CHECK(err.code() == errc::failed_precondition);
  CHECK_THAT(err.what(), Contains("event 'return_results' by 'shonan-kamakura' is not allowed in "
                                  "state 'accepted'"));
  e.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1");
  const referral_snapshot arrived = e.get(r1);
  const auto rows = e.audit_rows();

  // The referring hospital does not return results to itself.
  err = caught([&] { back(discharge, bm_coordinator(), "2026-03-11T00:00:00Z", "k2"); });
  CHECK(err.code() == errc::permission_denied);
  // No documents, too many, a malformed one, the same id twice, or an id the file already has.
  err = caught([&] { back({}, sk_clinician(), "2026-03-11T00:00:00Z", "k3"); });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("event.documents: has 0 documents; return 1 to 32"));
  std::vector<document_ref> many;
  for (int i = 0; i < 33; ++i) many.push_back(sample_document("D-M" + std::to_string(i)));
  err = caught([&] { back(many, sk_clinician(), "2026-03-11T00:00:00Z", "k4"); });
  CHECK_THAT(err.what(), Contains("event.documents: has 33 documents"));
  document_ref bad = discharge[0];
  bad.sha256 = "not-a-digest";
  err = caught([&] { back({discharge[1], bad}, sk_clinician(), "2026-03-11T00:00:00Z", "k5"); });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("event.documents[1].sha256"));
  err = caught([&] {
    back({discharge[0], discharge[0]}, sk_clinician(), "2026-03-11T00:00:00Z", "k6");
  });
  CHECK_THAT(err.what(), Contains("event.documents[1].id: 'D-SK-1' is also documents[0]"));
  err = caught([&] {
    back({sample_document("D-1", document_kind::discharge_summary)}, sk_clinician(),
         "2026-03-11T00:00:00Z", "k7");
  });
  CHECK(err.code() == errc::already_exists);
  CHECK_THAT(err.what(), Contains("referral R-1 document D-1: is in the referral's file already "
                                  "(referral_letter, at 2026-03-01T02:00:00Z"));
  // Another consent than the one recorded.
  consent_record other = testing::valid_consent().id("C-OTHER").build();
  err = caught([&] { back(discharge, sk_clinician(), "2026-03-11T00:00:00Z", "k8", other); });
  CHECK(err.code() == errc::consent_blocked);
  CHECK_THAT(err.what(), Contains("consent C-OTHER is not the consent recorded for the referral "
                                  "(C-TEST-1)"));
  // The library's generic apply() cannot return results without the consent.
  err = caught([&] {
    e.apply(r1, event::return_results{sk_clinician(), at("2026-03-11T00:00:00Z"), discharge}, "k9");
  });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("'return_results' needs the consent record"));
  CHECK(e.get(r1) == arrived);
  CHECK(e.results(r1).empty());
  CHECK(e.audit_rows() > rows);  // each refusal is audited, nothing else changed

  // After the patient withdrew consent, results no longer go back through kakehashi.
  e.apply(r1,
          event::withdraw_consent{sk_coordinator(), at("2026-03-12T00:00:00Z"),
                                  withdrawal_channel::written},
          "w1");
  err = caught([&] { back(discharge, sk_clinician(), "2026-03-13T00:00:00Z", "k10"); });
  CHECK(err.code() == errc::failed_precondition);
  CHECK_THAT(err.what(), Contains("refused in state 'transferred': the patient withdrew consent "
                                  "after the transfer"));
  CHECK(e.results(r1).empty());
  CHECK(e.verify().intact);
}

TEST_CASE("the return flow is gated by the Japanese rules: a consent without results_return",
          "[engine][results][consent]") {
  temp_db db;
  engine e = open_engine(db.path());
  const referral_id r1{"R-1"};
  const consent_record outbound_only = transferred_without_return(e);
  const auto rows = e.audit_rows();
  const error err = caught([&] {
    e.return_results(r1, outbound_only, discharge, sk_clinician(), at("2026-03-19T00:00:00Z"),
                     "r1");
  });
  CHECK(err.code() == errc::consent_blocked);
  CHECK_THAT(err.what(), Contains("JP-04 JP_ART28_CONSENT_MISSING"));
  CHECK_THAT(err.what(), Contains("'shonan-kamakura' to 'bach-mai'"));
  CHECK(e.results(r1).empty());
  CHECK(e.audit_rows() == rows + 1);
  const json details = json::parse(e.history(r1).back().details);
  bool jp04_blocks = false;
  for (const auto& f : details.at("findings")) {
    jp04_blocks = jp04_blocks || (f.at("rule") == "JP-04" && f.at("effect") == "block");
  }
  CHECK(jp04_blocks);
  // Without the agreement's term, the referral completes without results.
  CHECK(e.apply(r1, event::complete{sk_clinician(), at("2026-03-20T00:00:00Z")}, "x1").state ==
        referral_state::closed);
}

// Issue 16 item 4: a referral whose consent did not cover the results coming back is not
// stranded: a newer consent is recorded in `transferred`, judged by the return flow, audited as
// the replacement, and the results then go home on it.
TEST_CASE("a newer consent after the transfer is judged by the return flow and unblocks the return",
          "[engine][results][consent]") {
  temp_db db;
  engine e = open_engine(db.path());
  const referral_id r1{"R-1"};
  const consent_record outbound_only = transferred_without_return(e);
  (void)caught([&] {
    e.return_results(r1, outbound_only, discharge, sk_clinician(), at("2026-03-19T00:00:00Z"),
                     "r0");
  });

  // A newer consent that still lacks results_return is refused by the return flow's rule
  // (JP-04), although the outbound flow would allow it; nothing changes.
  const referral_snapshot before = e.get(r1);
  auto rows = e.audit_rows();
  const consent_record still_outbound_only =
      testing::valid_consent().id("C-TEST-2").without_purpose(purpose::results_return).build();
  error err = caught([&] {
    e.record_consent(r1, still_outbound_only, bm_coordinator(), at("2026-03-19T01:00:00Z"), "c2");
  });
  CHECK(err.code() == errc::consent_blocked);
  CHECK_THAT(err.what(), Contains("JP-04 JP_ART28_CONSENT_MISSING"));
  CHECK(e.get(r1) == before);
  CHECK(e.audit_rows() == rows + 1);

  // The destination cannot record it (the referring hospital keeps the consent record).
  rows = e.audit_rows();
  err = caught([&] {
    e.record_consent(r1, good_consent(), sk_clinician(), at("2026-03-19T01:00:00Z"), "c3");
  });
  CHECK(err.code() == errc::permission_denied);
  CHECK(e.audit_rows() == rows + 1);

  // A newer consent granting the return: recorded, the state unchanged, the row saying so.
  const consent_record renewed = testing::valid_consent().id("C-TEST-3").build();
  const referral_snapshot after =
      e.record_consent(r1, renewed, bm_coordinator(), at("2026-03-19T02:00:00Z"), "c4");
  CHECK(after.state == referral_state::transferred);
  CHECK(after.consent == renewed.id);
  CHECK(after.version == before.version + 1);
  const json details = json::parse(e.history(r1).back().details);
  CHECK(details.at("replaces") == "C-TEST-1");
  CHECK(details.at("flow") == "return");
  CHECK(details.at("basis") == "consent");
  // The results go home on it; the old consent is no longer the recorded one.
  err = caught([&] {
    e.return_results(r1, outbound_only, discharge, sk_clinician(), at("2026-03-19T03:00:00Z"),
                     "r1");
  });
  CHECK(err.code() == errc::consent_blocked);
  CHECK_THAT(err.what(), Contains("is not the consent recorded for the referral (C-TEST-3)"));
  e.return_results(r1, renewed, discharge, sk_clinician(), at("2026-03-19T04:00:00Z"), "r2");
  CHECK(e.results(r1).size() == 2);
  const provision_report provided = e.provisions({bm, {}, {}});
  REQUIRE(provided.provisions.size() == 2);
  CHECK(provided.provisions[0].consent.value() == "C-TEST-1");  // the journey, on the first
  CHECK(provided.provisions[1].consent == renewed.id);          // the results, on the newer one
  CHECK(e.verify().intact);

  // After a withdrawal, no newer consent: the patient withdrew, and only completion is left.
  e.apply(r1,
          event::withdraw_consent{bm_coordinator(), at("2026-03-20T00:00:00Z"),
                                  withdrawal_channel::written},
          "w1");
  err = caught([&] {
    e.record_consent(r1, testing::valid_consent().id("C-TEST-4").build(), bm_coordinator(),
                     at("2026-03-20T01:00:00Z"), "c5");
  });
  CHECK(err.code() == errc::failed_precondition);
}

// JP-07 and VN-22: the transfer (origin to destination) and the results return (destination to
// origin) each keep, in their audit row, the record each side must keep of the provision: who to
// whom, when, which data, on which consent with which artifact hash; both hospitals can list
// their provisions for a period.
TEST_CASE("every transfer and results return keeps the provision record both sides need",
          "[engine][provision][JP-07][VN-22][backends]") {
  temp_db db;
  engine e =
      engine::open(db.path(), requiring_results(), consent_policy::standard(), paperwork_on_file());
  const referral_id r1{"R-1"};
  const consent_record consent = good_consent();
  transferred(e, consent);
  e.return_results(r1, consent, discharge, sk_clinician(), at("2026-03-19T00:00:00Z"), "r1");

  const auto history = e.history(r1);
  const auto row_of = [&](const char* command) {
    for (const auto& r : history) {
      if (r.command == command) return json::parse(r.details);
    }
    FAIL("no " << command << " row");
    return json();
  };
  // The consent's proof is in the row that recorded it.
  CHECK(row_of("record_consent").at("artifact") == consent.artifact_sha256);
  const json sent = row_of("transfer").at("provision");
  CHECK(sent.at("provider") == "bach-mai");
  CHECK(sent.at("provider_name") == "Bach Mai Hospital");
  CHECK(sent.at("provider_country") == "VN");
  CHECK(sent.at("recipient") == "shonan-kamakura");
  CHECK(sent.at("recipient_country") == "JP");
  CHECK(sent.at("patient") == consent.patient.value());
  CHECK(sent.at("basis") == "consent");
  CHECK(sent.at("consent") == "C-TEST-1");
  CHECK(sent.at("consent_controller") == consent.controller.value());
  CHECK(sent.at("consent_method") == "written_signature");
  CHECK(sent.at("artifact_sha256") == consent.artifact_sha256);
  CHECK(sent.at("consent_digest") == row_of("record_consent").at("digest"));
  CHECK(sent.at("data_classes") == json({"diagnosis", "imaging", "pathology"}));
  REQUIRE(sent.at("documents").size() == 1);  // the documents attached travel with the patient
  CHECK(sent.at("documents")[0].at("id") == "D-1");
  const json returned = row_of("return_results").at("provision");
  CHECK(returned.at("provider") == "shonan-kamakura");
  CHECK(returned.at("recipient") == "bach-mai");
  CHECK(returned.at("documents").size() == 2);
  // Pseudonymous: no birth date in either record.
  const std::string born = date::format("%F", consent.birth_date.value());
  CHECK_THAT(sent.dump() + returned.dump(), !Contains(born));

  // Each side's list, and a period.
  const provision_report bach_mai = e.provisions({bm, {}, {}});
  REQUIRE(bach_mai.provisions.size() == 2);
  CHECK(bach_mai.without_record == 0);
  const provision_record& first = bach_mai.provisions[0];
  CHECK(first.command == "transfer");
  CHECK(first.referral == r1);
  CHECK(first.at == at("2026-03-10T00:00:00Z"));
  CHECK(first.by.organisation == sk);
  CHECK(first.by.role == actor_role::coordinator);
  CHECK(first.provider == bm);
  CHECK(first.recipient == sk);
  CHECK(first.basis == legal_basis::consent);
  CHECK(first.consent == consent.id);
  CHECK(first.consent_captured_at == consent.captured_at);
  CHECK(first.artifact_sha256 == consent.artifact_sha256);
  CHECK(first.documents.size() == 1);
  CHECK(bach_mai.provisions[1].provider == sk);
  CHECK(bach_mai.provisions[1].documents == discharge);
  CHECK(e.provisions({sk, {}, {}}).provisions.size() == 2);
  CHECK(e.provisions({hospital_id{"k-hospital"}, {}, {}}).provisions.empty());
  const auto in = [&](const char* from, const char* until) {
    std::vector<std::string> commands;
    for (const auto& p : e.provisions({bm, at(from), at(until)}).provisions) {
      commands.push_back(p.command);
    }
    return commands;
  };
  CHECK(in("2026-03-01T00:00:00Z", "2026-03-10T00:00:00Z").empty());  // until is exclusive
  CHECK(in("2026-03-10T00:00:00Z", "2026-03-19T00:00:00Z") == std::vector<std::string>{"transfer"});
  CHECK(in("2026-03-11T00:00:00Z", "2026-04-01T00:00:00Z") ==
        std::vector<std::string>{"return_results"});
  const error err = caught([&] { (void)e.provisions({hospital_id{"bach mai"}, {}, {}}); });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("provision_query.hospital"));

  const verify_result v = e.verify();
  CHECK(v.intact);
  CHECK(v.provisions == 2);
  CHECK(v.provisions_without_record == 0);
  if (db.schema().empty()) {
    CHECK(database_view::open(db.path()).provisions({bm, {}, {}}).provisions.size() == 2);
  }
}
