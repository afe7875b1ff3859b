#!/usr/bin/env bash
# A cross-built ecq-device under its emulator (qemu-user) trains with the
# host's ecq-coordinator over mutual TLS on 127.0.0.1: softmax regression on
# Fashion-MNIST, one device, ECQ-SGD with the default settings, 5 rounds.
# The coordinator must apply the device's update in every round.
#   cross_device_test.sh HOST_BIN DEVICE_PROGRAM EMULATOR [EMULATOR_ARGS...]
# HOST_BIN is the host build's bin folder (ecq-coordinator, ecq-pki).
BIN=$1
device_program=$2
shift 2
source "$(dirname "$0")/lib.sh"
DEVICE_COMMAND=("$@" "$device_program")

make_pki 1
start_coordinator coordinator --pki "$WORK/pki" --model softmax --eval-data fashion-mnist-test --eval-every 5 \
  --devices-per-round 1 --min-updates 1 --round-deadline-ms 120000 --rounds 5 --local-steps 0 --batch-size 32 \
  --server-learning-rate 0.1 --momentum 0 --method ecq --state-dir "$WORK/state" --summary "$WORK/summary.json"

start_device device --coordinator "127.0.0.1:$COORDINATOR_PORT" --server-name localhost --pki "$WORK/pki" \
  --id dev-0 --model softmax --data fashion-mnist --partition iid --devices 1 --device-index 0 --seed 1 \
  --state-dir "$WORK/device" --rounds 5

wait_for_exit "$COORDINATOR_PID" 300
wait_for_exit "${DEVICE_PIDS[0]}" 60

rounds=$(json "$WORK/summary.json" .rounds_applied)
updates=$(json "$WORK/summary.json" .updates_applied)
rejected=$(json "$WORK/summary.json" '[.updates_rejected[]] | add // 0')
accuracy=$(json "$WORK/summary.json" .last_evaluation.accuracy)
echo "rounds applied: $rounds, updates applied: $updates, updates rejected: $rejected, test accuracy: $accuracy"
[[ $rounds -eq 5 ]] || fail "expected 5 applied rounds, got $rounds"
[[ $updates -eq 5 ]] || fail "expected 5 applied updates (1 device x 5 rounds), got $updates"
[[ $rejected -eq 0 ]] || fail "expected no rejected updates, got $rejected"
grep -q "unauthenticated" "$WORK/coordinator.log" && fail "the coordinator logged an unauthenticated device"
echo "ok"
