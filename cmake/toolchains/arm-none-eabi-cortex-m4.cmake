# Bare-metal Cortex-M4 with the single-precision FPU (FPv4-SP-D16, hard-float
# calling convention) and Debian's gcc-arm-none-eabi with newlib-nano
# (packages gcc-arm-none-eabi and libstdc++-arm-none-eabi-newlib). Builds only
# the runtime core and the reference firmware (ECQ_RUNTIME_CORE_ONLY, which
# this file turns on); the image runs under qemu-system-arm -M mps2-an386.
# Usage:
#   cmake -S . -B build-cortex-m4 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-none-eabi-cortex-m4.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m4)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar CACHE FILEPATH "Archiver")
set(CMAKE_RANLIB arm-none-eabi-ranlib CACHE FILEPATH "Ranlib")
set(CMAKE_OBJCOPY arm-none-eabi-objcopy CACHE FILEPATH "objcopy")
set(CMAKE_SIZE arm-none-eabi-size CACHE FILEPATH "size")

# CMake's compiler check links a program, which needs a startup file and a
# linker script on bare metal; a static library is enough to check the compiler.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(ECQ_CORTEX_M4_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${ECQ_CORTEX_M4_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT
    "${ECQ_CORTEX_M4_FLAGS} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_ASM_FLAGS_INIT "${ECQ_CORTEX_M4_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${ECQ_CORTEX_M4_FLAGS} --specs=nano.specs -Wl,--gc-sections")

# Libraries and headers of the target come from the toolchain's sysroot;
# header-only packages (Eigen) are still found through their CMake
# configuration on the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

set(ECQ_RUNTIME_CORE_ONLY ON CACHE BOOL "Build only the device runtime core for a bare-metal target" FORCE)
