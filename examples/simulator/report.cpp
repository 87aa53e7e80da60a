#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace simulator {
namespace {

using json = nlohmann::json;

template <class T>
double num(T v) {
  return static_cast<double>(v);
}

std::string percent(long part, long whole) {
  return whole > 0 ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) /
                                                static_cast<double>(whole))
                   : "-";
}

std::string days_text(const std::optional<double>& d) {
  return d ? fmt::format("{:.1f}", *d) : std::string("-");
}

// "intact (N rows, head H)" or "NOT intact: <what>", after an "audit log:" label.
std::string audit_state(const summary& s) {
  if (s.audit_intact) return fmt::format("intact ({} rows, head {})", s.audit_rows, s.head_hash);
  return fmt::format("NOT intact: {}", s.audit_problem);
}

// The summary's sentences, in `lang` (data/messages' sim.* patterns, through ICU).
std::string say(const std::string& lang, std::string_view id,
                const std::vector<kakehashi::text::argument>& args = {}) {
  return kakehashi::text::format(lang, id, args);
}

std::string code(const std::string& lang, std::string_view kind, std::string_view value) {
  return kakehashi::vocabulary::display(kind, value, lang).value_or(std::string(value));
}

// A table for a terminal: each column as wide as its widest cell (by display width, so that
// Japanese lines up), the first left-aligned, the others right-aligned; rows[0] is the heading,
// the other rows are indented by two.
std::string table(std::vector<std::vector<std::string>> rows) {
  for (std::size_t r = 1; r < rows.size(); ++r) rows[r][0] = "  " + rows[r][0];
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], kakehashi::text::width(row[c]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string gap(widths[c] - kakehashi::text::width(row[c]), ' ');
      out += c == 0 ? row[c] + gap : "  " + gap + row[c];
    }
    out += '\n';
  }
  return out;
}

std::string share(long part, long whole, const std::string& lang) {
  if (whole <= 0) return "-";
  return kakehashi::text::format(
      lang, "sim.share", {{"share", static_cast<double>(part) / static_cast<double>(whole)}});
}

// What the refusal rows count: a command refused by several rules counts under each.
std::string refusal_counting(const summary& s, const std::string& lang) {
  return say(lang, "sim.refusal_counting", {{"refused", s.refused_commands}});
}

std::string milestone_line(const summary& s, const std::string& lang) {
  return say(lang, "sim.milestones",
             {{"recorded", s.milestones_recorded},
              {"waited", s.journeys_delayed_for_milestones},
              {"cancelled", s.cancelled_for_milestones}});
}

std::string results_line(const summary& s, const std::string& lang) {
  return say(lang, "sim.results",
             {{"returned", s.results_returned},
              {"closed", s.completed_with_results},
              {"completed", s.outcomes[5]}});
}

std::string capacity_line(const capacity_row& c, const std::string& lang) {
  return say(lang, "sim.capacity",
             {{"specialty", code(lang, "specialty", c.specialty)},
              {"month", c.first_month},
              {"months", c.months},
              {"refused", c.refused}});
}

// Escapes text for HTML and XML alike.
std::string esc(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Colours, one per outcome (outcome_names order), chosen to stay apart for colour-blind readers.
constexpr const char* outcome_colours[outcome_count] = {
    "#9e9e9e", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd",
    "#31a354", "#e6550d", "#fdae6b", "#756bb1", "#d62728"};

std::string svg_open(const char* id, int width, int height, const std::string& title) {
  return fmt::format(
      "<svg id=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\"><title>{}</title>\n",
      id, width, height, width, height, esc(title));
}

std::string text_at(double x, double y, const std::string& text, const char* anchor = "start",
                    const char* extra = "") {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\"{}>{}</text>\n", x, y,
                     anchor, extra, esc(text));
}

std::string rect(double x, double y, double w, double h, const char* fill,
                 const std::string& tip) {
  return fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
      "<title>{}</title></rect>\n",
      x, y, std::max(w, 0.0), std::max(h, 0.0), fill, esc(tip));
}

