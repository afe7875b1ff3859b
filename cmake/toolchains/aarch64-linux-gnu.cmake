# 64-bit ARM Linux (AArch64, e.g. Cortex-A53/A72 boards) with Debian's
# g++-aarch64-linux-gnu. Libraries from Debian's arm64 multiarch packages;
# tests run under qemu-aarch64 (package qemu-user). Usage:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(ECQ_CROSS_TRIPLET aarch64-linux-gnu)
set(ECQ_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
