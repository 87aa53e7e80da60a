#pragma once
// Umbrella header: includes every public kakehashi header.

#include "kakehashi/error.hpp"
#include "kakehashi/ids.hpp"
#include "kakehashi/referral.hpp"
#include "kakehashi/time.hpp"
#include "kakehashi/version.hpp"
