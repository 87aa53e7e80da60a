// Agreements: loading a directory of megabytes, and eligibility over it, each beside a baseline
// from the same run (the bare JSON parse of the same text; one linear scan of the agreements).
//
//   build/release/bench/kakehashi_bench --benchmark_filter=agreements
#include <benchmark/benchmark.h>

#include <kakehashi/eligibility.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace {

// A network of `n` Vietnamese and `n` Japanese hospitals, each Vietnamese one with an agreement
// with three Japanese ones: about 1 KB per agreement.
std::string network(int n) {
  using nlohmann::json;
  json doc = {{"format", "kakehashi.agreements/1"},
              {"hospitals", json::array()},
              {"agreements", json::array()}};
  const json specialties = {"oncology", "cardiology", "transplantation", "dialysis"};
  for (int i = 0; i < n; ++i) {
    doc["hospitals"].push_back({{"id", "vn-" + std::to_string(i)},
                                {"names", {{"en", "Vietnamese hospital " + std::to_string(i)}}},
                                {"country", "VN"},
                                {"time_zone", "Asia/Ho_Chi_Minh"},
                                {"specialties", specialties}});
    doc["hospitals"].push_back({{"id", "jp-" + std::to_string(i)},
                                {"names", {{"en", "Japanese hospital " + std::to_string(i)}}},
                                {"country", "JP"},
                                {"time_zone", "Asia/Tokyo"},
                                {"specialties", specialties}});
  }
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) {
      const std::string vn = "vn-" + std::to_string(i);
      const std::string jp = "jp-" + std::to_string((i + k * 7) % n);
      doc["agreements"].push_back(
          {{"id", "mou-" + vn + "-" + jp},
           {"title", "Memorandum of Understanding between " + vn + " and " + jp},
           {"parties", {vn, jp}},
           {"signed", "2025-11-14"},
           {"effective_from", "2025-11-14"},
           {"effective_until", "2030-11-13"},
           {"time_zone", "Asia/Tokyo"},
           {"status", {{"state", "active"}}},
           {"areas", {"patient_referral", "clinical_training", "joint_research"}},
           {"referral",
            {{"specialties", specialties},
             {"directions", {{{"from", vn}, {"to", jp}}}},
             {"response_deadline_days", 14},
             {"monthly_capacity", {{"oncology", 10}, {"cardiology", 5}}},
             {"required_documents", {"referral letter", "imaging", "pathology report"}},
             {"languages", {"en", "ja", "vi"}}}},
           {"source", {{"title", "generated"}, {"reference", "bench"}}},
           {"assumptions", {"generated for the benchmark"}}});
    }
  }
  return doc.dump();
}

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

}  // namespace

BENCHMARK(agreements_baseline_json_parse)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(agreements_load)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(agreements_baseline_scan)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(agreements_eligibility)->Arg(1000)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
