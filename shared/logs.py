"""Logging set-up shared by every long-running command, and the libraries kept quiet."""

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
    quiet_libraries(numeric)


def quiet_libraries(level: int = logging.INFO) -> None:
    """Keep the libraries' own chatter off the terminal and out of the log.

    pymodbus logs every failed request itself (and its frames at debug level) where ours says
    it once with the device's name; httpx and httpcore log every request at info level (a
    hub or InfluxDB is polled every few seconds). Commands that print for a person (scan,
    probe) call this without ``setup_logging``.
    """
    for name, floor in (("pymodbus", logging.CRITICAL), ("httpx", logging.WARNING), ("httpcore", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(max(level, floor))
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.NullHandler())
        logger.propagate = level < floor
