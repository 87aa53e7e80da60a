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

// The summary's sentences, in `lang` (data/messages' sim.* patterns, through ICU).
std::string say(const std::string& lang, std::string_view id,
                const std::vector<kakehashi::text::argument>& args = {}) {
  return kakehashi::text::format(lang, id, args);
}

std::string code(const std::string& lang, std::string_view kind, std::string_view value) {
  return kakehashi::vocabulary::display(kind, value, lang).value_or(std::string(value));
}

// A table for a terminal (text::table): rows[0] is the heading, the other rows are indented by
// two; the first column is aligned left, the others right.
std::string table(std::vector<std::vector<std::string>> rows) {
  for (std::size_t r = 1; r < rows.size(); ++r) rows[r][0] = "  " + rows[r][0];
  std::vector<std::size_t> right;
  for (std::size_t c = 1; c < rows.front().size(); ++c) right.push_back(c);
  return kakehashi::text::table(rows, right);
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

// What a label takes on a chart: 0.65 em per terminal column (a wide CJK character counts two,
// more than its one em), the measure the report's test holds every label to.
double extent(const std::string& text, double size) {
  return 0.65 * size * num(kakehashi::text::width(text));
}

std::string hospital_name(const std::string& id, const std::string& lang,
                          const kakehashi::agreement_directory* agreements) {
  const kakehashi::hospital* h =
      agreements ? agreements->find_hospital(kakehashi::hospital_id{id}) : nullptr;
  return h ? std::string(h->name_in(lang)) : id;
}

// An outcome as a person reads it: "not eligible (refused proposal)", "open: Accepted",
// "closed: Declined", in `lang`.
std::string outcome_label(int k, const std::string& lang) {
  if (k == 0) return say(lang, "sim.not_eligible");
  if (k < 5) {
    std::string state = outcome_names[k];
    std::replace(state.begin(), state.end(), '_', '-');
    return say(lang, "sim.open", {{"state", code(lang, "state", state)}});
  }
  return say(lang, "sim.closed", {{"reason", code(lang, "close-reason", outcome_names[k])}});
}

std::string refusal_label(const refusal_row& r, const std::string& lang) {
  const std::string command = code(lang, "command", r.command);
  if (r.kind == "consent") {
    return say(lang, "sim.refusal_rule",
               {{"rule", r.rule}, {"code", r.code}, {"command", command}});
  }
  if (r.kind == "documents") {
    return say(lang, "sim.refusal_document",
               {{"kind", code(lang, "document-kind", r.code)}, {"command", command}});
  }
  return say(lang, "sim.refusal_eligibility",
             {{"reason", code(lang, "eligibility-reason", r.code)}});
}

// The summary's sentences shared by the text and the HTML report.
std::string title_line(const summary& s, const std::string& lang,
                       const kakehashi::agreement_directory* agreements) {
  return say(lang, "sim.title",
             {{"referrals", s.referrals},
              {"destination", hospital_name(s.destination, lang, agreements)},
              {"seed", std::to_string(s.seed)},
              {"days", s.days},
              {"start", s.start}});
}

// The period from its first day in Vietnam to its end in Japan, UTC beside.
std::string period_line(const summary& s, const std::string& lang) {
  namespace kt = kakehashi::text;
  const auto from = kakehashi::parse_instant(s.period_utc[0]);
  const auto to = kakehashi::parse_instant(s.period_utc[1]);
  return say(lang, "sim.period",
             {{"from", kt::local_time(from, "Asia/Ho_Chi_Minh", lang)},
              {"to", kt::local_time(to, "Asia/Tokyo", lang)},
              {"from_utc", kt::local_time(from, "UTC", lang)},
              {"to_utc", kt::local_time(to, "UTC", lang)}});
}

std::string lead_line(const summary& s, const std::string& lang) {
  if (!s.lead_median_days || !s.lead_p90_days) return say(lang, "sim.lead_none");
  return say(
      lang, "sim.lead",
      {{"median", *s.lead_median_days}, {"p90", *s.lead_p90_days}, {"transferred", s.transferred}});
}

std::string documents_line(const summary& s, const std::string& lang) {
  return say(lang, "sim.documents",
             {{"attached", s.documents_attached},
              {"refused", s.accepts_refused_for_documents},
              {"sent", s.documents_sent_when_asked},
              {"declined", s.declined_for_documents}});
}

std::string audit_line(const summary& s, const std::string& lang) {
  return s.audit_intact
             ? say(lang, "sim.audit_intact", {{"rows", s.audit_rows}, {"head", s.head_hash}})
             : say(lang, "sim.audit_broken", {{"problem", s.audit_problem}});
}

std::string commands_line(const summary& s, const std::string& lang) {
  return say(lang, "sim.commands", {{"commands", s.commands}, {"refused", s.refused_commands}});
}

std::string funnel_chart(const summary& s, const std::string& lang) {
  std::vector<std::string> labels;
  double widest = 0;
  for (int i = 0; i < stage_count; ++i) {
    labels.push_back(say(lang, std::string("rpt.stage_") + stage_names[i]));
    widest = std::max(widest, extent(labels.back(), 13));
  }
  const int row = 34, right = 130;
  const int left = static_cast<int>(widest) + 16;
  const int w = std::max(720, left + 400 + right);
  std::string out = svg_open("funnel", w, row * stage_count + 10, say(lang, "rpt.funnel_title"));
  const double top = num(std::max<long>(1, s.funnel[0]));
  for (int i = 0; i < stage_count; ++i) {
    const double y = 5 + i * row;
    const double bar = (w - left - right) * static_cast<double>(s.funnel[i]) / top;
    const std::string& label = labels[static_cast<std::size_t>(i)];
    out += text_at(left - 8, y + 20, label, "end");
    out += rect(left, y + 4, bar, row - 10, "#3182bd", fmt::format("{}: {}", label, s.funnel[i]));
    out += text_at(left + bar + 6, y + 20,
                   fmt::format("{} ({})", s.funnel[i], share(s.funnel[i], s.funnel[0], lang)));
  }
  return out + "</svg>\n";
}

std::string months_chart(const summary& s, const std::string& lang) {
  // The legend is as wide as its longest label after its swatch.
  double widest = 0;
  for (int k = 0; k < outcome_count; ++k)
    widest = std::max(widest, extent(outcome_label(k, lang), 12));
  const int w = 760, h = 300, left = 40, bottom = 40, top_pad = 10;
  const int legend = static_cast<int>(widest) + 40;
  std::string out = svg_open("per-month", w + legend, h, say(lang, "rpt.months_title"));
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
    // The month's middle in Vietnam, where the referrals are proposed.
    const auto mid = kakehashi::parse_instant(m.month + "-15T12:00:00+07:00");
    const std::string month = kakehashi::text::local_date(mid, "Asia/Ho_Chi_Minh", lang, "yMMM");
    double y = h - bottom;
    const double x = left + num(i) * slot + slot * 0.15;
    for (int k = 0; k < outcome_count; ++k) {
      if (m.by_outcome[k] == 0) continue;
      const double bar = plot_h * num(m.by_outcome[k]) / num(most);
      y -= bar;
      out += rect(
          x, y, slot * 0.7, bar, outcome_colours[k],
          say(lang, "rpt.month_bar",
              {{"month", month}, {"outcome", outcome_label(k, lang)}, {"count", m.by_outcome[k]}}));
    }
    out += text_at(x + slot * 0.35, h - bottom + 16,
                   kakehashi::text::local_date(mid, "Asia/Ho_Chi_Minh", lang, "MMM"), "middle",
                   " font-size=\"10\"");
    if (i == 0 || m.month.substr(5) == "01") {
      out += text_at(x + slot * 0.35, h - bottom + 30,
                     kakehashi::text::local_date(mid, "Asia/Ho_Chi_Minh", lang, "y"), "middle",
                     " font-size=\"10\"");
    }
  }
  for (int k = 0; k < outcome_count; ++k) {
    const double y = top_pad + k * 20;
    const std::string label = outcome_label(k, lang);
    out += rect(w + 10, y, 12, 12, outcome_colours[k], label);
    out += text_at(w + 28, y + 11, label, "start", " font-size=\"12\"");
  }
  return out + "</svg>\n";
}

