"""The end-to-end commit's pure parts: the wire format, seq ranges, and the gateway's tracker."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from greenwire.shared.commit import (
    MAX_RANGES,
    commit_json_schema,
    encode_commits,
    parse_commit,
    seq_ranges,
)
from greenwire.transport.commits import CommitTracker, DeliveryMode

SCHEMA = Path(__file__).parents[2] / "shared" / "schemas" / "greenwire.commit.v1.json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@given(st.sets(st.integers(min_value=0, max_value=500), max_size=200))
def test_ranges_cover_exactly_the_seqs(seqs: set[int]) -> None:
    ranges = seq_ranges(seqs)
    covered = {s for first, last in ranges for s in range(first, last + 1)}
    assert covered == seqs
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(ranges)), "runs are maximal"


def test_a_commit_round_trips_and_matches_the_checked_in_schema() -> None:
    stored = json.loads(SCHEMA.read_text())
    assert stored == commit_json_schema(), "shared/schemas is stale: run `greenwire schema --write`"
    [payload] = encode_commits("gw-01", "readings", [5, 3, 4, 9])
    jsonschema.validate(orjson.loads(payload), stored)
    commit = parse_commit(payload)
    assert commit.gateway == "gw-01" and commit.stream == "readings"
    assert commit.ranges == ((3, 5), (9, 9))


def test_many_ranges_are_split_into_several_messages() -> None:
    payloads = encode_commits("gw-01", "vitals", range(0, 2 * (MAX_RANGES + 5), 2))
    assert len(payloads) == 2
    assert sum(len(parse_commit(p).ranges) for p in payloads) == MAX_RANGES + 5


@pytest.mark.parametrize("change", [
    {"ranges": [[5, 3]]}, {"ranges": []}, {"ranges": [[-1, 2]]}, {"stream": "status"},
    {"gateway": "GW 01"}, {"extra": 1}, {"schema": "greenwire.commit.v2"},
])
def test_bad_commits_are_refused(change: dict[str, object]) -> None:
    message = {"schema": "greenwire.commit.v1", "gateway": "gw-01", "stream": "readings",
               "ranges": [[1, 2]], "ts": "2026-11-22T10:00:00.000Z", **change}
    with pytest.raises(ValidationError):
        parse_commit(orjson.dumps(message))


def test_published_batches_wait_for_their_commit_and_go_again_with_backoff() -> None:
    clock = Clock()
    tracker = CommitTracker(resend_after_s=10, resend_cap_s=40, commit_wait_s=60, clock=clock)
    tracker.published([(1, 5), (2, 5), (3, 5)])
    assert tracker.mode is DeliveryMode.WAITING and tracker.uncommitted_readings == 15
    assert tracker.committed([(1, 2)]) is True, "the first commit switches to commit mode"
    assert tracker.mode is DeliveryMode.COMMIT and tracker.uncommitted_batches == 1
    clock.now += 9.9
    assert tracker.due() == []
    assert tracker.wake_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert tracker.due() == [3]
    tracker.resending([3])
    tracker.published([(3, 5)])
    clock.now += 10
    assert tracker.due() == [], "no commit after a resend: the timeout doubles"
    clock.now += 10
    assert tracker.due() == [3]
    tracker.resending([3])
    tracker.published([(3, 5)])
    clock.now += 39
    assert tracker.due() == []
    clock.now += 1
    assert tracker.due() == [3], "capped at resend_cap_s"
    assert tracker.oldest_uncommitted_age_s() == pytest.approx(70), "age since the first publish"
    assert tracker.committed([(3, 3)]) is False
    assert tracker.committed_readings == 15 and tracker.resent_batches == 2
    tracker.published([(4, 1)])
    clock.now += 10
    assert tracker.due() == [4], "a commit brings the timeout back to its start"


def test_no_commit_within_the_wait_falls_back_to_puback_and_a_commit_brings_it_back() -> None:
    clock = Clock()
    tracker = CommitTracker(resend_after_s=100, commit_wait_s=5, clock=clock)
    tracker.published([(1, 2), (2, 2)])
    clock.now += 4.9
    assert tracker.fall_back() == []
    clock.now += 0.1
    assert tracker.fall_back() == [1, 2]
    assert tracker.mode is DeliveryMode.PUBACK and not tracker.keeps and tracker.uncommitted_batches == 0
    assert tracker.due() == [] and tracker.wake_in() is None
    assert tracker.committed([(9, 9)]) is True
    assert tracker.keeps


def test_a_gateway_that_has_seen_commits_never_falls_back() -> None:
    clock = Clock()
    tracker = CommitTracker(commit_seen=True, commit_wait_s=1, clock=clock)
    tracker.published([(1, 2)])
    clock.now += 3600
    assert tracker.fall_back() == [] and tracker.mode is DeliveryMode.COMMIT
    tracker.gone([1])
    assert tracker.uncommitted_batches == 0 and tracker.due() == []


def test_the_ingestors_book_merges_flushes_into_one_commit_per_gateway() -> None:
    from greenwire.cloud.ingest.commits import CommitBook

    book = CommitBook("readings")
    for seq in (3, 4, 5):  # a first flush
        book.add("campus-a", "gw-01", seq)
    book.add("campus-a", "gw-02", 7)
    for seq in (6, 9, 4):  # a second flush stored before the first one's commits went out
        book.add("campus-a", "gw-01", seq)
    assert len(book) == 6, "a seq stored twice is counted once"
    taken = book.take()
    assert len(book) == 0 and book.take() == []
    by_gateway = {entry.gateway: entry for entry in taken}
    assert set(by_gateway) == {"gw-01", "gw-02"}
    [(topic, payload)] = book.messages(by_gateway["gw-01"])
    assert topic == "greenwire/v1/campus-a/gw-01/commit"
    assert parse_commit(payload).ranges == ((3, 6), (9, 9))


def test_a_round_put_back_waits_again_merged_with_what_came_since() -> None:
    from greenwire.cloud.ingest.commits import CommitBook

    book = CommitBook("vitals")
    book.add("campus-a", "gw-01", 1)
    taken = book.take()
    book.add("campus-a", "gw-01", 2)  # stored while the round was in flight
    book.put_back(taken)  # the round was not acknowledged
    [entry] = book.take()
    [(_, payload)] = book.messages(entry)
    commit = parse_commit(payload)
    assert commit.stream == "vitals" and commit.ranges == ((1, 2),)


def test_a_round_takes_at_most_its_limit_of_gateways_the_longest_waiting_first() -> None:
    from greenwire.cloud.ingest.commits import CommitBook

    book = CommitBook("readings")
    for n in range(5):
        book.add("campus-a", f"gw-{n}", n)
    assert [entry.gateway for entry in book.take(2)] == ["gw-0", "gw-1"]
    assert len(book) == 3
    book.add("campus-a", "gw-0", 9)  # comes back behind the three still waiting
    assert [entry.gateway for entry in book.take(10)] == ["gw-2", "gw-3", "gw-4", "gw-0"]
    assert len(book) == 0


def test_a_full_book_drops_and_counts_new_seqs_and_keeps_the_rest() -> None:
    from greenwire.cloud.ingest.commits import CommitBook

    book = CommitBook("readings", max_seqs=3)
    for seq in range(5):
        book.add("campus-a", "gw-01", seq)
    book.add("campus-a", "gw-01", 1)  # already held: neither added nor dropped
    assert len(book) == 3 and book.dropped == 2
    [entry] = book.take()
    assert entry.seqs == frozenset({0, 1, 2})
