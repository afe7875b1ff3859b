#!/usr/bin/env bash
# Faults between plaintext devices and the coordinator, injected by
# ecq-fault-proxy: a lost verdict, a device that vanishes mid-upload, and
# malformed, wrong-version and oversized frames. Three devices train
# softmax regression on Fashion-MNIST; every case checks that the run still
# completes and that each update is applied at most once.
#   fault_test.sh BIN lost-verdict|mid-upload|corrupt|version|oversize
BIN=$1
CASE=$2
source "$(dirname "$0")/lib.sh"

rounds=3
expected_updates=9
case $CASE in
  lost-verdict) fault=down:6:1:drop ;;      # the first verdict never reaches its device
  mid-upload) fault=up:5:1:truncate ;;      # the first update chunk is cut in half, then the connection ends
  corrupt) fault=up:2:1:corrupt ;;          # a check-in with a flipped body byte (checksum mismatch)
  version) fault=up:1:2:version ;;          # a hello that claims protocol version 9
  oversize) fault=up:2:2:oversize ;;        # a check-in header announcing a 2 GiB body
  *) fail "unknown case '$CASE'" ;;
esac
# The cut upload loses one update of round 1, so that round applies 2.
[[ $CASE == mid-upload ]] && expected_updates=8

start_coordinator coordinator --insecure-plaintext --model softmax --inputs 784 --classes 10 \
  --devices-per-round 3 --min-updates 2 --round-deadline-ms 60000 --selection-wait-ms 60000 --rounds $rounds \
  --batch-size 32 --server-learning-rate 0.1 --method ecq --max-body-size 1024 --state-dir "$WORK/state" \
  --summary "$WORK/summary.json"

"$BIN/ecq-fault-proxy" --target "127.0.0.1:$COORDINATOR_PORT" --port-file "$WORK/proxy.port" --fault "$fault" \
  >"$WORK/proxy.log" 2>&1 &
PIDS+=("$!")
wait_for_file "$WORK/proxy.port" 10
proxy_port=$(cat "$WORK/proxy.port")

for ((i = 0; i < 3; i++)); do
  start_device "device-$i" --coordinator "127.0.0.1:$proxy_port" --insecure-plaintext --id "dev-$i" --model softmax \
    --data fashion-mnist --partition iid --devices 3 --device-index "$i" --seed 1 --max-body-size 1024 \
    --backoff-min-ms 100 --backoff-max-ms 1000 --state-dir "$WORK/device-$i"
done

wait_for_exit "$COORDINATOR_PID" 120
grep -q "ecq-fault-proxy: " "$WORK/proxy.log" || fail "the proxy never injected its fault"

applied=$(json "$WORK/summary.json" .updates_applied)
echo "$CASE: rounds applied $(json "$WORK/summary.json" .rounds_applied), updates applied $applied"
[[ $(json "$WORK/summary.json" .rounds_applied) -eq $rounds ]] || fail "expected $rounds applied rounds"
[[ $applied -eq $expected_updates ]] || fail "expected $expected_updates applied updates, got $applied"
# Plaintext ids come from hello and are marked unauthenticated.
grep -q "unauthenticated" "$WORK/coordinator.log" || fail "the coordinator did not mark plaintext ids unauthenticated"

# Each update id is applied once at most.
duplicates=$(grep -oE "device [A-Za-z0-9._-]+ round [0-9]+ update [0-9]+: applied" "$WORK/coordinator.log" |
  awk '{print $2, $6}' | sort | uniq -d)
[[ -z $duplicates ]] || fail "updates applied twice: $duplicates"

case $CASE in
  lost-verdict)
    # The device that missed its verdict asked after reconnecting and committed.
    grep -hE "status of update [0-9]+: applied" "$WORK"/device-*.log || fail "no device learned its status after the lost verdict"
    ;;
  mid-upload)
    grep -hE "status of update [0-9]+: not applied" "$WORK"/device-*.log ||
      fail "the device whose upload was cut did not learn that it was not applied"
    ;;
  corrupt) grep -iE "checksum|crc" "$WORK/coordinator.log" | head -2 || fail "the coordinator logged no checksum error" ;;
  version) grep -iE "version" "$WORK/coordinator.log" | grep -v "model version" | head -2 ||
             fail "the coordinator logged no version error" ;;
  oversize) grep -iE "oversized|body size|too large|exceeds" "$WORK/coordinator.log" | head -2 ||
              fail "the coordinator logged no oversized-frame error" ;;
esac
echo "ok"
