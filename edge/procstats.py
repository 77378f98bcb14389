"""The agent's own footprint, for its status message: CPU share and memory, from /proc and getrusage."""

from __future__ import annotations

import os
import resource
import time


class ProcessMeter:
    """CPU used since the previous sample (percent of one core) and resident memory now and at peak."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())
        self._page = os.sysconf("SC_PAGE_SIZE")

    def sample(self) -> dict[str, float | None]:
        now, cpu = time.monotonic(), time.process_time()
        (then, cpu_then), self._last = self._last, (now, cpu)
        elapsed = now - then
        return {
            "cpu_pct": round(100 * (cpu - cpu_then) / elapsed, 2) if elapsed > 0 else None,
            "rss_mb": self._rss_mb(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }

    def _rss_mb(self) -> float | None:
        try:
            with open("/proc/self/statm", encoding="ascii") as statm:
                return round(int(statm.read().split()[1]) * self._page / 2**20, 1)
        except (OSError, IndexError, ValueError):
            return None
