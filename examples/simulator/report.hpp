#pragma once
// The simulator's outputs from one summary: the text summary for a terminal, the same as one JSON
// object, and a self-contained HTML report whose charts are SVG drawn here (no script, no
// network). The HTML is also well-formed XML, so any XML parser can check it.

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
/// The HTML report in `lang`, like to_text(): its headings, captions, charts' labels, legends
/// and month names, tables and the example's times (in the acting hospital's zone, by
/// `agreements`).
std::string to_html(const summary& s, const scenario& sc, const std::string& lang = "en",
                    const kakehashi::agreement_directory* agreements = nullptr);

}  // namespace simulator
