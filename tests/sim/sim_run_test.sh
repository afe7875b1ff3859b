#!/usr/bin/env bash
# Short ecq-sim runs on Fashion-MNIST, checked through the JSON summary.
#   sim_run_test.sh BIN inproc|tls|diverge
# inproc and tls run fp32 and ecq on 20 devices. diverge runs classic error
# feedback (alpha = beta = 1) at s = 2, bucket 1024, where it diverges.
set -euo pipefail
BIN=$1
CASE=$2
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ecq-sim-test.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

common=(--devices 20 --devices-per-round 5 --check-in-probability 0.8 --drop-probability 0.1 --rounds 60
  --eval-every 20 --batch-size 32 --server-learning-rate 0.1 --levels 2 --bucket-size 1024 --seed 3)
case $CASE in
  inproc | tls)
    "$BIN/ecq-sim" --transport "$CASE" "${common[@]}" --compare fp32,ecq --out "$OUT" >"$OUT/stdout.txt"
    summary=$OUT/summary.json
    cat "$OUT/stdout.txt"
    [[ $(jq .schema_version "$summary") -eq 1 ]] || fail "schema_version is not 1"
    [[ $(jq -r .transport "$summary") == "$CASE" ]] || fail "transport is not $CASE"
    for compressor in fp32 ecq; do
      accuracy=$(jq ".compressors.$compressor.final_accuracy" "$summary")
      awk -v a="$accuracy" 'BEGIN { exit !(a > 0.5 && a <= 1) }' ||
        fail "$compressor final accuracy $accuracy is not above 0.5 after 60 rounds"
      [[ $(jq ".compressors.$compressor.rounds" "$summary") == 60 ]] || fail "$compressor did not apply 60 rounds"
      [[ $(jq ".compressors.$compressor.diverged" "$summary") == false ]] || fail "$compressor diverged"
    done
    ratio=$(jq .compressors.ecq.compression_ratio "$summary")
    awk -v r="$ratio" 'BEGIN { exit !(r > 20) }' || fail "ecq compression ratio $ratio is not above 20"
    [[ $(jq '.compressors.ecq.devices_dropped' "$summary") != 0 ]] || fail "no device dropped with q = 0.1"
    [[ $(jq .peak_device_bytes "$summary") -gt 0 ]] || fail "peak_device_bytes is missing"
    [[ $(jq .peak_coordinator_rss_bytes "$summary") -gt 0 ]] || fail "peak_coordinator_rss_bytes is missing"
    # One CSV row per round and compressor, plus the header.
    [[ $(wc -l <"$OUT/metrics.csv") -eq 121 ]] || fail "metrics.csv does not have 120 rounds"
    [[ $(head -c 4 "$OUT/accuracy.png" | od -An -tx1 | tr -d ' ') == 89504e47 ]] || fail "accuracy.png is not a PNG"
    jq -c '[.compressors.ecq.final_accuracy, .compressors.ecq.uplink_bytes]' "$summary" >"$OUT/figures.txt"
    echo "figures: $(cat "$OUT/figures.txt")"
    ;;
  diverge)
    "$BIN/ecq-sim" --transport inproc --devices 100 --devices-per-round 20 --rounds 300 --eval-every 50 \
      --batch-size 32 --server-learning-rate 0.1 --levels 2 --bucket-size 1024 --compare ef --out "$OUT" \
      >"$OUT/stdout.txt" 2>"$OUT/stderr.txt"
    cat "$OUT/stdout.txt"
    summary=$OUT/summary.json
    [[ $(jq .compressors.ef.diverged "$summary") == true ]] || fail "ef did not diverge"
    [[ $(jq .compressors.ef.diverged_at_round "$summary") -ge 1 ]] || fail "diverged_at_round is missing"
    [[ $(jq .compressors.ef.final_accuracy "$summary") == null ]] || fail "a diverged run reports an accuracy"
    grep -q "ef diverged at round" "$OUT/stderr.txt" || fail "ecq-sim did not say that ef diverged"
    ! grep -qi "nan" "$summary" || fail "the summary contains NaN"
    ;;
  *) fail "unknown case '$CASE'" ;;
esac
echo "ok"