std::string funnel_chart(const summary& s) {
  const int w = 720, row = 34, left = 150, right = 130;
  std::string out = svg_open("funnel", w, row * stage_count + 10, "Referral funnel");
  const double top = num(std::max<long>(1, s.funnel[0]));
  for (int i = 0; i < stage_count; ++i) {
    const double y = 5 + i * row;
    const double bar = (w - left - right) * static_cast<double>(s.funnel[i]) / top;
    out += text_at(left - 8, y + 20, stage_names[i], "end");
    out += rect(left, y + 4, bar, row - 10, "#3182bd",
                fmt::format("{}: {}", stage_names[i], s.funnel[i]));
    out += text_at(left + bar + 6, y + 20,
                   fmt::format("{} ({})", s.funnel[i], percent(s.funnel[i], s.funnel[0])));
  }
  return out + "</svg>\n";
}

std::string months_chart(const summary& s) {
  // The legend's longest name, "consent_withdrawn", needs ~130 px at 12 px after its swatch.
  const int w = 760, h = 300, left = 40, bottom = 40, top_pad = 10, legend = 200;
  std::string out = svg_open("per-month", w + legend, h, "Referrals per month by final state");
  long most = 1;
  for (const auto& m : s.months) {
    long total = 0;
    for (long c : m.by_outcome) total += c;
    most = std::max(most, total);
  }
  const double plot_h = h - bottom - top_pad;
  const double slot = s.months.empty() ? 0 : num(w - left) / num(s.months.size());
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>\n", left,
                     h - bottom, w, h - bottom);
  out += text_at(left - 4, top_pad + 10, std::to_string(most), "end");
  out += text_at(left - 4, h - bottom, "0", "end");
  for (std::size_t i = 0; i < s.months.size(); ++i) {
    const auto& m = s.months[i];
    double y = h - bottom;
    const double x = left + num(i) * slot + slot * 0.15;
    for (int k = 0; k < outcome_count; ++k) {
      if (m.by_outcome[k] == 0) continue;
      const double bar = plot_h * num(m.by_outcome[k]) / num(most);
      y -= bar;
      out += rect(x, y, slot * 0.7, bar, outcome_colours[k],
                  fmt::format("{} {}: {}", m.month, outcome_names[k], m.by_outcome[k]));
    }
    out += text_at(x + slot * 0.35, h - bottom + 16, m.month.substr(2), "middle",
                   " font-size=\"10\"");
  }
  for (int k = 0; k < outcome_count; ++k) {
    const double y = top_pad + k * 20;
    out += rect(w + 10, y, 12, 12, outcome_colours[k], outcome_names[k]);
    out += text_at(w + 28, y + 11, outcome_names[k], "start", " font-size=\"12\"");
  }
  return out + "</svg>\n";
}

std::string lead_chart(const summary& s) {
  const int w = 760, h = 260, left = 40, bottom = 40, top_pad = 20;
  std::string out = svg_open("lead-time", w, h, "Days from proposal to transfer");
  long most = 1;
  for (long c : s.lead_weeks) most = std::max(most, c);
  const std::size_t weeks = std::max<std::size_t>(s.lead_weeks.size(), 1);
  const double slot = num(w - left - 10) / num(weeks);
  const double plot_h = h - bottom - top_pad;
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>\n", left,
                     h - bottom, w - 10, h - bottom);
  out += text_at(left - 4, top_pad + 10, std::to_string(most), "end");
  for (std::size_t i = 0; i < s.lead_weeks.size(); ++i) {
    const double bar = plot_h * num(s.lead_weeks[i]) / num(most);
    out += rect(left + num(i) * slot + 1, h - bottom - bar, slot - 2, bar, "#6baed6",
                fmt::format("days {}-{}: {} transfer(s)", i * 7, i * 7 + 6, s.lead_weeks[i]));
    if (i % 2 == 0) {
      out += text_at(left + num(i) * slot, h - bottom + 16, std::to_string(i * 7), "start",
                     " font-size=\"10\"");
    }
  }
  const auto marker = [&](const std::optional<double>& d, const char* name, const char* colour) {
    if (!d) return;
    const double x = left + (*d / 7.0) * slot;
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"{}\" "
        "stroke-dasharray=\"5,3\" stroke-width=\"2\"/>\n",
        x, top_pad, x, h - bottom, colour);
    // Right of its line, or left of it where the chart would cut it off.
    const std::string label = fmt::format("{} {:.1f} days", name, *d);
    const bool fits_right = x + 4 + 0.65 * 12 * num(label.size()) <= w;
    out += text_at(fits_right ? x + 4 : x - 4, top_pad - 6 + (name[0] == '9' ? 0 : 12), label,
                   fits_right ? "start" : "end", " font-size=\"12\"");
  };
  marker(s.lead_median_days, "median", "#e6550d");
  marker(s.lead_p90_days, "90th percentile", "#756bb1");
  out += text_at(w / 2.0, h - 6, "days from proposal to transfer (weekly bins)", "middle",
                 " font-size=\"12\"");
  return out + "</svg>\n";
}

