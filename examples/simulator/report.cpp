#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

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
              {"completed", s.outcomes[5]},
              {"renewed", s.consents_renewed_for_return}});
}

// The withdrawals' duties (VN-15): created, done in time, reported overdue, still open.
std::string duties_line(const summary& s, const std::string& lang) {
  return say(lang, "sim.duties",
             {{"created", s.duties_created},
              {"acknowledged", s.duties_acknowledged_in_time},
              {"completed", s.duties_completed_in_time},
              {"late", s.duties_completed_late},
              {"overdue", s.duties_reported_overdue},
              {"open", s.duties_open}});
}

// The emergency reviews (VN-17, JP-10): opened, reviewed in time or late, found not justified,
// still open.
std::string reviews_line(const summary& s, const std::string& lang) {
  return say(lang, "sim.reviews",
             {{"opened", s.reviews_opened},
              {"in_time", s.reviews_in_time},
              {"late", s.reviews_late},
              {"not_justified", s.reviews_not_justified},
              {"open", s.reviews_open}});
}

// The phases' table (summary::phases): each phase named by the states it goes between, as the
// language names them; its referrals, median and 90th percentile in days. rows[0] is the heading.
std::vector<std::vector<std::string>> phase_rows(const summary& s, const std::string& lang) {
  namespace kt = kakehashi::text;
  const auto between = [&](std::string_view from, const std::string& to) {
    return say(lang, "sim.phase", {{"from", kt::state(from, lang)}, {"to", to}});
  };
  std::vector<std::vector<std::string>> rows{
      {say(lang, "sim.col_phase"), say(lang, "sim.col_referrals"), say(lang, "sim.col_median_days"),
       say(lang, "sim.col_p90_days")}};
  const auto days = [&](const std::optional<double>& d) {
    return d ? say(lang, "sim.days", {{"days", *d}}) : std::string("-");
  };
  for (const auto& p : s.phases) {
    std::string name;
    if (p.phase == "consent") name = between("proposed", kt::state("consent_recorded", lang));
    if (p.phase == "accept") name = between("consent_recorded", kt::state("accepted", lang));
    if (p.phase == "transfer") name = between("accepted", kt::state("transferred", lang));
    if (p.phase == "results") name = between("transferred", say(lang, "sim.results_returned"));
    rows.push_back({name, say(lang, "sim.count", {{"n", p.referrals}}), days(p.median_days),
                    days(p.p90_days)});
  }
  return rows;
}

std::string capacity_line(const capacity_row& c, const std::string& lang) {
  // The month in the destination's zone (Japan), named as the language names it.
  const auto mid = kakehashi::parse_instant(c.first_month + "-15T12:00:00+09:00");
  return say(lang, "sim.capacity",
             {{"specialty", code(lang, "specialty", c.specialty)},
              {"month", kakehashi::text::local_date(mid, "Asia/Tokyo", lang, "yMMMM")},
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
               {{"rule", r.rule},
                {"finding", code(lang, "consent-finding", r.code)},
                {"command", command}});
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
  return say(
      lang, "sim.title",
      {{"referrals", s.referrals},
       {"destination", hospital_name(s.destination, lang, agreements)},
       {"seed", std::to_string(s.seed)},
       {"days", s.days},
       {"start", kakehashi::text::local_date(kakehashi::parse_instant(s.start + "T12:00:00+07:00"),
                                             "Asia/Ho_Chi_Minh", lang, "yMMMd")}});
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

// ---- drawing -------------------------------------------------------------------------------
// Each chart is drawn twice: wide for a desktop (900 units, shown at up to 900 CSS pixels) and
// narrow for a phone (340 units, shown below 600 pixels), each scaling with its container. The
// narrow layout puts labels above their bars and legends below their plots.

struct layout {
  const char* name;  // the svg's class: "wide" or "narrow"
  double width;      // its viewBox width
  bool narrow;
};
constexpr layout layouts[] = {{"wide", 900, false}, {"narrow", 340, true}};

// A fill: a colour, or the colour with diagonal stripes (a pattern defined once by defs()).
// Paul Tol's "muted" scheme, chosen to stay apart for colour-blind readers; the referrals still
// open are striped and the closed ones solid, so they differ by more than hue.
struct swatch {
  const char* id;
  const char* colour;
  const char* stripe;  // nullptr: solid
};
constexpr swatch outcome_swatches[outcome_count] = {
    {"fill-not-eligible", "#dddddd", nullptr},       {"fill-proposed", "#88ccee", "#1a1a1a"},
    {"fill-consent-recorded", "#ddcc77", "#1a1a1a"}, {"fill-accepted", "#44aa99", "#ffffff"},
    {"fill-transferred", "#332288", "#ffffff"},      {"fill-completed", "#117733", nullptr},
    {"fill-declined", "#cc6677", nullptr},           {"fill-cancelled", "#999933", nullptr},
    {"fill-consent-withdrawn", "#aa4499", nullptr},  {"fill-expired", "#882255", nullptr}};
constexpr swatch decree_13_swatch{"fill-decree-13", "#ddcc77", nullptr};
constexpr swatch law_91_swatch{"fill-law-91", "#882255", "#ffffff"};
constexpr swatch bar_swatch{"fill-bar", "#4477aa", nullptr};
constexpr const char* median_colour = "#cc6677";
constexpr const char* p90_colour = "#332288";

std::string fill_of(const swatch& s) {
  return s.stripe ? fmt::format("url(#{})", s.id) : std::string(s.colour);
}

// The stripes' patterns, in an svg of no size that is never hidden (a pattern inside an svg
// with display: none does not paint), shared by every chart of every language.
std::string defs() {
  std::string out =
      "<svg class=\"defs\" xmlns=\"http://www.w3.org/2000/svg\" width=\"0\" height=\"0\" "
      "aria-hidden=\"true\" focusable=\"false\"><defs>\n";
  std::vector<swatch> striped;
  for (const auto& s : outcome_swatches) striped.push_back(s);
  striped.push_back(law_91_swatch);
  for (const auto& s : striped) {
    if (!s.stripe) continue;
    out += fmt::format(
        "<pattern id=\"{}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
        "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"{}\"/>"
        "<rect width=\"2\" height=\"6\" fill=\"{}\" fill-opacity=\"0.5\"/></pattern>\n",
        s.id, s.colour, s.stripe);
  }
  return out + "</defs></svg>\n";
}

std::string svg_open(const std::string& id, const layout& l, double height,
                     const std::string& title) {
  return fmt::format(
      "<svg id=\"{}\" class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" "
      "height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" font-size=\"13\" role=\"img\">"
      "<title>{}</title>\n",
      id, l.name, l.width, std::ceil(height), l.width, std::ceil(height), esc(title));
}

std::string text_at(double x, double y, const std::string& text, const char* anchor = "start",
                    double size = 13) {
  return fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\" font-size=\"{:g}\">{}</text>\n", x, y,
      anchor, size, esc(text));
}

std::string rect(double x, double y, double w, double h, const std::string& fill,
                 const std::string& tip) {
  return fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">"
      "<title>{}</title></rect>\n",
      x, y, std::max(w, 0.0), std::max(h, 0.0), fill, esc(tip));
}

