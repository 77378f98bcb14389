"""The BMS point list, version 1: every value of a building's carbon signal, as Modbus holding
registers and as BACnet objects (pure data; ``docs/bms.md`` and ``bms-points.json`` /
``bms-registers.csv`` are this module written out, and a test keeps them equal).

Modbus TCP: one unit id per building (the config's ``unit``), function 3 (read holding
registers), addresses 0-based (``mbpoll -0``; a "4xxxx" reference is address + 40001).
A 32-bit value takes two registers, high word first (big-endian words and bytes). Each
register holds ``round(value / scale)``; a value that is not available (no signal yet, no
budget, no best window) or out of the type's range holds the type's ``not available``
marker: 0xFFFF (uint16), 0x8000 (int16), 0xFFFFFFFF (uint32). Registers are read-only.

BACnet/IP: one device; per building, objects numbered ``unit x 1000 + point`` (analog-value
for numbers, multi-state-value for codes, states numbered from 1 as BACnet requires) named
``{site}.{building}.{name}``. A value that is not available reads as NaN with
``reliability`` ``no-sensor`` on an analog value; a multi-state value keeps its state and
says ``no-sensor`` (``status_code`` itself is never unavailable: state 3 is "no signal").

Bump ``MAP_VERSION`` (register 0) when an address, type or scale changes; adding points at
new addresses keeps the version.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Final, Literal

MAP_VERSION: Final = 1

RegisterType = Literal["uint16", "int16", "uint32"]

NOT_AVAILABLE: Final[dict[str, int]] = {"uint16": 0xFFFF, "int16": 0x8000, "uint32": 0xFFFFFFFF}
RANGE: Final[dict[str, tuple[int, int]]] = {
    "uint16": (0, 0xFFFE),
    "int16": (-0x7FFF, 0x7FFF),
    "uint32": (0, 0xFFFFFFFE),
}

STATUS: Final = ("ok", "stale", "no signal")
"""``status_code``: 0 ok (a signal newer than ``stale_after_s``), 1 stale, 2 no signal received."""
BANDS: Final = ("very low", "low", "moderate", "high", "very high")
"""``grid_band``: the signal's ``grid_band`` (NESO index bands, as ``greenwire.cloud.carbon.bands``)."""
WINDOW_HOURS: Final = (1, 2, 4, 8)


@dataclass(frozen=True, slots=True)
class Point:
    """One value of the signal: where it sits in the register map and which BACnet object shows it."""

    address: int
    name: str
    type: RegisterType
    scale: float
    unit: str
    description: str
    bacnet_unit: str
    """BACnet engineering units (bacpypes3 ``EngineeringUnits`` name)."""
    states: tuple[str, ...] = ()
    """For codes: the meaning of 0, 1, ... (BACnet multi-state-value states 1, 2, ...)."""

    @property
    def count(self) -> int:
        """Registers it takes."""
        return 2 if self.type == "uint32" else 1

    @property
    def instance(self) -> int:
        """The BACnet object instance offset within a building (``unit x 1000 + instance``)."""
        return self.address

    @property
    def bacnet_type(self) -> str:
        return "multi-state-value" if self.states else "analog-value"


def _windows() -> list[Point]:
    out: list[Point] = []
    for index, hours in enumerate(WINDOW_HOURS):
        base = 14 + 5 * index
        span = f"the best {hours} h window in the next 24 h"
        out += [
            Point(base, f"best_{hours}h_start_in_min", "uint16", 1, "min",
                  f"Minutes from now until {span} starts (0: it has started)", "minutes"),
            Point(base + 1, f"best_{hours}h_g_per_kwh", "uint16", 0.1, "gCO2e/kWh",
                  f"Mean grid intensity of {span}", "noUnits"),
            Point(base + 2, f"best_{hours}h_saving_pct", "int16", 0.1, "%",
                  f"Saving of {span} against starting now", "percent"),
            Point(base + 3, f"best_{hours}h_start_time", "uint32", 1, "s",
                  f"Start of {span}, Unix time (UTC)", "seconds"),
        ]
    return out


