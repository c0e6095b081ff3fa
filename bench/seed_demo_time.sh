#!/bin/bash
# Time `crm seed-demo` on a fresh migrated database, alternating two source trees.
# usage: flock /tmp/bench.lock bench/seed_demo_time.sh <baseline-src-dir> <rounds>
#   baseline: e.g. `git archive main | tar -x -C /tmp/seed-base`; the other tree is this one.
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres); uses databases seedtime_tpl / seedtime_run.
set -e
BASE=$1; N=${2:-3}; OURS=$(cd "$(dirname "$0")/.." && pwd); PY=$OURS/.venv/bin/python
P="psql -h 127.0.0.1 -U postgres -qX"
$P -c "drop database if exists seedtime_tpl" -c "create database seedtime_tpl" >/dev/null
(cd "$OURS" && DATABASE_URL=postgresql://postgres@127.0.0.1:5432/seedtime_tpl .venv/bin/crm migrate >/dev/null 2>&1)
for i in $(seq "$N"); do
  for dir in "$BASE" "$OURS"; do
    $P -c "drop database if exists seedtime_run" -c "create database seedtime_run template seedtime_tpl" >/dev/null
    t=$( { cd "$dir" && DATABASE_URL=postgresql://postgres@127.0.0.1:5432/seedtime_run PYTHONPATH=. \
          /usr/bin/time -f "%e s wall, %U s user" "$PY" -c "from app.cli import main; main()" seed-demo >/dev/null 2>/tmp/seedtime.err; } 2>&1; tail -1 /tmp/seedtime.err)
    echo "round $i $dir: $t"
  done
done
$P -c "drop database if exists seedtime_run" -c "drop database if exists seedtime_tpl" >/dev/null
