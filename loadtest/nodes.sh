# Release nodes on a fresh database, for the scripts that run the harness against them
# (suite.sh, repeat.sh); sourced, not run. Sets NODES (base URLs) and PIDS.
BIN=${BIN:-target/release}
export GONGHUI_DATA_KEY=${GONGHUI_DATA_KEY:-$(openssl rand -hex 32)}
export GONGHUI_LOG=${GONGHUI_LOG:-warn}
# The harness's clients come from a few loopback addresses, thousands connecting at once.
export GONGHUI_ANONYMOUS_SOCKETS_PER_ADDRESS=100000
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gonghui_suite}
NODES=()
PIDS=()

start_nodes() { # $1: how many; with KEEP_DATABASE=1 the database of the last run stays
    [ "${KEEP_DATABASE:-}" = 1 ] || psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DATABASE_URL##*/}" postgres
    NODES=(); PIDS=()
    for i in $(seq 1 "$1"); do
        "$BIN/gonghui" serve --listen "127.0.0.1:$((18180 + i))" &
        PIDS+=($!)
        NODES+=("http://127.0.0.1:$((18180 + i))")
        until curl -sf -o /dev/null "${NODES[-1]}/readyz"; do sleep 0.2; done
    done
}

stop_nodes() {
    kill "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
}
