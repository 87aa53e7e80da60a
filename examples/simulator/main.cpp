// referral-simulator: a year of Vietnam -> Japan referrals on the real kakehashi engine.
//
//   referral-simulator --agreements data/agreements.json --scenario examples/simulator/scenario.json
//                      --db sim.db --report report.html [--referrals N] [--seed S]
//                      [--start YYYY-MM-DD] [--days D] [--json]
//
// Exit status: 0 done and the audit log verifies; 1 the audit log does not verify; 2 bad input
// (nothing was written); 3 the simulation failed.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <kakehashi/kakehashi.hpp>
#include <string>

#include "report.hpp"
#include "scenario.hpp"
#include "simulation.hpp"

namespace {

namespace kh = kakehashi;

struct bad_input : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// An output file must be creatable (or replaceable) before any work starts.
void check_writable(const std::string& option, const std::string& path) {
  const std::string dir = directory_of(path);
  if (::access(dir.c_str(), W_OK) != 0) {
    throw bad_input(option + ": cannot write '" + path + "': directory '" + dir +
                    "' does not exist or is not writable; choose a writable path");
  }
  if (exists(path) && ::access(path.c_str(), W_OK) != 0) {
    throw bad_input(option + ": cannot write '" + path + "': the file is not writable");
  }
}

date::year_month_day parse_day(const std::string& option, const std::string& text) {
  if (auto ymd = simulator::parse_day(text)) return *ymd;
  throw bad_input(option + ": '" + text + "' is not a calendar day; expected YYYY-MM-DD");
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write '" + path + "'");
}

class progress_bar {
 public:
  explicit progress_bar(bool on) : on_(on) {}
  void operator()(int day, int days, long proposed) {
    if (!on_) return;
    const std::size_t width = 40;
    const std::size_t done = days > 0 ? static_cast<std::size_t>(day) * width / static_cast<std::size_t>(days) : width;
    std::fprintf(stderr, "\r[%s%s] day %d/%d, %ld referrals", std::string(done, '#').c_str(),
                 std::string(width - done, ' ').c_str(), day, days, proposed);
    if (day == days) std::fprintf(stderr, "\n");
  }