std::string line(double x1, double y1, double x2, double y2, const char* colour,
                 const char* extra = "") {
  return fmt::format(
      "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"{}/>\n", x1, y1,
      x2, y2, colour, extra);
}

// What a label takes on a chart: 0.65 em per terminal column (a wide CJK character counts two,
// more than its one em), the measure the report's test holds every label to.
double extent(const std::string& text, double size) {
  return 0.65 * size * num(kakehashi::text::width(text));
}

std::size_t utf8_length(char lead) {
  const auto c = static_cast<unsigned char>(lead);
  return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

std::string trimmed(std::string text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.substr(std::min(text.find_first_not_of(' '), text.size()));
}

// `text` in lines no wider than `most` (by extent()): broken after a space, '_', '/' or '-',
// around a wide (CJK) character unless it closes a phrase, and within a word only where the
// word alone is too wide. A code or a name of any length stays inside its chart.
std::vector<std::string> wrap(const std::string& text, double most, double size) {
  static const std::set<std::string> closing{"）", "、", "。", "」", "・", "："};
  std::vector<std::string> pieces;  // each ends where a line may break
  std::string piece;
  for (std::size_t i = 0; i < text.size();) {
    const std::string cp = text.substr(i, utf8_length(text[i]));
    i += cp.size();
    const bool wide = kakehashi::text::width(cp) == 2;
    if (wide && !closing.count(cp) && !piece.empty()) pieces.push_back(std::exchange(piece, ""));
    piece += cp;
    if (cp == " " || cp == "_" || cp == "/" || cp == "-")
      pieces.push_back(std::exchange(piece, ""));
  }
  if (!piece.empty()) pieces.push_back(piece);
  std::vector<std::string> lines;
  std::string current;
  for (const auto& p : pieces) {
    if (current.empty() || extent(trimmed(current + p), size) <= most) {
      current += p;
    } else {
      lines.push_back(trimmed(current));
      current = p.substr(std::min(p.find_first_not_of(' '), p.size()));
    }
    // A piece too wide by itself: as many characters a line as fit.
    while (extent(trimmed(current), size) > most) {
      std::size_t cut = 0, next = 0;
      while (next < current.size() && extent(current.substr(0, next), size) <= most) {
        cut = next;
        next += utf8_length(current[next]);
      }
      if (extent(current.substr(0, next), size) <= most) cut = next;
      cut = std::max(cut, utf8_length(current[0]));
      lines.push_back(trimmed(current.substr(0, cut)));
      current = current.substr(cut);
    }
  }
  if (!trimmed(current).empty() || lines.empty()) lines.push_back(trimmed(current));
  return lines;
}

double widest(const std::vector<std::string>& lines, double size) {
  double w = 0;
  for (const auto& l : lines) w = std::max(w, extent(l, size));
  return w;
}

// Lines of text, the first with its baseline at `y`.
std::string text_lines(double x, double y, const std::vector<std::string>& lines,
                       const char* anchor, double size) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += text_at(x, y + num(i) * size * 1.3, lines[i], anchor, size);
  }
  return out;
}