std::string lead_chart(const summary& s, const std::string& lang) {
  const int w = 760, h = 260, left = 40, bottom = 40, top_pad = 20;
  std::string out = svg_open("lead-time", w, h, say(lang, "rpt.lead_title"));
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
                say(lang, "rpt.lead_bin",
                    {{"from", std::to_string(i * 7)},
                     {"to", std::to_string(i * 7 + 6)},
                     {"count", s.lead_weeks[i]}}));
    if (i % 2 == 0) {
      out += text_at(left + num(i) * slot, h - bottom + 16, std::to_string(i * 7), "start",
                     " font-size=\"10\"");
    }
  }
  const auto marker = [&](const std::optional<double>& d, const char* message, const char* colour,
                          double row) {
    if (!d) return;
    const double x = left + (*d / 7.0) * slot;
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"{}\" "
        "stroke-dasharray=\"5,3\" stroke-width=\"2\"/>\n",
        x, top_pad, x, h - bottom, colour);
    // Right of its line, or left of it where the chart would cut it off.
    const std::string label = say(lang, message, {{"days", *d}});
    const bool fits_right = x + 4 + extent(label, 12) <= w;
    out += text_at(fits_right ? x + 4 : x - 4, row, label, fits_right ? "start" : "end",
                   " font-size=\"12\"");
  };
  marker(s.lead_median_days, "rpt.median", "#e6550d", top_pad + 6);
  marker(s.lead_p90_days, "rpt.p90", "#756bb1", top_pad - 6);
  out += text_at(w / 2.0, h - 6, say(lang, "rpt.lead_axis"), "middle", " font-size=\"12\"");
  return out + "</svg>\n";
}

