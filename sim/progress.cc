#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace ecq::sim {

Progress::Progress(std::string label, std::uint32_t total_rounds)
    : label_(std::move(label)),
      total_(total_rounds == 0 ? 1 : total_rounds),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string Progress::format(std::uint32_t round, double accuracy, std::uint64_t uplink_bytes) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = static_cast<double>(round) / total_;
  constexpr int kWidth = 24;
  std::string bar(kWidth, ' ');
  for (int i = 0; i < static_cast<int>(fraction * kWidth) && i < kWidth; ++i) bar[static_cast<std::size_t>(i)] = '#';

  char accuracy_text[16] = "-";
  if (accuracy >= 0.0) std::snprintf(accuracy_text, sizeof(accuracy_text), "%.4f", accuracy);
  char eta[32] = "-";
  if (round > 0 && round < total_) {
    const double left = elapsed / fraction - elapsed;
    std::snprintf(eta, sizeof(eta), "%dm%02ds", static_cast<int>(left) / 60, static_cast<int>(left) % 60);
  } else if (round >= total_) {
    std::snprintf(eta, sizeof(eta), "done in %.0fs", elapsed);
  }
  char line[256];
  std::snprintf(line, sizeof(line), "%-14s [%s] round %u/%u  accuracy %s  uplink %.2f MB  eta %s", label_.c_str(),
                bar.c_str(), round, total_, accuracy_text, static_cast<double>(uplink_bytes) / 1e6, eta);
  return line;
}

void Progress::update(std::uint32_t round, double accuracy, std::uint64_t uplink_bytes) {
  if (terminal_) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r%s\033[K", format(round, accuracy, uplink_bytes).c_str());
    std::fflush(stderr);
    return;
  }
  const std::uint32_t tenth = static_cast<std::uint32_t>(10ull * round / total_);
  if (tenth > last_tenth_ && round < total_) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "%s\n", format(round, accuracy, uplink_bytes).c_str());
  }
}

void Progress::finish(std::uint32_t round, double accuracy, std::uint64_t uplink_bytes) {
  std::fprintf(stderr, terminal_ ? "\r%s\033[K\n" : "%s\n", format(round, accuracy, uplink_bytes).c_str());
}

}  // namespace ecq::sim
