#!/usr/bin/env bash
# The coordinator is killed with SIGKILL in the middle of training and
# restarted with --resume on the same port. Training must go on from the last
# durable round with the same model bytes, and every update a device
# committed (it received "applied") must be part of the resumed model.
BIN=$1
source "$(dirname "$0")/lib.sh"

make_pki 4
common=(--pki "$WORK/pki" --model softmax --inputs 784 --classes 10 --devices-per-round 4 --min-updates 2
  --round-deadline-ms 60000 --selection-wait-ms 2000 --local-steps 0 --batch-size 32 --server-learning-rate 0.1
  --method ecq --state-dir "$WORK/state" --snapshot-every 3)

start_coordinator first "${common[@]}" --rounds 0
port=$COORDINATOR_PORT
first_pid=$COORDINATOR_PID
for ((i = 0; i < 4; i++)); do
  start_device "device-$i" --coordinator "127.0.0.1:$port" --pki "$WORK/pki" --id "dev-$i" --model softmax \
    --data fashion-mnist --partition iid --devices 4 --device-index "$i" --seed 1 --backoff-min-ms 100 \
    --backoff-max-ms 500 --state-dir "$WORK/device-$i"
done

# Let a few rounds become durable (snapshot at 3, log after it), then kill.
wait_for_line "$WORK/first.log" "model version 7," 120
kill -KILL "$first_pid"
wait "$first_pid" 2>/dev/null || true
# Rounds whose "applied" verdict reached a device before the kill.
committed=$(grep -hoE "round [0-9]+: update [0-9]+ applied" "$WORK"/device-*.log | awk '{print $2}' | tr -d ':' |
  sort -un)
last_logged=$(grep -oE "model version [0-9]+, model crc32c [0-9a-f]+" "$WORK/first.log" | tail -1)
echo "killed the first coordinator after: $last_logged"

# --rounds counts the rounds before the restart too: a few more, then stop.
logged_version=$(sed -E 's/model version ([0-9]+),.*/\1/' <<<"$last_logged")
target=$((logged_version + 4))
LISTEN="127.0.0.1:$port" start_coordinator second "${common[@]}" --resume --rounds "$target" \
  --summary "$WORK/summary.json"
wait_for_exit "$COORDINATOR_PID" 120

resumed=$(grep -oE "resumed from .*" "$WORK/second.log") || fail "the second coordinator did not log its recovery"
echo "$resumed"
version=$(sed -E 's/.*replayed, model version ([0-9]+), .*/\1/' <<<"$resumed")
crc=$(sed -E 's/.*model crc32c ([0-9a-f]+).*/\1/' <<<"$resumed")

# The durable state is at least what the first coordinator reported: it logs
# a round only after writing it, and it may have been killed right between.
((version >= logged_version && version <= logged_version + 1)) ||
  fail "resumed at model version $version, but the first coordinator had logged version $logged_version"
first_crc=$(grep -oE "model version $version, model crc32c [0-9a-f]+" "$WORK/first.log" | sed -E 's/.* //' |
  tail -1) || true
if [[ -z $first_crc ]]; then
  echo "model version $version became durable just before the kill, unlogged: its crc32c cannot be compared"
else
  [[ $crc == "$first_crc" ]] || fail "model version $version had crc32c $first_crc before the kill and $crc after"
  echo "model version $version: crc32c $crc before and after the restart"
fi

# Every committed round is at or below the resumed version.
for round in $committed; do
  round_version=$(grep -oE "round $round closed: [0-9]+ updates applied, model version [0-9]+" "$WORK/first.log" |
    sed -E 's/.* //') || true
  [[ -n $round_version ]] || fail "a device committed round $round, which the first coordinator never closed"
  ((round_version <= version)) ||
    fail "a device committed round $round (model version $round_version), lost by the restart at version $version"
done
echo "committed rounds before the kill: $(echo $committed | tr '\n' ' ')"

final=$(json "$WORK/summary.json" .model_version)
[[ $final -eq $target ]] || fail "expected to stop at model version $target (--rounds), got $final"
((final > version)) || fail "no round was applied after the restart"
# Round ids of the second run never repeat those of the first.
first_ids=$(grep -oE "round [0-9]+ started" "$WORK/first.log" | awk '{print $2}' | LC_ALL=C sort)
second_ids=$(grep -oE "round [0-9]+ started" "$WORK/second.log" | awk '{print $2}' | LC_ALL=C sort)
reused=$(LC_ALL=C comm -12 <(echo "$first_ids") <(echo "$second_ids"))
[[ -z $reused ]] || fail "round ids reused after the restart: $reused"
echo "ok"
