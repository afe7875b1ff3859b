# Shared part of the Debian cross toolchain files in this folder. The file that
# includes it sets CMAKE_SYSTEM_PROCESSOR, ECQ_CROSS_TRIPLET (the GNU triplet,
# which is also the Debian multiarch folder name) and ECQ_CROSS_QEMU (the
# qemu-user program for that CPU).
#
# Debian's cross compilers (g++-<triplet>) already search /usr/include/<triplet>
# and /usr/include for headers and /usr/lib/<triplet> for libraries, so
# header-only dependencies (Eigen, Asio, doctest, CLI11, nlohmann-json) come
# from the host's packages, and compiled ones (Mbed TLS, zlib) from the
# multiarch packages, e.g. libmbedtls-dev:arm64 after
# `dpkg --add-architecture arm64`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${ECQ_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${ECQ_CROSS_TRIPLET}-g++)

# find_library() then looks in <prefix>/lib/<triplet> and never in the host's
# /usr/lib/x86_64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE ${ECQ_CROSS_TRIPLET})

# ctest, and doctest_discover_tests() at build time, run the target's
# programs through qemu-user. -L makes the emulator load the dynamic linker of
# the cross toolchain (/usr/<triplet>/lib, Debian's libc6-<arch>-cross), and
# LD_LIBRARY_PATH makes that linker take the C and C++ libraries from the
# same folder. Without it, the linker follows /etc/ld.so.cache to the
# multiarch libc6:<arch>, which libmbedtls-dev:<arch> installs: on Debian 12
# that is another glibc build (2.36-9 against 2.36-8cross1), and programs
# that start a thread hang at startup under qemu-user 7.2.
find_program(ECQ_CROSS_QEMU_PROGRAM ${ECQ_CROSS_QEMU})
if(ECQ_CROSS_QEMU_PROGRAM)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ECQ_CROSS_QEMU_PROGRAM} -L /usr/${ECQ_CROSS_TRIPLET}
      -E LD_LIBRARY_PATH=/usr/${ECQ_CROSS_TRIPLET}/lib)
endif()