// A round step for an axis from 0 to `most` with at most about `ticks` ticks: 1, 2 or 5 times
// a power of ten, never below 1 (the charts count referrals).
long tick_step(long most, int ticks) {
  const double raw = std::max(1.0, num(most) / ticks);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * magnitude >= raw) return std::max(1L, std::lround(m * magnitude));
  }
  return std::max(1L, std::lround(10 * magnitude));
}

// The top of a count axis reaching `most`: the first tick at or above it.
long axis_top(long most) {
  const long step = tick_step(most, 5);
  return std::max(step, (most + step - 1) / step * step);
}

// A vertical count axis at `left`, from `base` (0) up `height` units to the step above `most`,
// with a light grid line across to `right` at each tick and its title above. Returns the axis'
// top value.
long y_axis(std::string& out, double left, double right, double base, double height, long most,
            const std::string& title, const std::string& lang) {
  const long step = tick_step(most, 5);
  const long top = axis_top(most);
  for (long v = 0; v <= top; v += step) {
    const double y = base - height * num(v) / num(top);
    out += line(left, y, right, y, v == 0 ? "#444444" : "#dddddd");
    out += text_at(left - 5, y + 4, say(lang, "sim.count", {{"n", v}}), "end", 11);
  }
  out += line(left, base - height, left, base, "#444444");
  out += text_at(2, base - height - 10, title, "start", 12);
  return top;
}

// The widest count label y_axis() writes, to leave room for it.
double axis_labels(long most, const std::string& lang) {
  return extent(say(lang, "sim.count", {{"n", axis_top(most)}}), 11) + 9;
}

struct legend_item {
  std::string fill;  // a colour or a pattern
  std::string label;
  const char* dash = nullptr;  // a line of this dash pattern instead of a square
};

// Swatches and their labels flowed into rows `width` wide from (x, y), each label wrapped to the
// width; returns the height taken.
double legend(std::string& out, const std::vector<legend_item>& items, double x, double y,
              double width) {
  constexpr double size = 12, swatch_size = 12, gap = 18;
  double cx = x, cy = y, row = 0;
  for (const auto& item : items) {
    const auto lines = wrap(item.label, width - swatch_size - 6, size);
    const double w = swatch_size + 6 + widest(lines, size);
    const double h = num(lines.size()) * size * 1.3 + 6;
    if (cx > x && cx + w > x + width) {
      cx = x;
      cy += row;
      row = 0;
    }
    if (item.dash) {
      out += line(cx, cy + 6, cx + swatch_size, cy + 6, item.fill.c_str(),
                  fmt::format(" stroke-width=\"2\" stroke-dasharray=\"{}\"", item.dash).c_str());
    } else {
      out += rect(cx, cy, swatch_size, swatch_size, item.fill, item.label);
    }
    out += text_lines(cx + swatch_size + 6, cy + 11, lines, "start", size);
    cx += w + gap;
    row = std::max(row, h);
  }
  return cy + row - y;
}

// One bar of a horizontal bar chart: its label, its parts (value, fill, tip) and the text after
// it.
struct bar_part {
  long value;
  std::string fill;
  std::string tip;
};
struct bar_row {
  std::string label;
  std::vector<bar_part> parts;
  std::string value;
};

// Horizontal bars on a common scale: in the wide layout each label on the bar's left (wrapped
// in a column of at most 42% of the width), in the narrow one above its bar.
void hbars(std::string& out, const std::vector<bar_row>& rows, const layout& l, double& y) {
  constexpr double size = 13, bar_h = 18;
  long most = 1;
  double value_w = 0, label_w = 0;
  std::vector<std::vector<std::string>> labels;
  const double label_most = l.narrow ? l.width : l.width * 0.42;
  for (const auto& r : rows) {
    long total = 0;
    for (const auto& p : r.parts) total += p.value;
    most = std::max(most, total);
    value_w = std::max(value_w, extent(r.value, size));
    labels.push_back(wrap(r.label, label_most, size));
    label_w = std::max(label_w, widest(labels.back(), size));
  }
  const double left = l.narrow ? 0 : label_w + 10;
  const double scale = (l.width - left - value_w - 8) / num(most);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& lines = labels[i];
    const double text_h = num(lines.size()) * size * 1.3;
    double bar_y = 0;
    if (l.narrow) {
      out += text_lines(0, y + size, lines, "start", size);
      bar_y = y + text_h + 2;
      y = bar_y + bar_h + 10;
    } else {
      const double row_h = std::max(bar_h + 12, text_h + 8);
      bar_y = y + (row_h - bar_h) / 2;
      out += text_lines(left - 8, bar_y + bar_h / 2 - (text_h / 2) + size - 2, lines, "end", size);
      y += row_h;
    }
    double x = left;
    for (const auto& p : rows[i].parts) {
      out += rect(x, bar_y, scale * num(p.value), bar_h, p.fill, p.tip);
      x += scale * num(p.value);
    }
    out += text_at(x + 6, bar_y + bar_h - 4, rows[i].value, "start", size);
  }
}

