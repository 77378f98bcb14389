"""The bench's pure helpers: the capacity model and the py-spy profile summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.capacity import Rates, main, plan
from bench.profiles import summarize

RESULTS = {
    "ingest": {
        "direct": {"readings": 200_000, "influx_cpu_s": 2.0},
        "pipeline": {"ingest_readings_per_cpu_s": 100_000},
        "broker_raw": {"readings": 200_000, "messages": 2000, "messages_per_s": 3000},
    },
    "edge": {"meters": 100, "cpu_pct_of_one_core": 4.0, "peak_rss_mb": 52.0},
}


def test_rates_are_per_cpu_second_from_a_bench_result() -> None:
    rates = Rates.from_results(RESULTS, "x.json")
    assert rates.ingest_readings_per_cpu_s == 100_000
    assert rates.influx_readings_per_cpu_s == 100_000  # 200,000 readings in 2 CPU-seconds
    assert rates.broker_readings_per_message == 100
    assert rates.edge_cpu_pct_per_meter_hz == pytest.approx(0.04)


def test_plan_scales_each_component_from_its_own_rate() -> None:
    rates = Rates.from_results(RESULTS, "x.json")
    small = plan(rates, gateways=100, meters=10, interval_s=10)
    assert small.readings_per_s == 100 and small.messages_per_s == 100
    assert (small.ingestors, small.brokers, small.database_nodes) == (1, 1, 1)
    assert small.gateway_cpu_pct == pytest.approx(0.04)  # 10 meters every 10 s: one reading per second
    # 5,000 gateways x 100 meters every second: 500,000 readings/s, 5,000 messages/s.
    big = plan(rates, gateways=5000, meters=100, interval_s=1, db_cores=8, utilisation=0.5)
    assert big.readings_per_s == 500_000 and big.messages_per_s == 5000
    assert big.ingestors == 10  # 500,000 / (100,000 x 0.5)
    assert big.brokers == 4  # 5,000 / (3,000 x 0.5) = 3.3
    assert big.database_nodes == 2  # 500,000 / (100,000 x 8 x 0.5) = 1.25
    assert any("InfluxDB 3" in note for note in big.notes)
    assert any("clustered broker" in note for note in big.notes)


def test_capacity_command_reads_the_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(RESULTS))
    assert main(["--results", str(path), "--gateways", "5000", "--meters", "100", "--interval", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["ingestors"] == 10
    assert main(["--results", str(tmp_path / "missing.json"), "--gateways", "1", "--meters", "1"]) == 2
    assert "run `make bench` first" in capsys.readouterr().err


def test_profile_summary_counts_own_and_inclusive_time(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "run (cloud/cli.py:10);lines (cloud/points.py:90);dumps (orjson:1) 30\n"
        "run (cloud/cli.py:10);lines (cloud/points.py:95) 20\n"
        "run (cloud/cli.py:10);validate_message (cloud/validate.py:180) 50\n"
    )
    summary = summarize(raw)
    assert summary["samples"] == 100
    own = dict((name, pct) for name, pct in summary["own_pct"])
    assert own["validate_message (cloud/validate.py)"] == 50.0
    assert own["lines (cloud/points.py)"] == 20.0
    inclusive = dict((name, pct) for name, pct in summary["inclusive_pct"])
    assert inclusive["lines (cloud/points.py)"] == 50.0
    assert inclusive["run (cloud/cli.py)"] == 100.0


def test_the_cambridge_buildings_read_the_bedford_temperature_hour_by_hour() -> None:
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from bench.buildings import building

    b2 = building("cambridge-b2")
    series = b2.series().slice(datetime(2022, 1, 4, tzinfo=UTC), datetime(2022, 1, 6, tzinfo=UTC))
    temperature = b2.temperature(series)
    assert temperature is not None and len(temperature) == len(series) == 48
    # 4 January 2022 07:00 and 08:00 UTC in the Met Office file: 4.2 and 3.1 degC
    assert temperature[7] == 4.2 and temperature[8] == 3.1
    assert np.isfinite(temperature).all()
    assert building("panther-office-larry").temperature(series) is None
    assert series.start + timedelta(hours=7) == datetime(2022, 1, 4, 7, tzinfo=UTC)
