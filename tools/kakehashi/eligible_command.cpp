// kakehashi eligible --agreements FILE --from ID --specialty CODE --at INSTANT [--json]
//                    [--count HOSPITAL=N ...] [--partners]
#include <date/tz.h>
#include <fmt/format.h>

#include <iostream>
#include <kakehashi/eligibility.hpp>
#include <kakehashi/error.hpp>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

struct eligible_options {
  std::string agreements;
  std::string from;
  std::string specialty;
  std::string at;
  std::vector<std::string> counts;
  bool json = false;
  bool partners = false;
};

std::string name_of(const agreement_directory& dir, const hospital_id& id) {
  const hospital* h = dir.find_hospital(id);
  return h ? h->name_en : id.value();
}

void print_table(const agreement_directory& dir, const eligibility_result& r) {
  const hospital& from = *dir.find_hospital(r.query.from);
  std::cout << fmt::format("Referral from {} ({}) for {} at {} ({})\n\n", from.id.value(),
                           from.name_en, r.query.specialty.value(), to_iso8601(r.query.at),
                           local_time(from, r.query.at));
  std::cout << fmt::format("Eligible ({}), best first:\n", r.eligible.size());
  if (r.eligible.empty()) std::cout << "  none\n";
  int rank = 1;
  for (const auto& e : r.eligible) {
    std::cout << fmt::format(
        "  {}. {:<20} {}\n     under {}; response deadline {}; remaining capacity {}\n", rank++,
        e.hospital.value(), name_of(dir, e.hospital), e.agreement.value(),
        e.response_deadline_days ? fmt::format("{} days", *e.response_deadline_days) : "not set",
        e.remaining_capacity ? std::to_string(*e.remaining_capacity) : "not limited");
  }
  std::cout << fmt::format("\nNot eligible ({}):\n", r.ineligible.size());
  if (r.ineligible.empty()) std::cout << "  none\n";
  for (const auto& i : r.ineligible) {
    std::cout << fmt::format("  {:<20} {}{}\n", i.hospital.value(), name_of(dir, i.hospital),
                             i.agreement ? " (agreement " + i.agreement->value() + ")" : "");
    for (const auto& reason : i.reasons) {
      std::cout << fmt::format("     {:<22} {}\n", to_string(reason.code), reason.message);
    }
  }
}

}  // namespace

command add_eligible_command(CLI::App& app) {
  auto opt = std::make_shared<eligible_options>();
  CLI::App* sub = app.add_subcommand(
      "eligible",
      "List the partner hospitals that may take a referral, and why each other may not");
  sub->add_option("--agreements", opt->agreements, "Agreements JSON file (docs/agreements.md)")
      ->required();
  sub->add_option("--from", opt->from, "Referring hospital id, e.g. bach-mai")->required();
  sub->add_option("--specialty", opt->specialty, "Specialty code, e.g. cardiology")->required();
  sub->add_option("--at", opt->at, "Instant, RFC 3339 with offset, e.g. 2026-03-01T00:00:00Z")
      ->required();
  sub->add_option("--count", opt->counts,
                  "HOSPITAL=N: referrals already counted against capacity this month (repeatable)");
  sub->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  sub->add_flag("--partners", opt->partners,
                "Only the hospitals --from has an agreement with (every 'no' among them still "
                "explained); without it, every hospital in the directory");
  return [opt] {
    const agreement_directory dir = agreement_directory::load_file(opt->agreements);
    eligibility_query q;
    q.from = known_hospital(dir, opt->from, "--from");
    q.specialty = known_specialty(dir, opt->specialty, "--specialty");
    q.at = parse_instant(opt->at, "--at");
    for (const auto& c : opt->counts) {
      const auto eq = c.find('=');
      int n = -1;
      try {
        std::size_t used = 0;
        if (eq != std::string::npos) n = std::stoi(c.substr(eq + 1), &used);
        if (eq == std::string::npos || used != c.size() - eq - 1 || n < 0) n = -1;
      } catch (const std::exception&) {
        n = -1;
      }
      if (n < 0) {
        throw error(errc::invalid_argument,
                    fmt::format("--count: '{}' is not HOSPITAL=N; expected e.g. "
                                "shonan-kamakura=12",
                                printable(c)));
      }
      // A misspelt hospital would switch its capacity check off without a word: refuse it.
      const hospital_id h = known_hospital(dir, c.substr(0, eq), "--count");
      if (q.month_counts.count(h) != 0) {
        throw error(
            errc::invalid_argument,
            fmt::format("--count: hospital '{}' is counted twice; give each once", h.value()));
      }
      q.month_counts[h] = n;
    }
    if (opt->partners) q.scope = eligibility_scope::partners;
    const eligibility_result r = check_eligibility(dir, q);
    if (opt->json) {
      std::cout << to_json(r, 2) << '\n';
    } else {
      print_table(dir, r);
    }
    return exit_ok;
  };
}

}  // namespace kakehashi::tool
