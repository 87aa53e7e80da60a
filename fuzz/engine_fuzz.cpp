// libFuzzer target: sequences of engine commands decoded from the fuzzer's bytes, on a private
// in-memory database, with the engine's promises checked after every command:
//   - a command with a new idempotency key writes exactly one audit row (its result or its
//     refusal); a key used before writes none (a repeat, or already_exists); a sweep writes one
//     row per referral it expires;
//   - a refused command leaves the referral exactly as it was;
//   - no referral reaches `accepted` without a successful record_consent whose audit row carries
//     an allowing verdict, and never on a consent the rules must refuse (rejected, withdrawn,
//     another patient's);
//   - no two open referrals share a patient, specialty and destination;
//   - onward referral links are whole: a referral replaced by another is a declined or expired
//     one of the same origin, patient and specialty, to another destination, replaced once, and
//     the onward one names it;
//   - a referral's documents have distinct ids, and none was accepted under the Bach Mai MoU
//     (which requires a referral letter and imaging, refused when missing) before both kinds
//     were attached; each milestone is recorded once, and none was transferred under that MoU
//     before its visa milestone;
//   - results are returned only after the transfer and while consent stands, their document ids
//     distinct from every other document of the referral; none was completed under the K
//     Hospital MoU (which requires results first) without them;
//   - every successful withdrawal created its duty (VN-15) with both deadlines after it, and
//     every summary request its duty (VN-24), a party's, with deadlines or the reason; each of
//     a duty's steps is recorded at most once, by its responsible hospital, at or after its
//     creation; recording a step never changes the referral;
//   - nothing but kakehashi::error escapes (anything else ends the process: a finding);
//   - verify() finds the database intact at the end, every transfer and results return with its
//     provision record (JP-07, VN-22), each listed once as made by its provider and once as
//     received by its recipient in engine::provisions().
//
// Input: a byte stream. Each command takes an opcode byte and a few argument bytes (missing bytes
// read as 0); opcode 10 opens a batch of the next few commands; opcode 11 attaches a document;
// opcode 12 records a milestone; opcode 13 returns results; opcode 14 records a duty's step or
// a request for the record summary.
#include <cstddef>
#include <cstdint>
#include <kakehashi/engine.hpp>
#include <kakehashi/testing.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace kakehashi;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "engine_fuzz invariant broken: %s\n", what);
  __builtin_trap();
}

class bytes {
 public:
  bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return i_ >= n_; }
  std::uint8_t next() { return i_ < n_ ? d_[i_++] : 0; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[next() % v.size()];
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t i_ = 0;
};

agreement_directory fuzz_agreements() {
  auto dir = agreement_directory::load_file(KAKEHASHI_SOURCE_DIR "/data/agreements.json");
  auto agreements = dir.agreements();
  for (auto& a : agreements) {
    a.response_deadline_days = 3;  // short, so that sweeps expire referrals
    for (const auto& s : a.referral_specialties) a.monthly_capacity[s] = 3;  // capacity refusals
    // Bach Mai's referrals to Shonan Kamakura need a letter and imaging before acceptance.
    if (a.id == agreement_id{"mou-bach-mai-shonan-kamakura-2025"}) {
      a.required_documents = {document_kind::referral_letter, document_kind::imaging};
      a.required_milestones = {milestone::medical_visa_issued};
    }
    if (a.id == agreement_id{"mou-k-hospital-shonan-kamakura-2025"}) {
      a.results_before_completion = results_rule::required;
    }
  }
  // A second Japanese partner of Bach Mai, so that a declined or expired referral can be sent on.
  auto hospitals = dir.hospitals();
  hospital second = dir.hospital_at("hospital", hospital_id{"shonan-kamakura"});
  second.id = hospital_id{"jp-second"};
  hospitals.push_back(second);
  agreement a = agreements.front();
  for (const auto& x : agreements) {
    if (x.id == agreement_id{"mou-bach-mai-shonan-kamakura-2025"}) a = x;
  }
  a.id = agreement_id{"mou-bach-mai-jp-second"};
  a.parties = {hospital_id{"bach-mai"}, second.id};
  a.directions = {{hospital_id{"bach-mai"}, second.id}};
  agreements.push_back(a);
  return agreement_directory::from_values(hospitals, agreements);
}

