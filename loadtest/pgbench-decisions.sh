#!/usr/bin/env bash
# The database's own ceiling for application decisions on this machine, without nodes:
# pgbench (8 clients, prepared statements) sends a decision's statements as the server
# does — one decision per transaction, and twenty per transaction as a group — with the
# log writer's batch between. Decisions/s is what got approved in the run. Writes
# loadtest/results/pgbench-decisions.json; compare with pgbench.sh's simple-update rate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p gonghui
PG=(-h 127.0.0.1 -U postgres)
DB=gonghui_pgbench_decisions
SECONDS_EACH=${SECONDS_EACH:-15}
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB GONGHUI_LOG=warn
export GONGHUI_DATA_KEY=${GONGHUI_DATA_KEY:-$(openssl rand -hex 32)}
psql "${PG[@]}" -qc "DROP DATABASE IF EXISTS $DB" postgres
target/release/gonghui migrate >/dev/null
target/release/gonghui bootstrap --union-name 基准工会 --admin-phone 13800000000 \
    --admin-password pgbench-admin-1 >/dev/null
psql "${PG[@]}" -q "$DB" -f loadtest/pgbench/seed.sql >/dev/null
ADMIN=$(psql "${PG[@]}" -Atc "SELECT id FROM users WHERE phone = '13800000000'" "$DB")

rate() { # $1: decision script, $2: its weight beside one log-writer batch
    psql "${PG[@]}" -q "$DB" -f loadtest/pgbench/reset.sql >/dev/null
    pgbench "${PG[@]}" -n -M prepared -c 8 -j 2 -T "$SECONDS_EACH" -D admin="$ADMIN" \
        -f "loadtest/pgbench/$1@$2" -f loadtest/pgbench/log-writer.sql@1 "$DB" >/dev/null
    local decided
    decided=$(psql "${PG[@]}" -Atc "SELECT count(*) FROM applications WHERE status = 'approved'" "$DB")
    echo $((decided / SECONDS_EACH))
}
one=$(rate one-decision.sql 20)
group=$(rate twenty-decisions.sql 2)
psql "${PG[@]}" -qc "DROP DATABASE $DB" postgres
mkdir -p loadtest/results
cat > loadtest/results/pgbench-decisions.json <<JSON
{
  "scenario": "pgbench-decisions.sh: 8 clients, -M prepared, ${SECONDS_EACH} s each",
  "one_per_transaction_decisions_per_s": $one,
  "twenty_per_transaction_decisions_per_s": $group
}
JSON
cat loadtest/results/pgbench-decisions.json
