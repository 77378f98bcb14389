"""A reading as a source produced it, before it is batched: the unit every publisher buffers.

The edge's Modbus polling and the history import (``greenwire import readings``) both produce
:class:`PolledReading` values; :func:`encode_readings` turns them into the ``readings`` array of
a ``greenwire.readings.v1`` batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from greenwire.shared.wire import Quality, format_ts


@dataclass(frozen=True, slots=True)
class PolledReading:
    """One successful read of one device: the values, when they were read, and their quality."""

    device: str
    ts: datetime
    values: dict[str, float]
    quality: Quality = Quality.GOOD


def encode_readings(readings: list[PolledReading]) -> bytes:
    """A JSON array of wire readings, ready to be embedded in a batch."""
    return orjson.dumps(
        [
            {"ts": format_ts(r.ts), "device": r.device, "values": r.values, "quality": r.quality.value}
            for r in readings
        ]
    )
