"""Compressed writes (``influx.gzip: true``) are stored by the real servers: InfluxDB 1.x and VictoriaMetrics (v2 API)."""

from __future__ import annotations

import uuid

import pytest

from greenwire.cloud.adapters.influx import InfluxV1Writer, InfluxV2Writer
from greenwire.servers import InfluxDB1, VictoriaMetrics

pytestmark = pytest.mark.integration


def _lines(gateway: str) -> list[str]:
    return [
        f"readings,device=m{i},gateway={gateway},site=campus-a active_power_w={1000 + i}.5,"
        f'energy_import_kwh={183442 + i}.25,quality="good" {1_795_341_600_000_000_000 + i * 1_000_000_000}'
        for i in range(500)
    ]


async def test_v1_gzip_write_is_stored(influxdb: InfluxDB1, influx_db: str) -> None:
    writer = InfluxV1Writer(influxdb.url, influx_db, gzip=True)
    try:
        await writer.write(_lines("gw-01"))
    finally:
        await writer.close()
    rows = influxdb.query(influx_db, 'SELECT count("active_power_w") AS n, sum("active_power_w") AS s FROM readings')
    assert rows[0]["n"] == 500
    assert rows[0]["s"] == pytest.approx(sum(1000 + i + 0.5 for i in range(500)))


async def test_v2_gzip_write_is_stored(victoria: VictoriaMetrics) -> None:
    gateway = f"gw-{uuid.uuid4().hex[:8]}"
    writer = InfluxV2Writer(victoria.url, "any-token", "county", "greenwire", gzip=True)
    try:
        await writer.write(_lines(gateway))
    finally:
        await writer.close()
    victoria.flush()
    series = victoria.export(f'{{__name__="readings_active_power_w",gateway="{gateway}"}}')
    assert len(series) == 500
    assert {s["values"][0] for s in series} == {1000 + i + 0.5 for i in range(500)}
