#!/usr/bin/env bash
# The redis track's reference server against a real redis-server, side by side, under
# redis-benchmark: the same tests, the same requests, the same pipeline depth, one run after the
# other on this machine. The ratio of the two is the figure to quote, not either rate alone.
#
#   benches/redis-benchmark.sh [REQUESTS] [PIPELINE]      (defaults: 100000, 16)
#
# Needs redis-server and redis-benchmark (Debian and Ubuntu: the redis-server package).
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${1:-100000}
pipeline=${2:-16}
# LPOP pops what the LPUSH test pushed: redis-benchmark runs LPUSH before it.
tests=set,get,incr,lpush,lpop
ours=16390
theirs=16391

work=$(mktemp -d)
cleanup() {
    exec 3>&- 2>/dev/null || true
    redis-cli -p "$theirs" shutdown nosave >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$theirs" --save '' --appendonly no --daemonize yes \
    --logfile "$work/redis.log" --dir "$work"

# The reference, behind the playground, which serves until its input ends: a pipe held open.
mkfifo "$work/input"
cargo grade play redis --reference --port "$ours" <"$work/input" >"$work/play.log" 2>&1 &
exec 3>"$work/input"

up() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }
for _ in $(seq 600); do
    up "$ours" && up "$theirs" && break
    sleep 0.5
done
if ! up "$ours"; then
    echo "the reference server did not come up:" >&2
    cat "$work/play.log" >&2
    exit 1
fi

rates() {
    redis-benchmark -p "$1" -t "$tests" -n "$requests" -P "$pipeline" -q --csv |
        tr -d '"' | awk -F, 'NR > 1 { print $1, $2 }'
}
rates "$theirs" >"$work/theirs"
rates "$ours" >"$work/ours"

echo "redis-benchmark -t $tests -n $requests -P $pipeline (requests per second)"
printf '%-8s %14s %14s %8s\n' test reference redis-server ratio
# Both list the tests in the order redis-benchmark runs them.
paste -d ' ' "$work/ours" "$work/theirs" | awk '
    { printf "%-8s %14.0f %14.0f %8.2f\n", $1, $2, $4, $2 / $4; sum += $2 / $4; n++ }
    END { if (n) printf "%-8s %14s %14s %8.2f\n", "mean", "", "", sum / n }'
