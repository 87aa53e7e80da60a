#pragma once
// The simulator's outputs from one summary: the text summary for a terminal, the same as one JSON
// object, and a self-contained HTML report whose charts are SVG drawn here (no script, no
// network). The HTML is also well-formed XML, so any XML parser can check it.

#include <string>

#include "scenario.hpp"
#include "simulation.hpp"

namespace simulator {

std::string to_text(const summary& s);
std::string to_json(const summary& s, int indent = 2);
std::string to_html(const summary& s, const scenario& sc);

}  // namespace simulator