 private:
  bool on_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "kakehashi referral simulator: proposes a scenario's Vietnam -> Japan referrals over a "
      "period and drives each through the real engine (eligibility under the MoUs, consent rules, "
      "audit log), then prints a summary and writes an HTML report.\n"
      "Exit status: 0 done and the audit log verifies; 1 it does not; 2 bad input; 3 failure.",
      "referral-simulator"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string scenario_path = "examples/simulator/scenario.json";
  std::string agreements_path = "data/agreements.json";
  std::string db_path = "sim.db";
  std::string report_path = "report.html";
  std::string policy_path;
  std::optional<int> referrals, days;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> start, sync;
  bool overwrite = false, as_json = false, quiet = false, no_report = false;
  app.add_option("--scenario", scenario_path, "scenario file (rates, shares, delays)")
      ->capture_default_str();
  app.add_option("--agreements", agreements_path, "hospitals and MoUs (docs/agreements.md)")
      ->capture_default_str();
  app.add_option("--db", db_path,
                 "the SQLite database to create (\":memory:\" for none), or an empty PostgreSQL "
                 "database's URI (postgresql://...)")
      ->capture_default_str();
  app.add_option("--policy", policy_path,
                 "the consent policy file production uses (docs/policy.md): its rules, flags, "
                 "payload classes, and its paperwork for the hospitals it lists (default: the "
                 "standard policy and the scenario's paperwork)");
  app.add_flag("--overwrite", overwrite, "replace the database if it exists");
  app.add_option("--report", report_path, "the HTML report to write")->capture_default_str();
  app.add_flag("--no-report", no_report, "write no HTML report");
  app.add_option("--referrals", referrals, "number of referrals (overrides run.referrals)")
      ->check(CLI::Range(0, 10'000'000));
  app.add_option("--seed", seed, "random seed (overrides run.seed)");
  app.add_option("--start", start, "first day, YYYY-MM-DD, Vietnam time (overrides run.start)");
  app.add_option("--days", days, "length of the period in days (overrides run.days)")
      ->check(CLI::Range(1, 3660));
  app.add_option("--durability", sync, "full or normal (overrides run.durability)")
      ->check(CLI::IsMember({"full", "normal"}));
  app.add_flag("--json", as_json, "print the summary as one JSON object");
  app.add_flag("--quiet", quiet, "no progress bar");
  std::string lang;
  app.add_option("--lang", lang,
                 "en, vi or ja: the summary's language (default: the locale's, from LC_ALL, "
                 "LC_MESSAGES or LANG; English when it is none of these)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  // A PostgreSQL URI instead of a file (postgresql://...; "postgresql://" alone takes the server
  // from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE).
  const bool server = db_path.rfind("postgresql://", 0) == 0 || db_path.rfind("postgres://", 0) == 0;
  simulator::scenario sc;
  std::optional<kh::agreement_directory> agreements;
  std::optional<kh::policy_settings> policy;
  try {
    sc = simulator::load_scenario_file(scenario_path);
    agreements = kh::agreement_directory::load_file(agreements_path);
    if (!policy_path.empty()) policy = kh::load_policy_file(policy_path);
    if (referrals) sc.referrals = *referrals;
    if (seed) sc.seed = *seed;
    if (days) sc.days = *days;
    if (start) sc.start = parse_day("--start", *start);
    if (sync) sc.sync = *sync == "full" ? kh::durability::full : kh::durability::normal;
    simulator::check_against(sc, *agreements);
    lang = lang.empty() ? kh::text::language_of_environment()
                        : kh::text::checked_language(lang, "--lang");
    if (server) {
      if (overwrite) {
        throw bad_input("--overwrite: applies to a database file; the simulator never drops a "
                        "server's tables: name an empty database or schema instead");
      }
    } else if (db_path != ":memory:") {
      if (exists(db_path) && !overwrite) {
        throw bad_input("--db: '" + db_path +
                        "' exists; pass --overwrite to replace it, or choose another path");
      }
      check_writable("--db", db_path);
    }
    if (!no_report) check_writable("--report", report_path);
  } catch (const std::exception& e) {  // kakehashi::error or bad_input: both name the field
    std::cerr << "referral-simulator: " << e.what() << "\n";
    return 2;
  }

  try {
    if (server) {  // a simulation starts from nothing: an empty database, or a new schema
      const kh::engine e = kh::engine::open(db_path, *agreements, kh::consent_policy::standard());
      if (const auto rows = e.audit_rows(); rows > 0) {
        std::cerr << "referral-simulator: --db: the database already holds " << rows
                  << " audit rows; name an empty database or schema "
                     "(postgresql://HOST/DB?options=-csearch_path%3DSCHEMA)\n";
        return 2;
      }
    }
    if (db_path != ":memory:" && !server && overwrite) {
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::remove((db_path + suffix).c_str());
      }
    }
    progress_bar bar(!quiet && ::isatty(STDERR_FILENO));
    simulator::run_timing timing;
    const simulator::summary s = simulator::simulate(
        sc, *agreements, db_path, [&](int d, int n, long p) { bar(d, n, p); }, &timing,
        policy ? &*policy : nullptr);
    std::cout << (as_json ? simulator::to_json(s) : simulator::to_text(s, lang, &*agreements));
    if (!no_report) write_file(report_path, simulator::to_html(s, sc, lang, &*agreements));
    if (!quiet) {
      // How fast it ran (wall clock: not part of the deterministic summary), in `lang`.
      const double seconds = timing.seconds > 0 ? timing.seconds : 1e-9;
      std::cerr << kh::text::format(
                       lang, "sim.timing",
                       {{"referrals", s.referrals},
                        {"commands", s.commands},
                        {"seconds", timing.seconds},
                        {"per_second", static_cast<double>(s.referrals) / seconds},
                        {"commands_per_second", static_cast<double>(s.commands) / seconds},
                        {"engine", timing.engine_seconds / seconds}})
                << "\n";
      if (db_path != ":memory:") {
        std::cerr << kh::text::format(lang, "sim.database_written", {{"path", db_path}}) << "\n";
      }
      if (!no_report) {
        std::cerr << kh::text::format(lang, "sim.report_written", {{"path", report_path}}) << "\n";
      }
    }
    return s.audit_intact ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "\nreferral-simulator: the simulation failed: " << e.what() << "\n";
    return 3;
  }
}
