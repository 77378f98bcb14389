"""Differential: the NESO connector and the CSV import read the same 2022 hours as the same numbers.

The repository's NESO 2022 hourly record (tests/data/neso-gb-2022-hourly.csv, read
by ``greenwire.cloud.carbon.intensity.load_csv``) is served in the API's shape (``from``, ``to``,
``intensity.actual``, g/kWh) by a loopback server; for a day of every month and both
DST days, every hour the connector returns must equal what the import returns.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from greenwire.cloud.carbon.intensity import load_csv
from greenwire.cloud.grid.neso import NesoConnector
from tests.grid.replay import Handler, ReplayServer, Reply, Request

RECORD = Path(__file__).parents[1] / "data" / "neso-gb-2022-hourly.csv"
DAYS = [datetime(2022, m, 1 + (m * 7) % 27, tzinfo=UTC) for m in range(1, 13)] + [
    datetime(2022, 3, 27, tzinfo=UTC),
    datetime(2022, 10, 30, tzinfo=UTC),
]


def _rows() -> dict[datetime, int]:
    with RECORD.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return {
            datetime.fromisoformat(t).replace(tzinfo=UTC): round(float(v) * 1000) for t, v in reader
        }


ROWS = _rows()


def recorded_neso(request: Request) -> Reply:
    start = datetime.strptime(request.path.split("/")[2], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    data = []
    for hour in range(48):
        at = start + timedelta(hours=hour)
        if at in ROWS:
            data.append(
                {
                    "from": f"{at:%Y-%m-%dT%H:%MZ}",
                    "to": f"{at + timedelta(hours=1):%Y-%m-%dT%H:%MZ}",
                    "intensity": {"forecast": ROWS[at], "actual": ROWS[at], "index": "moderate"},
                }
            )
    return Reply(body={"data": data})


async def test_connector_and_csv_import_agree_hour_by_hour(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    imported = load_csv(RECORD, zone="GB")
    server = replay(recorded_neso)
    compared = 0
    async with NesoConnector(server.url) as connector:
        for day in DAYS:
            series = await connector.forecast("GB", now=day)
            for hour in range(48):
                at = day + timedelta(hours=hour, minutes=17)
                point = series.at(at)
                expected = imported.value_at(at)
                if expected is None:
                    assert point is None
                    continue
                assert point is not None and point.status == "actual"
                assert point.g_per_kwh == expected, at
                compared += 1
    assert compared >= 13 * 48
