"""End-to-end commit on the gateway: which published batches the cloud has not yet stored.

A broker's PUBACK says only that the broker has a batch; a broker killed before it saved its
queue loses it. So a gateway keeps every published batch in its buffer until the ingestor's
commit (``greenwire.commit.v1`` on ``greenwire/v1/{site}/{gateway}/commit``) says InfluxDB has
it, and publishes again what stays uncommitted for ``resend_after_s`` (writes are idempotent:
a second copy overwrites the same series and timestamps). :class:`CommitTracker` is that
bookkeeping, pure and clocked from outside; the publisher does the I/O.

Delivery modes (the gateway's status says which)::

    waiting  no commit seen yet: published batches are kept, as in commit mode
       │ a commit arrives                    │ none for commit_wait_s after a PUBACK
       ▼                                     ▼
    commit   forget on commit only           puback   forget on PUBACK (a cloud that sends no
                                                      commits); a commit switches to commit

Once a buffer has seen a commit it stays in commit mode across restarts (the buffer keeps that
as the counter ``commit_seen``), so an ingestor away for longer than ``commit_wait_s`` never
turns a gateway back to trusting the broker.

Resends back off: each resend round without a commit in between doubles the timeout (up to
``resend_cap_s``), so a backlog waiting for an ingestor that is away for hours is not copied into
the broker's queue again every ``resend_after_s``. A commit brings the timeout back to its start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

COMMIT_SEEN: Final = "commit_seen"
"""The buffer counter set once a commit has arrived (1): the cloud sends commits."""


class DeliveryMode(StrEnum):
    """When the gateway forgets a published batch."""

    WAITING = "waiting"
    COMMIT = "commit"
    PUBACK = "puback"


@dataclass(slots=True)
class _Sent:
    at: float
    """The last time it was published."""
    count: int
    first: float
    """The first time it was published (since the agent started)."""


class CommitTracker:
    """Published batches not yet committed: their send times, and what is due again."""

    def __init__(
        self,
        *,
        commit_seen: bool = False,
        resend_after_s: float = 30.0,
        resend_cap_s: float = 600.0,
        commit_wait_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode = DeliveryMode.COMMIT if commit_seen else DeliveryMode.WAITING
        self.resend_after_s = resend_after_s
        self.resend_cap_s = resend_cap_s
        self.commit_wait_s = commit_wait_s
        self._clock = clock
        self._sent: dict[int, _Sent] = {}
        self._timeout = resend_after_s
        self.cursor = 0
        """Every batch with a seq up to here was published on this connection or is tracked."""
        self.resent_batches = 0
        self.committed_batches = 0
        self.committed_readings = 0

    def __contains__(self, seq: int) -> bool:
        return seq in self._sent

    @property
    def keeps(self) -> bool:
        """True while published batches are kept until committed (waiting or commit mode)."""
        return self.mode is not DeliveryMode.PUBACK

    def published(self, batches: Iterable[tuple[int, int]]) -> None:
        """``(seq, readings)`` of batches the broker acknowledged (kept until committed)."""
        now = self._clock()
        for seq, count in batches:
            # Re-inserted at the end: the dict stays in order of the last send, oldest first.
            earlier = self._sent.pop(seq, None)
            self._sent[seq] = _Sent(now, count, earlier.first if earlier else now)

    def committed(self, ranges: Iterable[tuple[int, int]]) -> bool:
        """A commit arrived; returns True if it switched the mode to commit (persist ``COMMIT_SEEN``)."""
        gone = 0
        for first, last in ranges:
            if last - first < len(self._sent):
                seqs = [seq for seq in range(first, last + 1) if seq in self._sent]
            else:
                seqs = [seq for seq in self._sent if first <= seq <= last]
            for seq in seqs:
                self.committed_readings += self._sent.pop(seq).count
            gone += len(seqs)
        if gone:
            self._timeout = self.resend_after_s
        self.committed_batches += gone
        switched = self.mode is not DeliveryMode.COMMIT
        self.mode = DeliveryMode.COMMIT
        return switched

    def gone(self, seqs: Iterable[int]) -> None:
        """These batches left the buffer without a commit (dropped by its bound, or committed early)."""
        for seq in seqs:
            self._sent.pop(seq, None)

    def due(self) -> list[int]:
        """Seqs published longer than the resend timeout ago, oldest send first."""
        if not self.keeps:
            return []
        limit = self._clock() - self._timeout
        due = []
        for seq, sent in self._sent.items():  # oldest send first: stop at the first one not due
            if sent.at > limit:
                break
            due.append(seq)
        return sorted(due)

    def resending(self, seqs: list[int]) -> None:
        """``seqs`` are being published again: count them, and back the timeout off."""
        if seqs:
            self.resent_batches += len(seqs)
            self._timeout = min(self.resend_cap_s, self._timeout * 2)

    def fall_back(self) -> list[int]:
        """In waiting mode with no commit ``commit_wait_s`` after a PUBACK: switch to puback mode.

        Returns the seqs to delete now (every batch kept so far), else [].
        """
        if self.mode is not DeliveryMode.WAITING or not self._sent:
            return []
        if self._oldest_send() > self._clock() - self.commit_wait_s:
            return []
        self.mode = DeliveryMode.PUBACK
        seqs = sorted(self._sent)
        self._sent.clear()
        return seqs

    def wake_in(self) -> float | None:
        """Seconds until something becomes due (a resend or the fall-back), or None if nothing is kept."""
        if not self.keeps or not self._sent:
            return None
        oldest = self._oldest_send()
        wait = self._timeout if self.mode is DeliveryMode.COMMIT else min(self._timeout, self.commit_wait_s)
        return max(0.0, oldest + wait - self._clock())

    def _oldest_send(self) -> float:
        return next(iter(self._sent.values())).at

    @property
    def uncommitted_batches(self) -> int:
        return len(self._sent)

    @property
    def uncommitted_readings(self) -> int:
        return sum(s.count for s in self._sent.values())

    def oldest_uncommitted_age_s(self) -> float | None:
        """How long the oldest published, uncommitted batch has waited for its commit."""
        if not self._sent:
            return None
        return self._clock() - min(s.first for s in self._sent.values())