std::string refusals_chart(const summary& s, const std::string& lang) {
  std::vector<std::string> labels;
  double widest = 0;
  for (const auto& r : s.refusals) {
    labels.push_back(refusal_label(r, lang));
    widest = std::max(widest, extent(labels.back(), 12));
  }
  const std::string decree = say(lang, "rpt.legend_decree_13");
  const std::string law = say(lang, "rpt.legend_law_91");
  const int row = 26;
  const int left = std::max(120, static_cast<int>(widest) + 16);
  const int legend =
      36 + static_cast<int>(extent(decree, 12)) + 40 + static_cast<int>(extent(law, 12)) + 20;
  const int w = std::max({left + 380, legend, 600});
  const int h = std::max<int>(1, static_cast<int>(s.refusals.size())) * row + 40;
  std::string out = svg_open("refusals", w, h, say(lang, "rpt.refusals_title"));
  long most = 1;
  for (const auto& r : s.refusals) most = std::max(most, r.count);
  const double scale = (w - left - 60) / static_cast<double>(most);
  for (std::size_t i = 0; i < s.refusals.size(); ++i) {
    const auto& r = s.refusals[i];
    const double y = 5 + num(i * row);
    out += text_at(left - 8, y + 16, labels[i], "end", " font-size=\"12\"");
    out += rect(left, y + 3, scale * num(r.decree_13), row - 8, "#fdae6b",
                say(lang, "rpt.under_decree_13", {{"label", labels[i]}, {"count", r.decree_13}}));
    out += rect(left + scale * num(r.decree_13), y + 3, scale * num(r.law_91), row - 8, "#e6550d",
                say(lang, "rpt.under_law_91", {{"label", labels[i]}, {"count", r.law_91}}));
    out += text_at(left + scale * num(r.count) + 6, y + 16, std::to_string(r.count), "start",
                   " font-size=\"12\"");
  }
  if (s.refusals.empty()) out += text_at(20, 20, say(lang, "rpt.no_refusals"));
  // The legend starts at the left edge, where the labels are: it fits whatever the bars' scale.
  const double y = h - 18;
  const double second = 36 + extent(decree, 12) + 40;
  out += rect(20, y, 12, 12, "#fdae6b", decree);
  out += text_at(36, y + 11, decree, "start", " font-size=\"12\"");
  out += rect(second - 16, y, 12, 12, "#e6550d", law);
  out += text_at(second, y + 11, law, "start", " font-size=\"12\"");
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
  const auto number = [&](long n) { return say(lang, "sim.count", {{"n", n}}); };
  std::string out = title_line(s, lang, agreements) + "\n" + period_line(s, lang) + "\n\n";
  std::vector<std::vector<std::string>> states{
      {say(lang, "sim.col_state"), say(lang, "sim.col_referrals"), say(lang, "sim.col_share")}};
  for (int k = 0; k < outcome_count; ++k) {
    states.push_back(
        {outcome_label(k, lang), number(s.outcomes[k]), share(s.outcomes[k], s.referrals, lang)});
  }
  out += table(states) + "\n";
  std::vector<std::vector<std::string>> origins{
      {say(lang, "sim.col_origin_specialty"), say(lang, "sim.col_referrals"),
       say(lang, "sim.col_opened"), say(lang, "sim.col_transferred"),
       say(lang, "sim.col_completed")}};
  for (const auto& r : s.by_origin_specialty) {
    origins.push_back(
        {hospital_name(r.origin, lang, agreements) + " / " + code(lang, "specialty", r.specialty),
         number(r.referrals), number(r.opened), number(r.transferred), number(r.completed)});
  }
  out += table(origins) + "\n";
  std::vector<std::vector<std::string>> refusals{
      {say(lang, "sim.col_refusals"), say(lang, "sim.col_count"), say(lang, "sim.col_decree_13"),
       say(lang, "sim.col_law_91")}};
  for (const auto& r : s.refusals) {
    refusals.push_back(
        {refusal_label(r, lang), number(r.count), number(r.decree_13), number(r.law_91)});
  }
  out += table(refusals);
  if (s.refusals.empty()) out += "  " + say(lang, "sim.refusals_none") + "\n";
  if (!s.refusals.empty()) out += "  (" + refusal_counting(s, lang) + ")\n";
  out += "\n" + lead_line(s, lang) + "\n";
  if (s.capacity.empty()) out += say(lang, "sim.capacity_never") + "\n";
  for (const auto& c : s.capacity) out += capacity_line(c, lang) + "\n";
  out += say(lang, "sim.withdrawn_after_transfer", {{"count", s.withdrawn_after_transfer}}) + "\n";
  out += say(lang, "sim.consents_replaced", {{"count", s.consents_replaced}}) + "\n";
  out += documents_line(s, lang) + "\n";
  out += milestone_line(s, lang) + "\n" + results_line(s, lang) + "\n";
  out += commands_line(s, lang) + "\n";
  out += audit_line(s, lang) + "\n";
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

std::string to_html(const summary& s, const scenario& sc, const std::string& lang,
                    const kakehashi::agreement_directory* agreements) {
  namespace kt = kakehashi::text;
  const auto p = [](const std::string& text) { return "<p>" + esc(text) + "</p>\n"; };
  const auto th = [&](std::initializer_list<std::string> heads) {
    std::string row = "<tr>";
    for (const auto& h : heads) row += "<th>" + esc(h) + "</th>";
    return row + "</tr>\n";
  };
  const auto td = [](const std::string& text, bool number = false) {
    return std::string(number ? "<td class=\"n\">" : "<td>") + esc(text) + "</td>";
  };
  const auto count = [&](long n) { return say(lang, "sim.count", {{"n", n}}); };
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"{}\">\n<head>\n"
      "<meta charset=\"utf-8\"/>\n<title>{}</title>\n<style>\n"
      "body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 980px; "
      "color: #222; }}\n"
      "h1 {{ font-size: 1.6em; }} h2 {{ margin-top: 1.6em; border-bottom: 1px solid #ddd; }}\n"
      "table {{ border-collapse: collapse; margin: 0.5em 0; }}\n"
      "td, th {{ padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }}\n"
      "td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}\n"
      "figure {{ margin: 1em 0; }} figcaption {{ color: #555; font-size: 0.9em; }}\n"
      "svg text {{ font-family: system-ui, sans-serif; font-size: 13px; fill: #222; }}\n"
      ".ok {{ color: #31a354; font-weight: bold; }} .bad {{ color: #d62728; font-weight: bold; }}\n"
      "</style>\n</head>\n<body>\n",
      esc(lang), esc(say(lang, "rpt.title")));
  out += "<h1>" + esc(say(lang, "rpt.title")) + "</h1>\n";
  const auto instant_of = [](const std::string& text) { return kakehashi::parse_instant(text); };
  out += p(title_line(s, lang, agreements)) + p(period_line(s, lang));
  if (!sc.description.empty()) out += p(sc.description);
  out += fmt::format("<p><span class=\"{}\">{}</span></p>\n", s.audit_intact ? "ok" : "bad",
                     esc(audit_line(s, lang)));

  out += "<h2>" + esc(say(lang, "rpt.h_funnel")) + "</h2>\n" +
         figure("funnel", say(lang, "rpt.funnel_caption"), funnel_chart(s, lang));
  out += "<h2>" + esc(say(lang, "rpt.h_months")) + "</h2>\n" +
         figure("per-month", say(lang, "rpt.months_caption"), months_chart(s, lang));
  out += "<h2>" + esc(say(lang, "rpt.h_lead")) + "</h2>\n" +
         figure("lead-time", lead_line(s, lang), lead_chart(s, lang));
  out += "<h2>" + esc(say(lang, "rpt.h_refusals")) + "</h2>\n" +
         figure("refusals",
                say(lang, "rpt.refusals_caption", {{"counting", refusal_counting(s, lang)}}),
                refusals_chart(s, lang));

  out +=
      "<h2>" + esc(say(lang, "rpt.h_states")) + "</h2>\n<table>\n" +
      th({say(lang, "sim.col_state"), say(lang, "sim.col_referrals"), say(lang, "sim.col_share")});
  for (int k = 0; k < outcome_count; ++k) {
    out += "<tr>" + td(outcome_label(k, lang)) + td(count(s.outcomes[k]), true) +
           td(share(s.outcomes[k], s.referrals, lang), true) + "</tr>\n";
  }
  out += "</table>\n<h2>" + esc(say(lang, "rpt.h_origins")) + "</h2>\n<table>\n" +
         th({say(lang, "rpt.col_origin"), say(lang, "rpt.col_specialty"),
             say(lang, "sim.col_referrals"), say(lang, "sim.col_opened"),
             say(lang, "sim.col_transferred"), say(lang, "sim.col_completed")});
  for (const auto& r : s.by_origin_specialty) {
    out += "<tr>" + td(hospital_name(r.origin, lang, agreements)) +
           td(code(lang, "specialty", r.specialty)) + td(count(r.referrals), true) +
           td(count(r.opened), true) + td(count(r.transferred), true) +
           td(count(r.completed), true) + "</tr>\n";
  }
  out += "</table>\n<h2>" + esc(say(lang, "rpt.h_capacity")) + "</h2>\n<ul>\n";
  for (const auto& c : s.capacity) out += "<li>" + esc(capacity_line(c, lang)) + "</li>\n";
  if (s.capacity.empty()) out += "<li>" + esc(say(lang, "sim.capacity_never")) + "</li>\n";
  out += "</ul>\n<h2>" + esc(say(lang, "rpt.h_documents")) + "</h2>\n";
  out += p(documents_line(s, lang));
  out += p(milestone_line(s, lang)) + p(results_line(s, lang));
  if (!s.example.empty()) {
    out += "<h2>" + esc(say(lang, "rpt.h_example")) + "</h2>\n" +
           p(say(lang, "rpt.example_intro")) + "<table>\n" +
           th({say(lang, "rpt.col_step"), say(lang, "rpt.col_local"), "UTC",
               say(lang, "rpt.col_by"), say(lang, "rpt.col_state_after")});
    for (const auto& e : s.example) {
      const auto at = instant_of(e.utc);
      const kakehashi::hospital* h =
          agreements ? agreements->find_hospital(kakehashi::hospital_id{e.organisation}) : nullptr;
      out += "<tr>" + td(code(lang, "command", e.command)) +
             td(h ? kt::local_time(at, h->time_zone, lang) : e.local) +
             td(kt::local_time(at, "UTC", lang)) +
             td(say(lang, "rpt.actor",
                    {{"hospital", hospital_name(e.organisation, lang, agreements)},
                     {"role", code(lang, "role", e.role)}})) +
             td(kt::state(e.state_after, lang)) + "</tr>\n";
    }
    out += "</table>\n";
  }
  out += p(commands_line(s, lang));
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace simulator
