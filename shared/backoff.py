"""Capped exponential backoff with jitter: the one retry schedule of every reconnecting part.

A failing broker, database, hub or meter is retried after ``start x 2^(failures-1)`` seconds,
capped at ``cap``, each delay drawn uniformly from ``[jitter x d, d]`` so that a fleet
of gateways restarted together does not reconnect in lockstep (aiomqtt's and AWS's
"equal jitter" advice).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def backoff_delay(failures: int, *, start: float = 1.0, cap: float = 30.0, jitter: float = 0.5) -> float:
    """Seconds to wait after ``failures`` consecutive failures (1 = the first)."""
    if failures < 1:
        return 0.0
    base = min(cap, start * 2 ** min(failures - 1, 30))
    return float(base * random.uniform(jitter, 1.0))


@dataclass(slots=True)
class Backoff:
    """A failure counter with its schedule: ``failed()`` gives the next delay, ``ok()`` resets."""

    start: float = 1.0
    cap: float = 30.0
    jitter: float = 0.5
    failures: int = 0

    def failed(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        self.failures += 1
        return backoff_delay(self.failures, start=self.start, cap=self.cap, jitter=self.jitter)

    def ok(self) -> None:
        """The attempt succeeded: the next failure starts the schedule again."""
        self.failures = 0
