"""One contract, every buffer implementation (SQLite on disk, memory)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from greenwire.transport.buffer import Buffer, MemoryBuffer, SqliteBuffer

Factory = Callable[[int], Buffer]


@pytest.fixture(params=["sqlite", "memory"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    made: list[Buffer] = []

    def factory(max_readings: int = 1_000_000) -> Buffer:
        if request.param == "sqlite":
            buffer: Buffer = SqliteBuffer(tmp_path / "buffer.sqlite", max_readings=max_readings)
        else:
            buffer = MemoryBuffer(max_readings=max_readings)
        made.append(buffer)
        return buffer

    yield factory
    for buffer in made:
        buffer.close()


def test_seq_increases_and_peek_is_oldest_first(make: Factory) -> None:
    buffer = make(1_000_000)
    seqs = [buffer.append(f"[{i}]".encode(), 1, 1000 + i) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert [b.seq for b in buffer.peek(3)] == seqs[:3]
    assert [b.readings_json for b in buffer.peek(2, after_seq=seqs[2])] == [b"[3]", b"[4]"]
    assert buffer.depth_batches == 5 and buffer.depth_readings == 5
    assert buffer.oldest_ts_ms() == 1000


def test_nothing_leaves_before_ack(make: Factory) -> None:
    buffer = make(1_000_000)
    seq = buffer.append(b"[1,2]", 2, 5)
    assert buffer.peek(10)[0].seq == seq
    assert buffer.peek(10)[0].seq == seq, "peeking must not consume"
    buffer.ack([seq])
    assert buffer.peek(10) == []
    assert buffer.depth_readings == 0 and buffer.oldest_ts_ms() is None


def test_ack_out_of_order_and_unknown(make: Factory) -> None:
    buffer = make(1_000_000)
    a, b, c = (buffer.append(b"[]", 10, i) for i in range(3))
    buffer.ack([b, 999_999])
    assert [x.seq for x in buffer.peek(10)] == [a, c]
    assert buffer.depth_readings == 20


def test_full_buffer_drops_oldest_and_counts(make: Factory) -> None:
    buffer = make(1000)
    first = buffer.append(b"[]", 600, 1)
    second = buffer.append(b"[]", 300, 2)
    third = buffer.append(b"[]", 300, 3)
    assert [x.seq for x in buffer.peek(10)] == [second, third]
    assert buffer.dropped_readings == 600
    assert buffer.depth_readings == 600
    assert first not in [x.seq for x in buffer.peek(10)]


def test_sqlite_survives_restart_with_seq_and_counters(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    buffer = SqliteBuffer(path, max_readings=1000)
    s1 = buffer.append(b'[{"a":1}]', 1, 10)
    s2 = buffer.append(b"[]", 1000, 11)  # pushes s1 out
    buffer.ack([s2])
    buffer.close()

    reopened = SqliteBuffer(path, max_readings=1000)
    try:
        assert reopened.dropped_readings == 1
        assert reopened.depth_batches == 0
        s3 = reopened.append(b"[]", 1, 12)
        assert s3 > s2 > s1, "seq must never be reused, even after every batch was deleted"
    finally:
        reopened.close()


def test_sqlite_keeps_unacked_batches_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "b.sqlite"
    buffer = SqliteBuffer(path)
    seq = buffer.append(b'[{"device":"m1"}]', 1, 42)
    buffer.close()
    reopened = SqliteBuffer(path)
    try:
        (batch,) = reopened.peek(10)
        assert (batch.seq, batch.count, batch.first_ts_ms, batch.readings_json) == (
            seq, 1, 42, b'[{"device":"m1"}]',
        )
    finally:
        reopened.close()


def test_forget_deletes_committed_ranges_and_counts_their_readings(make: Factory) -> None:
    buffer = make(1_000_000)
    seqs = [buffer.append(f"[{i}]".encode(), i + 1, 1000 + i) for i in range(6)]
    assert buffer.forget([(seqs[0], seqs[1]), (seqs[4], seqs[4]), (seqs[5] + 10, seqs[5] + 20)]) == 1 + 2 + 5
    assert [b.seq for b in buffer.peek(10)] == [seqs[2], seqs[3], seqs[5]]
    assert buffer.depth_readings == 3 + 4 + 6 and buffer.depth_batches == 3
    assert buffer.forget([(seqs[0], seqs[1])]) == 0, "forgetting twice is harmless"
    assert buffer.forget([]) == 0


def test_counters_are_kept_with_the_buffer(make: Factory) -> None:
    buffer = make(1_000_000)
    assert buffer.counter("commit_seen") == 0
    buffer.set_counter("commit_seen", 1)
    assert buffer.counter("commit_seen") == 1


def test_sqlite_remembers_counters_across_restart(tmp_path: Path) -> None:
    buffer = SqliteBuffer(tmp_path / "b.sqlite")
    buffer.set_counter("commit_seen", 1)
    buffer.close()
    again = SqliteBuffer(tmp_path / "b.sqlite")
    try:
        assert again.counter("commit_seen") == 1
    finally:
        again.close()
