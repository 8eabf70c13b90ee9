// Transitional: what jobs/common.hpp declared is now split by concern. Include the header you use
// instead; this one goes once nothing includes it.
#pragma once

#include "etl/jobs/assets.hpp"
#include "etl/jobs/options.hpp"
#include "etl/jobs/report.hpp"
#include "etl/jobs/run.hpp"
#include "etl/jobs/setup.hpp"
#include "etl/jobs/totals.hpp"