std::string chart_id(const char* chart, const std::string& lang, const layout& l) {
  return fmt::format("{}-{}-{}", chart, lang, l.name);
}

std::string funnel_chart(const summary& s, const std::string& lang, const layout& l) {
  std::vector<bar_row> rows;
  for (int i = 0; i < stage_count; ++i) {
    const std::string label = say(lang, std::string("rpt.stage_") + stage_names[i]);
    rows.push_back({label,
                    {{s.funnel[i], fill_of(bar_swatch), fmt::format("{}: {}", label, s.funnel[i])}},
                    fmt::format("{} ({})", say(lang, "sim.count", {{"n", s.funnel[i]}}),
                                share(s.funnel[i], s.funnel[0], lang))});
  }
  std::string body;
  double y = 6;
  hbars(body, rows, l, y);
  return svg_open(chart_id("funnel", lang, l), l, y + 4, say(lang, "rpt.funnel_title")) + body +
         "</svg>\n";
}

std::string month_name(const month_row& m, const std::string& lang, const char* skeleton) {
  // The month's middle in Vietnam, where the referrals are proposed.
  const auto mid = kakehashi::parse_instant(m.month + "-15T12:00:00+07:00");
  return kakehashi::text::local_date(mid, "Asia/Ho_Chi_Minh", lang, skeleton);
}

bool partial(const month_row& m) { return m.days < m.days_in_month; }

std::vector<legend_item> outcome_legend(const std::string& lang) {
  std::vector<legend_item> items;
  for (int k = 0; k < outcome_count; ++k) {
    items.push_back({fill_of(outcome_swatches[k]), outcome_label(k, lang)});
  }
  return items;
}

std::string months_chart(const summary& s, const std::string& lang, const layout& l) {
  long most = 1;
  for (const auto& m : s.months) {
    long total = 0;
    for (long c : m.by_outcome) total += c;
    most = std::max(most, total);
  }
  const auto items = outcome_legend(lang);
  double legend_w = 0;  // the wide layout's legend column
  if (!l.narrow) {
    for (const auto& item : items) legend_w = std::max(legend_w, extent(item.label, 12) + 18);
    legend_w = std::min(legend_w, 240.0);
  }
  // Every n-th month labelled, as often as the labels fit; the last one's half fits too.
  double label_w = 0;
  for (const auto& m : s.months) {
    label_w = std::max(label_w, extent(month_name(m, lang, "MMM") + "*", 11));
  }
  const double left = axis_labels(most, lang), top = 30, plot_h = l.narrow ? 170 : 220;
  const double right = l.width - (l.narrow ? label_w / 2 + 2 : legend_w + 24);
  const double base = top + plot_h;
  std::string body;
  const long top_value =
      y_axis(body, left, right, base, plot_h, most, say(lang, "rpt.months_axis_y"), lang);
  const double slot = s.months.empty() ? 0 : (right - left) / num(s.months.size());
  const std::size_t every =
      slot > 0 ? static_cast<std::size_t>(std::ceil((label_w + 6) / slot)) : 1;
  for (std::size_t i = 0; i < s.months.size(); ++i) {
    const auto& m = s.months[i];
    const std::string month = month_name(m, lang, "yMMM");
    const double x = left + num(i) * slot;
    if (partial(m)) {
      body += fmt::format(
          "<rect class=\"partial\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"none\" stroke=\"#777777\" stroke-dasharray=\"3,3\"/>\n",
          x + 1, top, slot - 2, plot_h);
    }
    double y = base;
    for (int k = 0; k < outcome_count; ++k) {
      if (m.by_outcome[k] == 0) continue;
      const double bar = plot_h * num(m.by_outcome[k]) / num(top_value);
      y -= bar;
      body += rect(
          x + slot * 0.15, y, slot * 0.7, bar, fill_of(outcome_swatches[k]),
          say(lang, "rpt.month_bar",
              {{"month", month}, {"outcome", outcome_label(k, lang)}, {"count", m.by_outcome[k]}}));
    }
    if (i % every != 0) continue;
    // Under the month's middle, or as near as keeps it clear of the axis' labels.
    const std::string label = month_name(m, lang, "MMM") + (partial(m) ? "*" : "");
    body += text_at(std::max(x + slot / 2, left + extent(label, 11) / 2 + 2), base + 15, label,
                    "middle", 11);
  }
  // Each year under its months, a tick between years; kept clear of the one before.
  double clear = left;
  for (std::size_t i = 0; i < s.months.size();) {
    const std::string year = month_name(s.months[i], lang, "y");
    std::size_t j = i;
    while (j < s.months.size() && month_name(s.months[j], lang, "y") == year) ++j;
    const double x0 = left + num(i) * slot, x1 = left + num(j) * slot;
    if (i > 0) body += line(x0, base, x0, base + 32, "#444444");
    const double w = extent(year, 11);
    const double at = std::min(std::max((x0 + x1) / 2, clear + w / 2 + 4), l.width - w / 2);
    body += text_at(at, base + 29, year, "middle", 11);
    clear = at + w / 2;
    i = j;
  }
  const std::string x_title = say(lang, "rpt.months_axis_x");
  double y = base + 40;
  const auto x_title_lines = wrap(x_title, right - left, 12);
  body += text_lines((left + right) / 2, y + 8, x_title_lines, "middle", 12);
  y += num(x_title_lines.size()) * 12 * 1.3 + 4;
  if (l.narrow) {
    y += 6 + legend(body, items, 0, y + 6, l.width);
  } else {
    y = std::max(y, top + legend(body, items, right + 24, top, legend_w));
  }
  return svg_open(chart_id("per-month", lang, l), l, y + 4, say(lang, "rpt.months_title")) + body +
         "</svg>\n";
}

