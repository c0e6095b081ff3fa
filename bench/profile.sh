#!/usr/bin/env bash
# Profile our app under wrk load with py-spy: bench/profile.sh read|transition [group]
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/crm_bench}
KEY=$(python3 -c "import json;print(json.load(open('bench/.state.json'))['jwt_keys']['bench'])")
export BENCH_TOKEN=$(python3 -c "import json;print(json.load(open('bench/.state.json'))['token'])")
export BENCH_STAGE_A=$(python3 -c "import json;print(json.load(open('bench/.state.json'))['stage_a'])")
export BENCH_STAGE_B=$(python3 -c "import json;print(json.load(open('bench/.state.json'))['stage_b'])")
export BENCH_IDS=bench/.data/deals_${2:-0}.txt BENCH_THREADS=2
CRM_DB_POOL_SIZE=8 CRM_DB_MAX_OVERFLOW=0 CRM_JWT_KEYS="{\"bench\": \"$KEY\"}" .venv/bin/python -m uvicorn app.main:create_app --factory --port 8803 \
  >/tmp/bench-prof.log 2>&1 &
PID=$!
until curl -sf -o /dev/null http://127.0.0.1:8803/healthz; do sleep 0.2; done
wrk -t2 -c32 -d12s --latency -s bench/$1.lua http://127.0.0.1:8803 > /tmp/wrk-prof.txt &
sleep 2
.venv/bin/py-spy record -p $PID -d 8 -o /tmp/prof-$1.txt -f raw --nonblocking >/dev/null 2>&1 || true
wait %2 || true
grep -E "Req|99%" /tmp/wrk-prof.txt
kill $PID; wait $PID 2>/dev/null || true
.venv/bin/python bench/summarise_profile.py /tmp/prof-$1.txt
