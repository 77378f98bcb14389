"""The ingestor's commits: after a flush is in InfluxDB, tell each gateway which batches it may forget.

One ``greenwire.commit.v1`` message per gateway per flush (not per batch) names the stored
``seq`` ranges, on ``greenwire/v1/{site}/{gateway}/commit`` at QoS 1. A message recorded as
rejected is committed too: sending it again would only record it again. A commit lost on the
way (the broker killed before it delivered it, say) only makes the gateway send those batches
again after its resend timeout, and the rewrite is idempotent.
"""

from __future__ import annotations

from typing import Final

import msgspec

from greenwire.shared.commit import Stream, encode_commits
from greenwire.shared.topics import commit_topic
from greenwire.transport.mqtt import Message, MessagePublisher


class _Head(msgspec.Struct):
    seq: int


_HEAD: Final = msgspec.json.Decoder(_Head)


def seq_of(payload: bytes) -> int | None:
    """The ``seq`` of a batch that was rejected (any payload with an integer ``seq``), else None."""
    try:
        seq = _HEAD.decode(payload).seq
    except (msgspec.MsgspecError, ValueError, RecursionError):
        # RecursionError: msgspec skipping an unknown field nested deeper than it recurses.
        return None
    return seq if 0 <= seq < 2**63 else None


class CommitBook:
    """Stored seqs per ``(site, gateway)`` of one stream, until they are queued as commits."""

    def __init__(self, stream: Stream = "readings") -> None:
        self.stream: Stream = stream
        self._pending: dict[tuple[str, str], set[int]] = {}
        self.messages = 0
        """Commit messages queued for the broker."""

    def add(self, site: str, gateway: str, seq: int) -> None:
        self._pending.setdefault((site, gateway), set()).add(seq)

    def publish(self, publisher: MessagePublisher) -> None:
        """Queue one commit per gateway (more only past ``MAX_RANGES`` ranges) on ``publisher``.

        Its own connection, not the consumer's: the consumer's socket reads are held to the
        Receive Maximum (``greenwire.cloud.adapters.mqtt._Window``), and publishing there would
        interfere with that. ``MessagePublisher`` keeps them while the broker is away; a full queue
        drops (and counts) one, and that gateway sends those batches again.
        """
        for (site, gateway), seqs in self._pending.items():
            for payload in encode_commits(gateway, self.stream, seqs):
                publisher.put(Message(commit_topic(site, gateway), payload))
                self.messages += 1
        self._pending.clear()
