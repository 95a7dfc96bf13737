#!/usr/bin/env bash
# Runs the benchmark suite of docs/BENCHMARKS.md on this machine and writes each
# scenario's figures to loadtest/results/<scenario>.json, the machine and commit to
# results/run.json, and BENCHMARKS.md's generated tables (loadtest/tables.py). Commit
# them: a regression then shows as a diff. Every scenario gets freshly started release nodes (so RSS figures are
# true) on a fresh database; the peer runs beside gonghui when its packages are installed
# (loadtest/peers/install.sh).
#
#   loadtest/suite.sh                 # every scenario
#   loadtest/suite.sh login-flood     # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000

cargo build --release --workspace --quiet
RESULTS=loadtest/results
mkdir -p "$RESULTS"
source loadtest/nodes.sh
trap stop_nodes EXIT

PEER_ARGS=()
start_peer() {
    if [ -d loadtest/peers/ws-broadcast/node_modules ]; then
        node loadtest/peers/ws-broadcast/server.js 19090 &
        PEER_PID=$!
        sleep 0.5
        PEER_ARGS=(--peer http://127.0.0.1:19090 --peer-pid "$PEER_PID")
    fi
}
stop_peer() {
    if [ -n "${PEER_PID:-}" ]; then kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true; fi
    PEER_PID=; PEER_ARGS=()
}

run() { # $1: results name, $2: scenario, $3: nodes, rest: arguments
    local name=$1 scenario=$2 nodes=$3
    shift 3
    echo "== $name"
    start_nodes "$nodes"
    local joined pids
    joined=$(IFS=,; echo "${NODES[*]}")
    pids=$(IFS=,; echo "${PIDS[*]}")
    "$BIN/gonghui-loadtest" "$scenario" --nodes "$joined" --server-pid "$pids" \
        --json "$RESULTS/$name.json" "$@" || FAILED+=("$name")
    stop_nodes
    stamp "$RESULTS/$name.json"
}

COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!loadtest/results' ':!docs/BENCHMARKS.md' || echo "-dirty")
stamp() { # $1: a scenario's results file; adds the commit and time of its run
    python3 - "$1" "$COMMIT" "$(date -u +%Y-%m-%dT%H:%MZ)" <<'PY'
import json, sys
path, commit, date = sys.argv[1:]
report = json.load(open(path))
report.update(commit=commit, date=date)
json.dump(report, open(path, "w"), indent=2)
PY
}
FAILED=()

wanted() { [ $# -eq 0 ] || [[ " $* " == *" $SCENARIO "* ]]; }

for SCENARIO in idle idle-100k connect-burst fanout fanout-one approvals approvals-backlog approvals-capacity approvals-overload approvals-wide activity reconnect-storm login-flood tree-import; do
    wanted "$@" || continue
    case $SCENARIO in
        idle) start_peer
              run idle idle 1 --sessions 19700 --duration 5 --rate 800 --workers 2 "${PEER_ARGS[@]}"
              stop_peer ;;
        # 100,000 sessions over 6 nodes (each capped at 20,000 files); a smaller pool each,
        # so six fit in Postgres's default 100 connections.
        idle-100k) GONGHUI_DB_POOL=12 run idle-100k idle 6 --sessions 100000 --duration 10 --rate 1000 --workers 8 --source-ips 127.0.0.2-127.0.0.40 ;;
        # 10,000 connecting at 2,000 a second to one node: hello and both subscribes each.
        connect-burst) run connect-burst idle 1 --sessions 10000 --duration 5 --rate 2000 --workers 2 ;;
        fanout) start_peer
                run fanout fanout 1 --sessions 10000 --duration 10 --rate 30 --connect-rate 1000 --workers 2 "${PEER_ARGS[@]}"
                stop_peer ;;
        # One event a second to the same 10,000: the latency of a single event's fan-out.
        fanout-one) start_peer
                    run fanout-one fanout 1 --sessions 10000 --duration 10 --rate 1 --connect-rate 1000 --workers 2 "${PEER_ARGS[@]}"
                    stop_peer ;;
        approvals) run approvals approvals 2 --sessions 3000 --rate 1000 --admins 4 ;;
        approvals-backlog) run approvals-backlog approvals 2 --sessions 6000 --rate 2000 --admins 4 --backlog ;;
        # The backlog decided with enough calls in flight to saturate the box: one union's capacity.
        approvals-capacity) run approvals-capacity approvals 2 --sessions 6000 --rate 2000 --admins 4 --backlog --in-flight 64 ;;
        # Three times the rate the 1x run sustains.
        approvals-overload) run approvals-overload approvals 2 --sessions 9000 --rate 3000 --admins 4 ;;
        approvals-wide) run approvals-wide approvals 2 --sessions 3000 --rate 1000 --admins 4 --unions 100 ;;
        activity) run activity activity 2 --sessions 5000 --rate 700 ;;
        reconnect-storm) run reconnect-storm reconnect-storm 2 --sessions 10000 --rate 800 --workers 2 ;;
        login-flood) run login-flood login-flood 1 --sessions 500 --source-ips 127.0.0.2-127.0.0.40 ;;
        tree-import) run tree-import tree-import 1 --sessions 20000 ;;
    esac
done
# The machine of the last run, and BENCHMARKS.md's tables from every scenario's file.
cat > "$RESULTS/run.json" <<JSON
{
  "commit": "$COMMIT",
  "date": "$(date -u +%Y-%m-%dT%H:%MZ)",
  "scenarios": "${*:-all}",
  "machine": {
    "cpus": $(nproc),
    "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)",
    "memory_gib": $(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo),
    "kernel": "$(uname -r)",
    "postgres": "$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version' postgres | cut -d' ' -f1)"
  }
}
JSON
loadtest/tables.py
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "failed (results still written): ${FAILED[*]}"
    exit 1
fi
