#include "kakehashi/milestone.hpp"

#include "common/enum_names.hpp"

namespace kakehashi {
namespace {
// clang-format off
constexpr detail::name_table<milestone, 6> milestone_table{{
  {milestone::treatment_plan_accepted, "treatment_plan_accepted"},
  {milestone::cost_estimate_accepted,  "cost_estimate_accepted"},
  {milestone::guarantor_confirmed,     "guarantor_confirmed"},
  {milestone::medical_visa_issued,     "medical_visa_issued"},
  {milestone::travel_arranged,         "travel_arranged"},
  {milestone::escort_arranged,         "escort_arranged"},
}};
// clang-format on
}  // namespace

std::string_view to_string(milestone v) noexcept { return detail::name_of(milestone_table, v); }
std::optional<milestone> parse_milestone(std::string_view name) noexcept {
  return detail::value_of(milestone_table, name);
}
const std::vector<milestone>& all_milestones() {
  static const std::vector<milestone> all = detail::values_in(milestone_table);
  return all;
}
std::string milestone_names() { return detail::names_in(milestone_table); }

}  // namespace kakehashi
