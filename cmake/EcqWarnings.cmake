# ecq_set_warnings(<target>): the warning set every ecq target is built with.
function(ecq_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Wnull-dereference -Wdouble-promotion)
  if(ECQ_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# ecq_device_code(<target>): the rules for code that runs on devices. It builds
# without exceptions and RTTI, and without floating-point contraction, so that
# a * b + c is never fused into an FMA and payloads stay byte-identical across
# compilers, vector widths and architectures.
function(ecq_device_code target)
  target_compile_options(${target} PRIVATE -fno-exceptions -fno-rtti -ffp-contract=off)
endfunction()

# ecq_add_library(<target> <export name> [DEVICE] SOURCES <file>...): a static
# library with the alias ecq::<export name>, public headers in include/ beside
# this CMakeLists.txt (installed to the include directory), C++17 and the
# project's warnings; DEVICE adds the device-code rules above.
function(ecq_add_library target export_name)
  cmake_parse_arguments(ARG "DEVICE" "" "SOURCES" ${ARGN})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(ecq::${export_name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_17)
  ecq_set_warnings(${target})
  if(ARG_DEVICE)
    ecq_device_code(${target})
  endif()
endfunction()
