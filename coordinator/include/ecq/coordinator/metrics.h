#pragma once
// Prometheus text exposition (format 0.0.4) of the engine's counters.

#include <cstdint>
#include <string>

#include "ecq/coordinator/engine.h"

namespace ecq::coordinator {

/// Returns the metrics page: every counter of `counters` with HELP and TYPE
/// lines, plus the model version and the open round id.
std::string render_metrics(const Counters& counters, std::uint64_t model_version, std::uint32_t open_round_id);

}  // namespace ecq::coordinator
