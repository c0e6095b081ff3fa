"""Reads waiting for a hot-read connection are served first come, first served, so no
request waits behind an unbounded number of later ones (that was the read's p99 under
load; bench/README.md)."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import Integer, bindparam, select

from app.core.hot_reads import HotReadPool

STMT = select(bindparam("n", type_=Integer))
CLIENTS, READS = 16, 30


async def test_no_read_is_overtaken_by_more_than_one_read_of_each_other_client(database_url):
    # One connection, sixteen clients in a closed loop, each pausing a random number of
    # loop turns between reads, so new requests keep arriving just as the connection is
    # released (as requests from sockets do in the server). asyncpg's own wait lets such an
    # arrival take the connection and sends the woken waiter to the back of the line.
    hot = HotReadPool(database_url, 1, {})
    order: list[int] = []

    async def client(c: int) -> None:
        for i in range(READS):
            row = await hot.fetch_one(STMT, {"n": i})
            assert row is not None and row[0] == i
            order.append(c)
            for _ in range(random.randrange(6)):
                await asyncio.sleep(0)

    try:
        await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    finally:
        await hot.close()

    assert len(order) == CLIENTS * READS
    for c in range(CLIENTS):
        mine = [k for k, who in enumerate(order) if who == c]
        overtaken = max(later - earlier - 1 for earlier, later in zip(mine, mine[1:]))
        assert overtaken <= CLIENTS - 1, f"client {c} waited behind {overtaken} reads"
