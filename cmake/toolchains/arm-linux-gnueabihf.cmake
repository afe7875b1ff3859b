# 32-bit ARM Linux with hard float (ARMv7-A with VFPv3-D16, Debian's armhf
# baseline, e.g. Cortex-A7/A9 boards) with Debian's g++-arm-linux-gnueabihf.
# Libraries from Debian's armhf multiarch packages; tests run under qemu-arm
# (package qemu-user). Usage:
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(ECQ_CROSS_TRIPLET arm-linux-gnueabihf)
set(ECQ_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
