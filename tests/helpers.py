"""Small helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(
    predicate: Callable[[], object], within_s: float, what: str, *, every_s: float = 0.05, in_thread: bool = False
) -> None:
    """Wait until ``predicate()`` is true; fail naming ``what`` after ``within_s`` seconds.

    ``in_thread``: call the predicate in a worker thread, for one that blocks (an InfluxDB
    query, say), so it does not hold up what else runs on the event loop, such as the
    simulated meters a test's gateway polls with a timeout of a tenth of a second.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not (await asyncio.to_thread(predicate) if in_thread else predicate()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(every_s)
