#!/usr/bin/env bash
# Builds the project in tests/package/consumer against ecq the way a user's
# project does (docs/packaging.md) and runs its programs with CTest:
#   consumer_test.sh install BUILD_DIR PREFIX
#       installs the ecq build in BUILD_DIR into a fresh PREFIX
#   consumer_test.sh find_package PREFIX WORK_DIR COMPONENTS [cmake args...]
#       find_package(ecq) from PREFIX; COMPONENTS is a comma-separated
#       list, or "" for all
#   consumer_test.sh add_subdirectory SOURCE_DIR WORK_DIR [cmake args...]
#       add_subdirectory() of the ecq source tree SOURCE_DIR
#   consumer_test.sh rejects PREFIX WORK_DIR COMPONENTS PATTERN [cmake args...]
#       configures like find_package and expects a failure. The output, with
#       line breaks turned into spaces, must match the extended regular
#       expression PATTERN.
# The cmake args select the consumer's compiler or toolchain file.
set -euo pipefail

consumer_dir=$(cd "$(dirname "$0")/consumer" && pwd)
mode=${1:-}

# Configures the consumer in $work_dir/build with the given arguments.
configure() {
  rm -rf "$work_dir"
  mkdir -p "$work_dir"
  cmake -S "$consumer_dir" -B "$work_dir/build" "$@"
}

# Builds the given targets of the consumer (all when none are given) and
# runs its tests.
build_and_run() {
  local targets=()
  if [[ $# -gt 0 ]]; then
    targets=(--target "$@")
  fi
  cmake --build "$work_dir/build" --parallel 2 "${targets[@]}"
  ctest --test-dir "$work_dir/build" --output-on-failure
}

case $mode in
  install)
    build_dir=$2 prefix=$3
    rm -rf "$prefix"
    cmake --install "$build_dir" --prefix "$prefix"
    ;;
  find_package)
    prefix=$2 work_dir=$3 components=$4
    shift 4
    configure -DCMAKE_PREFIX_PATH="$prefix" -DECQ_CONSUMER_COMPONENTS="${components//,/;}" "$@"
    build_and_run
    ;;
  add_subdirectory)
    source_dir=$2 work_dir=$3
    shift 3
    configure -DECQ_CONSUMER_SOURCE_DIR="$source_dir" "$@"
    # The consumer's programs and the ecq libraries they link, without the
    # rest of ecq's default build (the ecq-pki program).
    build_and_run ecq-consumer-runtime ecq-consumer-device
    ;;
  rejects)
    prefix=$2 work_dir=$3 components=$4 pattern=$5
    shift 5
    status=0
    output=$(configure -DCMAKE_PREFIX_PATH="$prefix" -DECQ_CONSUMER_COMPONENTS="${components//,/;}" "$@" 2>&1) ||
      status=$?
    echo "$output"
    if [[ $status -eq 0 ]]; then
      echo "consumer_test.sh: configuring with $* succeeded, expected a failure" >&2
      exit 1
    fi
    # CMake wraps its messages at about 80 columns.
    if ! tr -s ' \n' '  ' <<<"$output" | grep -Eq -- "$pattern"; then
      echo "consumer_test.sh: the configure error does not match '$pattern'" >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: consumer_test.sh install|find_package|add_subdirectory|rejects ... (see the header of $0)" >&2
    exit 2
    ;;
esac
