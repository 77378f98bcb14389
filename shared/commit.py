"""Wire format ``greenwire.commit.v1``: what the cloud has stored, told to the gateway that sent it.

Published by the ingestor at QoS 1 on ``greenwire/v1/{site}/{gateway}/commit`` after a flush
is in InfluxDB (one message per gateway and stream, naming what was stored since the last one:
flushes stored while a commit is in flight go out together)::

    {"schema": "greenwire.commit.v1", "gateway": "gw-01", "stream": "readings",
     "ranges": [[1040, 1052], [1060, 1060]], "ts": "2026-11-22T10:00:02.000Z"}

- ``stream`` names the gateway's buffer the ``seq`` numbers belong to (``readings`` or
  ``vitals``: each has its own sequence).
- ``ranges`` are inclusive ``[first, last]`` seq ranges whose batches are stored (or recorded as
  rejected, which sending again would not change): the gateway may forget them.

Only that gateway may read the topic and only ingestors may write it (the broker's ACL), so a
commit cannot be forged by another gateway. A gateway forgets a batch on a commit, never on the
broker's PUBACK alone, unless it talks to a cloud that sends no commits (see
``greenwire.transport.commits``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from greenwire.shared.wire import Id, UtcDatetime, format_ts

COMMIT_SCHEMA: Final = "greenwire.commit.v1"
MAX_RANGES: Final = 10_000
Stream = Literal["readings", "vitals"]

Seq = Annotated[int, Field(ge=0, lt=2**63)]


class CommitMessage(BaseModel):
    """The seq ranges of one gateway's stream that the cloud has stored."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        title=COMMIT_SCHEMA,
        json_schema_extra={
            "$id": "https://greenwire.dev/schemas/greenwire.commit.v1.json",
            "description": "What the cloud has stored of one gateway's batches, published by the ingestor "
            "on greenwire/v1/{site}/{gateway}/commit.",
        },
    )

    schema_: Literal["greenwire.commit.v1"] = Field(alias="schema")
    gateway: Id
    stream: Stream
    ranges: tuple[tuple[Seq, Seq], ...] = Field(
        min_length=1, max_length=MAX_RANGES, description="Inclusive [first, last] seq ranges stored."
    )
    ts: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> CommitMessage:
        for first, last in self.ranges:
            if first > last:
                raise ValueError(f"range [{first}, {last}] ends before it starts")
        return self


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` runs of consecutive numbers in ``seqs``, sorted, duplicates merged."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def encode_commits(gateway: str, stream: Stream, seqs: Iterable[int], now: datetime | None = None) -> list[bytes]:
    """The commit messages of ``seqs``: one, or more if they make over ``MAX_RANGES`` ranges."""
    ranges = seq_ranges(seqs)
    ts = format_ts(now or datetime.now(UTC))
    return [
        orjson.dumps({"schema": COMMIT_SCHEMA, "gateway": gateway, "stream": stream,
                      "ranges": ranges[start : start + MAX_RANGES], "ts": ts})
        for start in range(0, len(ranges), MAX_RANGES)
    ]


def parse_commit(payload: bytes | str) -> CommitMessage:
    """A commit message (``pydantic.ValidationError`` if it is not one)."""
    return CommitMessage.model_validate_json(payload)


def commit_json_schema() -> dict[str, object]:
    """JSON Schema of ``greenwire.commit.v1`` (what ``shared/schemas`` holds)."""
    return CommitMessage.model_json_schema(by_alias=True, mode="validation")