std::string lead_chart(const summary& s, const std::string& lang, const layout& l) {
  long most = 1;
  for (long c : s.lead_weeks) most = std::max(most, c);
  const double left = axis_labels(most, lang), top = 30, plot_h = l.narrow ? 150 : 180;
  const double right = l.width - 12, base = top + plot_h;
  std::string body;
  const long top_value =
      y_axis(body, left, right, base, plot_h, most, say(lang, "rpt.lead_axis_y"), lang);
  const std::size_t weeks = std::max<std::size_t>(s.lead_weeks.size(), 1);
  const double slot = (right - left) / num(weeks);
  for (std::size_t i = 0; i < s.lead_weeks.size(); ++i) {
    const double bar = plot_h * num(s.lead_weeks[i]) / num(top_value);
    body += rect(left + num(i) * slot + 1, base - bar, slot - 2, bar, "#88ccee",
                 say(lang, "rpt.lead_bin",
                     {{"from", std::to_string(i * 7)},
                      {"to", std::to_string(i * 7 + 6)},
                      {"count", s.lead_weeks[i]}}));
  }
  // A tick at every n-th week's first day, as often as the labels fit.
  const double label_w = extent(std::to_string(weeks * 7), 11) + 8;
  std::size_t every = 1;
  while (num(every) * slot < label_w) every *= 2;
  for (std::size_t i = 0; i <= weeks; i += every) {
    const double x = left + num(i) * slot;
    body += line(x, base, x, base + 4, "#444444");
    body += text_at(x, base + 16, std::to_string(i * 7), "middle", 11);
  }
  std::vector<legend_item> markers;
  const auto marker = [&](const std::optional<double>& d, const char* message, const char* colour,
                          const char* dash) {
    if (!d) return;
    const double x = left + (*d / 7.0) * slot;
    body += line(x, top, x, base, colour,
                 fmt::format(" stroke-width=\"2\" stroke-dasharray=\"{}\"", dash).c_str());
    markers.push_back({colour, say(lang, message, {{"days", *d}}), dash});
  };
  marker(s.lead_median_days, "rpt.median", median_colour, "6,3");
  marker(s.lead_p90_days, "rpt.p90", p90_colour, "2,2");
  const auto x_title = wrap(say(lang, "rpt.lead_axis"), right - left, 12);
  double y = base + 30;
  body += text_lines((left + right) / 2, y + 8, x_title, "middle", 12);
  y += num(x_title.size()) * 12 * 1.3 + 4;
  if (!markers.empty()) y += 6 + legend(body, markers, left, y + 6, right - left);
  return svg_open(chart_id("lead-time", lang, l), l, y + 4, say(lang, "rpt.lead_title")) + body +
         "</svg>\n";
}

