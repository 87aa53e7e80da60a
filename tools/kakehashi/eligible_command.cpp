// kakehashi eligible --agreements FILE --from ID --specialty CODE --at INSTANT [--json]
//                    [--count HOSPITAL=N ...] [--partners] [--lang en|vi|ja]
#include <fmt/format.h>

#include <iostream>
#include <kakehashi/eligibility.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/text.hpp>
#include <kakehashi/vocabulary.hpp>
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
  std::string lang;
  bool json = false;
  bool partners = false;
};

// The answer for a person, in `lang`: hospitals by their names (their ids beside, for the next
// command), specialties and reasons by their displays, the time in the referring hospital's
// zone with UTC beside; each reason's own message stays English, as logs keep it.
void print_table(const agreement_directory& dir, const eligibility_result& r,
                 const std::string& lang) {
  const auto say = [&](std::string_view id, const std::vector<text::argument>& args) {
    std::cout << text::format(lang, id, args) << '\n';
  };
  const auto name = [&](const hospital_id& id) {
    const hospital* h = dir.find_hospital(id);
    return h ? std::string(h->name_in(lang)) : id.value();
  };
  const hospital& from = *dir.find_hospital(r.query.from);
  say("elig.header",
      {{"from", name(from.id)},
       {"specialty", vocabulary::display("specialty", r.query.specialty.value(), lang)
                         .value_or(r.query.specialty.value())},
       {"time", text::format(lang, "time.with_utc",
                             {{"local", text::local_time(r.query.at, from.time_zone, lang)},
                              {"utc", text::local_time(r.query.at, "UTC", lang)}})}});
  std::cout << '\n';
  say("elig.eligible", {{"count", static_cast<std::int64_t>(r.eligible.size())}});
  if (r.eligible.empty()) say("elig.none", {});
  std::int64_t rank = 1;
  for (const auto& e : r.eligible) {
    say("elig.row", {{"rank", rank++}, {"hospital", name(e.hospital)}, {"id", e.hospital.value()}});
    say("elig.terms",
        {{"agreement", e.agreement.value()},
         {"deadline",
          e.response_deadline_days
              ? text::format(lang, "elig.days", {{"days", std::int64_t{*e.response_deadline_days}}})
              : text::format(lang, "elig.deadline_none", {})},
         {"capacity",
          e.remaining_capacity
              ? text::format(lang, "sim.count", {{"n", std::int64_t{*e.remaining_capacity}}})
              : text::format(lang, "elig.capacity_none", {})}});
  }
  std::cout << '\n';
  say("elig.ineligible", {{"count", static_cast<std::int64_t>(r.ineligible.size())}});
  if (r.ineligible.empty()) say("elig.none", {});
  for (const auto& i : r.ineligible) {
    if (i.agreement) {
      say("elig.ineligible_row_under", {{"hospital", name(i.hospital)},
                                        {"id", i.hospital.value()},
                                        {"agreement", i.agreement->value()}});
    } else {
      say("elig.ineligible_row", {{"hospital", name(i.hospital)}, {"id", i.hospital.value()}});
    }
    for (const auto& reason : i.reasons) {
      const std::string code(to_string(reason.code));
      say("elig.reason",
          {{"reason", vocabulary::display("eligibility-reason", code, lang).value_or(code)},
           {"code", code},
           {"message", reason.message}});
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
  sub->add_option("--lang", opt->lang,
                  "en, vi or ja: the language of the table (default: the locale's); each "
                  "reason's own message stays English, as logs keep it");
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
      print_table(dir, r, reader_language(opt->lang));
    }
    return exit_ok;
  };
}

}  // namespace kakehashi::tool