// The consents a command can carry; the bool says whether the rules may ever allow it for its own
// patient (a consent for another patient than the referral's never is: see allowable()).
struct consent_variant {
  consent_record record;
  bool allowable;
};
std::vector<consent_variant> fuzz_consents() {
  using testing::valid_consent;
  std::vector<consent_variant> v;
  v.push_back({valid_consent().build(), true});
  v.push_back({valid_consent().id("C-2").without_written_request().build(), true});
  v.push_back({valid_consent().id("C-3").without_japan_info().build(), true});
  v.push_back({valid_consent().id("C-4").status(consent_status::rejected).build(), false});
  v.push_back({valid_consent().id("C-5").withdrawn_at("2026-02-01T00:00:00Z").build(), false});
  v.push_back({valid_consent().id("C-6").valid_until("2026-03-20T00:00:00Z").build(), true});
  v.push_back({valid_consent().id("C-7").emergency().build(), true});
  auto other = valid_consent().id("C-8").build();
  other.patient = patient_ref{"P-OTHER"};
  v.push_back({other, true});  // allowable on a referral for P-OTHER, and only there
  return v;
}

// The first four act (the two origins and the two destinations); the last two never may.
const std::vector<hospital_id> hospitals{hospital_id{"bach-mai"},  hospital_id{"k-hospital"},
                                         hospital_id{"shonan-kamakura"}, hospital_id{"jp-second"},
                                         hospital_id{"cho-ray"},   hospital_id{"nowhere"}};
const std::vector<actor_role> roles{actor_role::clinician, actor_role::coordinator,
                                    actor_role::system};
const std::vector<specialty_code> specialties{specialty_code{"cardiology"},
                                              specialty_code{"oncology"},
                                              specialty_code{"dialysis"}, specialty_code{"x-ray"}};
const std::vector<referral_id> ids{referral_id{"R-1"}, referral_id{"R-2"}, referral_id{"R-3"},
                                   referral_id{"R-4"}};

struct harness {
  engine e;
  const std::vector<consent_variant>& consents;
  instant now = parse_instant("2026-03-01T00:00:00Z");
  std::set<std::string> used_keys;
  int fresh = 0;
  bool in_batch = false;

  actor pick_actor(bytes& in) {
    return {hospitals[in.next() % 4], roles[in.next() % roles.size()], user_id{"u-1"}};
  }
  std::string pick_key(bytes& in) {
    const std::uint8_t b = in.next();
    if (b < 48) return "k-" + std::to_string(b % 6);  // a small pool: repeats and reuse
    return "f-" + std::to_string(fresh++);
  }

  // Runs one command and checks the promises about its audit rows and its referral.
  template <class Command>
  void checked(const referral_id& id, const std::string& key, Command&& command) {
    const bool repeated = used_keys.count(key) > 0;
    used_keys.insert(key);
    const std::int64_t rows_before = e.audit_rows();
    const std::optional<referral_snapshot> before = e.find(id);
    bool refused = false;
    try {
      command();
    } catch (const error& err) {
      refused = true;
      if (err.code() == errc::storage || err.code() == errc::outcome_unknown) {
        broken("a storage error on an in-memory database");
      }
    }
    const std::int64_t written = e.audit_rows() - rows_before;
    if (written != (repeated ? 0 : 1)) broken("a command wrote the wrong number of audit rows");
    if (refused && e.find(id) != before) broken("a refused command changed its referral");
    // A late event (engine_options::late_event_tolerance) never moves the last change back.
    if (const auto after = e.find(id); before && after && after->updated_at < before->updated_at) {
      broken("a referral's last change went back in time");
    }
    check_accepted(id);
    check_no_duplicates();
    check_links();
    check_documents(id);
  }

