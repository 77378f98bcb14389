"""Small helpers shared by the integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

GREENWIRE = [sys.executable, "-m", "greenwire"]
"""The command line, as a test process runs it."""


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


def served_port(process: subprocess.Popen[bytes], log: Path, within_s: float = 60.0) -> int:
    """The port a `greenwire sim modbus --port 0` process listens on, from the line it prints once it does.

    The simulator binds the port itself: a port picked free beforehand could be taken (by any
    process's outgoing connection) before the simulator starts.
    """
    deadline = time.monotonic() + within_s
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        found = re.search(r"^serving \d+ SDM630 meter\(s\) on [^\s:]+:(\d+) ", text, re.MULTILINE)
        if found:
            return int(found.group(1))
        assert process.poll() is None and time.monotonic() < deadline, f"the simulator did not start:\n{text[-2000:]}"
        time.sleep(0.1)
