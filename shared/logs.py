"""Logging set-up shared by every long-running command."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "info") -> None:
    """One line per event on stderr: time, level, component, message."""
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    logging.basicConfig(
        level=numeric,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # pymodbus logs every failed request at error level itself; ours already says it once.
    logging.getLogger("pymodbus").setLevel(max(numeric, logging.CRITICAL))
    # httpx logs every request at info level (a wearable hub is polled every few seconds).
    logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))
