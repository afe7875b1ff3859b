# Helpers for the federation tests: a scratch directory, throwaway
# credentials, and coordinator and device processes on 127.0.0.1 that are
# killed when the test exits. Source it after setting BIN to build/bin. The
# scratch directory is removed after a passing test unless ECQ_KEEP_WORK is set.
set -euo pipefail

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecq-federation.XXXXXX")
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $status -ne 0 || -n ${ECQ_KEEP_WORK:-} ]]; then
    echo "--- logs of the test (kept in $WORK) ---" >&2
    for log in "$WORK"/*.log; do
      [[ -f $log ]] || continue
      echo "=== $log (last 40 lines)" >&2
      tail -n 40 "$log" >&2
    done
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# make_pki DEVICES: a CA in $WORK/pki with a coordinator certificate for
# localhost and device certificates dev-0 to dev-(DEVICES-1).
make_pki() {
  local devices=$1
  "$BIN/ecq-pki" init-ca --dir "$WORK/pki" >/dev/null
  "$BIN/ecq-pki" issue-coordinator --dir "$WORK/pki" --host localhost >/dev/null
  for ((i = 0; i < devices; i++)); do
    "$BIN/ecq-pki" issue-device --dir "$WORK/pki" --id "dev-$i" >/dev/null
  done
}

# wait_for_file PATH SECONDS: waits until PATH exists and is not empty.
wait_for_file() {
  local path=$1 seconds=$2
  for ((i = 0; i < seconds * 10; i++)); do
    [[ -s $path ]] && return 0
    sleep 0.1
  done
  fail "$path did not appear within $seconds s"
}

# wait_for_line FILE PATTERN SECONDS: waits until FILE has a line matching
# the extended regular expression PATTERN.
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3
  for ((i = 0; i < seconds * 10; i++)); do
    grep -Eq "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no line matching '$pattern' in $file within $seconds s"
}

# start_coordinator NAME ARGS...: starts ecq-coordinator on $LISTEN (default an
# ephemeral port on 127.0.0.1)
# with its log in $WORK/NAME.log; sets COORDINATOR_PID and COORDINATOR_PORT.
start_coordinator() {
  local name=$1
  shift
  rm -f "$WORK/$name.port"
  "$BIN/ecq-coordinator" --listen "${LISTEN:-127.0.0.1:0}" --port-file "$WORK/$name.port" --metrics-listen "" "$@" \
    >"$WORK/$name.log" 2>&1 &
  COORDINATOR_PID=$!
  PIDS+=("$COORDINATOR_PID")
  wait_for_file "$WORK/$name.port" 30
  COORDINATOR_PORT=$(cat "$WORK/$name.port")
}

# start_device NAME ARGS...: starts ecq-device with its log in $WORK/NAME.log
# and appends its pid to DEVICE_PIDS. A test may set DEVICE_COMMAND to run
# another ecq-device, e.g. a cross-built one under its emulator.
DEVICE_PIDS=()
DEVICE_COMMAND=("$BIN/ecq-device")
start_device() {
  local name=$1
  shift
  "${DEVICE_COMMAND[@]}" "$@" >"$WORK/$name.log" 2>&1 &
  DEVICE_PIDS+=("$!")
  PIDS+=("$!")
}

# wait_for_exit PID SECONDS: waits for PID to exit with status 0.
wait_for_exit() {
  local pid=$1 seconds=$2
  for ((i = 0; i < seconds * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || fail "process $pid exited with status $?"
      return 0
    fi
    sleep 0.1
  done
  fail "process $pid did not exit within $seconds s"
}

# json FILE FILTER: prints a jq filter's result on FILE.
json() {
  jq -r "$2" "$1"
}
