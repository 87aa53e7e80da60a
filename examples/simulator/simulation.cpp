#include "simulation.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/random/discrete_distribution.hpp>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/triangle_distribution.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <boost/random/uniform_real_distribution.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <unordered_map>

namespace simulator {
namespace {

namespace kh = kakehashi;
using json = nlohmann::json;
using namespace std::chrono_literals;

// Boost.Random's distributions are specified algorithms (std::'s are implementation-defined), so
// a seed gives the same run with any standard library.
using rng_t = boost::random::mt19937_64;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double unit(rng_t& rng) { return boost::random::uniform_real_distribution<double>(0, 1)(rng); }
bool chance(rng_t& rng, double p) { return unit(rng) < p; }
double draw(rng_t& rng, const delay_days& d) {
  return boost::random::triangle_distribution<double>(d.min, d.mode, d.max)(rng);
}
kh::instant::duration days(double d) {
  return std::chrono::seconds(std::llround(d * 86400.0));
}

template <class Key>
struct choice {
  std::vector<Key> keys;
  boost::random::discrete_distribution<int, double> dist;
  explicit choice(const weights<Key>& w) {
    std::vector<double> p;
    for (const auto& [k, weight] : w) {
      keys.push_back(k);
      p.push_back(weight);
    }
    if (p.empty()) p.push_back(1);  // never drawn from: guarded by the loader
    dist = boost::random::discrete_distribution<int, double>(p.begin(), p.end());
  }
  const Key& operator()(rng_t& rng) { return keys[static_cast<std::size_t>(dist(rng))]; }
};

// Everything random about one referral, drawn at once in a fixed order from the referral's own
// stream: a setting that changes one draw never shifts another referral's.
struct plan {
  std::size_t origin = 0;
  kh::specialty_code specialty;
  int age = 40;
  int birthday_offset = 1;  // days before the birthday anniversary: 1..364
  bool representative = false;
  bool assent_missing = false;
  consent_plan consent = consent_plan::complete;
  double to_consent = 0, to_fix = 0, to_cancel = 0;
  bool fixed = false;
  bool answers = true;
  bool accepts = true;
  kh::decline_reason decline = kh::decline_reason::other;
  double to_answer = 0;
  bool cancels = false;
  kh::cancel_reason cancel = kh::cancel_reason::other;
  bool withdraws_before = false, withdraws_after = false;
  double before_fraction = 0.5, after_fraction = 0.5;
  double to_travel = 0, treatment = 0;
  // Documents (drawn last: a scenario without them draws the rest as before)
  std::vector<bool> attaches;  // per scenario.documents_attached
  double to_attach = 0;
  bool sends_missing = false;
  double to_send = 0;
  // Milestones (drawn after the documents): days after acceptance, per scenario.milestones;
  // negative for one this referral never gets (a visa refused, say)
  std::vector<double> milestone_days;
  // Results (drawn after the milestones)
  bool returns_results = false;
  double results_before = 0;  // days before completion
  // (drawn last) the consent does not grant the return; renewed this many days after the refusal
  bool return_consent_missing = false;
  double to_renew = 0;
  // (drawn last) a withdrawal's duty: days to acknowledge it, whether and when it is completed
  double to_acknowledge = 0;
  bool completes_duty = true;
  double to_complete_duty = 0;
  // (drawn last) the emergency reviews its steps open: days to the review, and its finding
  double to_review = 0;
  bool review_not_justified = false;
};

enum class step {
  propose,
  consent,
  attach,
  answer,
  send_missing,
  milestone,
  results,
  cancel,
  withdraw,
  transfer,
  complete,
  sweep,
  duty,   // a step of a withdrawal's duty: pending.referral indexes duties_, item 0 or 1
  review  // an emergency review: pending.referral indexes reviews_
};

struct pending {
  kh::instant at;
  std::uint64_t order = 0;  // ties: first scheduled first
  step what = step::propose;
  std::uint32_t referral = 0;
  std::uint32_t item = 0;  // step::milestone: the index into scenario.milestones
  bool operator>(const pending& o) const {
    return at != o.at ? at > o.at : order > o.order;
  }
};

struct open_referral {
  std::uint32_t index = 0;
  kh::referral_id id;
  kh::patient_ref patient;
  plan p;
  kh::instant proposed_at;
  int month = 0;  // index into summary.months
  int stage = 1;  // highest stage reached (index into stage_names)
  int consent_attempts = 0;
  bool replaced = false;  // a replacement consent was asked for after acceptance
  int answers = 0;        // the destination's attempts to answer (a refused acceptance repeats)
  bool asked = false;     // missing documents were asked for once
  bool withdrawn = false;  // consent withdrawn after the transfer
  bool results = false;    // results returned
  bool renewing = false;   // the return was refused; a newer consent is on its way
  bool renewed = false;    // a newer consent was recorded after the transfer
  bool waiting_results = false;  // the results go home on it, before completion
  // When each phase ended (the first consent recorded, acceptance, arrival), for phase times
  std::optional<kh::instant> consented_at, accepted_at, transferred_at;
  kh::consent_record consent;
  kh::cancel_reason cancel_reason = kh::cancel_reason::other;
};

// Adds the wall time of a scope to a total.
class timed {
 public:
  explicit timed(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~timed() {
    total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  timed(const timed&) = delete;
  timed& operator=(const timed&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};

std::string month_of(const date::time_zone* z, kh::instant at) {
  const date::year_month_day d{date::floor<date::days>(z->to_local(at))};
  return fmt::format("{:04}-{:02}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()));
}

std::string local_text(const date::time_zone* z, kh::instant at) {
  return date::format("%F %R %z", date::make_zoned(z, at));
}

class simulation {
 public:
  simulation(const scenario& s, const kh::agreement_directory& dir, const std::string& db_path,
             const progress_fn& progress, const kh::policy_settings* policy)
      : s_(s),
        dir_(with_terms(s, dir)),
        engine_(kh::engine::open(db_path, dir_,
                                 policy ? policy->policy : kh::consent_policy::standard(),
                                 options(s, policy))),
        progress_(progress),
        origins_([&] {
          weights<std::size_t> w;
          for (std::size_t i = 0; i < s.origins.size(); ++i) w.emplace_back(i, s.origins[i].share);
          return w;
        }()),
        ages_([&] {
          weights<std::size_t> w;
          for (std::size_t i = 0; i < s.ages.size(); ++i) w.emplace_back(i, s.ages[i].share);
          return w;
        }()),
        consent_plans_(s.consent_plans),
        declines_(s.decline_reasons),
        cancels_(s.cancel_reasons) {
    for (const auto& o : s.origins) {
      specialties_.emplace_back(o.specialties);
      origin_zones_.push_back(zone_of(o.hospital));
    }
    home_ = zone_of(s.origins.front().hospital);
    away_ = zone_of(s.destination);
    period_start_ = home_->to_sys(date::local_days{s.start}, date::choose::earliest);
    for (int d = 0; d < s.days; ++d) {
      const date::local_days day = date::local_days{s.start} + date::days{d};
      const date::weekday wd{day};
      if (wd != date::Saturday && wd != date::Sunday) working_days_.push_back(d);
    }
    for (int d = 0; d < s.days; ++d) {  // every month of the period, even one without referrals
      const std::string m = month_of(home_, day_start(d) + 12h);
      if (!month_of_name_.count(m)) {
        month_of_name_[m] = static_cast<int>(sum_.months.size());
        sum_.months.push_back({});
        sum_.months.back().month = m;
        const date::year_month_day day{date::local_days{s.start} + date::days{d}};
        sum_.months.back().days_in_month = static_cast<int>(static_cast<unsigned>(
            date::year_month_day_last{day.year(), date::month_day_last{day.month()}}.day()));
      }
      ++sum_.months[static_cast<std::size_t>(month_of_name_[m])].days;
    }
    if (working_days_.empty()) {  // a weekend-only period: refer on any day
      for (int d = 0; d < s.days; ++d) working_days_.push_back(d);
    }
    arrival_rng_.seed(splitmix64(s.seed ^ 0xa5a5a5a5a5a5a5a5ULL));
    sum_.seed = s.seed;
    sum_.start = fmt::format("{:04}-{:02}-{:02}", static_cast<int>(s.start.year()),
                             static_cast<unsigned>(s.start.month()),
                             static_cast<unsigned>(s.start.day()));
    sum_.days = s.days;
    sum_.referrals = s.referrals;
    sum_.destination = s.destination.value();
    sum_.durability = s.sync == kh::durability::full ? "full" : "normal";
  }

  summary run() {
    for (int d = 0; d < s_.days; ++d) {
      const kh::instant day_end = day_start(d + 1);
      // The batch's own cost (BEGIN, COMMIT) is the engine's; in its body, each engine call is
      // timed where it is made.
      const auto batch_start = std::chrono::steady_clock::now();
      double body = 0;
      engine_.batch([&] {
        timed whole_body(body);
        schedule_arrivals(d);
        // The destination's deadline sweep, at 18:00 its time, every day.
        const date::local_days local_day{
            date::floor<date::days>(away_->to_local(day_start(d) + 12h))};
        const kh::instant sweep = away_->to_sys(local_day + 18h, date::choose::earliest);
        if (sweep < day_end) push(sweep, step::sweep, 0);
        while (!queue_.empty() && queue_.top().at < day_end) {
          const pending next = queue_.top();
          queue_.pop();
          handle(next);
        }
      });
      engine_seconds_ +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count() -
          body;
      if (progress_) progress_(d + 1, s_.days, next_arrival_);
    }
    finish();
    return std::move(sum_);
  }

  double engine_seconds() const { return engine_seconds_; }

 private:
  // --- setup -----------------------------------------------------------------------------------

  static kh::agreement_directory with_terms(const scenario& s, const kh::agreement_directory& dir) {
    check_against(s, dir);
    auto agreements = dir.agreements();
    for (auto& a : agreements) {
      if (!a.has_party(s.destination)) continue;
      a.response_deadline_days = s.response_deadline_days;
      if (!s.required_documents.empty()) a.required_documents = s.required_documents;
      if (!s.required_milestones.empty()) a.required_milestones = s.required_milestones;
      a.monthly_capacity.clear();
      for (const auto& [spec, n] : s.monthly_capacity) {
        if (a.covers_specialty(spec)) a.monthly_capacity[spec] = n;
      }
    }
    return kh::agreement_directory::from_values(dir.hospitals(), std::move(agreements));
  }

  static kh::engine_options options(const scenario& s, const kh::policy_settings* policy) {
    kh::engine_options o;
    o.sync = s.sync;
    for (const auto& origin : s.origins) {
      kh::organisation_compliance c;
      c.transfer_agreement = s.transfer_agreement;
      c.withdrawal_clause = s.withdrawal_clause;
      if (s.impact_assessment_filed) {
        c.impact_assessment_filed_at = date::sys_days{*s.impact_assessment_filed};
      }
      o.compliance[origin.hospital] = c;
    }
    if (policy) {  // production's settings: its paperwork wins for the hospitals it lists
      o.payload_classes = policy->payload_classes;
      for (const auto& [hospital, c] : policy->compliance) o.compliance[hospital] = c;
    }
    return o;
  }

  const date::time_zone* zone_of(const kh::hospital_id& h) const {
    return date::locate_zone(dir_.hospital_at("scenario hospital", h).time_zone);
  }
  const date::time_zone* origin_zone(const open_referral& r) const {
    return origin_zones_[r.p.origin];
  }

  kh::instant day_start(int d) const {
    return home_->to_sys(date::local_days{s_.start} + date::days{d}, date::choose::earliest);
  }

  // --- arrivals --------------------------------------------------------------------------------

  // The referrals' positions in the period's working time are N sorted uniform draws, made one
  // at a time (each the next order statistic), so the whole list is never held.
  void schedule_arrivals(int d) {
    const double w = static_cast<double>(working_days_.size());
    while (next_arrival_ < s_.referrals) {
      if (!arrival_pending_) {
        const double left = static_cast<double>(s_.referrals - next_arrival_);
        const double v = 1.0 - unit(arrival_rng_);  // (0, 1]
        position_ = 1.0 - (1.0 - position_) * std::pow(v, 1.0 / left);
        arrival_pending_ = true;
      }
      const double slot = std::min(position_ * w, w - 1e-9);
      const auto index = static_cast<std::size_t>(slot);
      if (working_days_[index] > d) return;
      const double within = slot - static_cast<double>(index);  // of the 9-hour office day
      arrival_pending_ = false;
      propose_at(working_days_[index], within);
    }
  }

  void propose_at(int d, double within) {
    const auto n = static_cast<std::uint32_t>(next_arrival_++);
    open_referral r;
    r.index = n;
    r.id = kh::referral_id{fmt::format("R-{:06}", n + 1)};
    // A pseudonym as an integrator would derive one (docs/audit.md): here from the seed alone.
    r.patient = kh::patient_ref{
        fmt::format("P-{:012x}", splitmix64(s_.seed ^ (0x5bd1e995ULL * (n + 1))) >> 16)};
    r.p = draw_plan(n);
    const date::time_zone* z = origin_zone(r);
    r.proposed_at = z->to_sys(date::local_days{s_.start} + date::days{d} + 8h +
                                  std::chrono::seconds(std::llround(within * 9 * 3600)),
                              date::choose::earliest);
    r.month = month_index(month_of(home_, r.proposed_at));
    const auto [it, inserted] = open_.emplace(n, std::move(r));
    (void)inserted;
    push(it->second.proposed_at, step::propose, n);
  }

  plan draw_plan(std::uint32_t n) {
    rng_t rng(splitmix64(s_.seed + 0x632be59bd9b4e019ULL * (n + 1)));
    plan p;
    p.origin = origins_(rng);
    p.specialty = specialties_[p.origin](rng);
    const age_band& band = s_.ages[ages_(rng)];
    p.age = boost::random::uniform_int_distribution<int>(band.min_age, band.max_age)(rng);
    p.birthday_offset = boost::random::uniform_int_distribution<int>(1, 364)(rng);
    p.representative = p.age >= 18 && chance(rng, s_.lacks_capacity);
    p.assent_missing = p.age >= 7 && p.age < 16 && chance(rng, s_.child_assent_missing);
    p.consent = consent_plans_(rng);
    p.to_consent = draw(rng, s_.days_to_consent);
    p.fixed = chance(rng, s_.fixed_later);
    p.to_fix = draw(rng, s_.days_to_fix);
    p.to_cancel = draw(rng, s_.days_to_cancel);
    p.answers = !chance(rng, s_.no_answer);
    p.accepts = chance(rng, s_.accept);
    p.decline = declines_(rng);
    p.to_answer = draw(rng, s_.days_to_answer);
    p.cancels = chance(rng, s_.cancel_before_transfer);
    p.cancel = cancels_(rng);
    p.withdraws_before = chance(rng, s_.withdraw_before_transfer);
    p.withdraws_after = chance(rng, s_.withdraw_after_transfer);
    p.before_fraction = unit(rng);
    p.after_fraction = unit(rng);
    p.to_travel = draw(rng, s_.days_to_travel);
    p.treatment = draw(rng, s_.days_of_treatment);
    if (!s_.documents_attached.empty()) {
      for (const auto& [kind, chance_of] : s_.documents_attached) {
        p.attaches.push_back(chance(rng, chance_of));
      }
      p.to_attach = draw(rng, s_.days_to_attach);
      p.sends_missing = chance(rng, s_.sent_when_asked);
      p.to_send = draw(rng, s_.days_to_send);
    }
    for (const auto& m : s_.milestones) {
      const bool gets = chance(rng, m.chance);
      const double d = draw(rng, m.days_after_acceptance);
      p.milestone_days.push_back(gets ? d : -1);
    }
    if (s_.results_returned > 0) {
      p.returns_results = chance(rng, s_.results_returned);
      p.results_before = draw(rng, s_.days_results_before_completion);
    }
    if (p.returns_results && s_.results_consent_missing > 0) {
      p.return_consent_missing = chance(rng, s_.results_consent_missing);
      p.to_renew = draw(rng, s_.days_to_renew_consent);
    }
    if (s_.duties) {
      p.to_acknowledge = draw(rng, s_.days_to_acknowledge_duty);
      p.completes_duty = chance(rng, s_.duty_completed);
      p.to_complete_duty = draw(rng, s_.days_to_complete_duty);
    }
    if (s_.reviews) {
      p.to_review = draw(rng, s_.days_to_review);
      p.review_not_justified = chance(rng, s_.review_not_justified);
    }
    return p;
  }

  // --- the calendar ----------------------------------------------------------------------------

  void push(kh::instant at, step what, std::uint32_t referral, std::uint32_t item = 0) {
    queue_.push({at, order_++, what, referral, item});
  }

  // Office work happens Monday to Friday, 08:00-17:00 in the acting hospital's zone: an instant
  // outside it moves to the next office hours (keeping its spread within the day).
  static kh::instant office(const date::time_zone* z, kh::instant t) {
    const auto local = z->to_local(t);
    date::local_days day = date::floor<date::days>(local);
    auto time = local - day;
    constexpr auto open = std::chrono::seconds(8h), hours = std::chrono::seconds(9h);
    const auto is_weekend = [](date::local_days d) {
      const date::weekday wd{d};
      return wd == date::Saturday || wd == date::Sunday;
    };
    if (!is_weekend(day) && time >= open && time < open + hours) return t;
    if (time >= open + hours) day += date::days{1};
    time = open + std::chrono::seconds(time.count() % hours.count());
    while (is_weekend(day)) day += date::days{1};
    return z->to_sys(day + time, date::choose::earliest);
  }

  kh::actor origin_actor(const open_referral& r, kh::actor_role role) const {
    const kh::hospital_id& h = s_.origins[r.p.origin].hospital;
    return {h, role,
            kh::user_id{fmt::format("{}-{}", role == kh::actor_role::clinician ? "dr" : "io",
                                    h.value())}};
  }
  kh::actor destination_actor(kh::actor_role role) const {
    return {s_.destination, role,
            kh::user_id{fmt::format("{}-{}", role == kh::actor_role::clinician ? "dr" : "io",
                                    s_.destination.value())}};
  }

  // --- the steps -------------------------------------------------------------------------------

  void handle(const pending& e) {
    if (e.what == step::sweep) return sweep(e.at);
    if (e.what == step::duty) return duty_step(e);
    if (e.what == step::review) return review(e);
    const auto it = open_.find(e.referral);
    if (it == open_.end()) return;  // closed meanwhile (expired, withdrawn...)
    open_referral& r = it->second;
    switch (e.what) {
      case step::propose: return propose(r, e.at);
      case step::consent: return record_consent(r, e.at);
      case step::attach:
        return attach_planned(r, e.at);
      case step::answer: return answer(r, e.at);
      case step::send_missing:
        return send_missing(r, e.at);
      case step::milestone:
        return record_milestone(r, e.at, e.item);
      case step::results:
        return return_results(r, e.at);
      case step::cancel: return cancel(r, e.at);
      case step::withdraw: return withdraw(r, e.at);
      case step::transfer: return transfer(r, e.at);
      case step::complete: return complete(r, e.at);
      case step::sweep:
      case step::duty:
      case step::review:
        return;
    }
  }

  std::string key(const open_referral& r, std::string_view command) const {
    return fmt::format("{}:{}:{}", r.id.value(), command, r.consent_attempts);
  }

  // Runs one engine command; on a rule's refusal (not eligible, consent blocked) counts its
  // reasons from the audit row the engine wrote, and returns nullopt. Other refusals are defects
  // of the simulator or the engine and propagate.
  template <class Command>
  std::optional<kh::referral_snapshot> command(const open_referral& r, kh::instant at,
                                               Command&& body) {
    ++sum_.commands;
    try {
      timed t(engine_seconds_);
      return body();
    } catch (const kh::error& e) {
      if (e.code() != kh::errc::not_eligible && e.code() != kh::errc::consent_blocked &&
          !(e.code() == kh::errc::failed_precondition && refused_for_documents(r))) {
        throw;
      }
      ++sum_.refused_commands;
      count_refusal(r, at, e.code());
      return std::nullopt;
    }
  }

  // The last row of the referral is an acceptance refused for missing documents.
  bool refused_for_documents(const open_referral& r) {
    const auto rows = engine_.history(r.id);
    return !rows.empty() && rows.back().command == "accept" &&
           json::parse(rows.back().details).contains("missing_documents");
  }

  void count_refusal(const open_referral& r, kh::instant at, kh::errc code) {
    const auto rows = engine_.history(r.id);
    const std::string& command = rows.back().command;
    const json details = json::parse(rows.back().details);
    const bool law_91 = kh::vietnam_regime_at(at) == kh::vietnam_regime::law_91;
    const auto add = [&](const std::string& kind, const std::string& c, const std::string& rule) {
      auto found = std::find_if(refusals_.begin(), refusals_.end(), [&](const refusal_row& x) {
        return x.kind == kind && x.code == c && x.command == command;
      });
      if (found == refusals_.end()) {
        refusals_.push_back({kind, c, rule, command, 0, 0, 0});
        found = refusals_.end() - 1;
      }
      ++found->count;
      ++(law_91 ? found->law_91 : found->decree_13);
    };
    if (code == kh::errc::failed_precondition) {
      for (const auto& kind : details.at("missing_documents")) {
        add("documents", kind.get<std::string>(), "");
      }
    } else if (code == kh::errc::not_eligible) {
      for (const auto& reason : details.at("reasons")) {
        const std::string c = reason.at("code").get<std::string>();
        add("eligibility", c, "");
        if (c == "capacity_reached") capacity_reached(r, at);
      }
    } else {
      for (const auto& f : details.at("findings")) {
        const std::string effect = f.at("effect").get<std::string>();
        if (effect != "block" && effect != "require_document") continue;
        add("consent", f.at("code").get<std::string>(), f.at("rule").get<std::string>());
      }
    }
  }

  void capacity_reached(const open_referral& r, kh::instant at) {
    const std::string month = month_of(away_, at);
    auto& c = capacity_[r.p.specialty.value()];
    if (c.first_month.empty()) c.first_month = month;
    if (c.last_month != month) ++c.months;
    c.last_month = month;
    ++c.refused;
  }

  void propose(open_referral& r, kh::instant at) {
    const kh::proposal p{r.id,          s_.origins[r.p.origin].hospital,
                         s_.destination, r.p.specialty,
                         r.patient,     origin_actor(r, kh::actor_role::coordinator),
                         at};
    if (!command(r, at, [&] { return engine_.propose(p, key(r, "propose")); })) {
      return close(r, 0, at);
    }
    r.stage = 1;
    push(office(origin_zone(r), at + days(r.p.to_consent)), step::consent, r.index);
    if (std::find(r.p.attaches.begin(), r.p.attaches.end(), true) != r.p.attaches.end()) {
      push(office(origin_zone(r), at + days(r.p.to_attach)), step::attach, r.index);
    }
  }

  // --- documents (by reference: an id, a kind, a digest; never content)
  // ---------------------------

  // A document with a stand-in digest and size, the same every run: 64 hex digits from the
  // referral, the kind and the suffix.
  kh::document_ref stand_in(const open_referral& r, kh::document_kind kind, const char* suffix,
                            const char* language) const {
    const std::string name = std::string(kh::to_string(kind)) + suffix;
    const std::uint64_t h =
        splitmix64(s_.seed ^ (r.index * 0x9e3779b97f4a7c15ULL) ^ std::hash<std::string>{}(name));
    return {kh::document_id{fmt::format("D-{}-{}", r.id.value().substr(2), name)},
            kind,
            fmt::format("{:016x}{:016x}{:016x}{:016x}", h, splitmix64(h), splitmix64(h + 1),
                        splitmix64(h + 2)),
            kind == kh::document_kind::imaging ? "application/dicom" : "application/pdf",
            20'000 + h % 5'000'000,
            language};
  }

  void attach(open_referral& r, kh::instant at, kh::document_kind kind, const char* suffix) {
    const std::string name(kh::to_string(kind));
    const kh::document_ref d = stand_in(r, kind, suffix, "vi");
    ++sum_.commands;
    ++sum_.documents_attached;
    timed t(engine_seconds_);
    engine_.attach_document(r.id, d, origin_actor(r, kh::actor_role::coordinator), at,
                            key(r, "attach_document:" + name + suffix));
  }

  void attach_planned(open_referral& r, kh::instant at) {
    if (r.stage > 3) return;  // transferred: too late to matter (never, with the shipped delays)
    for (std::size_t i = 0; i < r.p.attaches.size(); ++i) {
      if (r.p.attaches[i]) attach(r, at, s_.documents_attached[i].first, "");
    }
  }

  // Asked for what was missing, the referring hospital sends it; the destination answers again.
  void send_missing(open_referral& r, kh::instant at) {
    const std::vector<kh::document_kind> missing = engine_.documents(r.id).missing;
    for (const auto kind : missing) attach(r, at, kind, "-sent");
    ++sum_.documents_sent_when_asked;
    push(office(away_, at + days(r.p.to_answer)), step::answer, r.index);
  }

  kh::consent_record build_consent(const open_referral& r, kh::instant at) const {
    const kh::hospital_id& origin = s_.origins[r.p.origin].hospital;
    const bool first = r.consent_attempts == 0;
    kh::consent_record c;
    c.id = kh::consent_ref{fmt::format("C-{}-{}", r.id.value().substr(2), r.consent_attempts + 1)};
    c.patient = r.patient;
    c.controller = origin;
    c.captured_at = at - 2h;
    c.valid_until = at + days(365);
    const date::year_month_day today{date::floor<date::days>(home_->to_local(at))};
    c.birth_date = date::year_month_day{date::sys_days{today - date::years{r.p.age}} -
                                        date::days{r.p.birthday_offset}};
    c.age_verified = true;
    const std::string person = r.patient.value();
    if (r.p.consent == consent_plan::emergency) {
      c.capacity = kh::capacity_status::lost;
      c.capacity_assessed = true;
      c.emergency = kh::emergency_basis{
          "life-threatening condition needing treatment not available at the referring hospital",
          origin_actor(r, kh::actor_role::clinician).user, c.captured_at, true,
          "patient unconscious; no representative reachable"};
    } else if (r.p.age < 16 || r.p.representative) {
      c.capacity = r.p.age < 16 ? kh::capacity_status::minor : kh::capacity_status::cognitive_difficulty;
      c.capacity_assessed = true;
      c.grantors.push_back({r.p.age < 16 ? kh::grantor_role::parent
                                         : kh::grantor_role::legal_representative,
                            "G-" + person.substr(2), "authority document on file"});
      if (r.p.age >= 7 && r.p.age < 16 && !(first && r.p.assent_missing)) {
        c.grantors.push_back({kh::grantor_role::child_assent, person, ""});
      }
      // The representative also decides the treatment referral (VN-25).
      c.treatment_decision =
          kh::treatment_decision{kh::decision_maker_role::representative, "G-" + person.substr(2),
                                 "authority document on file"};
    } else {
      c.capacity_assessed = r.p.age < 18;  // 16 and 17 year-olds consent alone, assessed
      c.grantors.push_back({kh::grantor_role::patient, person, ""});
      if (r.p.age < 18) {
        // A minor under Vietnam's Civil Code: a parent decides the treatment referral (VN-25),
        // while the data consent is the patient's own.
        c.treatment_decision =
            kh::treatment_decision{kh::decision_maker_role::representative, "G-" + person.substr(2),
                                   "birth certificate on file"};
      }
    }
    c.purposes = {std::string(kh::purpose::cross_border_referral)};
    if (!r.p.return_consent_missing || r.renewing) {  // else a form without the return's purpose
      c.purposes.emplace_back(kh::purpose::results_return);
    }
    c.purposes.emplace_back(kh::purpose::treatment);
    c.recipients = {{s_.destination, dir_.hospital_at("destination", s_.destination).country, true}};
    c.data_classes = {"diagnosis", "imaging", "pathology", "lab_results"};
    c.method = kh::expression_method::written_signature;
    c.artifact_sha256 = fmt::format("{:016x}{:016x}{:016x}{:016x}", splitmix64(r.index),
                                    splitmix64(r.index + 1), splitmix64(static_cast<std::uint64_t>(r.consent_attempts)),
                                    splitmix64(s_.seed));
    c.sensitive_data_notice = c.complaint_mechanism_notice = c.rights_notice = true;
    c.recipient_acquisition_notice = true;
    c.languages = {"vi", "ja"};
    if (!(first && r.p.consent == consent_plan::missing_japan_notice)) {
      c.japan_art28_2 = kh::japan_foreign_provision_info{
          dir_.hospital_at("origin", origin).country, "",
          "summary of Vietnam's personal data protection law (vi/ja)",
          fmt::format("{} data-protection measures statement", origin.value()), ""};
    }
    if (!(first && r.p.consent == consent_plan::missing_written_request)) {
      c.written_request = kh::written_request{
          fmt::format("WR-{}", r.id.value().substr(2)), today, s_.destination};
    }
    return c;
  }

  void record_consent(open_referral& r, kh::instant at) {
    const auto z = origin_zone(r);
    if (r.stage == 4) return renew_consent(r, at);
    if (r.p.consent == consent_plan::refused) {
      r.cancel_reason = kh::cancel_reason::patient_request;
      return push(office(z, at + days(r.p.to_cancel)), step::cancel, r.index);
    }
    kh::consent_record c = build_consent(r, at);
    const auto done = command(r, at, [&] {
      return engine_.record_consent(r.id, c, origin_actor(r, kh::actor_role::coordinator), at,
                                    key(r, "record_consent"));
    });
    ++r.consent_attempts;
    // In `accepted`: the consent recorded did not allow the journey, and this one replaces it.
    const bool replacing = r.stage == 3;
    if (!done) {
      if (!replacing && r.consent_attempts == 1 && r.p.fixed) {
        return push(office(z, at + days(r.p.to_fix)), step::consent, r.index);
      }
      r.cancel_reason = replacing ? kh::cancel_reason::other : kh::cancel_reason::treated_locally;
      return push(office(z, at + days(r.p.to_cancel)), step::cancel, r.index);
    }
    r.consent = std::move(c);
    plan_reviews(r, at);
    if (!r.consented_at) {
      r.consented_at = at;
      phase_ended(0, r.proposed_at, at);
    }
    if (replacing) {
      ++sum_.consents_replaced;
      return push(office(away_, at + days(r.p.to_fix)), step::transfer, r.index);
    }
    const bool first_recorded = r.stage < 2;
    r.stage = std::max(r.stage, 2);
    if (first_recorded && r.p.answers) {
      push(office(away_, at + days(r.p.to_answer)), step::answer, r.index);
    }
  }

  // After the transfer: the return of results was refused because the consent did not grant it
  // (JP-04); the referring hospital records a newer consent, judged by the return flow, and the
  // destination returns the results the next working day. Not after a withdrawal.
  void renew_consent(open_referral& r, kh::instant at) {
    if (r.withdrawn) {
      r.renewing = false;
      return;
    }
    kh::consent_record c = build_consent(r, at);
    const auto done = command(r, at, [&] {
      return engine_.record_consent(r.id, c, origin_actor(r, kh::actor_role::coordinator), at,
                                    key(r, "record_consent"));
    });
    ++r.consent_attempts;  // and the return that follows is another command, under another key
    r.renewing = false;
    if (!done) return;
    r.renewed = true;
    r.waiting_results = true;
    r.consent = std::move(c);
    plan_reviews(r, at);
    ++sum_.consents_renewed_for_return;
    push(office(away_, at + days(1)), step::results, r.index);
  }

  void answer(open_referral& r, kh::instant at) {
    if (!r.p.accepts) {
      engine_apply(r, kh::event::decline{destination_actor(kh::actor_role::clinician), at,
                                         r.p.decline},
                   "decline");
      return close(r, 6, at);
    }
    const auto accepted = command(r, at, [&] {
      return engine_.apply(r.id,
                           kh::event::accept{destination_actor(kh::actor_role::clinician), at},
                           key(r, r.answers++ == 0 ? "accept" : "accept-again"));
    });
    if (!accepted) {  // documents the agreement requires are missing
      ++sum_.accepts_refused_for_documents;
      if (!r.asked && r.p.sends_missing) {
        r.asked = true;
        return push(office(origin_zone(r), at + days(r.p.to_send)), step::send_missing, r.index);
      }
      engine_apply(r,
                   kh::event::decline{destination_actor(kh::actor_role::clinician), at,
                                      kh::decline_reason::insufficient_information},
                   "decline");
      ++sum_.declined_for_documents;
      return close(r, 6, at);
    }
    r.stage = 3;
    r.accepted_at = at;
    phase_ended(1, r.consented_at.value_or(r.proposed_at), at);
    const auto z = origin_zone(r);
    kh::instant arrival = at + days(r.p.to_travel);
    const auto before = at + days(r.p.to_travel * r.p.before_fraction);
    const milestone_outlook m = schedule_milestones(r, at);
    if (r.p.withdraws_before) return push(office(z, before), step::withdraw, r.index);
    if (r.p.cancels) {
      r.cancel_reason = r.p.cancel;
      return push(office(z, before), step::cancel, r.index);
    }
    if (m.never) {  // a required milestone will not come: the journey is called off
      ++sum_.cancelled_for_milestones;
      r.cancel_reason = kh::cancel_reason::other;
      return push(office(z, arrival), step::cancel, r.index);
    }
    if (m.last_required && *m.last_required + 24h > arrival) {  // the journey waits for them
      ++sum_.journeys_delayed_for_milestones;
      arrival = *m.last_required + 24h;
    }
    push(arrival, step::transfer, r.index);
  }

  // --- milestones (between acceptance and the journey)
  // -----------------------------------------

  struct milestone_outlook {
    std::optional<kh::instant> last_required;  // when the last required one will be recorded
    bool never = false;                        // a required one will never be
  };

  static bool recorded_by_destination(kh::milestone m) {
    return m == kh::milestone::treatment_plan_accepted ||
           m == kh::milestone::cost_estimate_accepted || m == kh::milestone::guarantor_confirmed;
  }

  milestone_outlook schedule_milestones(const open_referral& r, kh::instant accepted_at) {
    milestone_outlook out;
    std::vector<kh::milestone> required;  // the referral's agreement's
    {
      timed t(engine_seconds_);
      required = engine_.milestones(r.id).required;
    }
    // One the agreement requires and the scenario never records stops the journey.
    for (const auto m : required) {
      out.never = out.never || std::none_of(s_.milestones.begin(), s_.milestones.end(),
                                            [&](const auto& x) { return x.milestone == m; });
    }
    for (std::size_t i = 0; i < s_.milestones.size(); ++i) {
      const kh::milestone m = s_.milestones[i].milestone;
      const bool is_required = std::find(required.begin(), required.end(), m) != required.end();
      if (r.p.milestone_days[i] < 0) {
        out.never = out.never || is_required;
        continue;
      }
      const kh::instant when = office(recorded_by_destination(m) ? away_ : origin_zone(r),
                                      accepted_at + days(r.p.milestone_days[i]));
      push(when, step::milestone, r.index, static_cast<std::uint32_t>(i));
      if (is_required) out.last_required = std::max(out.last_required.value_or(when), when);
    }
    return out;
  }

  void record_milestone(open_referral& r, kh::instant at, std::uint32_t i) {
    if (r.stage != 3) return;  // transferred already: an optional one that came too late
    const kh::milestone m = s_.milestones[i].milestone;
    const kh::actor by = recorded_by_destination(m) ? destination_actor(kh::actor_role::coordinator)
                                                    : origin_actor(r, kh::actor_role::coordinator);
    engine_apply(r, kh::event::record_milestone{by, at, m},
                 "record_milestone:" + std::string(kh::to_string(m)));
    ++sum_.milestones_recorded;
  }

  void engine_apply(open_referral& r, const kh::event::any& e, std::string_view name) {
    ++sum_.commands;
    timed t(engine_seconds_);
    engine_.apply(r.id, e, key(r, name));
  }

  void cancel(open_referral& r, kh::instant at) {
    engine_apply(r, kh::event::cancel{origin_actor(r, kh::actor_role::coordinator), at,
                                      r.cancel_reason},
                 "cancel");
    close(r, 7, at);
  }

  void withdraw(open_referral& r, kh::instant at) {
    const bool after = r.stage >= 4;
    const kh::actor by = after ? destination_actor(kh::actor_role::coordinator)
                               : origin_actor(r, kh::actor_role::coordinator);
    engine_apply(r, kh::event::withdraw_consent{by, at, kh::withdrawal_channel::written},
                 "withdraw_consent");
    plan_duty(r, at);
    if (!after) return close(r, 8, at);
    ++sum_.withdrawn_after_transfer;
    r.withdrawn = true;  // results no longer go back through kakehashi
    push(at + days(r.p.treatment * (1 - r.p.after_fraction)), step::complete, r.index);
  }

  // The duty the withdrawal created (VN-15): the referring hospital acknowledges it, then
  // completes it (the destination confirmed it stopped), each in office hours, on the plan's
  // days; a duty never completed stays open and the sweep reports it overdue.
  void plan_duty(const open_referral& r, kh::instant at) {
    kh::duty_query q;
    q.referral = r.id;
    std::vector<kh::duty> found;
    {
      timed t(engine_seconds_);
      found = engine_.duties(q);
    }
    if (found.empty()) throw std::logic_error("simulator: a withdrawal without its duty");
    ++sum_.duties_created;
    if (!s_.duties) return;
    const auto slot = static_cast<std::uint32_t>(duties_.size());
    duties_.push_back({found.back(), origin_actor(r, kh::actor_role::coordinator)});
    const date::time_zone* z = origin_zone(r);
    const kh::instant acknowledged = office(z, at + days(r.p.to_acknowledge));
    push(acknowledged, step::duty, slot, 0);
    if (r.p.completes_duty) {
      push(std::max(acknowledged + 1h, office(z, at + days(r.p.to_complete_duty))), step::duty,
           slot, 1);
    }
  }

  void duty_step(const pending& e) {
    const auto& [d, by] = duties_.at(e.referral);
    const kh::duty_step what = e.item == 0 ? kh::duty_step::acknowledged : kh::duty_step::completed;
    ++sum_.commands;
    {
      timed t(engine_seconds_);
      engine_.record_duty(
          d.referral, d.id, what, by, e.at,
          fmt::format("{}:record_duty:{}:{}", d.referral.value(), d.id, kh::to_string(what)));
    }
    if (what == kh::duty_step::acknowledged) {
      if (d.acknowledge_by && e.at < *d.acknowledge_by) ++sum_.duties_acknowledged_in_time;
    } else if (d.complete_by && e.at < *d.complete_by) {
      ++sum_.duties_completed_in_time;
    } else {
      ++sum_.duties_completed_late;
    }
  }

  // The emergency reviews the referral's last step opened (a step the policy allowed on the
  // emergency basis alone: VN-17, JP-10): a second clinician of the hospital that provided the
  // data reviews each, in office hours, on the plan's day, with the plan's finding.
  void plan_reviews(const open_referral& r, kh::instant at) {
    // Only an emergency plan's consent carries an emergency basis: the others open none, and
    // the engine is not asked.
    if (r.p.consent != consent_plan::emergency) return;
    kh::duty_query q;
    q.referral = r.id;
    q.open_only = false;
    std::vector<kh::duty> found;
    {
      timed t(engine_seconds_);
      found = engine_.duties(q);
    }
    for (const auto& d : found) {
      if (d.kind != kh::duty_kind::emergency_review || !reviews_seen_.insert(d.id).second) continue;
      ++sum_.reviews_opened;
      if (!s_.reviews) continue;
      const auto slot = static_cast<std::uint32_t>(reviews_.size());
      const kh::actor second{d.responsible, kh::actor_role::clinician,
                             kh::user_id{"dr2-" + d.responsible.value()}};
      reviews_.push_back({d, second, r.p.review_not_justified});
      const date::time_zone* z = d.responsible == s_.destination ? away_ : origin_zone(r);
      push(std::max(at + 1h, office(z, at + days(r.p.to_review))), step::review, slot);
    }
  }

  void review(const pending& e) {
    const review_plan& p = reviews_.at(e.referral);
    const kh::review_finding finding =
        p.not_justified ? kh::review_finding::not_justified : kh::review_finding::justified;
    ++sum_.commands;
    {
      timed t(engine_seconds_);
      engine_.review_emergency(
          p.review.referral, p.review.id, finding, p.by, e.at,
          fmt::format("{}:review_emergency:{}", p.review.referral.value(), p.review.id));
    }
    (p.review.complete_by && e.at < *p.review.complete_by ? sum_.reviews_in_time
                                                          : sum_.reviews_late)++;
    if (p.not_justified) ++sum_.reviews_not_justified;
  }

  void transfer(open_referral& r, kh::instant at) {
    const auto done = command(r, at, [&] {
      return engine_.transfer(r.id, r.consent, destination_actor(kh::actor_role::coordinator), at,
                              key(r, "transfer"));
    });
    if (!done) {
      // The consent that allowed acceptance no longer allows the journey (for example a Decree 13
      // consent without Law 91's written request, after 1 January 2026). The referring hospital
      // records a replacement consent, complete under the rules in force, and the patient
      // travels after it (once: a replacement that is refused too ends in a cancellation).
      const auto z = origin_zone(r);
      if (!r.replaced) {
        r.replaced = true;
        return push(office(z, at + days(r.p.to_fix)), step::consent, r.index);
      }
      r.cancel_reason = kh::cancel_reason::other;
      return push(office(z, at + days(r.p.to_cancel)), step::cancel, r.index);
    }
    r.stage = 4;
    plan_reviews(r, at);
    lead_time(at - r.proposed_at);
    r.transferred_at = at;
    phase_ended(2, r.accepted_at.value_or(r.proposed_at), at);
    kh::instant treated = office(away_, at + days(r.p.treatment));
    if (r.p.returns_results) {  // the consent is given again then; completion follows
      const kh::instant back = std::max(at + 1h, office(away_, treated - days(r.p.results_before)));
      push(back, step::results, r.index);
      treated = std::max(treated, back + 1h);
    } else {
      r.consent = kh::consent_record{};  // no longer needed: free the personal data early
    }
    if (r.p.withdraws_after) {
      return push(office(away_, at + days(r.p.treatment * r.p.after_fraction)), step::withdraw,
                  r.index);
    }
    push(treated, step::complete, r.index);
  }

  // The destination sends a discharge summary and a follow-up plan home, under the recorded
  // consent and the policy's rules for the return flow (APPI Art. 28: JP-04, JP-05).
  void return_results(open_referral& r, kh::instant at) {
    const kh::consent_record consent = std::move(r.consent);
    r.consent = kh::consent_record{};  // no longer needed after this: free the personal data
    r.waiting_results = false;
    if (r.stage != 4 || r.withdrawn) return;
    // Refused for want of the return's purpose: a newer consent first (once).
    const bool renew = r.p.return_consent_missing && !r.renewed;
    std::vector<kh::document_ref> docs;
    for (const auto kind :
         {kh::document_kind::discharge_summary, kh::document_kind::treatment_plan}) {
      docs.push_back(stand_in(r, kind, "-home", "ja"));
    }
    const auto done = command(r, at, [&] {
      return engine_.return_results(r.id, consent, docs,
                                    destination_actor(kh::actor_role::clinician), at,
                                    key(r, "return_results"));
    });
    if (!done) {  // a rule refused the return flow: counted with the refusals
      if (renew) {
        r.renewing = true;
        push(office(origin_zone(r), at + days(r.p.to_renew)), step::consent, r.index);
      }
      return;
    }
    r.results = true;
    plan_reviews(r, at);
    ++sum_.results_returned;
    phase_ended(3, r.transferred_at.value_or(r.proposed_at), at);
  }

  void complete(open_referral& r, kh::instant at) {
    if (r.renewing || r.waiting_results) {
      // The results wait for the newer consent: treatment ends after they go home.
      return push(at + days(1), step::complete, r.index);
    }
    engine_apply(r, kh::event::complete{destination_actor(kh::actor_role::clinician), at},
                 "complete");
    r.stage = 5;
    r.consent = kh::consent_record{};
    if (r.results) ++sum_.completed_with_results;
    if (sum_.example.empty()) example(r);
    close(r, 5, at);
  }

  void sweep(kh::instant at) {
    std::vector<kh::referral_snapshot> expired;
    {
      timed t(engine_seconds_);
      expired = engine_.expire_overdue(
          {s_.destination, kh::actor_role::system, kh::user_id{"sweep"}}, at);
    }
    sum_.commands += static_cast<long>(expired.size());
    for (const auto& snap : expired) {
      const auto it = open_.find(
          static_cast<std::uint32_t>(std::stoul(snap.id.value().substr(2)) - 1));
      if (it != open_.end()) close(it->second, 9, at);
    }
    // The duties past a deadline, each counted the first day the sweep reports it.
    kh::duty_query late;
    late.overdue_at = at;
    std::vector<kh::duty> overdue;
    {
      timed t(engine_seconds_);
      overdue = engine_.duties(late);
    }
    for (const auto& d : overdue) {
      if (d.kind == kh::duty_kind::emergency_review) continue;  // counted as reviews
      if (reported_overdue_.insert(d.id).second) ++sum_.duties_reported_overdue;
    }
  }

  // --- counting --------------------------------------------------------------------------------

  int month_index(const std::string& month) const { return month_of_name_.at(month); }

  void lead_time(kh::instant::duration d) {
    const auto tenths = static_cast<std::size_t>(
        std::min<long long>(d.count() / 8640, static_cast<long long>(lead_tenths_.size()) - 1));
    ++lead_tenths_[tenths];
    const auto week = static_cast<std::size_t>(d.count() / (7 * 86400));
    if (sum_.lead_weeks.size() <= week) sum_.lead_weeks.resize(week + 1);
    ++sum_.lead_weeks[week];
    ++sum_.transferred;
  }

  origin_specialty_row& row_for(const open_referral& r) {
    const std::string& origin = s_.origins[r.p.origin].hospital.value();
    auto& row = by_origin_specialty_[{origin, r.p.specialty.value()}];
    row.origin = origin;
    row.specialty = r.p.specialty.value();
    return row;
  }

  // Counts a referral that is finished (or still open at the end) and forgets it.
  void close(open_referral& r, int outcome, kh::instant) {
    ++sum_.outcomes[outcome];
    ++sum_.months[static_cast<std::size_t>(r.month)].by_outcome[outcome];
    const int reached = outcome == 0 ? 0 : r.stage;
    for (int s = 0; s <= reached; ++s) ++sum_.funnel[s];
    auto& row = row_for(r);
    ++row.referrals;
    if (reached >= 1) ++row.opened;
    if (reached >= 4) ++row.transferred;
    if (reached >= 5) ++row.completed;
    open_.erase(r.index);  // r is gone from here on
  }

  void example(const open_referral& r) {
    for (const auto& row : engine_.history(r.id)) {
      if (row.outcome != kh::audit_outcome::success) continue;
      const date::time_zone* z = zone_of(row.by.organisation);
      sum_.example.push_back({row.command, kh::to_iso8601(row.recorded_at),
                              local_text(z, row.recorded_at), row.by.organisation.value(),
                              std::string(kh::to_string(row.by.role)), row.state_after});
    }
  }

  void finish() {
    // Referrals still under way at the end of the period, by the state they are in.
    std::vector<std::uint32_t> still_open;
    for (const auto& [n, r] : open_) still_open.push_back(n);
    std::sort(still_open.begin(), still_open.end());
    for (auto n : still_open) {
      open_referral& r = open_.at(n);
      const kh::referral_snapshot snap = engine_.get(r.id);
      if (snap.state == kh::referral_state::closed) {
        throw std::logic_error("simulator: " + r.id.value() + " closed without being counted");
      }
      close(r, 1 + static_cast<int>(snap.state), period_end());  // proposed .. transferred
    }
    for (const auto& d : engine_.duties()) {
      (d.kind == kh::duty_kind::emergency_review ? sum_.reviews_open : sum_.duties_open)++;
    }
    for (auto& [k, row] : by_origin_specialty_) sum_.by_origin_specialty.push_back(row);
    std::stable_sort(refusals_.begin(), refusals_.end(),
                     [](const refusal_row& a, const refusal_row& b) { return a.count > b.count; });
    sum_.refusals = refusals_;
    for (const auto& [spec, c] : capacity_) {
      sum_.capacity.push_back({spec, c.first_month, c.months, c.refused});
    }
    percentiles();
    sum_.period_utc[0] = kh::to_iso8601(period_start_);
    sum_.period_utc[1] = kh::to_iso8601(period_end());
    sum_.period_local[0] = local_text(home_, period_start_);
    sum_.period_local[1] = local_text(away_, period_end());
    const kh::verify_result v = [&] {
      timed t(engine_seconds_);
      return engine_.verify();
    }();
    sum_.audit_intact = v.intact;
    sum_.audit_rows = v.rows;
    sum_.head_hash = v.head_hash;
    sum_.audit_problem = v.problem;
  }

  kh::instant period_end() const { return day_start(s_.days); }

  // A phase of a referral ended at `at`: its days since `since` join the phase's figures.
  void phase_ended(std::size_t phase, kh::instant since, kh::instant at) {
    phase_days_[phase].push_back(std::chrono::duration<double>(at - since).count() / 86400.0);
  }

  // Each phase's median and 90th percentile (nearest rank), over the referrals that went
  // through it.
  void phase_percentiles() {
    static const char* const names[] = {"consent", "accept", "transfer", "results"};
    for (std::size_t i = 0; i < phase_days_.size(); ++i) {
      auto& d = phase_days_[i];
      summary::phase_row row{names[i], static_cast<long>(d.size()), std::nullopt, std::nullopt};
      std::sort(d.begin(), d.end());
      const auto at = [&](double q) {
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(d.size())));
        return d[std::max<std::size_t>(rank, 1) - 1];
      };
      if (!d.empty()) {
        row.median_days = at(0.5);
        row.p90_days = at(0.9);
      }
      sum_.phases.push_back(std::move(row));
    }
  }

  void percentiles() {
    phase_percentiles();
    if (sum_.transferred == 0) return;
    const auto at = [&](double q) {
      const long rank = std::max<long>(1, std::lround(std::ceil(q * static_cast<double>(sum_.transferred))));
      long seen = 0;
      for (std::size_t i = 0; i < lead_tenths_.size(); ++i) {
        seen += lead_tenths_[i];
        if (seen >= rank) return static_cast<double>(i) / 10.0;
      }
      return static_cast<double>(lead_tenths_.size()) / 10.0;
    };
    sum_.lead_median_days = at(0.5);
    sum_.lead_p90_days = at(0.9);
  }

  struct capacity_state {
    std::string first_month, last_month;
    int months = 0;
    long refused = 0;
  };

  const scenario& s_;
  kh::agreement_directory dir_;
  kh::engine engine_;
  progress_fn progress_;
  choice<std::size_t> origins_;
  choice<std::size_t> ages_;
  choice<consent_plan> consent_plans_;
  choice<kh::decline_reason> declines_;
  choice<kh::cancel_reason> cancels_;
  std::vector<choice<kh::specialty_code>> specialties_;
  std::vector<const date::time_zone*> origin_zones_;
  std::map<std::string, int> month_of_name_;
  const date::time_zone* home_ = nullptr;
  const date::time_zone* away_ = nullptr;
  kh::instant period_start_;
  std::vector<int> working_days_;

  rng_t arrival_rng_;
  long next_arrival_ = 0;
  double position_ = 0;
  bool arrival_pending_ = false;

  std::priority_queue<pending, std::vector<pending>, std::greater<pending>> queue_;
  std::uint64_t order_ = 0;
  std::unordered_map<std::uint32_t, open_referral> open_;
  // The withdrawals' duties the scenario plans steps for (step::duty), and those the sweep has
  // reported overdue.
  std::vector<std::pair<kh::duty, kh::actor>> duties_;
  std::set<std::int64_t> reported_overdue_;
  // The emergency reviews seen (by duty id), and those the scenario plans (step::review).
  struct review_plan {
    kh::duty review;
    kh::actor by;
    bool not_justified = false;
  };
  std::set<std::int64_t> reviews_seen_;
  std::vector<review_plan> reviews_;

  summary sum_;
  double engine_seconds_ = 0;  // wall time inside the engine's commands, commits and verify
  std::vector<refusal_row> refusals_;
  std::map<std::pair<std::string, std::string>, origin_specialty_row> by_origin_specialty_;
  std::map<std::string, capacity_state> capacity_;
  std::vector<long> lead_tenths_ = std::vector<long>(10 * 400 + 1, 0);  // 0.1-day bins, 400 days
  std::array<std::vector<double>, 4> phase_days_;  // per phase (summary::phases), in days
};

}  // namespace

summary simulate(const scenario& s, const kakehashi::agreement_directory& agreements,
                 const std::string& db_path, const progress_fn& progress, run_timing* timing,
                 const kakehashi::policy_settings* policy) {
  const auto t0 = std::chrono::steady_clock::now();
  simulation sim(s, agreements, db_path, progress, policy);
  summary out = sim.run();
  if (timing) {
    timing->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    timing->engine_seconds = sim.engine_seconds();
  }
  return out;
}

}  // namespace simulator
