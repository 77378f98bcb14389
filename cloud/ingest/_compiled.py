"""The compiled payload-to-line-protocol pass (``_lines.c``), if this install has it.

``setup.py`` builds it when a C compiler and Python's headers are there, and leaves it out
otherwise; the ingestor then runs its msgspec path alone, with the same outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, cast

from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.wire import MAX_READINGS_PER_BATCH, Quality


class LinesPass(Protocol):
    """``_lines``: what the C module offers."""

    def encode(self, payload: bytes, gateway: str, prefixes: Mapping[str, bytes], not_after_us: int,
               earliest_us: int, /) -> tuple[bytes, int, int, int, int] | None:
        """``(data, count, oldest_ns, newest_ns, seq)`` of a message it takes, None for one it refuses."""
        ...

    def configure(self, names: tuple[str, ...], qualities: tuple[str, ...], max_readings: int, /) -> None: ...


def lines() -> LinesPass | None:
    """The extension, configured with the vocabularies, or None where it was not built."""
    try:
        from greenwire.cloud.ingest import _lines  # type: ignore[attr-defined]
    except ImportError:
        return None
    compiled = cast(LinesPass, _lines)
    try:
        compiled.configure(tuple(QUANTITIES), tuple(q.value for q in Quality), MAX_READINGS_PER_BATCH)
    except ValueError:  # a vocabulary past what the pass holds (64 quantities): msgspec does it all
        return None
    return compiled
