// Entropy source of the bare-metal Mbed TLS build: ecq_mbedtls_config.h
// defines MBEDTLS_ENTROPY_HARDWARE_ALT, so mbedtls_entropy_init() registers
// this function, and every seed of the random generator reads the port.

#include <mbedtls/entropy.h>
#include <mbedtls/entropy_poll.h>

#include "ecq/port/entropy.h"

extern "C" int mbedtls_hardware_poll(void* data, unsigned char* output, std::size_t size, std::size_t* produced) {
  (void)data;
  *produced = 0;
  if (ecq::port::entropy_fill(output, size) != ecq::port::PortStatus::kOk) {
    return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
  }
  *produced = size;
  return 0;
}