  // Documents (issue 16, item 1): ids unique per referral; under the Bach Mai MoU, no accept
  // before a referral letter and imaging were attached.
  void check_documents(const referral_id& id) {
    if (!e.find(id)) return;
    std::set<std::string> ids_seen;
    std::set<document_kind> kinds;
    std::set<std::string> milestones;
    bool requires = false, requires_results = false, withdrawn = false, returned = false;
    std::set<std::string> duty_steps;
    std::map<std::int64_t, nlohmann::json> reviews;  // by the step's seq: who may not review
    for (const audit_entry& a : e.history(id)) {
      if (a.outcome != audit_outcome::success) continue;
      const auto d = nlohmann::json::parse(a.details);
      if (a.command == "propose") {
        requires = d.value("agreement", "") == "mou-bach-mai-shonan-kamakura-2025";
        requires_results = d.value("agreement", "") == "mou-k-hospital-shonan-kamakura-2025";
      }
      if (a.command == "withdraw_consent") {
        withdrawn = true;
        if (!d.contains("duty")) broken("a withdrawal without its duty");
      }
      if (a.command == "record_duty") {
        const std::string step = d.at("duty").dump() + d.at("step").get<std::string>();
        if (!duty_steps.insert(step).second) broken("a duty's step recorded twice");
        if (a.state_before != a.state_after) broken("recording a duty's step changed the state");
        if (reviews.count(d.at("duty").get<std::int64_t>())) broken("a review given a duty step");
      }
      // A step the policy allowed on the emergency basis opens a review, and only such a step.
      const bool on_emergency = d.contains("basis") && d["basis"] == "emergency" &&
                                (a.command == "record_consent" || a.command == "transfer" ||
                                 a.command == "return_results");
      if (on_emergency != (a.reason_code == "emergency")) {
        broken("an emergency step without its review, or a review without one");
      }
      if (on_emergency) {
        if (!d.contains("duty") || d["duty"].at("kind") != "emergency_review") {
          broken("an emergency step's row without its review duty");
        }
        reviews[a.seq] = d["duty"].at("decided_by");
      }
      if (a.command == "review_emergency") {
        const auto it = reviews.find(d.at("duty").get<std::int64_t>());
        if (it == reviews.end()) broken("a review of a duty that is no emergency review");
        if (a.by.role != actor_role::clinician || a.by.user.empty()) {
          broken("a review by someone who is not a named clinician");
        }
        for (const auto& u : it->second) {
          if (u == a.by.user.value()) broken("a review by the clinician who took the step");
        }
        if (!duty_steps.insert(d.at("duty").dump() + "reviewed").second) {
          broken("an emergency step reviewed twice");
        }
        if (a.state_before != a.state_after) broken("a review changed the state");
      }
      if (a.command == "return_results") {
        if (a.state_before != "transferred" || withdrawn) {
          broken("results returned before the transfer or after a withdrawal");
        }
        for (const auto& doc : d.at("documents")) {
          if (!ids_seen.insert(doc.at("id").get<std::string>()).second) {
            broken("a returned document reuses an id of the referral");
          }
        }
        returned = true;
      }
      if (a.command == "complete" && requires_results && !returned) {
        broken("completed without the results its agreement requires");
      }
      if (a.command == "attach_document") {
        const document_ref doc = document_ref_from_json(d.at("document").dump());
        if (!ids_seen.insert(doc.id.value()).second) broken("a document id attached twice");
        kinds.insert(doc.kind);
      }
      if (a.command == "record_milestone" &&
          !milestones.insert(d.at("milestone").get<std::string>()).second) {
        broken("a milestone recorded twice");
      }
      if (a.command == "transfer" && requires && !milestones.count("medical_visa_issued")) {
        broken("transferred without the milestones its agreement requires");
      }
      if (a.command == "accept" && requires &&
          (!kinds.count(document_kind::referral_letter) || !kinds.count(document_kind::imaging))) {
        broken("accepted without the documents its agreement requires");
      }
    }
    if (e.documents(id).attached.size() + e.results(id).size() != ids_seen.size())
      broken("documents() and results() disagree with the log");
  }