std::string refusals_chart(const summary& s) {
  const int row = 26, left = 480, w = 860;  // room for "VN-09 VN_ART26_2_... at record_consent"
  const int h = std::max<int>(1, static_cast<int>(s.refusals.size())) * row + 40;
  std::string out = svg_open("refusals", w, h, "Refusals by reason");
  long most = 1;
  for (const auto& r : s.refusals) most = std::max(most, r.count);
  const double scale = (w - left - 60) / static_cast<double>(most);
  for (std::size_t i = 0; i < s.refusals.size(); ++i) {
    const auto& r = s.refusals[i];
    const double y = 5 + num(i * row);
    const std::string label =
        r.kind == "consent"     ? fmt::format("{} {} at {}", r.rule, r.code, r.command)
        : r.kind == "documents" ? fmt::format("document missing at {}: {}", r.command, r.code)
                                : "not eligible: " + r.code;
    out += text_at(left - 8, y + 16, label, "end", " font-size=\"12\"");
    out += rect(left, y + 3, scale * num(r.decree_13), row - 8, "#fdae6b",
                fmt::format("{}: {} under Decree 13", label, r.decree_13));
    out += rect(left + scale * num(r.decree_13), y + 3, scale * num(r.law_91), row - 8, "#e6550d",
                fmt::format("{}: {} under Law 91", label, r.law_91));
    out += text_at(left + scale * num(r.count) + 6, y + 16, std::to_string(r.count), "start",
                   " font-size=\"12\"");
  }
  if (s.refusals.empty()) out += text_at(20, 20, "no refusals");
  // The legend starts at the left edge, where the labels are: it fits whatever the bars' scale.
  const double y = h - 18;
  out += rect(20, y, 12, 12, "#fdae6b", "Decree 13");
  out += text_at(36, y + 11, "until 31 Dec 2025 (Decree 13)", "start", " font-size=\"12\"");
  out += rect(260, y, 12, 12, "#e6550d", "Law 91");
  out += text_at(276, y + 11, "from 1 Jan 2026 (Law 91)", "start", " font-size=\"12\"");
  return out + "</svg>\n";
}

std::string figure(const char* chart, const std::string& caption, const std::string& svg) {
  return fmt::format("<figure class=\"chart\" data-chart=\"{}\">\n{}<figcaption>{}</figcaption>\n"
                     "</figure>\n",
                     chart, svg, esc(caption));
}

}  // namespace

