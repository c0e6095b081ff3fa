"""Where does the latency tail come from? Runs wrk against ours and the floor under a list
of configurations (pool size, wrk threads, worker processes, GC, log level), alternating
the two sides per configuration, with bench/tail_probe.py inside the server recording
server-side latency, GC pauses, event-loop lag and involuntary context switches.

Usage (after bench/setup_pipelines.py; wrap in flock /tmp/bench.lock):
  .venv/bin/python bench/tail_matrix.py --rounds 2 --config pool=20 --config pool=4,threads=1 ...
Config keys: pool, threads (wrk), workers, gc (no longer used: both sides freeze), log (ours: CRM_LOG_LEVEL),
conns, kind (read|transition), probe (1|0), fair (0: asyncpg's unfair wait, both sides), pin (diagnostic: "server:wrk" cpu lists).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = json.loads((ROOT / "bench/.state.json").read_text())
PY = str(ROOT / ".venv/bin/python")
DEFAULT = {"pool": "20", "threads": "2", "workers": "1", "gc": "", "log": "INFO", "conns": "32", "kind": "read",
           "probe": "1", "pin": "", "duration": "10s", "fair": "1"}


def parse_config(text: str) -> dict[str, str]:
    cfg = dict(DEFAULT)
    for part in filter(None, text.split(",")):
        k, _, v = part.partition("=")
        if k not in cfg:
            raise SystemExit(f"unknown key {k}")
        cfg[k] = v
    return cfg


def server_cmd(side: str, cfg: dict[str, str], port: int) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, BENCH_FAIR=cfg["fair"], DATABASE_URL=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/crm_bench"))
    key = STATE["jwt_keys"]["bench"]
    if side == "ours":
        target = "bench.tail_probe:ours" if cfg["probe"] == "1" else "app.main:create_app"
        env |= {"CRM_JWT_KEYS": json.dumps({"bench": key}), "CRM_LOG_LEVEL": cfg["log"],
                "CRM_DB_POOL_SIZE": cfg["pool"], "CRM_DB_MAX_OVERFLOW": "0",
                "CRM_DB_HOT_READ_POOL_SIZE": cfg["pool"]}
        # The same uvicorn options as `crm serve`.
        opts = "log_config=None, proxy_headers=True"
    else:
        target = "bench.tail_probe:floor" if cfg["probe"] == "1" else "bench.baseline_app:app"
        env |= {"BENCH_JWT_KEY": key, "BENCH_POOL": cfg["pool"]}
        opts = "loop='uvloop', http='httptools', access_log=False, log_level='warning'"
    factory = "True" if target.startswith("bench.tail_probe") or target.startswith("app.main") else "False"
    code = (f"import uvicorn; uvicorn.run({target!r}, factory={factory}, host='127.0.0.1', port={port}, "
            f"workers={cfg['workers']}, {opts})")
    cmd = [PY, "-c", code]
    if cfg["pin"]:
        cmd = ["taskset", "-c", cfg["pin"].split(":")[0], *cmd]
    return cmd, env


def wait_up(port: int, token: str, first_id: str) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/opportunities/{first_id}",
                                 headers={"Authorization": f"Bearer {token}"})
    for _ in range(150):
        try:
            urllib.request.urlopen(req, timeout=1).read()
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def next_group() -> str:
    marker = ROOT / "bench/.data/next_group"
    group = int(marker.read_text()) if marker.exists() else 0
    ids = ROOT / f"bench/.data/deals_{group}.txt"
    if not ids.exists():
        raise SystemExit("no fresh deals left: run bench/setup_pipelines.py")
    marker.write_text(str(group + 1))
    return str(ids)


def wrk_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def run(side: str, cfg: dict[str, str]) -> dict[str, object]:
    port = 8811 if side == "ours" else 8812
    probe_dir = tempfile.mkdtemp(prefix="tailprobe-")
    cmd, env = server_cmd(side, cfg, port)
    env["TAIL_PROBE_DIR"] = probe_dir
    first = (ROOT / "bench/.data/deals_0.txt").read_text().split()[0]
    log = open(f"/tmp/tail-{side}.log", "w")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_up(port, STATE["token"], first)
        wenv = dict(os.environ, BENCH_TOKEN=STATE["token"], BENCH_STAGE_A=STATE["stage_a"],
                    BENCH_STAGE_B=STATE["stage_b"], BENCH_THREADS=cfg["threads"],
                    BENCH_IDS=str(ROOT / "bench/.data/deals_0.txt"))
        pin = ["taskset", "-c", cfg["pin"].split(":")[1]] if cfg["pin"] else []
        url = f"http://127.0.0.1:{port}"
        if cfg["kind"] == "read":
            subprocess.run([*pin, "wrk", "-t1", "-c4", "-d2s", "-s", "bench/read.lua", url], env=wenv, cwd=ROOT,
                           capture_output=True, check=True)
        else:
            wenv["BENCH_IDS"] = next_group()
        load = open("/proc/loadavg").read().split()[0]
        out = subprocess.run([*pin, "wrk", f"-t{cfg['threads']}", f"-c{cfg['conns']}", f"-d{cfg['duration']}",
                              "--latency", "-s", f"bench/{cfg['kind']}.lua", url],
                             env=wenv, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    res: dict[str, object] = {"side": side, "load": load}
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for q in ("50", "90", "99"):
        res[f"p{q}"] = wrk_ms(re.search(rf"^\s+{q}%\s+(\S+)", out, re.M).group(1))
    res["max"] = wrk_ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx.*|Socket errors.*", out)
    if errors:
        res["errors"] = errors.group(0)
    probes = [json.loads(p.read_text()) for p in Path(probe_dir).glob("*.json")]
    probes = [p for p in probes if p["requests"]]  # the uvicorn supervisor of --workers n
    if probes:
        res["server_p50"] = max(p["server_ms"]["50"] for p in probes)
        res["server_p99"] = max(p["server_ms"]["99"] for p in probes)
        res["gc2"] = sum(p["gc"]["2"]["n"] for p in probes)
        res["gc_max_ms"] = max(max(g["max_ms"] for g in p["gc"].values()) for p in probes)
        res["gc_total_ms"] = round(sum(sum(g["total_ms"] for g in p["gc"].values()) for p in probes), 1)
        res["lag_p99"] = max(p["lag_ms"]["99"] for p in probes)
        res["lag_max"] = max(p["lag_ms"]["max"] for p in probes)
        res["invol_cs"] = sum(p["involuntary_cs"] for p in probes)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--config", action="append", default=[])
    ap.add_argument("--sides", default="floor,ours")
    args = ap.parse_args()
    configs = args.config or [""]
    for r in range(args.rounds):
        for text in configs:
            cfg = parse_config(text)
            for side in args.sides.split(","):
                res = run(side, cfg)
                print(json.dumps({"round": r + 1, "config": text or "default", **res}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
