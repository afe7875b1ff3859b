#!/usr/bin/env bash
# The TLS reference firmware, under qemu-system-arm -M mps2-an386, completes
# a TLS 1.2 PSK handshake (TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256) with
# the host's ecq-coordinator on 127.0.0.1, then one federation round:
# softmax regression with 64 inputs and 4 classes on synthetic data, ECQ-SGD.
# QEMU joins the board's UART0 to a TCP connection to the coordinator's PSK
# listener. Checks that the firmware reports the cipher suite and the applied
# update and exits with success, that the coordinator logs the device as
# authenticated by its PSK identity, and that it applied 1 update in 1 round.
#   federation_test.sh HOST_BIN FIRMWARE_ELF
# HOST_BIN is the host build's bin folder (ecq-coordinator, ecq-pki).
BIN=$1
image=$2
source "$(dirname "$0")/../../tests/federation/lib.sh"
identity=mps2-an386-0

"$BIN/ecq-pki" init-ca --dir "$WORK/pki" >/dev/null
"$BIN/ecq-pki" issue-coordinator --dir "$WORK/pki" --host localhost >/dev/null
"$BIN/ecq-pki" make-psk --dir "$WORK/pki" --id "$identity" >/dev/null

start_coordinator coordinator --pki "$WORK/pki" --psk-listen 127.0.0.1:0 --model softmax --inputs 64 \
  --classes 4 --devices-per-round 1 --min-updates 1 --round-deadline-ms 120000 --rounds 1 --local-steps 0 \
  --batch-size 32 --method ecq --state-dir "$WORK/state" --summary "$WORK/summary.json"
wait_for_line "$WORK/coordinator.log" "PSK on port [0-9]+" 30
psk_port=$(sed -n 's/.*PSK on port \([0-9]*\).*/\1/p' "$WORK/coordinator.log" | head -n 1)

# qemu-system-arm 7.2 writes the semihosting console to its stderr.
start=$(date +%s%N)
status=0
timeout 120 qemu-system-arm -M mps2-an386 -display none -monitor none \
  -semihosting-config "enable=on,target=native,arg=$identity,arg=$WORK/pki/psk/$identity.psk" \
  -chardev "socket,id=link,host=127.0.0.1,port=$psk_port,nodelay=on" -serial chardev:link \
  -kernel "$image" >"$WORK/firmware.log" 2>&1 || status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$WORK/firmware.log"
echo "qemu-system-arm ran for $elapsed_ms ms (start-up, handshake, round and exit)"
[[ $status -eq 0 ]] || fail "the TLS firmware failed under qemu-system-arm (exit status $status; 124 is the 120 s timeout)"
grep -q "^firmware-tls: cipher suite TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256$" "$WORK/firmware.log" ||
  fail "the firmware did not report the cipher suite TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256"
grep -q "^firmware-tls: update applied$" "$WORK/firmware.log" || fail "the firmware did not report an applied update"
grep -Eq "device $identity authenticated by TLS \(serial none, PSK\)" "$WORK/coordinator.log" ||
  fail "the coordinator did not log device $identity as authenticated by its PSK"
wait_for_exit "$COORDINATOR_PID" 30
rounds=$(json "$WORK/summary.json" .rounds_applied)
updates=$(json "$WORK/summary.json" .updates_applied)
rejected=$(json "$WORK/summary.json" '[.updates_rejected[]] | add // 0')
echo "rounds applied: $rounds, updates applied: $updates, updates rejected: $rejected"
[[ $rounds -eq 1 ]] || fail "expected 1 applied round, got $rounds"
[[ $updates -eq 1 ]] || fail "expected 1 applied update, got $updates"
[[ $rejected -eq 0 ]] || fail "expected no rejected updates, got $rejected"
echo "ok"
