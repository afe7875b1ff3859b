#pragma once
// Emulation-only entropy of the QEMU reference image (emulation_entropy.cc).

namespace firmware {

/// Logs that the image's entropy source is the insecure emulation-only one.
void log_emulation_entropy_warning();

}  // namespace firmware