  // Onward referral links (issue 16, item 6), from both ends.
  void check_links() {
    std::map<std::string, referral_snapshot> all;
    for (const referral_snapshot& s : e.list()) all.emplace(s.id.value(), s);
    for (const auto& [id, s] : all) {
      if (s.replaced_by) {
        const auto onward = all.find(s.replaced_by->value());
        if (onward == all.end() || onward->second.replaces != s.id)
          broken("a replaced referral names an onward one that does not name it");
        if (s.state != referral_state::closed ||
            (s.reason != close_reason::declined && s.reason != close_reason::expired))
          broken("a referral that is neither declined nor expired was sent on");
        const referral_snapshot& o = onward->second;
        if (o.origin != s.origin || o.patient != s.patient || o.specialty != s.specialty ||
            o.destination == s.destination)
          broken("an onward referral changed its origin, patient or specialty, or destination");
      }
      if (s.replaces) {
        const auto old = all.find(s.replaces->value());
        if (old == all.end() || old->second.replaced_by != s.id)
          broken("an onward referral names a referral that does not name it back");
      }
    }
  }

  // One open referral per patient, specialty and destination (issue 16, item 6).
  void check_no_duplicates() {
    std::set<std::string> open;
    for (const referral_snapshot& s : e.list()) {
      if (s.state == referral_state::closed) continue;
      const std::string k =
          s.patient.value() + '\n' + s.specialty.value() + '\n' + s.destination.value();
      if (!open.insert(k).second)
        broken("two open referrals for one patient, specialty and destination");
    }
  }

  // An accepted (or later) referral relies on a consent the rules allowed when it was recorded.
  void check_accepted(const referral_id& id) {
    const auto s = e.find(id);
    if (!s || s->state == referral_state::proposed || s->state == referral_state::consent_recorded)
      return;
    bool consent_ok = false, accepted = false;
    for (const audit_entry& a : e.history(id)) {
      if (a.outcome != audit_outcome::success) continue;
      if (a.command == "record_consent") {
        const auto d = nlohmann::json::parse(a.details);
        const std::string basis = d.value("basis", "");
        const std::string consent = d.value("consent", "");
        consent_ok =
            (basis == "consent" || basis == "emergency") && allowable(consent, s->patient);
      }
      if (a.command == "accept") {
        if (!consent_ok) broken("accepted without an allowing consent verdict");
        accepted = true;
      }
    }
    if ((s->state == referral_state::accepted || s->state == referral_state::transferred) &&
        !accepted) {
      broken("in accepted or transferred without an accept in its history");
    }
  }
  // Whether the rules may allow this consent on a referral for `patient`: never another
  // patient's consent (the fuzzer proposes referrals for P-TEST-1 and for P-OTHER, and C-8 is
  // P-OTHER's).
  bool allowable(const std::string& consent_id, const patient_ref& patient) const {
    for (const auto& c : consents) {
      if (c.record.id.value() == consent_id) return c.allowable && c.record.patient == patient;
    }
    return false;
  }

