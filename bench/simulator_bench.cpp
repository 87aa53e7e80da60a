// The referral simulator's throughput beside the engine's, in the same run and the same mode
// (synchronous=NORMAL, one transaction per simulated day, a database file):
//  - simulator: the shipped scenario at N referrals (capacity scaled with N), everything the
//    program does but printing: drawing plans, the calendar, refusals read back from the audit
//    log, the daily deadline sweep, the final verify;
//    Its counters also give the time its engine calls took (engine_share of the run) and the
//    referrals per second those calls alone would give (engine_referrals_per_second);
//  - engine_lifecycle: the engine alone running the commands a referral needs (propose, record
//    consent, accept, transfer, complete) for N referrals, in as many transactions as the
//    simulator has days, and the same verify at the end.
// Both count engine commands per second (items_per_second) and referrals per second.
//
//   build/release/bench/kakehashi_bench --benchmark_filter='simulator|lifecycle'
#include <benchmark/benchmark.h>

#include <kakehashi/engine.hpp>
#include <kakehashi/testing.hpp>
#include <string>

#include "bench_support.hpp"
#include "scenario.hpp"
#include "simulation.hpp"

namespace {

using namespace kakehashi;

simulator::scenario scaled(int referrals) {
  auto s = simulator::scaled_to(simulator::load_scenario_file(std::string(KAKEHASHI_SOURCE_DIR) +
                                                              "/examples/simulator/scenario.json"),
                                referrals);
  s.sync = durability::normal;
  return s;
}

void report(benchmark::State& state, long commands, long referrals) {
  state.SetItemsProcessed(commands);
  state.counters["referrals_per_second"] =
      benchmark::Counter(static_cast<double>(referrals), benchmark::Counter::kIsRate);
  state.counters["commands_per_referral"] =
      static_cast<double>(commands) / static_cast<double>(referrals);
}

void simulator_run(benchmark::State& state) {
  const auto s = scaled(static_cast<int>(state.range(0)));
  const auto agreements = bench::shipped_agreements();
  long commands = 0, referrals = 0;
  double total = 0, in_engine = 0;
  for (auto _ : state) {
    const std::string path = bench::db_path("sim");
    simulator::run_timing timing;
    const auto out = simulator::simulate(s, agreements, path, {}, &timing);
    if (!out.audit_intact) state.SkipWithError("audit log not intact");
    commands += out.commands;
    referrals += out.referrals;
    total += timing.seconds;
    in_engine += timing.engine_seconds;
    bench::remove_db(path);
  }
  report(state, commands, referrals);
  // The same run's engine calls alone: the throughput of those commands without the simulator
  // around them, and the share of the run they took (the simulator's throughput relative to it).
  state.counters["engine_referrals_per_second"] = static_cast<double>(referrals) / in_engine;
  state.counters["engine_share"] = in_engine / total;
}

void engine_lifecycle(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int days = scaled(n).days;
  auto dir = bench::shipped_agreements();
  auto terms = dir.agreements();
  for (auto& a : terms) a.response_deadline_days = 14;  // as the simulator's scenario
  const agreement_directory agreements = agreement_directory::from_values(dir.hospitals(), terms);
  engine_options options;
  options.sync = durability::normal;
  organisation_compliance paperwork;
  paperwork.transfer_agreement = true;
  paperwork.withdrawal_clause = true;
  paperwork.impact_assessment_filed_at = parse_instant("2025-11-01T00:00:00Z");
  options.compliance[hospital_id{"bach-mai"}] = paperwork;
  const consent_record consent = testing::valid_consent().build();
  const hospital_id bm{"bach-mai"}, sk{"shonan-kamakura"};
  const actor coordinator{bm, actor_role::coordinator, user_id{"io-bach-mai"}};
  const actor clinician{sk, actor_role::clinician, user_id{"dr-shonan-kamakura"}};
  const actor receiver{sk, actor_role::coordinator, user_id{"io-shonan-kamakura"}};
  const instant t0 = parse_instant("2026-02-01T00:00:00Z");
  long commands = 0, referrals = 0;
  for (auto _ : state) {
    const std::string path = bench::db_path("lifecycle");
    engine e = engine::open(path, agreements, consent_policy::standard(), options);
    const int per_day = std::max(1, n / days);
    for (int first = 0; first < n; first += per_day) {
      e.batch([&] {
        for (int i = first; i < std::min(n, first + per_day); ++i) {
          const std::string k = std::to_string(i);
          const referral_id id{"R-" + k};
          // Spread over the simulator's period, so months hold as many referrals as its do.
          const instant at = t0 + std::chrono::seconds{static_cast<long long>(days) * 86400 * i / n};
          (void)e.propose({id, bm, sk, specialty_code{"cardiology"}, consent.patient, coordinator,
                           at},
                          k + ":propose");
          (void)e.record_consent(id, consent, coordinator, at + std::chrono::hours{1},
                                 k + ":consent");
          (void)e.apply(id, event::accept{clinician, at + std::chrono::hours{2}}, k + ":accept");
          (void)e.transfer(id, consent, receiver, at + std::chrono::hours{3}, k + ":transfer");
          (void)e.apply(id, event::complete{clinician, at + std::chrono::hours{4}},
                        k + ":complete");
        }
      });
    }
    if (!e.verify().intact) state.SkipWithError("audit log not intact");
    commands += 5L * n;
    referrals += n;
    bench::remove_db(path);
  }
  report(state, commands, referrals);
}

}  // namespace

// Wall time: the work includes writing the database file.
BENCHMARK(engine_lifecycle)->Arg(600)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(simulator_run)->Arg(600)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();
