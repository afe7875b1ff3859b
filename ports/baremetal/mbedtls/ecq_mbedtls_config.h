/* Mbed TLS 2.28 configuration for microcontrollers, selected with
   -DMBEDTLS_CONFIG_FILE="ecq_mbedtls_config.h": a TLS 1.2 client with the one
   cipher suite that the coordinator's PSK listener offers,
   TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256 on secp256r1
   (transports/src/tls.cc). No X.509, files, clock or sockets module: the
   application passes its own send and receive callbacks to
   mbedtls_ssl_set_bio(). */
#ifndef ECQ_MBEDTLS_CONFIG_H
#define ECQ_MBEDTLS_CONFIG_H

/* Platform: no operating system. Memory comes from a static buffer through
   mbedtls_memory_buffer_alloc_init(), which the application calls once before
   any other Mbed TLS function. */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* Counts the current and peak use of that buffer
   (mbedtls_memory_buffer_alloc_max_get()); its rare diagnostics go through
   ecq_mbedtls_fprintf(), and a corrupted buffer stops the program through
   ecq_mbedtls_exit(), both defined by the application. */
#define MBEDTLS_MEMORY_DEBUG
#define MBEDTLS_PLATFORM_FPRINTF_MACRO ecq_mbedtls_fprintf
#define MBEDTLS_PLATFORM_EXIT_MACRO ecq_mbedtls_exit
#include <stdio.h>
#ifdef __cplusplus
extern "C" {
#endif
int ecq_mbedtls_fprintf(FILE* stream, const char* format, ...);
void ecq_mbedtls_exit(int status);
#ifdef __cplusplus
}
#endif

/* Thumb-2 multiply-accumulate assembly for the bignum arithmetic. */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_UDBL_DIVISION

/* Entropy: only the platform port's source, ecq::port::entropy_fill(), which
   the port's mbedtls_hardware_poll() calls (ports/baremetal/mbedtls_entropy.cc).
   Mbed TLS then hashes it with SHA-256 and seeds HMAC-DRBG from it. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
#define MBEDTLS_ENTROPY_FORCE_SHA256
#define MBEDTLS_ENTROPY_MAX_SOURCES 2
#define MBEDTLS_HMAC_DRBG_C

/* Primitives of the cipher suite: ECDHE on secp256r1, ChaCha20-Poly1305 for
   the records and SHA-256 for the PRF. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_MPI_MAX_SIZE 32
#define MBEDTLS_ECP_MAX_BITS 256
/* Smaller precomputed tables: less RAM, slower point multiplication. */
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER

/* TLS 1.2 client with the one suite. */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_ERROR_C

/* Records of at most 1024 bytes of plaintext each way. The client asks the
   server for that limit with the max_fragment_length extension (RFC 6066).
   Debian's libmbedtls 2.28 defines MBEDTLS_SSL_MAX_FRAGMENT_LENGTH, so the
   coordinator splits its messages into records of that size. Without the
   extension, the QEMU federation test fails when the coordinator's
   1076-byte model frame arrives as one record. */
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_IN_CONTENT_LEN 1024
#define MBEDTLS_SSL_OUT_CONTENT_LEN 1024

#include "mbedtls/check_config.h"

#endif /* ECQ_MBEDTLS_CONFIG_H */
