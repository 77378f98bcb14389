"""The demo's live view stays readable at 80 columns (fewer columns, nothing cut) and shows all at 160."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from rich.console import Console

from greenwire.demo import _view
from greenwire.edge.agent import AgentSnapshot
from greenwire.edge.modbus import DeviceState
from greenwire.transport.publisher import PublisherStats


def _agent() -> SimpleNamespace:
    devices = tuple(
        DeviceState(device=f"{b}-main", bus="plant-room", online=True, reads=4321, errors=0,
                    last_read=datetime(2026, 12, 2, 6, 0, 12, 345000, tzinfo=UTC),
                    last_values={"active_power_w": 772_600.0, "energy_import_kwh": 3_264_410.25})
        for b in ("b2", "b25", "b85")
    )
    snapshot = AgentSnapshot(devices=devices, buffer_readings=0, buffer_batches=0, dropped_readings=0,
                             publisher=PublisherStats(connected=True, published_readings=12_960, last_seq=4320))
    return SimpleNamespace(snapshot=lambda: snapshot)


def _render(width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    ingestor = SimpleNamespace(stats=SimpleNamespace(readings_written=12_960, rejected_total=0))
    carbon = {b: (238.4, 184.2, "no budget", "03:00 152") for b in ("b2", "b25", "b85")}
    grid = ("grid GB (NESO 2022 replayed) 01 Jun 14:00 182 g/kWh; best windows in the next 24 h "
            "(start, g/kWh; the forecast is the record): 1 h 03:00 152, 2 h 02:00 155, 4 h 01:00 160, 8 h 23:00 171")
    console.print(_view(_agent(), ingestor, 51_840, 0.0, 60.0, carbon, width=console.width, grid=grid))
    console.file.close()
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100])
def test_the_live_table_fits_a_narrow_terminal_without_cutting_cells(width: int) -> None:
    text = _render(width)
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines())
    for expected in ("b25-main", "online", "772.6", "3,264,410", "238", "184.2", "no budget", "03:00 152",
                     "best 1h", "8 h 23:00 171"):
        assert expected in text, expected


def test_a_wide_terminal_shows_every_column() -> None:
    text = _render(160)
    for expected in ("read at (UTC)", "06:00:12.345", "energy import kWh", "3,264,410.25", "reads", "4321",
                     "best 1 h", "03:00 152"):
        assert expected in text, expected
