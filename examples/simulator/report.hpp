#pragma once
// The simulator's outputs from one summary: the text summary for a terminal, the same as one JSON
// object, and a self-contained HTML report whose charts are SVG drawn here (no script, no
// network). The HTML is also well-formed XML, so any XML parser can check it; a real browser
// checks its layout (tests/report_browser.sh).

#include <string>

#include "scenario.hpp"
#include "simulation.hpp"

namespace simulator {

/// The summary for a terminal, in `lang` ("en", "vi" or "ja": kakehashi/text.hpp's messages and
/// the vocabularies' displays); hospitals by their names in that language when `agreements` is
/// given, else by their ids.
std::string to_text(const summary& s, const std::string& lang = "en",
                    const kakehashi::agreement_directory* agreements = nullptr);
std::string to_json(const summary& s, int indent = 2);
/// The HTML report in every language (vocabulary::languages()), opening in `lang`, with a
/// switch that needs no script: each language's headings, captions, charts' labels, legends
/// and month names, tables and the example's times (in the acting hospital's zone, by
/// `agreements`). Each chart is drawn for a desktop and for a phone; the page shows the one
/// that fits its width.
std::string to_html(const summary& s, const scenario& sc, const std::string& lang = "en",
                    const kakehashi::agreement_directory* agreements = nullptr);

}  // namespace simulator
