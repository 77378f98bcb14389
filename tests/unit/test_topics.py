"""Topic building, parsing and matching, with Mosquitto's own matching vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.shared.errors import TopicError
from greenwire.shared.topics import (
    ID_PATTERN,
    TopicKind,
    carbon_topic,
    grid_topic,
    is_valid_id,
    parse_topic,
    readings_filter,
    readings_topic,
    shared_filter,
    status_topic,
    topic_matches,
    vitals_topic,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "data" / "mqtt-topic-matching" / "mosquitto_topic_vectors.json").read_text()
)


@pytest.mark.parametrize(
    "case", VECTORS["topic_matches_sub"], ids=lambda c: f"{c['filter']}|{c['topic']}"
)
def test_matching_agrees_with_mosquitto(case: dict) -> None:
    if case["rc"] == "MOSQ_ERR_INVAL":
        with pytest.raises(TopicError):
            topic_matches(case["filter"], case["topic"])
    else:
        assert topic_matches(case["filter"], case["topic"]) is case["match"]


def test_builders_match_the_brief() -> None:
    assert readings_topic("campus-a", "gw-01") == "greenwire/v1/campus-a/gw-01/readings"
    assert vitals_topic("care-1", "hub_2") == "greenwire/v1/care-1/hub_2/vitals"
    assert status_topic("campus-a", "gw-01") == "greenwire/v1/campus-a/gw-01/status"
    assert carbon_topic("campus-a", "library") == "greenwire/v1/campus-a/carbon/library"
    assert grid_topic("gb") == "greenwire/v1/grid/gb/intensity"
    assert shared_filter("ingest", readings_filter()) == "$share/ingest/greenwire/v1/+/+/readings"


@pytest.mark.parametrize(
    ("topic", "kind", "fields"),
    [
        ("greenwire/v1/s1/gw/readings", TopicKind.READINGS, {"site": "s1", "gateway": "gw"}),
        ("greenwire/v1/s1/gw/vitals", TopicKind.VITALS, {"site": "s1", "gateway": "gw"}),
        ("greenwire/v1/s1/gw/status", TopicKind.STATUS, {"site": "s1", "gateway": "gw"}),
        ("greenwire/v1/s1/carbon/b-7", TopicKind.CARBON, {"site": "s1", "building": "b-7"}),
        ("greenwire/v1/grid/cn-hainan/intensity", TopicKind.GRID_INTENSITY, {"zone": "cn-hainan"}),
    ],
)
def test_parse_round_trip(topic: str, kind: TopicKind, fields: dict[str, str]) -> None:
    parsed = parse_topic(topic)
    assert parsed.kind is kind
    for name, value in fields.items():
        assert getattr(parsed, name) == value


@pytest.mark.parametrize(
    "topic",
    [
        "greenwire/v2/s1/gw/readings",
        "greenwire/v1/s1/gw/readings/extra",
        "greenwire/v1/S1/gw/readings",
        "greenwire/v1/s1/gw/unknown",
        "greenwire/v1/s1//readings",
        "greenwire/v1/grid/gb/other",
        "other/v1/s1/gw/readings",
    ],
)
def test_parse_rejects(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


def test_reserved_words_cannot_be_ids_in_their_branch() -> None:
    with pytest.raises(TopicError):
        readings_topic("s1", "carbon")
    with pytest.raises(TopicError):  # greenwire/v1/{site}/anomalies/{building} is the findings' branch
        readings_topic("s1", "anomalies")
    with pytest.raises(TopicError):
        readings_topic("grid", "gw")


@pytest.mark.parametrize("good", ["a", "gw-01", "main_incomer", "0", "a" * 63])
def test_valid_ids(good: str) -> None:
    assert is_valid_id(good)


@pytest.mark.parametrize("bad", ["", "A", "-a", "_a", "a b", "a/b", "a+", "a#", "a" * 64, "é"])
def test_invalid_ids(bad: str) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(TopicError):
        readings_topic("site", bad)


@given(st.from_regex(f"^{ID_PATTERN}$", fullmatch=True), st.from_regex(f"^{ID_PATTERN}$", fullmatch=True))
def test_any_valid_ids_round_trip(site: str, gateway: str) -> None:
    if site == "grid" or gateway == "carbon":
        return
    parsed = parse_topic(readings_topic(site, gateway))
    assert (parsed.site, parsed.gateway) == (site, gateway)
