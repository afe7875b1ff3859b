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
