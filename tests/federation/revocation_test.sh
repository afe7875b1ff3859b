#!/usr/bin/env bash
# Revoking a device while it is connected: after `ecq-pki revoke` and SIGHUP
# the coordinator closes that device's connection at once and rejects its
# handshakes from then on, while the other device keeps training.
BIN=$1
source "$(dirname "$0")/lib.sh"

make_pki 2
start_coordinator coordinator --pki "$WORK/pki" --model softmax --inputs 784 --classes 10 --devices-per-round 1 \
  --min-updates 1 --round-deadline-ms 60000 --selection-wait-ms 60000 --local-steps 0 --batch-size 32 \
  --server-learning-rate 0.1 --method ecq --no-durability --summary "$WORK/summary.json"
for ((i = 0; i < 2; i++)); do
  start_device "device-$i" --coordinator "127.0.0.1:$COORDINATOR_PORT" --pki "$WORK/pki" --id "dev-$i" \
    --model softmax --data fashion-mnist --partition iid --devices 2 --device-index "$i" --seed 1 \
    --backoff-min-ms 100 --backoff-max-ms 500 --state-dir "$WORK/device-$i"
done
wait_for_line "$WORK/coordinator.log" "device dev-0 authenticated by TLS" 60
wait_for_line "$WORK/coordinator.log" "device dev-1 authenticated by TLS" 60

"$BIN/ecq-pki" revoke --dir "$WORK/pki" --id dev-0 >/dev/null
kill -HUP "$COORDINATOR_PID"
wait_for_line "$WORK/coordinator.log" "closing connection of dev-0" 30
# dev-0's next handshakes fail on the revoked certificate.
wait_for_line "$WORK/coordinator.log" "TLS handshake with .* failed: .*revoked" 30
kill -0 "$COORDINATOR_PID" || fail "the coordinator exited on SIGHUP"

# dev-1 still trains: rounds keep closing after the reload.
applied_before=$(grep -c "round [0-9]* closed" "$WORK/coordinator.log") || true
wait_for_line "$WORK/device-1.log" "update [0-9]+ applied" 30
sleep 1
applied_after=$(grep -c "round [0-9]* closed" "$WORK/coordinator.log") || true
((applied_after > applied_before)) || fail "no round closed after the reload ($applied_before before, $applied_after after)"
# The coordinator never offered dev-0 another round.
offered_after=$(sed -n '/closing connection of dev-0/,$p' "$WORK/coordinator.log" | grep -c "dev-0 round [0-9]* update") ||
  true
[[ $offered_after -eq 0 ]] || fail "dev-0 sent updates after its revocation"
echo "ok"
