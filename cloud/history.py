"""History import: a CSV of past readings published through MQTT exactly as a gateway's backlog.

``timestamp,device,quantity,value`` rows (cumulative counters, any order) are grouped into
readings (one per device and timestamp), written to a buffer in time order, and published by
the edge's own publisher: ``greenwire.readings.v1`` batches at QoS 1 with their original
timestamps, deleted only after the broker delivered them (a PUBACK without subscribers keeps
them). The ingestor stores them and the carbon engine computes the past exactly as live data.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from greenwire.shared.errors import TopicError
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.readings import PolledReading
from greenwire.shared.topics import check_id


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
