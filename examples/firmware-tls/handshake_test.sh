#!/usr/bin/env bash
# The TLS reference firmware, under qemu-system-arm -M mps2-an386, completes
# a TLS 1.2 PSK handshake (TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256) with
# the host's ecq-coordinator on 127.0.0.1. QEMU joins the board's UART0 to a
# TCP connection to the coordinator's PSK listener. Checks that the firmware
# reports the cipher suite and exits with success, and that the coordinator
# logs the device as authenticated by its PSK identity.
#   handshake_test.sh HOST_BIN FIRMWARE_ELF
# HOST_BIN is the host build's bin folder (ecq-coordinator, ecq-pki).
BIN=$1
image=$2
source "$(dirname "$0")/../../tests/federation/lib.sh"
identity=mps2-an386-0

"$BIN/ecq-pki" init-ca --dir "$WORK/pki" >/dev/null
"$BIN/ecq-pki" issue-coordinator --dir "$WORK/pki" --host localhost >/dev/null
"$BIN/ecq-pki" make-psk --dir "$WORK/pki" --id "$identity" >/dev/null

start_coordinator coordinator --pki "$WORK/pki" --psk-listen 127.0.0.1:0 --model softmax --inputs 784 \
  --classes 10 --rounds 1 --state-dir "$WORK/state"
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
echo "qemu-system-arm ran for $elapsed_ms ms (start-up, handshake and exit)"
[[ $status -eq 0 ]] || fail "the TLS firmware failed under qemu-system-arm (exit status $status; 124 is the 120 s timeout)"
grep -q "^firmware-tls: cipher suite TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256$" "$WORK/firmware.log" ||
  fail "the firmware did not report the cipher suite TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256"
wait_for_line "$WORK/coordinator.log" "device $identity authenticated by TLS \(serial none, PSK\)" 10
echo "ok"