POINTS: Final[tuple[Point, ...]] = (
    Point(0, "map_version", "uint16", 1, "", "Version of this register map (1)", "noUnits"),
    Point(1, "status_code", "uint16", 1, "", "0 ok, 1 stale (older than stale_after_s), 2 no signal",
          "noUnits", STATUS),
    Point(2, "heartbeat", "uint16", 1, "", "Counts up once a second while the server runs (wraps at 65535)",
          "noUnits"),
    Point(3, "data_age_s", "uint16", 1, "s", "Age of the signal: now minus its ts (65534 at most)", "seconds"),
    Point(4, "intensity_g_per_kwh", "uint16", 0.1, "gCO2e/kWh",
          "Carbon intensity of the building's grid electricity, last 15 measured minutes", "noUnits"),
    Point(5, "grid_intensity_g_per_kwh", "uint16", 0.1, "gCO2e/kWh", "Grid carbon intensity now", "noUnits"),
    Point(6, "grid_band", "uint16", 1, "", "Grid intensity band: 0 very low, 1 low, 2 moderate, 3 high, "
          "4 very high", "noUnits", BANDS),
    Point(7, "today_budget_used_pct", "uint16", 0.1, "%",
          "Emissions since local midnight as a share of the day's budget", "percent"),
    Point(8, "emission_rate_kg_per_h", "uint32", 0.001, "kgCO2e/h",
          "Emission rate, last 15 measured minutes", "kilogramsPerHour"),
    Point(10, "today_kgco2e", "uint32", 0.001, "kgCO2e", "Emissions since local midnight", "kilograms"),
    Point(12, "signal_time", "uint32", 1, "s", "The signal's ts (end of its 15-minute window), Unix time",
          "seconds"),
    *_windows(),
)

REGISTER_COUNT: Final = max(p.address + p.count for p in POINTS)
BY_NAME: Final = {p.name: p for p in POINTS}


def as_json() -> str:
    """``bms-points.json``: the map for a BMS integrator's import tool."""
    document = {
        "schema": "greenwire.bms-points.v1",
        "map_version": MAP_VERSION,
        "modbus": {
            "function": 3,
            "addressing": "0-based",
            "word_order": "big-endian (high word first)",
            "unit_id": "the building's unit in the bms config",
            "not_available": NOT_AVAILABLE,
            "register_count": REGISTER_COUNT,
        },
        "bacnet": {"instance": "unit * 1000 + instance", "object_name": "{site}.{building}.{name}"},
        "points": [
            {
                "address": p.address,
                "count": p.count,
                "name": p.name,
                "type": p.type,
                "scale": p.scale,
                "unit": p.unit,
                "description": p.description,
                "bacnet_type": p.bacnet_type,
                "instance": p.instance,
                "bacnet_unit": p.bacnet_unit,
                "states": list(p.states),
            }
            for p in POINTS
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def as_csv() -> str:
    """``bms-registers.csv``: one row a point, for a spreadsheet or a BMS's point import."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["address", "count", "name", "type", "scale", "unit", "bacnet_type", "instance",
                     "bacnet_unit", "states", "description"])
    for p in POINTS:
        writer.writerow([p.address, p.count, p.name, p.type, f"{p.scale:g}", p.unit, p.bacnet_type,
                         p.instance, p.bacnet_unit, "; ".join(f"{i}={s}" for i, s in enumerate(p.states)),
                         p.description])
    return out.getvalue()


def as_markdown() -> str:
    """The point table of ``docs/bms.md`` (a test checks the document holds exactly this)."""
    rows = [
        "| address | name | type | scale | unit | BACnet object (instance = unit x 1000 + n) | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in POINTS:
        where = f"{p.address}" if p.count == 1 else f"{p.address}-{p.address + p.count - 1}"
        states = f"; states {', '.join(f'{i + 1} {s}' for i, s in enumerate(p.states))}" if p.states else ""
        rows.append(
            f"| {where} | `{p.name}` | {p.type} | {p.scale:g} | {p.unit} | "
            f"{p.bacnet_type} n={p.instance}, {p.bacnet_unit}{states} | {p.description} |"
        )
    return "\n".join(rows) + "\n"
