"""Diagnostics for the latency tail: wraps either app (ours or the floor) and records, per
worker process, what the server itself saw while wrk measured from outside:

- server-side time of each request (first ASGI call to the last body chunk sent),
- every garbage collection (generation, pause),
- event-loop lag: a task that asks to sleep 1 ms and records how late it wakes (time the
  loop was busy or the process was not running),
- the process's CPU time and involuntary context switches (preempted by the OS scheduler).

Written as JSON to $TAIL_PROBE_DIR/<pid>.json at lifespan shutdown. Not for production; it adds a few
µs per request to both sides alike.

Run: uvicorn bench.tail_probe:ours --factory   or   bench.tail_probe:floor --factory
Env: TAIL_PROBE_DIR (required); BENCH_FAIR=0 puts back asyncpg's own wait for a connection
on both sides. (The first matrix runs, with `gc=freeze`, froze the floor's GC here; the
floor now does it in its lifespan like ours.)
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import time
from typing import Any

_durations: list[float] = []
_gc: list[tuple[int, float]] = []
_lag: list[float] = []
_gc_start = [0.0]
_started = [False]


def _gc_cb(phase: str, info: dict[str, Any]) -> None:
    if not _started[0]:  # start-up collections (imports, the app's own gc.collect) are not under load
        return
    if phase == "start":
        _gc_start[0] = time.perf_counter()
    else:
        _gc.append((info["generation"], time.perf_counter() - _gc_start[0]))


async def _lag_task() -> None:
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        _lag.append(time.perf_counter() - t - 0.001)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _dump() -> None:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ms = [v * 1000 for v in _durations]
    gcs = {g: [p * 1000 for gg, p in _gc if gg == g] for g in (0, 1, 2)}
    out = {
        "requests": len(ms),
        "server_ms": {q: round(_pct(ms, q / 100), 2) for q in (50, 90, 99, 99.9)} | {"max": round(max(ms or [0]), 2)},
        "gc": {g: {"n": len(v), "total_ms": round(sum(v), 1), "max_ms": round(max(v or [0]), 2)} for g, v in gcs.items()},
        "lag_ms": {q: round(_pct(_lag, q / 100) * 1000, 2) for q in (50, 99, 99.9)} | {"max": round(max(_lag or [0]) * 1000, 2),
                                                                                       "n": len(_lag)},
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "involuntary_cs": ru.ru_nivcsw,
        "voluntary_cs": ru.ru_nvcsw,
    }
    with open(os.path.join(os.environ["TAIL_PROBE_DIR"], f"{os.getpid()}.json"), "w") as f:
        json.dump(out, f)


def _wrap(app: Any) -> Any:
    async def probed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # uvicorn re-raises SIGTERM after its shutdown (no atexit): dump on the way out.
            async def lifespan_send(message: Any) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    _dump()
                await send(message)

            await app(scope, receive, lifespan_send)
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if not _started[0]:
            _started[0] = True
            asyncio.get_running_loop().create_task(_lag_task())
        start = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                _durations.append(time.perf_counter() - start)

        await app(scope, receive, timed_send)

    return probed


def _setup() -> None:
    gc.callbacks.append(_gc_cb)


def ours() -> Any:
    _setup()
    from app.main import create_app

    if os.environ.get("BENCH_FAIR") == "0":  # A/B: asyncpg's own (unfair) wait for a connection
        from app.core import hot_reads

        async def unfair(pool: Any, gate: Any, sql: str, args: list[Any]) -> Any:
            async with pool.acquire() as conn:
                return await conn.fetchrow(sql, *args)

        hot_reads._fetchrow = unfair

    return _wrap(create_app())


def floor() -> Any:
    _setup()
    from bench.baseline_app import app

    return _wrap(app)
