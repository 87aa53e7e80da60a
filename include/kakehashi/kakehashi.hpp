#pragma once
// Umbrella header: includes every public kakehashi header except kakehashi/testing.hpp (the
// consent-rule test toolkit), which tests include on their own.

#include "kakehashi/agreement.hpp"
#include "kakehashi/consent.hpp"
#include "kakehashi/consent_rules.hpp"
#include "kakehashi/document.hpp"
#include "kakehashi/eligibility.hpp"
#include "kakehashi/engine.hpp"
#include "kakehashi/error.hpp"
#include "kakehashi/fhir.hpp"
#include "kakehashi/holidays.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/milestone.hpp"
#include "kakehashi/referral.hpp"
#include "kakehashi/text.hpp"
#include "kakehashi/time.hpp"
#include "kakehashi/version.hpp"
#include "kakehashi/vocabulary.hpp"
#include "kakehashi/witness.hpp"
