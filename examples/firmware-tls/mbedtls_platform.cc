// Output and exit functions that ecq_mbedtls_config.h names for Mbed TLS's
// platform layer. Only the memory buffer allocator's checks call them, when
// they find its buffer corrupted.

#include <cstdarg>
#include <cstdio>

#include "semihosting.h"

extern "C" int ecq_mbedtls_fprintf(FILE* stream, const char* format, ...) {
  (void)stream;
  char text[160];
  va_list arguments;
  va_start(arguments, format);
  const int length = std::vsnprintf(text, sizeof text, format, arguments);
  va_end(arguments);
  firmware::semihosting_write(text);
  return length;
}

extern "C" void ecq_mbedtls_exit(int status) {
  (void)status;
  firmware::semihosting_write("firmware: Mbed TLS stopped the program: its memory buffer is corrupted\n");
  firmware::semihosting_exit(false);
}
