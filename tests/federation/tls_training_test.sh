#!/usr/bin/env bash
# A coordinator and 8 device processes train softmax regression on
# Fashion-MNIST over mutual TLS on 127.0.0.1: Dirichlet(0.5) shares, K = 8,
# one gradient of batch 32 per round, server learning rate 0.1, ECQ-SGD with
# the default settings, 20 rounds. The test accuracy must reach 0.60 (chance
# is 0.10) and every update must be applied.
BIN=$1
source "$(dirname "$0")/lib.sh"

make_pki 8
start_coordinator coordinator --pki "$WORK/pki" --model softmax --eval-data fashion-mnist-test --eval-every 20 \
  --devices-per-round 8 --min-updates 8 --round-deadline-ms 60000 --rounds 20 --local-steps 0 --batch-size 32 \
  --server-learning-rate 0.1 --momentum 0 --method ecq --state-dir "$WORK/state" --summary "$WORK/summary.json"

for ((i = 0; i < 8; i++)); do
  start_device "device-$i" --coordinator "127.0.0.1:$COORDINATOR_PORT" --server-name localhost --pki "$WORK/pki" \
    --id "dev-$i" --model softmax --data fashion-mnist --partition dirichlet --partition-alpha 0.5 --devices 8 \
    --device-index "$i" --seed 1 --state-dir "$WORK/device-$i"
done

wait_for_exit "$COORDINATOR_PID" 300

rounds=$(json "$WORK/summary.json" .rounds_applied)
updates=$(json "$WORK/summary.json" .updates_applied)
accuracy=$(json "$WORK/summary.json" .last_evaluation.accuracy)
echo "rounds applied: $rounds, updates applied: $updates, test accuracy: $accuracy"
[[ $rounds -eq 20 ]] || fail "expected 20 applied rounds, got $rounds"
[[ $updates -eq 160 ]] || fail "expected 160 applied updates (8 devices x 20 rounds), got $updates"
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.60) }' || fail "test accuracy $accuracy is below 0.60"

# Every connection was authenticated by its certificate.
grep -q "unauthenticated" "$WORK/coordinator.log" && fail "the coordinator logged an unauthenticated device"
echo "ok"