std::string refusals_chart(const summary& s, const std::string& lang, const layout& l) {
  const std::string decree = say(lang, "rpt.legend_decree_13");
  const std::string law = say(lang, "rpt.legend_law_91");
  std::vector<bar_row> rows;
  for (const auto& r : s.refusals) {
    const std::string label = refusal_label(r, lang);
    rows.push_back({label,
                    {{r.decree_13, fill_of(decree_13_swatch),
                      say(lang, "rpt.under_decree_13", {{"label", label}, {"count", r.decree_13}})},
                     {r.law_91, fill_of(law_91_swatch),
                      say(lang, "rpt.under_law_91", {{"label", label}, {"count", r.law_91}})}},
                    say(lang, "sim.count", {{"n", r.count}})});
  }
  std::string body;
  double y = 6;
  if (rows.empty()) {
    body += text_at(4, 20, say(lang, "rpt.no_refusals"));
    y = 30;
  }
  hbars(body, rows, l, y);
  y += 6 + legend(body, {{fill_of(decree_13_swatch), decree}, {fill_of(law_91_swatch), law}}, 0,
                  y + 6, l.width);
  return svg_open(chart_id("refusals", lang, l), l, y + 4, say(lang, "rpt.refusals_title")) + body +
         "</svg>\n";
}

// A chart in both layouts, with its caption.
std::string figure(const char* chart, const std::string& caption, const std::string& lang,
                   std::string (*draw)(const summary&, const std::string&, const layout&),
                   const summary& s) {
  std::string svgs;
  for (const auto& l : layouts) svgs += draw(s, lang, l);
  return fmt::format(
      "<figure class=\"chart\" data-chart=\"{}\">\n{}<figcaption>{}</figcaption>\n</figure>\n",
      chart, svgs, esc(caption));
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
  if (!s.phases.empty()) out += table(phase_rows(s, lang));
  if (s.capacity.empty()) out += say(lang, "sim.capacity_never") + "\n";
  for (const auto& c : s.capacity) out += capacity_line(c, lang) + "\n";
  out += say(lang, "sim.withdrawn_after_transfer", {{"count", s.withdrawn_after_transfer}}) + "\n";
  out += say(lang, "sim.consents_replaced", {{"count", s.consents_replaced}}) + "\n";
  out += documents_line(s, lang) + "\n";
  out += milestone_line(s, lang) + "\n" + results_line(s, lang) + "\n";
  out += duties_line(s, lang) + "\n";
  out += reviews_line(s, lang) + "\n";
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
    months.push_back({{"month", m.month},
                      {"days", m.days},
                      {"days_in_month", m.days_in_month},
                      {"outcomes", by}});
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
  json doc = {{"run",
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
              {"phases",
               [&] {
                 json phases = json::array();
                 for (const auto& p : s.phases) {
                   phases.push_back({{"phase", p.phase},
                                     {"referrals", p.referrals},
                                     {"median_days", optional_days(p.median_days)},
                                     {"p90_days", optional_days(p.p90_days)}});
                 }
                 return phases;
               }()},
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
               {{"returned", s.results_returned},
                {"completed_with_results", s.completed_with_results},
                {"consents_renewed", s.consents_renewed_for_return}}},
              {"duties",
               {{"created", s.duties_created},
                {"acknowledged_in_time", s.duties_acknowledged_in_time},
                {"completed_in_time", s.duties_completed_in_time},
                {"completed_late", s.duties_completed_late},
                {"reported_overdue", s.duties_reported_overdue},
                {"open", s.duties_open}}},
              {"emergency_reviews",
               {{"opened", s.reviews_opened},
                {"in_time", s.reviews_in_time},
                {"late", s.reviews_late},
                {"not_justified", s.reviews_not_justified},
                {"open", s.reviews_open}}},
              {"commands", {{"total", s.commands}, {"refused", s.refused_commands}}},
              {"audit",
               {{"intact", s.audit_intact},
                {"rows", s.audit_rows},
                {"head_hash", s.head_hash},
                {"problem", s.audit_problem}}}};
  return doc.dump(indent) + "\n";
}

