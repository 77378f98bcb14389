"""History import: a CSV of past readings published through MQTT exactly as a gateway's backlog.

``timestamp,device,quantity,value`` rows (cumulative counters, any order) are grouped into
readings (one per device and timestamp), written to a buffer in time order, and published by
the edge's own publisher: ``greenwire.readings.v1`` batches at QoS 1 with their original
timestamps, deleted only after the broker delivered them (a PUBACK without subscribers keeps
them). The ingestor stores them and the carbon engine computes the past exactly as live data.

``read_history`` is pure; ``publish_history`` runs the gateway's own buffer and publisher
(``greenwire.transport``), the same code a gateway drains its backlog with.
"""

from __future__ import annotations

import asyncio
import csv
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from greenwire.shared.errors import TopicError
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.readings import PolledReading
from greenwire.shared.topics import check_id

if TYPE_CHECKING:
    from greenwire.transport.mqtt import BrokerSettings


class HistoryError(ValueError):
    """A row of the history file is invalid (the message names the line)."""


def read_history(path: Path) -> list[PolledReading]:
    """The file's readings, oldest first; HistoryError naming the line of the first bad row."""
    grouped: dict[tuple[datetime, str], dict[str, float]] = defaultdict(dict)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if header[:4] != ["timestamp", "device", "quantity", "value"]:
            raise HistoryError(f"{path}:1: expected the header 'timestamp,device,quantity,value', got {header}")
        for line, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            try:
                at = datetime.fromisoformat(row[0].strip().replace("Z", "+00:00"))
                device, quantity, value = row[1].strip(), row[2].strip(), float(row[3])
            except (IndexError, ValueError) as exc:
                raise HistoryError(f"{path}:{line}: {exc}") from None
            if at.tzinfo is None:
                raise HistoryError(f"{path}:{line}: timestamp {row[0]!r} has no UTC offset")
            if quantity not in QUANTITIES:
                raise HistoryError(f"{path}:{line}: unknown quantity {quantity!r}")
            try:
                check_id(device, "device")
            except TopicError as exc:
                raise HistoryError(f"{path}:{line}: {exc}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise HistoryError(f"{path}:{line}: value is not a finite number")
            grouped[(at.astimezone(UTC), device)][quantity] = value
    return [PolledReading(device, at, values) for (at, device), values in sorted(grouped.items())]


async def publish_history(broker: BrokerSettings, site: str, gateway: str, history: Sequence[PolledReading], *,
                          batch: int = 500, progress: Callable[[int], None] | None = None,
                          stop: asyncio.Event | None = None, poll_s: float = 0.2) -> int:
    """Publish ``history`` (oldest first) as ``site``/``gateway``'s backlog, ``batch`` readings a message;
    returns how many readings the cloud committed (stored in InfluxDB).

    Waits until every batch is committed (the publisher retries with backoff while the broker is
    away or has no subscriber, and sends again what is not committed in time), or until
    ``stop``. With a cloud that sends no commits the publisher falls back to the broker's PUBACK
    after its commit wait, and the count is then of readings the broker delivered.
    ``progress`` gets the published count as it grows.
    The gateway's retained status is not touched (``announce=False``).
    """
    from greenwire.shared.readings import encode_readings
    from greenwire.transport.buffer import AsyncBuffer, MemoryBuffer
    from greenwire.transport.publisher import Publisher

    buffer = AsyncBuffer(MemoryBuffer(max_readings=len(history) + 1))
    for start in range(0, len(history), batch):
        chunk = list(history[start : start + batch])
        await buffer.append(encode_readings(chunk), len(chunk), int(chunk[0].ts.timestamp() * 1000))
    publisher = Publisher(broker, site, gateway, buffer, announce=False)
    done = asyncio.Event()
    task = asyncio.create_task(publisher.run(done), name="history-publish")
    try:
        while buffer.buffer.depth_readings > 0 and not task.done() and not (stop is not None and stop.is_set()):
            if progress is not None:
                progress(publisher.stats.published_readings)
            await asyncio.sleep(poll_s)
        if progress is not None:
            progress(publisher.stats.published_readings)
    finally:
        done.set()
        await task
        remaining = buffer.buffer.depth_readings
        await buffer.close()
    return len(history) - remaining
