#!/bin/bash
# Time `crm seed-demo` (bulk deals, stage intervals and transitions through the analytics
# triggers) on two source trees, EACH on a database migrated by its own tree, so trigger
# changes in migrations are measured too (bench/seed_demo_time.sh migrates once, with this tree).
# usage: flock /tmp/bench.lock bench/seed_demo_trigger_time.sh <baseline-src-dir> <rounds>
#   baseline: e.g. `git archive main | tar -x -C /tmp/seed-base`; the other tree is this one.
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres); uses databases seedtrig_{base,ours}_{tpl,run}.
set -e
BASE=$1; N=${2:-3}; OURS=$(cd "$(dirname "$0")/.." && pwd); PY=$OURS/.venv/bin/python
P="psql -h 127.0.0.1 -U postgres -qX"
URL=postgresql://postgres@127.0.0.1:5432
for side in base ours; do
  dir=$([ $side = base ] && echo "$BASE" || echo "$OURS")
  $P -c "drop database if exists seedtrig_${side}_tpl" -c "create database seedtrig_${side}_tpl" >/dev/null
  (cd "$dir" && DATABASE_URL=$URL/seedtrig_${side}_tpl PYTHONPATH=. "$PY" -c "from app.cli import main; main()" migrate >/dev/null 2>&1)
done
for i in $(seq "$N"); do
  for side in base ours; do
    dir=$([ $side = base ] && echo "$BASE" || echo "$OURS")
    $P -c "drop database if exists seedtrig_${side}_run" -c "create database seedtrig_${side}_run template seedtrig_${side}_tpl" >/dev/null
    t=$( { cd "$dir" && DATABASE_URL=$URL/seedtrig_${side}_run PYTHONPATH=. \
          /usr/bin/time -f "%e s wall, %U s user" "$PY" -c "from app.cli import main; main()" seed-demo >/dev/null 2>/tmp/seedtrig.err; } 2>&1; tail -1 /tmp/seedtrig.err)
    echo "round $i $side: $t"
  done
done
for side in base ours; do
  $P -c "drop database if exists seedtrig_${side}_run" -c "drop database if exists seedtrig_${side}_tpl" >/dev/null
done