  void step(bytes& in) {
    const std::uint8_t op = in.next() % 15;
    now += std::chrono::hours(in.next() % 40) - std::chrono::hours(2);  // sometimes backwards
    const referral_id& id = in.pick(ids);
    switch (op) {
      case 0: {
        const hospital_id& origin = hospitals[in.next() % hospitals.size()];
        proposal p{id,
                   origin,
                   hospitals[in.next() % hospitals.size()],
                   in.pick(specialties),
                   patient_ref{in.next() % 4 == 0 ? "P-OTHER" : "P-TEST-1"},
                   {origin, roles[in.next() % roles.size()], user_id{"u-1"}},
                   now};
        if (in.next() % 3 == 0) p.replaces = in.pick(ids);  // onward referral
        const std::string key = pick_key(in);
        checked(id, key, [&] { e.propose(p, key); });
        break;
      }
      case 1:
      case 2: {
        const consent_record& c = in.pick(consents).record;
        const actor by = pick_actor(in);
        const std::string key = pick_key(in);
        if (op == 1) {
          checked(id, key, [&] { e.record_consent(id, c, by, now, key); });
        } else {
          checked(id, key, [&] { e.transfer(id, c, by, now, key); });
        }
        break;
      }
      case 3:
      case 4:
      case 5:
      case 6:
      case 7:
      case 8: {
        const actor by = pick_actor(in);
        const std::uint8_t arg = in.next();
        event::any ev = event::accept{by, now};
        if (op == 4) ev = event::decline{by, now, static_cast<decline_reason>(arg % 6)};
        if (op == 5) ev = event::cancel{by, now, static_cast<cancel_reason>(arg % 6)};
        if (op == 6) ev = event::withdraw_consent{by, now, static_cast<withdrawal_channel>(arg % 3)};
        if (op == 7) ev = event::complete{by, now};
        if (op == 8) ev = event::expire{by, now};
        const std::string key = pick_key(in);
        checked(id, key, [&] { e.apply(id, ev, key); });
        break;
      }
      case 9: {
        const std::int64_t rows_before = e.audit_rows();
        const auto expired = e.expire_overdue(
            {hospitals[2], actor_role::system, user_id{}}, now);
        if (e.audit_rows() - rows_before != static_cast<std::int64_t>(expired.size())) {
          broken("a sweep wrote other than one row per expired referral");
        }
        for (const auto& s : expired) {
          if (s.state != referral_state::closed || s.reason != close_reason::expired)
            broken("a sweep returned a referral it did not expire");
        }
        break;
      }
      case 11: {
        const std::uint8_t arg = in.next();
        document_ref d{document_id{"D-" + std::to_string(arg % 4)},
                       static_cast<document_kind>(in.next() % all_document_kinds().size()),
                       std::string(64, "0123456789abcdef"[arg % 16]),
                       "application/pdf",
                       1u + in.next(),
                       "vi"};
        if (arg % 16 == 15) d.sha256 = "not-a-digest";  // refused: invalid_argument
        const actor by = pick_actor(in);
        const std::string key = pick_key(in);
        checked(id, key, [&] { e.attach_document(id, d, by, now, key); });
        break;
      }
      case 12: {
        const auto m = static_cast<milestone>(in.next() % all_milestones().size());
        const actor by = pick_actor(in);
        const std::string key = pick_key(in);
        checked(id, key, [&] { e.apply(id, event::record_milestone{by, now, m}, key); });
        break;
      }
      case 13: {
        const consent_record& c = in.pick(consents).record;
        const std::uint8_t arg = in.next();
        std::vector<document_ref> docs;
        for (int i = 0; i <= arg % 3; ++i) {  // 1 to 3; ids may repeat attached or returned ones
          docs.push_back({document_id{"D-" + std::to_string((arg / 3 + i) % 6)},
                          document_kind::discharge_summary, std::string(64, 'e'), "application/pdf",
                          1u + in.next(), "ja"});
        }
        const actor by = pick_actor(in);
        const std::string key = pick_key(in);
        checked(id, key, [&] { e.return_results(id, c, docs, by, now, key); });
        break;
      }
      case 14: {
        duty_query q;
        q.referral = id;
        q.open_only = false;
        const auto duties = e.duties(q);
        const std::uint8_t arg = in.next();
        // A duty of the referral, or a number that is none.
        const std::int64_t duty = duties.empty() || arg % 5 == 4 ? static_cast<std::int64_t>(arg)
                                                                 : duties[arg % duties.size()].id;
        const duty_step what = arg % 2 ? duty_step::completed : duty_step::acknowledged;
        actor by = pick_actor(in);
        const std::string key = pick_key(in);
        const std::optional<referral_snapshot> before = e.find(id);
        if (arg % 7 == 6) {  // the patient's written request for the record summary (VN-24)
          checked(id, key, [&] { e.request_summary(id, by, now, key); });
        } else if (arg % 7 == 5) {  // an emergency review, by the step's own users or another
          by.user = user_id{arg % 3 == 0 ? "u-1" : arg % 3 == 1 ? "dr-em-1" : "u-2"};
          const review_finding f =
              arg % 2 ? review_finding::not_justified : review_finding::justified;
          checked(id, key, [&] { e.review_emergency(id, duty, f, by, now, key); });
        } else {
          checked(id, key, [&] { e.record_duty(id, duty, what, by, now, key); });
        }
        if (e.find(id) != before) broken("a duty's command changed the referral");
        for (const auto& d : e.duties(q)) {
          if ((d.acknowledged_at && *d.acknowledged_at < d.created_at) ||
              (d.completed_at && *d.completed_at < d.created_at)) {
            broken("a duty's step recorded before the duty");
          }
        }
        break;
      }
      case 10: {
        if (in_batch) break;
        const int n = 1 + in.next() % 4;
        const bool abort = in.next() % 8 == 0;
        const std::int64_t rows_before = e.audit_rows();
        const std::set<std::string> keys_before = used_keys;
        in_batch = true;
        try {
          e.batch([&] {
            for (int i = 0; i < n && !in.empty(); ++i) step(in);
            if (abort) throw error(errc::failed_precondition, "the body gives up");
          });
        } catch (const error&) {
          if (!abort) broken("a batch of checked commands threw");
          if (e.audit_rows() != rows_before) broken("a batch that threw left rows behind");
          used_keys = keys_before;  // rolled back: those keys are unused again
        }
        in_batch = false;
        break;
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const agreement_directory agreements = fuzz_agreements();
  static const std::vector<consent_variant> consents = fuzz_consents();
  engine_options options;
  organisation_compliance paperwork;
  paperwork.transfer_agreement = true;
  paperwork.impact_assessment_filed_at = parse_instant("2025-12-01T00:00:00Z");
  options.compliance[hospital_id{"bach-mai"}] = paperwork;
  options.sync = size % 2 ? durability::normal : durability::full;
  // Half the inputs accept events up to 3 hours late (time sometimes goes back 2 hours below).
  if (size % 4 >= 2) options.late_event_tolerance = std::chrono::hours(3);
  harness h{engine::open(":memory:", agreements, consent_policy::standard(), options), consents};
  bytes in(data, size);
  for (int commands = 0; !in.empty() && commands < 64; ++commands) h.step(in);
  const verify_result v = h.e.verify();
  if (!v.intact) {
    std::fprintf(stderr, "verify: %s\n", v.problem.c_str());
    broken("verify found an honest in-memory database damaged");
  }
  if (v.provisions_without_record != 0) broken("a transfer or return has no provision record");
  std::int64_t made = 0;
  std::int64_t received = 0;
  for (const auto& hospital : agreements.hospitals()) {
    for (const auto& p : h.e.provisions({hospital.id, {}, {}}).provisions) {
      if (p.provider == hospital.id) ++made;
      if (p.recipient == hospital.id) ++received;
      if (p.consent != h.e.get(p.referral).consent ||
          (p.basis == legal_basis::consent && p.artifact_sha256.empty())) {
        broken("a provision record does not name the referral's consent and its artifact");
      }
    }
  }
  duty_query every;
  every.open_only = false;
  for (const auto& d : h.e.duties(every)) {
    const referral_snapshot s = h.e.get(d.referral);
    if (d.kind == duty_kind::withdrawal) {
      if (!d.acknowledge_by || !d.complete_by || *d.acknowledge_by <= d.created_at ||
          *d.complete_by <= *d.acknowledge_by) {
        broken("a withdrawal's duty without deadlines after its creation");
      }
      if (d.responsible != s.origin) broken("a withdrawal's duty not the referring hospital's");
    } else if (d.kind == duty_kind::emergency_review) {
      if (d.acknowledge_by || (!d.complete_by && d.deadline_problem.empty()) ||
          (d.complete_by && *d.complete_by <= d.created_at) ||
          d.finding.has_value() != d.completed_at.has_value()) {
        broken("an emergency review without its deadline, or a finding without its review");
      }
      // The hospital that provides the data on the emergency basis: the referring one for a
      // transfer, the destination for results (a consent recorded for either flow: a party).
      if ((d.command == "transfer" && d.responsible != s.origin) ||
          (d.command == "return_results" && d.responsible != s.destination)) {
        broken("an emergency review not the hospital's that provided the data");
      }
      if (d.responsible != s.origin && d.responsible != s.destination) {
        broken("an emergency review not a party's");
      }
    } else if ((d.responsible != s.origin && d.responsible != s.destination) ||
               (!d.complete_by && d.deadline_problem.empty())) {
      broken("a summary's duty not a party's, or without deadlines and without saying why");
    }
  }
  if (made != v.provisions || received != v.provisions) {
    broken("provisions() disagrees with the provision records verify() checked");
  }
  return 0;
}
