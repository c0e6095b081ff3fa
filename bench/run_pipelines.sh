#!/usr/bin/env bash
# Pipelines benchmark: our app vs the bare baseline (bench/baseline_app.py), same
# database, same worker count, one after the other, repeated. Prints wrk summaries.
# Usage: bench/run_pipelines.sh [repeats]   (after bench/setup_pipelines.py)
# Env: BENCH_DURATION, BENCH_CONNS, BENCH_THREADS, BENCH_WORKERS, BENCH_POOL, BENCH_KINDS
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-2}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
WORKERS=${BENCH_WORKERS:-1}
# Connections per process, the same on both sides: ours' SQLAlchemy pool (moves) and
# hot-read pool (reads) each get POOL, the floor's one asyncpg pool too. 8 is ours' hot-read
# default; 20 put both sides' read p99 at 4-5x the median on 2 cores (bench/README.md).
POOL=${BENCH_POOL:-8}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/crm_bench}
STATE=bench/.state.json
export BENCH_TOKEN=$(python3 -c "import json;print(json.load(open('$STATE'))['token'])")
export BENCH_STAGE_A=$(python3 -c "import json;print(json.load(open('$STATE'))['stage_a'])")
export BENCH_STAGE_B=$(python3 -c "import json;print(json.load(open('$STATE'))['stage_b'])")
export BENCH_THREADS=$THREADS
KEY=$(python3 -c "import json;print(json.load(open('$STATE'))['jwt_keys']['bench'])")

start() {  # $1 = ours|baseline, $2 = port
  if [ "$1" = ours ]; then
    CRM_JWT_KEYS="{\"bench\": \"$KEY\"}" CRM_LOG_LEVEL=${CRM_LOG_LEVEL:-INFO} \
      CRM_DB_POOL_SIZE=$POOL CRM_DB_MAX_OVERFLOW=0 CRM_DB_HOT_READ_POOL_SIZE=$POOL \
      .venv/bin/crm serve --port "$2" --workers "$WORKERS" >/tmp/bench-ours.log 2>&1 &
  else
    BENCH_JWT_KEY=$KEY BENCH_POOL=$POOL .venv/bin/uvicorn bench.baseline_app:app --port "$2" --workers "$WORKERS" \
      --loop uvloop --http httptools --no-access-log --log-level warning >/tmp/bench-baseline.log 2>&1 &
  fi
  PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$2/v1/opportunities/$(head -1 bench/.data/deals_0.txt)" \
      -H "Authorization: Bearer $BENCH_TOKEN" >/dev/null && return 0
    sleep 0.2
  done
  echo "server $1 did not start"; cat /tmp/bench-$1.log; exit 1
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
# A server left running would keep holding the caller's lock (flock) and the port.
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true' EXIT

run() {  # $1 = ours|baseline, $2 = read|transition
  local port=$([ "$1" = ours ] && echo 8801 || echo 8802)
  start "$1" "$port"
  if [ "$2" = read ]; then
    export BENCH_IDS=bench/.data/deals_0.txt
    wrk -t1 -c4 -d2s -s bench/read.lua "http://127.0.0.1:$port" >/dev/null  # warm-up
  else
    # Every transition run takes a group of deals no run has moved yet.
    GROUP=$(cat bench/.data/next_group 2>/dev/null || echo 0)
    [ -f "bench/.data/deals_$GROUP.txt" ] || { echo "no fresh deals left: run bench/setup_pipelines.py"; exit 1; }
    echo $((GROUP + 1)) > bench/.data/next_group
    export BENCH_IDS=bench/.data/deals_$GROUP.txt
  fi
  echo "== $1 $2  (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "bench/$2.lua" "http://127.0.0.1:$port" \
    | grep -E "Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors"
  stop
}

echo "== start $(uptime)  pool=$POOL workers=$WORKERS wrk -t$THREADS -c$CONNS -d$DURATION"
for r in $(seq "$REPEATS"); do
  for kind in ${BENCH_KINDS:-read transition}; do
    run baseline "$kind"
    run ours "$kind"
  done
done
echo "== end $(uptime)"