std::string to_text(const summary& s, const std::string& lang,
                    const kakehashi::agreement_directory* agreements) {
  namespace kt = kakehashi::text;
  const auto name = [&](const std::string& id) {
    const kakehashi::hospital* h =
        agreements ? agreements->find_hospital(kakehashi::hospital_id{id}) : nullptr;
    return h ? std::string(h->name_in(lang)) : id;
  };
  const auto instant_of = [](const std::string& text) { return kakehashi::parse_instant(text); };
  const auto number = [&](long n) { return say(lang, "sim.count", {{"n", n}}); };
  std::string out = say(lang, "sim.title",
                        {{"referrals", s.referrals},
                         {"destination", name(s.destination)},
                         {"seed", std::to_string(s.seed)},
                         {"days", s.days},
                         {"start", s.start}}) +
                    "\n";
  out += say(lang, "sim.period",
             {{"from", kt::local_time(instant_of(s.period_utc[0]), "Asia/Ho_Chi_Minh", lang)},
              {"to", kt::local_time(instant_of(s.period_utc[1]), "Asia/Tokyo", lang)},
              {"from_utc", kt::local_time(instant_of(s.period_utc[0]), "UTC", lang)},
              {"to_utc", kt::local_time(instant_of(s.period_utc[1]), "UTC", lang)}}) +
         "\n\n";
  std::vector<std::vector<std::string>> states{
      {say(lang, "sim.col_state"), say(lang, "sim.col_referrals"), say(lang, "sim.col_share")}};
  for (int k = 0; k < outcome_count; ++k) {
    std::string label;
    if (k == 0) {
      label = say(lang, "sim.not_eligible");
    } else if (k < 5) {
      std::string state = outcome_names[k];
      std::replace(state.begin(), state.end(), '_', '-');
      label = say(lang, "sim.open", {{"state", code(lang, "state", state)}});
    } else {
      label = say(lang, "sim.closed", {{"reason", code(lang, "close-reason", outcome_names[k])}});
    }
    states.push_back({label, number(s.outcomes[k]), share(s.outcomes[k], s.referrals, lang)});
  }
  out += table(states) + "\n";
  std::vector<std::vector<std::string>> origins{
      {say(lang, "sim.col_origin_specialty"), say(lang, "sim.col_referrals"),
       say(lang, "sim.col_opened"), say(lang, "sim.col_transferred"),
       say(lang, "sim.col_completed")}};
  for (const auto& r : s.by_origin_specialty) {
    origins.push_back({name(r.origin) + " / " + code(lang, "specialty", r.specialty),
                       number(r.referrals), number(r.opened), number(r.transferred),
                       number(r.completed)});
  }
  out += table(origins) + "\n";
  std::vector<std::vector<std::string>> refusals{
      {say(lang, "sim.col_refusals"), say(lang, "sim.col_count"), say(lang, "sim.col_decree_13"),
       say(lang, "sim.col_law_91")}};
  for (const auto& r : s.refusals) {
    const std::string command = code(lang, "command", r.command);
    const std::string label =
        r.kind == "consent" ? say(lang, "sim.refusal_rule",
                                  {{"rule", r.rule}, {"code", r.code}, {"command", command}})
        : r.kind == "documents"
            ? say(lang, "sim.refusal_document",
                  {{"kind", code(lang, "document-kind", r.code)}, {"command", command}})
            : say(lang, "sim.refusal_eligibility",
                  {{"reason", code(lang, "eligibility-reason", r.code)}});
    refusals.push_back({label, number(r.count), number(r.decree_13), number(r.law_91)});
  }
  out += table(refusals);
  if (s.refusals.empty()) out += "  " + say(lang, "sim.refusals_none") + "\n";
  if (!s.refusals.empty()) out += "  (" + refusal_counting(s, lang) + ")\n";
  out += "\n";
  if (s.lead_median_days && s.lead_p90_days) {
    out += say(lang, "sim.lead",
               {{"median", *s.lead_median_days},
                {"p90", *s.lead_p90_days},
                {"transferred", s.transferred}});
  } else {
    out += say(lang, "sim.lead_none");
  }
  out += "\n";
  if (s.capacity.empty()) out += say(lang, "sim.capacity_never") + "\n";
  for (const auto& c : s.capacity) out += capacity_line(c, lang) + "\n";
  out += say(lang, "sim.withdrawn_after_transfer", {{"count", s.withdrawn_after_transfer}}) + "\n";
  out += say(lang, "sim.consents_replaced", {{"count", s.consents_replaced}}) + "\n";
  out += say(lang, "sim.documents",
             {{"attached", s.documents_attached},
              {"refused", s.accepts_refused_for_documents},
              {"sent", s.documents_sent_when_asked},
              {"declined", s.declined_for_documents}}) +
         "\n";
  out += milestone_line(s, lang) + "\n" + results_line(s, lang) + "\n";
  out +=
      say(lang, "sim.commands", {{"commands", s.commands}, {"refused", s.refused_commands}}) + "\n";
  out += (s.audit_intact
              ? say(lang, "sim.audit_intact", {{"rows", s.audit_rows}, {"head", s.head_hash}})
              : say(lang, "sim.audit_broken", {{"problem", s.audit_problem}})) +
         "\n";
  return out;
}

