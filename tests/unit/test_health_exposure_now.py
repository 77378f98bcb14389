"""Exposure hours are never counted past now: the last reading holds for at most max_gap, and not into the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.health.aggregate import Aggregator
from greenwire.cloud.health.alerts import DEFAULT_RULES

HOUR = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)


def _aggregator(now: datetime) -> Aggregator:
    return Aggregator(InfluxV1("http://127.0.0.1:9", "unused"), rules=DEFAULT_RULES,
                      max_gap=timedelta(minutes=10), clock=lambda: now)


@pytest.mark.parametrize(("now", "expected_h"), [
    (HOUR + timedelta(minutes=31), 1 / 60),  # the hour under way: one minute since the hot reading
    (HOUR + timedelta(hours=2), 10 / 60),  # a past hour: the reading holds for max_gap
])
def test_exposure_stops_at_now(now: datetime, expected_h: float) -> None:
    hot = {"time": int((HOUR + timedelta(minutes=30)).timestamp()) * 10**9, "heat_index_c": 35.0, "co2_ppm": 1500.0}
    heat_h, co2_h, per_device = _aggregator(now)._exposure({"lounge": [hot]}, HOUR, HOUR + timedelta(hours=1))
    assert heat_h == pytest.approx(expected_h) and co2_h == pytest.approx(expected_h)
    assert per_device["lounge"] == (pytest.approx(expected_h), pytest.approx(expected_h))


class _Answers(InfluxV1):
    """InfluxQL answers as InfluxDB 1.6 gave them in a run: a group of nulls with a count of 0."""

    def query(self, q: str) -> list[dict[str, object]]:
        if 'FROM "raw"."vitals"' in q:
            return [{"subject": "k1." + "a" * 32, "code": "8867-4", "mean": 72.0, "min": 70.0, "max": 74.0, "count": 3},
                    {"subject": "k1." + "b" * 32, "code": "8867-4", "mean": None, "min": None, "max": None,
                     "count": 0}]
        return []


def test_a_group_of_nulls_is_not_a_monitored_participant() -> None:
    aggregator = Aggregator(_Answers("http://127.0.0.1:9", "unused"), rules=DEFAULT_RULES,
                            max_gap=timedelta(minutes=10), clock=lambda: HOUR + timedelta(hours=2))
    lines = aggregator.hour("care", HOUR)
    assert [line.split(",subject=")[1][:35] for line in lines if line.startswith("vitals_1h,")] == ["k1." + "a" * 32]
    assert "participants=1i" in next(line for line in lines if line.startswith("health_site,"))
