"""The rejected-message store: every message the ingestor will not store, kept for a person.

One JSON object per line in ``{state_dir}/rejected-YYYYMMDD.jsonl`` (the UTC
day the message was received)::

    {"received_at": "2026-11-22T10:00:01.250123Z", "topic": "greenwire/v1/campus-a/gw-01/readings",
     "reason": "non_finite_value", "detail": "readings[3].values.active_power_w: not a finite number",
     "size": 734, "payload": "{\\"schema\\": ...", "payload_encoding": "utf-8", "truncated": false}

``payload`` is the message as text when it is valid UTF-8, else base64
(``payload_encoding`` says which), cut to the first 64 KiB (``truncated``).
Each :meth:`RejectStore.append` writes its records and fsyncs once, so a
flush's rejects are on disk before its messages are acknowledged.

Health data is never kept here. A rejected message that is, or may be, wearable
vitals (a ``.../vitals`` topic, the ``greenwire.vitals`` schema, or a ``subject``
key anywhere in it) is recorded without its payload (``payload`` is null,
``payload_encoding`` is ``"withheld"``) and with its SHA-256, so an operator can
still match it against the gateway's own copy; quoted input echoed in its
``detail`` is replaced by ``'...'``. The pseudonym of a participant must not end
up in a file meant for debugging meter configs.

Writing is blocking file I/O: the ingestor calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson

from greenwire.shared.wire import format_ts

MAX_STORED_PAYLOAD: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class RejectRecord:
    """One rejected message as received."""

    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload: bytes
    size: int | None = None
    """The message's size when ``payload`` holds only its first bytes (None: ``len(payload)``)."""


HEALTH_MARKERS: Final = (b"greenwire.vitals", b'"subject"')
"""Byte strings that make a payload health data for this store (see the module docstring)."""
_QUOTED: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def is_health_data(topic: str, payload: bytes) -> bool:
    """True if a message is, or may be, wearable vitals: its payload must not be kept."""
    return topic.endswith("/vitals") or any(marker in payload for marker in HEALTH_MARKERS)


def encode_record(record: RejectRecord) -> bytes:
    """The JSON line of one record (without the newline)."""
    size = len(record.payload) if record.size is None else record.size
    if is_health_data(record.topic, record.payload):
        return orjson.dumps(
            {
                "received_at": format_ts(record.received_at),
                "topic": record.topic,
                "reason": record.reason,
                "detail": _QUOTED.sub("'...'", record.detail),
                "size": size,
                "payload": None,
                "payload_encoding": "withheld",
                "payload_sha256": hashlib.sha256(record.payload[:MAX_STORED_PAYLOAD]).hexdigest(),
                "truncated": size > MAX_STORED_PAYLOAD,
            }
        )
    kept = record.payload[:MAX_STORED_PAYLOAD]
    try:
        # A cut in the middle of a multi-byte character would turn text into base64; cut back to whole characters.
        text = kept.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        if len(kept) < size and exc.reason == "unexpected end of data":
            # Decoding goes left to right, so everything before the cut character is valid.
            text, encoding = kept[: exc.start].decode("utf-8"), "utf-8"
        else:
            text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    return orjson.dumps(
        {
            "received_at": format_ts(record.received_at),
            "topic": record.topic,
            "reason": record.reason,
            "detail": record.detail,
            "size": size,
            "payload": text,
            "payload_encoding": encoding,
            "truncated": size > MAX_STORED_PAYLOAD,
        }
    )


class RejectStore:
    """Appends rejected messages to daily JSON-lines files and counts them by reason."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.counts: Counter[str] = Counter()
        """Records written by this process, per reason."""

    def path_for(self, day: datetime) -> Path:
        """The file that holds the records received on ``day`` (UTC)."""
        return self.state_dir / f"rejected-{day.astimezone(UTC):%Y%m%d}.jsonl"

    def append(self, records: Sequence[RejectRecord]) -> None:
        """Write ``records`` and fsync each file touched; raises ``OSError`` if the disk fails."""
        if not records:
            return
        by_file: dict[Path, list[bytes]] = {}
        for record in records:
            by_file.setdefault(self.path_for(record.received_at), []).append(encode_record(record) + b"\n")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for path, lines in by_file.items():
            created = not path.exists()
            with path.open("ab") as handle:
                handle.write(b"".join(lines))
                handle.flush()
                os.fsync(handle.fileno())
            if created:
                _fsync_dir(path.parent)
        self.counts.update(r.reason for r in records)


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
