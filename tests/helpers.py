"""Small helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], object], within_s: float, what: str, *, every_s: float = 0.05) -> None:
    """Wait until ``predicate()`` is true; fail naming ``what`` after ``within_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(every_s)
