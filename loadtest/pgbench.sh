#!/usr/bin/env bash
# The database's own write rate on this machine, for scale beside the approvals figures:
# pgbench's simple-update script (-N: three updates and an insert per transaction) with 8
# clients for 20 s on a fresh scale-10 database. Writes loadtest/results/pgbench.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PG="-h 127.0.0.1 -U postgres"
psql $PG -qc "DROP DATABASE IF EXISTS gonghui_pgbench" postgres
psql $PG -qc "CREATE DATABASE gonghui_pgbench" postgres
pgbench $PG -q -i -s 10 gonghui_pgbench >/dev/null 2>&1
out=$(pgbench $PG -N -c 8 -j 2 -T 20 gonghui_pgbench 2>/dev/null)
echo "$out"
tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
latency=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
psql $PG -qc "DROP DATABASE gonghui_pgbench" postgres
mkdir -p loadtest/results
cat > loadtest/results/pgbench.json <<JSON
{
  "scenario": "pgbench -N -c 8 -j 2 -T 20 (scale 10)",
  "tps": $tps,
  "latency_ms": $latency
}
JSON
