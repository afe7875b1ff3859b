#include "ecq/coordinator/metrics.h"

#include <cstdio>

namespace ecq::coordinator {
namespace {

// Appends one sample, preceded by HELP and TYPE lines unless `help` is empty
// (later samples of a labelled metric).
void add(std::string* out, const char* name, const char* type, const char* help, double value,
         const std::string& labels = "") {
  char line[512];
  if (help[0] != '\0') {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    *out += line;
  }
  std::snprintf(line, sizeof line, "%s%s %.17g\n", name, labels.c_str(), value);
  *out += line;
}

}  // namespace

std::string render_metrics(const Counters& c, std::uint64_t model_version, std::uint32_t open_round_id) {
  std::string out;
  add(&out, "ecq_rounds_started_total", "counter", "Rounds offered to devices.", double(c.rounds_started));
  add(&out, "ecq_rounds_applied_total", "counter", "Rounds aggregated into the model.", double(c.rounds_applied));
  add(&out, "ecq_rounds_discarded_total", "counter", "Rounds closed with fewer updates than the minimum.",
      double(c.rounds_discarded));
  add(&out, "ecq_devices_connected", "gauge", "Open device sessions, by whether the id is authenticated.",
      double(c.devices_authenticated), "{auth=\"true\"}");
  add(&out, "ecq_devices_connected", "gauge", "", double(c.devices_unauthenticated), "{auth=\"false\"}");
  add(&out, "ecq_sessions_opened_total", "counter", "Device sessions opened.", double(c.sessions_opened));
  add(&out, "ecq_sessions_closed_protocol_error_total", "counter", "Sessions closed for a frame or message error.",
      double(c.sessions_closed_protocol_error));
  add(&out, "ecq_bytes_received_total", "counter", "Application frame bytes received from devices.",
      double(c.bytes_in));
  add(&out, "ecq_bytes_sent_total", "counter", "Application frame bytes sent to devices.", double(c.bytes_out));
  add(&out, "ecq_update_bytes_received_total", "counter", "Frame bytes of update chunks received.",
      double(c.update_bytes_in));
  add(&out, "ecq_model_bytes_sent_total", "counter", "Frame bytes of model chunks sent.", double(c.model_bytes_out));
  add(&out, "ecq_updates_applied_total", "counter", "Updates aggregated into the model.", double(c.updates_applied));
  add(&out, "ecq_updates_clipped_total", "counter", "Updates scaled down to the norm bound.",
      double(c.updates_clipped));
  add(&out, "ecq_rounds_non_finite_total", "counter",
      "Rounds discarded because the aggregated model would contain NaN or Inf.", double(c.rounds_non_finite));
  for (std::size_t reason = 1; reason < c.updates_rejected.size(); ++reason) {
    const std::string labels =
        std::string("{reason=\"") + verdict_reason_name(static_cast<protocol::VerdictReason>(reason)) + "\"}";
    add(&out, "ecq_updates_rejected_total", "counter", reason == 1 ? "Updates not applied, by verdict reason." : "",
        double(c.updates_rejected[reason]), labels);
  }
  add(&out, "ecq_model_version", "gauge", "Applied rounds since the initial model.", double(model_version));
  add(&out, "ecq_open_round_id", "gauge", "Id of the open round, 0 when none is open.", double(open_round_id));
  if (c.evaluated) {
    add(&out, "ecq_eval_round", "gauge", "Round id of the last evaluation.", double(c.eval_round));
    add(&out, "ecq_eval_loss", "gauge", "Mean loss on the evaluation data at the last evaluation.", c.eval_loss);
    add(&out, "ecq_eval_accuracy", "gauge", "Accuracy on the evaluation data at the last evaluation.",
        c.eval_accuracy);
  }
  return out;
}

}  // namespace ecq::coordinator
