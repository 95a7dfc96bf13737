#!/usr/bin/env bash
# Runs one harness scenario N times, each on freshly started release nodes and a fresh
# database (or, with KEEP_DATABASE=1, one that grows run after run), and prints each
# figure's median, least and most over the runs and their spread (most ÷ least): one
# run's figure is weather, and a stall seen once in ten runs shows only here. Each run's
# JSON and output stay in $OUT (a temporary directory unless given).
#
#   loadtest/repeat.sh 10 approvals 2 --sessions 3000 --rate 1000 --admins 4
#   KEEP_DATABASE=1 loadtest/repeat.sh 12 approvals 2 --sessions 3000 --rate 1000 --admins 4
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000
[ $# -ge 3 ] || { sed -n '2,9p' "$0"; exit 2; }
RUNS=$1 SCENARIO=$2 NODE_COUNT=$3
shift 3

cargo build --release --workspace --quiet
source loadtest/nodes.sh
trap stop_nodes EXIT
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
for k in $(seq 1 "$RUNS"); do
    start_nodes "$NODE_COUNT"
    joined=$(IFS=,; echo "${NODES[*]}")
    pids=$(IFS=,; echo "${PIDS[*]}")
    "$BIN/gonghui-loadtest" "$SCENARIO" --nodes "$joined" --server-pid "$pids" \
        --json "$OUT/run-$k.json" "$@" > "$OUT/run-$k.log" 2>&1 \
        || echo "run $k failed: $OUT/run-$k.log"
    stop_nodes
    echo "run $k of $RUNS done"
done
python3 loadtest/spread.py "$OUT"/run-*.json | tee "$OUT/spread.txt"
echo "runs in $OUT"
