#!/usr/bin/env bash
# The coordinator's update-norm bound with three plaintext devices: "clip"
# scales every update above the bound down and applies it; "reject" applies
# none of them and sends each device a verdict with the reason.
#   norm_bound_test.sh BIN clip|reject
BIN=$1
CASE=$2
source "$(dirname "$0")/lib.sh"

# The first softmax gradients on Fashion-MNIST here have l2 norms of about
# 3 to 4 (seen in the clip log lines); both bounds are far below that.
case $CASE in
  clip) bound=(--norm-bound 0.01 --norm-bound-action clip --rounds 3) ;;
  reject) bound=(--norm-bound 0.000001 --norm-bound-action reject --rounds 1) ;;
  *) fail "unknown case '$CASE'" ;;
esac

start_coordinator coordinator --insecure-plaintext --model softmax --inputs 784 --classes 10 --devices-per-round 3 \
  --min-updates 1 --round-deadline-ms 60000 --selection-wait-ms 60000 --local-steps 0 --batch-size 32 \
  --server-learning-rate 0.1 --method ecq --no-durability --summary "$WORK/summary.json" "${bound[@]}"

for ((i = 0; i < 3; i++)); do
  start_device "device-$i" --coordinator "127.0.0.1:$COORDINATOR_PORT" --insecure-plaintext --id "dev-$i" \
    --model softmax --data fashion-mnist --partition iid --devices 3 --device-index "$i" --seed 1 \
    --state-dir "$WORK/device-$i"
done

if [[ $CASE == clip ]]; then
  wait_for_exit "$COORDINATOR_PID" 120
  applied=$(json "$WORK/summary.json" .updates_applied)
  clipped=$(json "$WORK/summary.json" .updates_clipped)
  echo "clip: $applied updates applied, $clipped clipped"
  [[ $applied -eq 9 ]] || fail "expected 9 applied updates, got $applied"
  [[ $clipped -eq 9 ]] || fail "expected all 9 updates clipped, got $clipped"
  grep -q "clipped to the bound 0.01" "$WORK/coordinator.log" || fail "the coordinator did not log the clipping"
else
  # No round can apply: wait until every device has its rejection, then stop.
  for ((i = 0; i < 3; i++)); do
    wait_for_line "$WORK/device-$i.log" "not applied, reason 4" 60
  done
  kill -TERM "$COORDINATOR_PID"
  wait_for_exit "$COORDINATOR_PID" 30
  rejected=$(json "$WORK/summary.json" .updates_rejected.norm_bound_rejected)
  echo "reject: $(json "$WORK/summary.json" .updates_applied) applied, $rejected rejected by the norm bound"
  [[ $(json "$WORK/summary.json" .updates_applied) -eq 0 ]] || fail "an update above the bound was applied"
  [[ $(json "$WORK/summary.json" .rounds_applied) -eq 0 ]] || fail "a round was applied"
  [[ $rejected -ge 3 ]] || fail "expected at least 3 rejections, got $rejected"
fi
echo "ok"
