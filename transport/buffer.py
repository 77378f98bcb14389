"""Store-and-forward buffer: every reading is on disk before it is published.

The poll loop appends batches; the publisher peeks the oldest and publishes them
at QoS 1. A published batch stays until the cloud's commit covers its ``seq``
(``forget``: InfluxDB has it), or, with a cloud that sends no commits, until the
broker's PUBACK (``ack``). A batch not yet forgotten is sent again, with the same
``seq`` and the same readings, after a timeout or a restart. ``seq`` comes from the buffer
itself (SQLite ``AUTOINCREMENT`` never reuses a number), so it increases per
gateway and survives restarts, as the wire contract requires.

When the buffer is full (``max_readings``) the oldest batches are dropped
and counted in ``dropped_readings``: on a gateway that has been offline for
days, recent data is worth more than the oldest, and the count makes the
loss visible instead of silent.

Two implementations share one contract and one test suite:
``SqliteBuffer`` (the real one) and ``MemoryBuffer`` (for unit tests and
for a gateway that must not write to its SD card).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from greenwire.shared.errors import BufferFull

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A batch waiting in the buffer: its ``seq``, size, oldest read time and readings JSON array."""

    seq: int
    count: int
    first_ts_ms: int
    readings_json: bytes


class Buffer(Protocol):
    """What the agent needs from a buffer. Calls are synchronous; see ``AsyncBuffer``."""

    def append(self, readings_json: bytes, count: int, first_ts_ms: int) -> int:
        """Store a batch and return its ``seq``; drop the oldest batches if full.

        Raises ``BufferFull`` when the disk is full: nothing of the batch is stored.
        """
        ...

    def peek(self, limit: int, after_seq: int = 0) -> list[StoredBatch]:
        """Up to ``limit`` oldest batches with ``seq > after_seq``, oldest first."""
        ...

    def ack(self, seqs: Iterable[int]) -> None:
        """Delete these batches: the broker has them. Unknown seqs are ignored."""
        ...

    def forget(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Delete the batches in these inclusive seq ranges (the cloud stored them); returns their readings."""
        ...

    def counter(self, name: str) -> int:
        """A small named number kept with the buffer (0 if never set)."""
        ...

    def set_counter(self, name: str, value: int) -> None: ...

    @property
    def depth_readings(self) -> int: ...

    @property
    def depth_batches(self) -> int: ...

    @property
    def dropped_readings(self) -> int: ...

    def oldest_ts_ms(self) -> int | None: ...

    def close(self) -> None: ...


class MemoryBuffer:
    """A buffer in memory with the same contract as ``SqliteBuffer`` (lost on restart)."""

    def __init__(self, max_readings: int = 1_000_000) -> None:
        self._max = max_readings
        self._batches: OrderedDict[int, StoredBatch] = OrderedDict()
        self._next_seq = 1
        self._depth = 0
        self._dropped = 0
        self._counters: dict[str, int] = {}

    def append(self, readings_json: bytes, count: int, first_ts_ms: int) -> int:
        seq = self._next_seq
        self._next_seq += 1
        self._batches[seq] = StoredBatch(seq, count, first_ts_ms, readings_json)
        self._depth += count
        while self._depth > self._max and len(self._batches) > 1:
            _, oldest = self._batches.popitem(last=False)
            self._depth -= oldest.count
            self._dropped += oldest.count
        return seq

    def peek(self, limit: int, after_seq: int = 0) -> list[StoredBatch]:
        out: list[StoredBatch] = []
        for seq, batch in self._batches.items():
            if seq > after_seq:
                out.append(batch)
                if len(out) >= limit:
                    break
        return out

    def ack(self, seqs: Iterable[int]) -> None:
        for seq in seqs:
            batch = self._batches.pop(seq, None)
            if batch is not None:
                self._depth -= batch.count

    def forget(self, ranges: Iterable[tuple[int, int]]) -> int:
        before = self._depth
        for first, last in ranges:
            self.ack([seq for seq in self._batches if first <= seq <= last])
        return before - self._depth

    def counter(self, name: str) -> int:
        return self._counters.get(name, 0)

    def set_counter(self, name: str, value: int) -> None:
        self._counters[name] = value

    @property
    def depth_readings(self) -> int:
        return self._depth

    @property
    def depth_batches(self) -> int:
        return len(self._batches)

    @property
    def dropped_readings(self) -> int:
        return self._dropped

    def oldest_ts_ms(self) -> int | None:
        return min((b.first_ts_ms for b in self._batches.values()), default=None)

    def close(self) -> None:
        self._batches.clear()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    count INTEGER NOT NULL,
    first_ts_ms INTEGER NOT NULL,
    readings BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SqliteBuffer:
    """The on-disk buffer: one SQLite file in WAL mode, fsynced on every commit.

    Not thread-safe by itself: ``AsyncBuffer`` gives it one thread of its own.
    """

    def __init__(self, path: Path, max_readings: int = 5_000_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max = max_readings
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, which a gateway on a roof will see.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COALESCE(SUM(count), 0), COUNT(*) FROM batches").fetchone()
        self._depth, self._nbatches = int(row[0]), int(row[1])
        dropped = self._db.execute("SELECT value FROM counters WHERE name='dropped'").fetchone()
        self._dropped = int(dropped[0]) if dropped else 0

    def append(self, readings_json: bytes, count: int, first_ts_ms: int) -> int:
        try:
            return self._append(readings_json, count, first_ts_ms)
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:  # a COMMIT that failed leaves the transaction open
                self._db.execute("ROLLBACK")
            row = self._db.execute("SELECT COALESCE(SUM(count), 0), COUNT(*) FROM batches").fetchone()
            self._depth, self._nbatches = int(row[0]), int(row[1])
            if "full" in str(exc):  # SQLITE_FULL: "database or disk is full"
                raise BufferFull(f"buffer {self.path}: {exc}") from exc
            raise

    def _append(self, readings_json: bytes, count: int, first_ts_ms: int) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO batches (count, first_ts_ms, readings) VALUES (?, ?, ?)",
                (count, first_ts_ms, readings_json),
            )
            seq = cursor.lastrowid
            assert seq is not None
            self._depth += count
            self._nbatches += 1
            if self._depth > self._max:
                self._drop_oldest()
        return seq

    def _drop_oldest(self) -> None:
        dropped = 0
        for seq, count in self._db.execute("SELECT seq, count FROM batches ORDER BY seq").fetchall():
            if self._depth <= self._max or self._nbatches <= 1:
                break
            self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            self._depth -= count
            self._nbatches -= 1
            dropped += count
        self._dropped += dropped
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (self._dropped,),
        )

    def peek(self, limit: int, after_seq: int = 0) -> list[StoredBatch]:
        rows = self._db.execute(
            "SELECT seq, count, first_ts_ms, readings FROM batches WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [StoredBatch(int(s), int(c), int(t), bytes(r)) for s, c, t, r in rows]

    def ack(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        with self._transaction():
            for seq in seqs:
                row = self._db.execute(
                    "DELETE FROM batches WHERE seq = ? RETURNING count", (seq,)
                ).fetchone()
                if row is not None:
                    self._depth -= int(row[0])
                    self._nbatches -= 1

    def forget(self, ranges: Iterable[tuple[int, int]]) -> int:
        ranges = list(ranges)
        removed = 0
        if not ranges:
            return 0
        with self._transaction():
            for first, last in ranges:
                rows = self._db.execute(
                    "DELETE FROM batches WHERE seq BETWEEN ? AND ? RETURNING count", (first, last)
                ).fetchall()
                removed += sum(int(r[0]) for r in rows)
                self._nbatches -= len(rows)
        self._depth -= removed
        return removed

    def counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def set_counter(self, name: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    @property
    def depth_readings(self) -> int:
        return self._depth

    @property
    def depth_batches(self) -> int:
        return self._nbatches

    @property
    def dropped_readings(self) -> int:
        return self._dropped

    def oldest_ts_ms(self) -> int | None:
        row = self._db.execute("SELECT MIN(first_ts_ms) FROM batches").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
            self._db.execute("ROLLBACK")


@dataclass(frozen=True, slots=True)
class BufferSummary:
    """What a buffer file holds, read without the agent (``greenwire edge status``)."""

    readings: int
    batches: int
    oldest_ts_ms: int | None
    dropped_readings: int
    commit_seen: bool
    """The cloud has sent this buffer a commit: batches are kept until committed."""


def inspect_buffer(path: Path) -> BufferSummary | None:
    """A read-only look at a buffer file, beside a running agent (None if there is no file yet)."""
    if not path.exists():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        readings, batches, oldest = db.execute(
            "SELECT COALESCE(SUM(count), 0), COUNT(*), MIN(first_ts_ms) FROM batches").fetchone()
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
    return BufferSummary(int(readings), int(batches), None if oldest is None else int(oldest),
                         int(counters.get("dropped", 0)), bool(counters.get("commit_seen", 0)))


class AsyncBuffer:
    """Runs a buffer's calls on one thread of its own, so SQLite never blocks the event loop."""

    def __init__(self, buffer: Buffer) -> None:
        self.buffer = buffer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="greenwire-buffer")
        self._lock = threading.Lock()
        self.changed = asyncio.Event()

    async def _call(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn()

        return await asyncio.get_running_loop().run_in_executor(self._executor, locked)

    async def append(self, readings_json: bytes, count: int, first_ts_ms: int) -> int:
        seq = await self._call(lambda: self.buffer.append(readings_json, count, first_ts_ms))
        self.changed.set()
        return seq

    async def peek(self, limit: int, after_seq: int = 0) -> list[StoredBatch]:
        return await self._call(lambda: self.buffer.peek(limit, after_seq))

    async def ack(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        await self._call(lambda: self.buffer.ack(seqs))

    async def forget(self, ranges: Iterable[tuple[int, int]]) -> int:
        ranges = list(ranges)
        return await self._call(lambda: self.buffer.forget(ranges))

    async def counter(self, name: str) -> int:
        return await self._call(lambda: self.buffer.counter(name))

    async def set_counter(self, name: str, value: int) -> None:
        await self._call(lambda: self.buffer.set_counter(name, value))

    async def oldest_ts_ms(self) -> int | None:
        return await self._call(self.buffer.oldest_ts_ms)

    async def close(self) -> None:
        await self._call(self.buffer.close)
        self._executor.shutdown(wait=True)