namespace {

// A table of `rows` under `heads`, its columns from `first_number` on aligned right as numbers.
// Each cell carries its column's heading (data-label): a `stacked` table is shown on a phone as
// one block per row, each cell after its heading, instead of columns too narrow to read.
std::string html_table(const std::vector<std::string>& heads,
                       const std::vector<std::vector<std::string>>& rows, std::size_t first_number,
                       bool stacked) {
  std::string out = stacked ? "<div class=\"table\"><table class=\"stacked\">\n<thead><tr>"
                            : "<div class=\"table\"><table>\n<thead><tr>";
  for (const auto& h : heads) out += "<th>" + esc(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += fmt::format("<td{} data-label=\"{}\">{}</td>", c >= first_number ? " class=\"n\"" : "",
                         esc(heads[c]), esc(row[c]));
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table></div>\n";
}

// The report in one language: an <article lang="..."> the language switch shows or hides.
std::string article(const summary& s, const scenario& sc, const std::string& lang,
                    const kakehashi::agreement_directory* agreements) {
  namespace kt = kakehashi::text;
  const auto p = [](const std::string& text) { return "<p>" + esc(text) + "</p>\n"; };
  const auto h2 = [&](const char* id) { return "<h2>" + esc(say(lang, id)) + "</h2>\n"; };
  const auto count = [&](long n) { return say(lang, "sim.count", {{"n", n}}); };
  std::string out = fmt::format("<article id=\"report-{}\" lang=\"{}\">\n<h1>{}</h1>\n", lang, lang,
                                esc(say(lang, "rpt.title")));
  out += p(title_line(s, lang, agreements)) + p(period_line(s, lang));
  // The scenario's description in this language; else as the file gives it, in its language.
  const auto description = [&]() -> std::pair<std::string, std::string> {
    for (const std::string& key : {lang, std::string(), std::string("en")}) {
      if (const auto it = sc.description.find(key); it != sc.description.end()) return *it;
    }
    if (!sc.description.empty()) return *sc.description.begin();
    return {};
  }();
  if (!description.second.empty()) {
    out += (description.first.empty() || description.first == lang
                ? std::string("<p>")
                : "<p lang=\"" + description.first + "\">") +
           esc(description.second) + "</p>\n";
  }
  out += fmt::format("<p><span class=\"{}\">{}</span></p>\n", s.audit_intact ? "ok" : "bad",
                     esc(audit_line(s, lang)));

  out +=
      h2("rpt.h_funnel") + figure("funnel", say(lang, "rpt.funnel_caption"), lang, funnel_chart, s);
  std::string months_caption = say(lang, "rpt.months_caption");
  std::vector<std::string> partial_months;
  for (const auto& m : s.months) {
    if (!partial(m)) continue;
    partial_months.push_back(
        say(lang, "rpt.partial_month",
            {{"month", month_name(m, lang, "yMMM")}, {"days", m.days}, {"of", m.days_in_month}}));
  }
  if (!partial_months.empty()) {
    months_caption +=
        " " + say(lang, "rpt.partial_months", {{"months", kt::list(partial_months, lang)}});
  }
  out += h2("rpt.h_months") + figure("per-month", months_caption, lang, months_chart, s);
  out += h2("rpt.h_lead") + figure("lead-time", lead_line(s, lang), lang, lead_chart, s);
  if (!s.phases.empty()) {
    auto rows = phase_rows(s, lang);
    const std::vector<std::string> heading = rows.front();
    rows.erase(rows.begin());
    out += p(say(lang, "rpt.phases_caption")) + html_table(heading, rows, 1, true);
  }
  out += h2("rpt.h_refusals") +
         figure("refusals",
                say(lang, "rpt.refusals_caption", {{"counting", refusal_counting(s, lang)}}), lang,
                refusals_chart, s);

  std::vector<std::vector<std::string>> states;
  for (int k = 0; k < outcome_count; ++k) {
    states.push_back(
        {outcome_label(k, lang), count(s.outcomes[k]), share(s.outcomes[k], s.referrals, lang)});
  }
  out +=
      h2("rpt.h_states") + html_table({say(lang, "sim.col_state"), say(lang, "sim.col_referrals"),
                                       say(lang, "sim.col_share")},
                                      states, 1, false);
  std::vector<std::vector<std::string>> origins;
  for (const auto& r : s.by_origin_specialty) {
    origins.push_back({hospital_name(r.origin, lang, agreements),
                       code(lang, "specialty", r.specialty), count(r.referrals), count(r.opened),
                       count(r.transferred), count(r.completed)});
  }
  out += h2("rpt.h_origins") +
         html_table({say(lang, "rpt.col_origin"), say(lang, "rpt.col_specialty"),
                     say(lang, "sim.col_referrals"), say(lang, "sim.col_opened"),
                     say(lang, "sim.col_transferred"), say(lang, "sim.col_completed")},
                    origins, 2, true);
  out += h2("rpt.h_capacity") + "<ul>\n";
  for (const auto& c : s.capacity) out += "<li>" + esc(capacity_line(c, lang)) + "</li>\n";
  if (s.capacity.empty()) out += "<li>" + esc(say(lang, "sim.capacity_never")) + "</li>\n";
  out += "</ul>\n" + h2("rpt.h_documents");
  out += p(documents_line(s, lang));
  out += p(milestone_line(s, lang)) + p(results_line(s, lang)) + p(duties_line(s, lang)) +
         p(reviews_line(s, lang));
  if (!s.example.empty()) {
    std::vector<std::vector<std::string>> steps;
    for (const auto& e : s.example) {
      const auto at = kakehashi::parse_instant(e.utc);
      const kakehashi::hospital* h =
          agreements ? agreements->find_hospital(kakehashi::hospital_id{e.organisation}) : nullptr;
      steps.push_back({code(lang, "command", e.command),
                       h ? kt::local_time(at, h->time_zone, lang) : e.local,
                       kt::local_time(at, "UTC", lang),
                       say(lang, "rpt.actor",
                           {{"hospital", hospital_name(e.organisation, lang, agreements)},
                            {"role", code(lang, "role", e.role)}}),
                       kt::state(e.state_after, lang)});
    }
    out += h2("rpt.h_example") + p(say(lang, "rpt.example_intro")) +
           html_table({say(lang, "rpt.col_step"), say(lang, "rpt.col_local"), "UTC",
                       say(lang, "rpt.col_by"), say(lang, "rpt.col_state_after")},
                      steps, 5, true);
  }
  out += p(commands_line(s, lang));
  return out + "</article>\n";
}

// The page's style: one column up to 980 pixels; below 600 pixels the charts' narrow layouts
// replace the wide ones; the language switch is radio buttons and CSS (no script).
std::string style(const std::vector<std::string>& languages) {
  std::string switches, chosen, focused;
  for (const auto& l : languages) {
    switches += fmt::format("{}#lang-{}:checked ~ #report-{}", switches.empty() ? "" : ",\n", l, l);
    chosen += fmt::format("{}#lang-{}:checked ~ nav label[for=\"lang-{}\"]",
                          chosen.empty() ? "" : ",\n", l, l);
    focused += fmt::format("{}#lang-{}:focus-visible ~ nav label[for=\"lang-{}\"]",
                           focused.empty() ? "" : ",\n", l, l);
  }
  return "body { font-family: \"Noto Sans\", \"Segoe UI\", \"Helvetica Neue\", Arial, "
         "\"DejaVu Sans\", sans-serif; margin: 1.5em auto; padding: 0 12px; max-width: 980px; "
         "color: #222; line-height: 1.45; }\n"
         ":lang(ja) { font-family: \"Noto Sans CJK JP\", \"Noto Sans JP\", \"Hiragino Sans\", "
         "\"Yu Gothic\", \"Noto Sans\", sans-serif; }\n"
         "h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }\n"
         "p, li, figcaption { overflow-wrap: break-word; }\n"
         "div.table { max-width: 100%; overflow-x: auto; }\n"
         "table { border-collapse: collapse; margin: 0.5em 0; }\n"
         "td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; "
         "vertical-align: top; overflow-wrap: anywhere; }\n"
         "td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }\n"
         "figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }\n"
         "figure svg { display: block; max-width: 100%; height: auto; }\n"
         "figure svg.narrow { display: none; }\n"
         "@media (max-width: 600px) {\n"
         "  figure svg.wide { display: none; } figure svg.narrow { display: block; }\n"
         "  td, th { padding: 3px 5px; }\n"
         "  table.stacked thead { display: none; }\n"
         "  table.stacked, table.stacked tbody, table.stacked tr, table.stacked td "
         "{ display: block; }\n"
         "  table.stacked tr { padding: 0.4em 0; border-bottom: 1px solid #ddd; }\n"
         "  table.stacked td { padding: 1px 0; border: none; text-align: left; "
         "white-space: normal; }\n"
         "  table.stacked td::before { content: attr(data-label) \": \"; color: #555; }\n}\n"
         "svg text { fill: #222; }\n"
         "svg.defs { position: absolute; }\n"
         ".ok { color: #117733; font-weight: bold; } .bad { color: #cc3311; font-weight: bold; }\n"
         "input.language { position: absolute; opacity: 0; width: 1px; height: 1px; margin: 0; }\n"
         "nav.languages label { display: inline-block; cursor: pointer; padding: 0.15em 0.7em; "
         "margin: 0 0.3em 0.3em 0; border: 1px solid #4477aa; border-radius: 1em; }\n"
         "article { display: none; }\n" +
         switches + " { display: block; }\n" + chosen + " { background: #4477aa; color: #fff; }\n" +
         focused + " { outline: 2px solid #222; outline-offset: 2px; }\n";
}

}  // namespace

std::string to_html(const summary& s, const scenario& sc, const std::string& lang,
                    const kakehashi::agreement_directory* agreements) {
  const std::vector<std::string>& languages = kakehashi::vocabulary::languages();
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"{}\">\n<head>\n"
      "<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
      esc(lang), esc(say(lang, "rpt.title")), style(languages));
  out += defs();
  for (const auto& l : languages) {
    out += fmt::format(
        "<input type=\"radio\" name=\"language\" class=\"language\" id=\"lang-{}\"{}/>\n", l,
        l == lang ? " checked=\"checked\"" : "");
  }
  out +=
      fmt::format("<nav class=\"languages\" aria-label=\"{}\">", esc(say(lang, "rpt.languages")));
  for (const auto& l : languages) {
    out += fmt::format("<label for=\"lang-{}\" lang=\"{}\">{}</label>", l, l,
                       esc(kakehashi::text::language_name(l, l)));
  }
  out += "</nav>\n";
  for (const auto& l : languages) out += article(s, sc, l, agreements);
  return out + "</body>\n</html>\n";
}

}  // namespace simulator