std::string to_json(const summary& s, int indent) {
  json outcomes = json::object();
  for (int k = 0; k < outcome_count; ++k) outcomes[outcome_names[k]] = s.outcomes[k];
  json funnel = json::array();
  for (int k = 0; k < stage_count; ++k) {
    funnel.push_back({{"stage", stage_names[k]}, {"count", s.funnel[k]}});
  }
  json rows = json::array();
  for (const auto& r : s.by_origin_specialty) {
    rows.push_back({{"origin", r.origin},
                    {"specialty", r.specialty},
                    {"referrals", r.referrals},
                    {"opened", r.opened},
                    {"transferred", r.transferred},
                    {"completed", r.completed}});
  }
  json refusals = json::array();
  for (const auto& r : s.refusals) {
    refusals.push_back({{"kind", r.kind},
                        {"code", r.code},
                        {"rule", r.rule},
                        {"command", r.command},
                        {"count", r.count},
                        {"decree_13", r.decree_13},
                        {"law_91", r.law_91}});
  }
  json months = json::array();
  for (const auto& m : s.months) {
    json by = json::object();
    for (int k = 0; k < outcome_count; ++k) by[outcome_names[k]] = m.by_outcome[k];
    months.push_back({{"month", m.month}, {"outcomes", by}});
  }
  json capacity = json::array();
  for (const auto& c : s.capacity) {
    capacity.push_back({{"specialty", c.specialty},
                        {"first_month", c.first_month},
                        {"months", c.months},
                        {"refused", c.refused}});
  }
  const auto optional_days = [](const std::optional<double>& d) {
    return d ? json(std::round(*d * 10) / 10) : json(nullptr);
  };
  json doc = {
      {"run",
       {{"seed", s.seed},
        {"start", s.start},
        {"days", s.days},
        {"referrals", s.referrals},
        {"destination", s.destination},
        {"durability", s.durability},
        {"period_utc", {s.period_utc[0], s.period_utc[1]}}}},
      {"referrals", s.referrals},
      {"outcomes", outcomes},
      {"funnel", funnel},
      {"by_origin_specialty", rows},
      {"refusals", refusals},
      {"months", months},
      {"lead_time_days",
       {{"transferred", s.transferred},
        {"median", optional_days(s.lead_median_days)},
        {"p90", optional_days(s.lead_p90_days)},
        {"weekly", s.lead_weeks}}},
      {"capacity", capacity},
      {"withdrawn_after_transfer", s.withdrawn_after_transfer},
      {"consents_replaced", s.consents_replaced},
      {"documents",
       {{"attached", s.documents_attached},
        {"accepts_refused", s.accepts_refused_for_documents},
        {"sent_when_asked", s.documents_sent_when_asked},
        {"declined", s.declined_for_documents}}},
      {"milestones",
       {{"recorded", s.milestones_recorded},
        {"journeys_delayed", s.journeys_delayed_for_milestones},
        {"cancelled", s.cancelled_for_milestones}}},
      {"results",
       {{"returned", s.results_returned}, {"completed_with_results", s.completed_with_results}}},
      {"commands", {{"total", s.commands}, {"refused", s.refused_commands}}},
      {"audit",
       {{"intact", s.audit_intact},
        {"rows", s.audit_rows},
        {"head_hash", s.head_hash},
        {"problem", s.audit_problem}}}};
  return doc.dump(indent) + "\n";
}

