// Agreements: loading a directory of megabytes, and eligibility over it, each beside a baseline
// from the same run (the bare JSON parse of the same text; one linear scan of the agreements).
//
//   build/release/bench/kakehashi_bench --benchmark_filter=agreements
#include <benchmark/benchmark.h>

#include <kakehashi/eligibility.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace {

// A network of `n` Vietnamese and `n` Japanese hospitals, each Vietnamese one with an agreement
// with `each` Japanese ones (vn-0 with `origin` of them). Full terms: about 1 KB per agreement,
// as a real file; otherwise only the terms eligibility reads.
std::string network_text(int n, int each, int origin, bool full_terms) {
  using nlohmann::json;
  json doc = {{"format", "kakehashi.agreements/1"},
              {"hospitals", json::array()},
              {"agreements", json::array()}};
  const json specialties = full_terms
                               ? json{"oncology", "cardiology", "transplantation", "dialysis"}
                               : json{"oncology", "cardiology"};
  for (int i = 0; i < n; ++i) {
    for (const bool vn : {true, false}) {
      const std::string id = (vn ? "vn-" : "jp-") + std::to_string(i);
      doc["hospitals"].push_back({{"id", id},
                                  {"names", {{"en", "Hospital " + id}}},
                                  {"country", vn ? "VN" : "JP"},
                                  {"time_zone", vn ? "Asia/Ho_Chi_Minh" : "Asia/Tokyo"},
                                  {"specialties", specialties}});
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < (i == 0 ? origin : each); ++k) {
      const std::string vn = "vn-" + std::to_string(i);
      const std::string jp = "jp-" + std::to_string((i + k * 7) % n);
      json terms = {{"specialties", specialties},
                    {"directions", {{{"from", vn}, {"to", jp}}}},
                    {"response_deadline_days", 14},
                    {"monthly_capacity", {{"oncology", 10}}}};
      json a = {{"id", "mou-" + vn + "-" + jp},
                {"title", "Memorandum of Understanding between " + vn + " and " + jp},
                {"parties", {vn, jp}},
                {"signed", "2025-11-14"},
                {"effective_from", "2025-11-14"},
                {"effective_until", "2030-11-13"},
                {"time_zone", "Asia/Tokyo"},
                {"status", {{"state", "active"}}},
                {"areas", {"patient_referral"}},
                {"source", {{"title", "generated"}, {"reference", "bench"}}}};
      if (full_terms) {
        a["areas"] = {"patient_referral", "clinical_training", "joint_research"};
        terms["monthly_capacity"]["cardiology"] = 5;
        terms["required_documents"] = {"referral_letter", "imaging", "pathology_report"};
        terms["languages"] = {"en", "ja", "vi"};
        a["assumptions"] = {"generated for the benchmark"};
      }
      a["referral"] = std::move(terms);
      doc["agreements"].push_back(std::move(a));
    }
  }
  return doc.dump();
}

// The load and eligibility rows' network: 2,000 hospitals, 3,000 agreements of full terms.
std::string network(int n) { return network_text(n, 3, 3, true); }

void agreements_load(benchmark::State& state) {
  const std::string text = network(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto dir = kakehashi::agreement_directory::load(text);
    benchmark::DoNotOptimize(dir);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void agreements_baseline_json_parse(benchmark::State& state) {
  const std::string text = network(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto j = nlohmann::json::parse(text);
    benchmark::DoNotOptimize(j);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}

void agreements_eligibility(benchmark::State& state) {
  const auto dir = kakehashi::agreement_directory::load(network(static_cast<int>(state.range(0))));
  const kakehashi::eligibility_query q{kakehashi::hospital_id{"vn-1"},
                                       kakehashi::specialty_code{"oncology"},
                                       kakehashi::parse_instant("2026-03-01T00:00:00Z"),
                                       {}};
  for (auto _ : state) {
    auto r = kakehashi::check_eligibility(dir, q);
    benchmark::DoNotOptimize(r);
  }
}

void agreements_baseline_scan(benchmark::State& state) {
  const auto dir = kakehashi::agreement_directory::load(network(static_cast<int>(state.range(0))));
  const kakehashi::hospital_id from{"vn-1"};
  for (auto _ : state) {
    int n = 0;
    for (const auto& a : dir.agreements()) n += a.has_party(from) ? 1 : 0;
    benchmark::DoNotOptimize(n);
  }
}

// A network of `hospitals` hospitals (half Vietnamese, half Japanese), 5 agreements per hospital
// (each Vietnamese one with 5 Japanese ones), and an origin, vn-0, with 10: the network of
// issue 18's eligibility row. Small agreements (the terms eligibility reads); made once per size.
const kakehashi::agreement_directory& scaled_network(int hospitals) {
  static std::map<int, kakehashi::agreement_directory> made;
  if (auto it = made.find(hospitals); it != made.end()) return it->second;
  return made
      .emplace(hospitals,
               kakehashi::agreement_directory::load(network_text(hospitals / 2, 5, 10, false)))
      .first->second;
}

// One eligibility query from vn-0 (10 agreements) for oncology: its partners only (issue 18's
// target: <= 10 us p50 at 20,000 hospitals and within 2x of 100), beside the whole directory.
void eligibility_scaled(benchmark::State& state) {
  const auto& dir = scaled_network(static_cast<int>(state.range(0)));
  kakehashi::eligibility_query q{kakehashi::hospital_id{"vn-0"},
                                 kakehashi::specialty_code{"oncology"},
                                 kakehashi::parse_instant("2026-03-01T00:00:00Z"),
                                 {}};
  q.scope = state.range(1) == 1 ? kakehashi::eligibility_scope::partners
                                : kakehashi::eligibility_scope::directory;
  std::size_t answered = 0;
  for (auto _ : state) {
    auto r = kakehashi::check_eligibility(dir, q);
    answered = r.eligible.size() + r.ineligible.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["hospitals_in_answer"] = static_cast<double>(answered);
}

}  // namespace

BENCHMARK(eligibility_scaled)
    ->ArgsProduct({{100, 2000, 20000}, {1, 0}})
    ->ArgNames({"hospitals", "partners_only"})
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK(agreements_baseline_json_parse)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(agreements_load)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(agreements_baseline_scan)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(agreements_eligibility)->Arg(1000)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
