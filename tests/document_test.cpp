// Documents by reference (issue 16, item 1): the document_ref value, its file fingerprint, and
// the engine's attach_document command with the agreement's required documents as a checklist
// for acceptance.

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <kakehashi/document.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
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

// The seed agreements with the Bach Mai MoU requiring a referral letter and imaging, refused
// (or warned) when missing at acceptance.
agreement_directory requiring_documents(missing_documents_rule rule) {
  return with_bach_mai_terms([rule](agreement& a) {
    a.required_documents = {document_kind::referral_letter, document_kind::imaging};
    a.missing_documents = rule;
  });
}

engine open_requiring(const std::string& path,
                      missing_documents_rule rule = missing_documents_rule::refuse) {
  return engine::open(path, requiring_documents(rule), consent_policy::standard(),
                      paperwork_on_file());
}

void to_consent_recorded(engine& e, const std::string& id = "R-1") {
  e.propose(bm_proposal(id), id + "-propose");
  e.record_consent(referral_id{id}, good_consent(id), bm_coordinator(), at("2026-03-01T01:00:00Z"),
                   id + "-consent");
}

}  // namespace

TEST_CASE("a document reference names the field that is malformed and what would be valid",
          "[document][error]") {
  struct bad {
    const char* name;
    void (*edit)(document_ref&);
    const char* says;
  };
  const std::vector<bad> cases{
      {"an id with a space", [](document_ref& d) { d.id = document_id{"scan 1.dcm"}; },
       "document.id: document id 'scan 1.dcm' has a character outside [A-Za-z0-9._:-]"},
      {"a digest too short", [](document_ref& d) { d.sha256 = "abc"; },
       "document.sha256: 'abc' is not a SHA-256 digest; expected 64 lower-case hexadecimal "
       "digits"},
      {"a digest in capitals",
       [](document_ref& d) {
         d.sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
       },
       "document.sha256: '9F86D081"},
      {"a media type without subtype", [](document_ref& d) { d.media_type = "pdf"; },
       "document.media_type: 'pdf' is not a media type; expected type/subtype"},
      {"a media type with parameters",
       [](document_ref& d) { d.media_type = "text/plain; charset=utf-8"; },
       "document.media_type: 'text/plain; charset=utf-8' is not a media type"},
      {"an empty document", [](document_ref& d) { d.size = 0; },
       "document.size: is 0 bytes; expected the size of the content in bytes, at least 1"},
      {"a language that is a name", [](document_ref& d) { d.language = "Vietnamese"; },
       "document.language: 'Vietnamese' is not a language tag; expected a BCP 47 tag"},
      {"an empty language", [](document_ref& d) { d.language.clear(); },
       "document.language: '' is not a language tag"},
      {"a language subtag too long", [](document_ref& d) { d.language = "vi-abcdefghi"; },
       "document.language"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    document_ref d = sample_document();
    CHECK_NOTHROW(validate("document", d));
    c.edit(d);
    const error err = caught([&] { validate("document", d); });
    CHECK(err.code() == errc::invalid_argument);
    CHECK_THAT(err.what(), Contains(c.says));
  }
  for (const char* tag : {"vi", "ja", "en-GB", "zh-Hant-TW", "vie"}) {
    document_ref d = sample_document();
    d.language = tag;
    CHECK_NOTHROW(validate("document", d));
  }
}

TEST_CASE("a document reference goes to JSON and back, and the reader refuses content",
          "[document]") {
  const document_ref d = sample_document("D-7", document_kind::pathology_report);
  CHECK(document_ref_from_json(to_json(d)) == d);
  CHECK(json::parse(to_json(d))["kind"] == "pathology_report");
  json with_content = json::parse(to_json(d));
  with_content["content"] = "base64...";
  CHECK_THROWS_WITH(document_ref_from_json(with_content.dump()),
                    Contains("document.content: is not a member of a document; expected id, kind, "
                             "sha256, media_type, size and language (never the content)"));
  json unknown_kind = json::parse(to_json(d));
  unknown_kind["kind"] = "x-ray";
  CHECK_THROWS_WITH(document_ref_from_json(unknown_kind.dump()),
                    Contains("document.kind: 'x-ray' is not a document kind; expected one of "
                             "referral_letter, imaging, pathology_report"));
  json negative = json::parse(to_json(d));
  negative["size"] = -1;
  CHECK_THROWS_WITH(document_ref_from_json(negative.dump()), Contains("document.size"));
  CHECK_THROWS_WITH(document_ref_from_json("[1,2"), Contains("document: is not JSON"));
  for (const auto k : all_document_kinds()) CHECK(parse_document_kind(to_string(k)) == k);
}

TEST_CASE("a file's fingerprint is its SHA-256 and size, as sha256sum gives them", "[document]") {
  const std::string path = std::string(KAKEHASHI_TEST_TMP) + "/fingerprint.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << "test";
  }
  const content_fingerprint f = fingerprint_file(path);
  CHECK(f.sha256 == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  CHECK(f.size == 4);
  {  // larger than one block of the reader (64 KiB)
    std::ofstream out(path, std::ios::binary);
    out << std::string(200'000, 'a');
  }
  CHECK(fingerprint_file(path).size == 200'000);
  std::remove(path.c_str());
  const error err = caught([&] { fingerprint_file(path); });
  CHECK(err.code() == errc::not_found);
  CHECK_THAT(err.what(), Contains("fingerprint.bin: cannot be opened"));
}

TEST_CASE("the agreement's required documents are a checklist for acceptance",
          "[engine][document][backends]") {
  temp_db db;
  engine e = open_requiring(db.path());
  to_consent_recorded(e);
  const referral_id r1{"R-1"};

  // Nothing attached: acceptance is refused, naming what is missing; nothing changes.
  const referral_snapshot before = e.get(r1);
  const auto rows = e.audit_rows();
  const auto accept = [&](const char* when, const std::string& key) {
    return e.apply(r1, event::accept{sk_clinician(), at(when)}, key);
  };
  error err = caught([&] { accept("2026-03-02T00:00:00Z", "a1"); });
  CHECK(err.code() == errc::failed_precondition);
  CHECK(std::string(err.what()) ==
        "[kakehashi.failed_precondition] referral R-1: cannot be accepted: the agreement "
        "mou-bach-mai-shonan-kamakura-2025 requires documents that are not attached: "
        "referral_letter, imaging; the referring hospital attaches them (attach_document); or "
        "decline with reason insufficient_information");
  CHECK(e.get(r1) == before);
  REQUIRE(e.audit_rows() == rows + 1);
  const audit_entry refused = e.history(r1).back();
  CHECK(refused.outcome == audit_outcome::minor_failure);
  CHECK(json::parse(refused.details)["missing_documents"] ==
        json::array({"referral_letter", "imaging"}));

  // The referring hospital attaches the letter; the checklist shows what is still missing.
  const document_ref letter = sample_document("D-LETTER", document_kind::referral_letter);
  const referral_snapshot after_letter =
      e.attach_document(r1, letter, bm_coordinator(), at("2026-03-02T01:00:00Z"), "doc-1");
  CHECK(after_letter.state == referral_state::consent_recorded);
  CHECK(after_letter.version == before.version + 1);
  document_checklist c = e.documents(r1);
  CHECK(c.required ==
        std::vector<document_kind>{document_kind::referral_letter, document_kind::imaging});
  REQUIRE(c.attached.size() == 1);
  CHECK(c.attached[0].document == letter);
  CHECK(c.attached[0].by.organisation == bm);
  CHECK(c.attached[0].at == at("2026-03-02T01:00:00Z"));
  CHECK(c.missing == std::vector<document_kind>{document_kind::imaging});
  CHECK_FALSE(c.complete());
  err = caught([&] { accept("2026-03-02T02:00:00Z", "a2"); });
  CHECK_THAT(err.what(), Contains("requires documents that are not attached: imaging;"));

  // A second document under the same id is refused, naming the first.
  document_ref again = sample_document("D-LETTER", document_kind::imaging);
  err = caught([&] {
    e.attach_document(r1, again, bm_coordinator(), at("2026-03-02T03:00:00Z"), "doc-dup");
  });
  CHECK(err.code() == errc::already_exists);
  CHECK_THAT(err.what(), Contains("referral R-1 document D-LETTER: is attached already "
                                  "(referral_letter, at 2026-03-02T01:00:00Z, audit row #"));

  // With the imaging attached (through apply, the same command), the destination accepts.
  const document_ref scan{document_id{"D-CT-1"},
                          document_kind::imaging,
                          std::string(64, 'a'),
                          "application/dicom",
                          52'428'800,
                          "vi"};
  e.apply(r1, event::attach_document{bm_coordinator(), at("2026-03-02T04:00:00Z"), scan}, "doc-2");
  c = e.documents(r1);
  CHECK(c.complete());
  CHECK(c.attached.size() == 2);
  CHECK(accept("2026-03-02T05:00:00Z", "a3").state == referral_state::accepted);

  // Documents the journey needs may follow in `accepted`; none after transfer.
  const document_ref plan = sample_document("D-PLAN", document_kind::treatment_plan);
  CHECK(e.attach_document(r1, plan, bm_coordinator(), at("2026-03-03T00:00:00Z"), "doc-3").state ==
        referral_state::accepted);
  e.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-04T00:00:00Z"), "t1");
  err = caught([&] {
    e.attach_document(r1, sample_document("D-LATE"), bm_coordinator(), at("2026-03-05T00:00:00Z"),
                      "doc-late");
  });
  CHECK(err.code() == errc::failed_precondition);
  CHECK_THAT(err.what(), Contains("event 'attach_document' by 'bach-mai' is not allowed in state "
                                  "'transferred'"));

  // The destination does not attach the origin's documents; a malformed one is refused whole.
  temp_db db2;
  engine e2 = open_requiring(db2.path());
  to_consent_recorded(e2);
  const auto rows2 = e2.audit_rows();
  err = caught([&] {
    e2.attach_document(r1, sample_document("D-9"), sk_coordinator(), at("2026-03-02T00:00:00Z"),
                       "doc-dest");
  });
  CHECK(err.code() == errc::permission_denied);
  CHECK_THAT(err.what(), Contains("only the referring hospital may fire it"));
  document_ref malformed = sample_document("D-10");
  malformed.sha256 = "not-a-digest";
  err = caught([&] {
    e2.attach_document(r1, malformed, bm_coordinator(), at("2026-03-02T00:00:00Z"), "doc-bad");
  });
  CHECK(err.code() == errc::invalid_argument);
  CHECK_THAT(err.what(), Contains("event.document.sha256: 'not-a-digest' is not a SHA-256 digest"));
  CHECK(e2.documents(r1).attached.empty());
  CHECK(e2.audit_rows() == rows2 + 2);  // both refusals audited, nothing else

  // The log replays the documents: it verifies, and a read-only view lists the same ones.
  const verify_result v = e.verify();
  CHECK(v.intact);
  CHECK(v.problem.empty());
  if (db.schema().empty()) {
    const auto view = database_view::open(db.path());
    const auto listed = view.documents(r1);
    REQUIRE(listed.size() == 3);
    CHECK(listed[0].document == letter);
    CHECK(listed[1].document == scan);
    CHECK(listed[2].document == plan);
    CHECK(view.documents(referral_id{"R-404"}).empty());
  }
  CHECK_THROWS_AS(e.documents(referral_id{"R-404"}), error);
}

TEST_CASE("with missing_documents = warn, acceptance goes ahead and the row lists what was missing",
          "[engine][document][backends]") {
  temp_db db;
  engine e = open_requiring(db.path(), missing_documents_rule::warn);
  to_consent_recorded(e);
  const referral_id r1{"R-1"};
  e.attach_document(r1, sample_document("D-1", document_kind::imaging), bm_coordinator(),
                    at("2026-03-01T02:00:00Z"), "doc-1");
  CHECK(e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1").state ==
        referral_state::accepted);
  const audit_entry row = e.history(r1).back();
  CHECK(row.command == "accept");
  CHECK(row.outcome == audit_outcome::success);
  CHECK(json::parse(row.details)["missing_documents"] == json::array({"referral_letter"}));
  CHECK(e.verify().intact);
}

TEST_CASE("attaching a document is idempotent and an agreement without a list checks nothing",
          "[engine][document][backends]") {
  temp_db db;
  engine e = open_engine(db.path());  // the seed agreements list no documents
  to_consent_recorded(e);
  const referral_id r1{"R-1"};
  const document_ref d = sample_document();
  const referral_snapshot first =
      e.attach_document(r1, d, bm_coordinator(), at("2026-03-01T02:00:00Z"), "doc-1");
  const auto rows = e.audit_rows();
  CHECK(e.attach_document(r1, d, bm_coordinator(), at("2026-03-01T02:00:00Z"), "doc-1") == first);
  CHECK(e.audit_rows() == rows);
  const document_checklist c = e.documents(r1);
  CHECK(c.required.empty());
  CHECK(c.complete());
  CHECK(c.attached.size() == 1);
  CHECK(e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1").state ==
        referral_state::accepted);
  CHECK_FALSE(json::parse(e.history(r1).back().details).contains("missing_documents"));
}

TEST_CASE("VN-26 at the transfer: the engine gives the rules the referral's documents",
          "[engine][document][VN-26][backends]") {
  temp_db db;
  policy_flags flags;
  flags.vn_require_transfer_paper = true;
  engine e = engine::open(db.path(), seed_agreements(), consent_policy::standard(flags),
                          paperwork_on_file());
  to_consent_recorded(e);
  const referral_id r1{"R-1"};
  e.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");
  const error err = caught(
      [&] { e.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1"); });
  CHECK(err.code() == errc::consent_blocked);
  CHECK_THAT(err.what(), Contains("VN-26 VN_TRANSFER_PAPER_MISSING"));
  CHECK(e.get(r1).state == referral_state::accepted);
  e.attach_document(r1, sample_document("D-PAPER", document_kind::transfer_paper), bm_coordinator(),
                    at("2026-03-10T01:00:00Z"), "doc-paper");
  CHECK(e.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-10T02:00:00Z"), "t2").state ==
        referral_state::transferred);
  // By default the paper is recommended: the transfer's row warns.
  temp_db db2;
  engine lenient = open_engine(db2.path());
  to_consent_recorded(lenient);
  lenient.apply(r1, event::accept{sk_clinician(), at("2026-03-02T00:00:00Z")}, "a1");
  lenient.transfer(r1, good_consent(), sk_coordinator(), at("2026-03-10T00:00:00Z"), "t1");
  const json details = json::parse(lenient.history(r1).back().details);
  bool warned = false;
  for (const auto& f : details["findings"]) {
    warned = warned || (f["rule"] == "VN-26" && f["code"] == "VN_TRANSFER_PAPER_RECOMMENDED" &&
                        f["effect"] == "warn");
  }
  CHECK(warned);
}