std::string to_html(const summary& s, const scenario& sc) {
  std::string out =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
      "<meta charset=\"utf-8\"/>\n<title>kakehashi referral simulation</title>\n<style>\n"
      "body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 980px; "
      "color: #222; }\n"
      "h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }\n"
      "table { border-collapse: collapse; margin: 0.5em 0; }\n"
      "td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }\n"
      "td.n { text-align: right; font-variant-numeric: tabular-nums; }\n"
      "figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }\n"
      "svg text { font-family: system-ui, sans-serif; font-size: 13px; fill: #222; }\n"
      ".ok { color: #31a354; font-weight: bold; } .bad { color: #d62728; font-weight: bold; }\n"
      "</style>\n</head>\n<body>\n";
  out += "<h1>kakehashi referral simulation</h1>\n";
  out += fmt::format(
      "<p>{} referrals to <b>{}</b> over {} days from {} (seed {}, durability {}). Period: {} in "
      "Vietnam to {} in Japan ({} to {} UTC).</p>\n",
      s.referrals, esc(s.destination), s.days, esc(s.start), s.seed, esc(s.durability),
      esc(s.period_local[0]), esc(s.period_local[1]), esc(s.period_utc[0]),
      esc(s.period_utc[1]));
  if (!sc.description.empty()) out += "<p>" + esc(sc.description) + "</p>\n";
  out += fmt::format("<p>Audit log: <span class=\"{}\">{}</span></p>\n",
                     s.audit_intact ? "ok" : "bad", esc(audit_state(s)));

  out += "<h2>Funnel</h2>\n" +
         figure("funnel",
                "How far the referrals got: proposed (referred), opened (eligible), consent "
                "recorded, accepted, transferred (arrived), completed.",
                funnel_chart(s));
  out += "<h2>Referrals per month</h2>\n" +
         figure("per-month",
                "Referrals by the month they were proposed (Vietnam time), coloured by where "
                "they ended.",
                months_chart(s));
  out += "<h2>Lead time</h2>\n" +
         figure("lead-time",
                fmt::format("Days from proposal to the patient's arrival: median {}, 90th "
                            "percentile {} ({} transferred).",
                            days_text(s.lead_median_days), days_text(s.lead_p90_days),
                            s.transferred),
                lead_chart(s));
  out += "<h2>Refusals</h2>\n" +
         figure("refusals",
                "Commands the engine refused, by reason: eligibility under the MoUs, the "
                "consent rule that blocked, and the documents the agreement requires that were "
                "missing at acceptance, split by the Vietnamese regime in force; " +
                    refusal_counting(s, "en") + ".",
                refusals_chart(s));

  out += "<h2>Final states</h2>\n<table>\n<tr><th>state</th><th>referrals</th><th>share</th>"
         "</tr>\n";
  for (int k = 0; k < outcome_count; ++k) {
    out += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                       outcome_names[k], s.outcomes[k], percent(s.outcomes[k], s.referrals));
  }
  out += "</table>\n<h2>By origin and specialty</h2>\n<table>\n<tr><th>origin</th>"
         "<th>specialty</th><th>referrals</th><th>opened</th><th>transferred</th>"
         "<th>completed</th></tr>\n";
  for (const auto& r : s.by_origin_specialty) {
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
        esc(r.origin), esc(r.specialty), r.referrals, r.opened, r.transferred, r.completed);
  }
  out += "</table>\n<h2>Capacity</h2>\n<ul>\n";
  for (const auto& c : s.capacity) out += "<li>" + esc(capacity_line(c, "en")) + "</li>\n";
  if (s.capacity.empty()) out += "<li>No specialty reached its monthly capacity.</li>\n";
  out += "</ul>\n<h2>Documents, milestones and results</h2>\n";
  out += fmt::format(
      "<p>{} documents attached (by reference); {} acceptances refused for missing documents, "
      "{} sent when asked, {} declined for insufficient information.</p>\n<p>{}.</p>\n",
      s.documents_attached, s.accepts_refused_for_documents, s.documents_sent_when_asked,
      s.declined_for_documents, esc(milestone_line(s, "en")));
  out += fmt::format("<p>{}.</p>\n", esc(results_line(s, "en")));
  if (!s.example.empty()) {
    out += "<h2>One referral, step by step</h2>\n<p>Times in the acting hospital's own zone "
           "(Vietnam UTC+7, Japan UTC+9), and in UTC as the audit log stores them.</p>\n"
           "<table>\n<tr><th>step</th><th>local time</th><th>UTC</th><th>by</th>"
           "<th>state after</th></tr>\n";
    for (const auto& e : s.example) {
      out += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>\n", esc(e.command),
          esc(e.local), esc(e.utc), esc(e.organisation), esc(e.role), esc(e.state_after));
    }
    out += "</table>\n";
  }
  out += fmt::format("<p>Commands given to the engine: {} ({} refused by a rule).</p>\n",
                     s.commands, s.refused_commands);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace simulator
