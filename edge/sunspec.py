"""SunSpec devices: found by discovery, read through profiles built from the official model JSON.

A SunSpec device holds, from a base address (40000, else 0, else 50000), the
marker "SunS" (0x5375 0x6E53) and then a chain of model blocks, each a model
id, a length in registers, and the model's points; id 0xFFFF ends the chain.
``discover`` walks the chain with holding-register reads; ``build_profile``
turns the supported models it found into an ordinary ``Profile``:

- 1 (common): read once at discovery for the manufacturer, model and serial;
- 101-103 inverters and 201-204 meters: integers with scale-factor registers
  (``sunssf``, an exponent of ten), read in the same request as their values;
- 111-113 and 211-214: the same as float32.

Point offsets, types and scale factors come from the model definitions in
``edge/sunspec/model_<id>.json`` (SunSpec Alliance, Apache-2.0); only the
mapping of point names to greenwire quantities is written here. "Not
implemented" values (int16 0x8000, uint16 0xFFFF, acc32 0, int32 0x80000000,
uint32 0xFFFFFFFF, float NaN, sunssf 0x8000) give no value.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from greenwire.edge.profile import Profile

MODELS_DIR: Final = Path(__file__).parent / "sunspec"
MARKER: Final = (0x5375, 0x6E53)
BASES: Final = (40000, 0, 50000)
END: Final = 0xFFFF
INTEGER_MODELS: Final = frozenset({101, 102, 103, 201, 202, 203, 204})
FLOAT_MODELS: Final = frozenset({111, 112, 113, 211, 212, 213, 214})
SUPPORTED: Final = INTEGER_MODELS | FLOAT_MODELS

# SunSpec point type -> (codec type, "not implemented" raw value or None)
_TYPES: Final[dict[str, tuple[str, int | None]]] = {
    "int16": ("int16", 0x8000),
    "uint16": ("uint16", 0xFFFF),
    "acc16": ("uint16", 0),
    "int32": ("int32", 0x80000000),
    "uint32": ("uint32", 0xFFFFFFFF),
    "acc32": ("uint32", 0),
    "acc64": ("uint64", 0),
    "float32": ("float32", None),
}

# point name -> (quantity, extra scale to the vocabulary's unit)
_INVERTER: Final = {
    "AphA": ("current_l1_a", 1.0), "AphB": ("current_l2_a", 1.0), "AphC": ("current_l3_a", 1.0),
    "PhVphA": ("voltage_l1_v", 1.0), "PhVphB": ("voltage_l2_v", 1.0), "PhVphC": ("voltage_l3_v", 1.0),
    "W": ("active_power_w", 1.0), "Hz": ("frequency_hz", 1.0), "VA": ("apparent_power_va", 1.0),
    "VAr": ("reactive_power_var", 1.0), "PF": ("power_factor", 0.01),  # percent
    "WH": ("energy_generated_kwh", 0.001), "DCW": ("dc_power_w", 1.0), "TmpCab": ("temperature_c", 1.0),
}
_METER: Final = {
    "AphA": ("current_l1_a", 1.0), "AphB": ("current_l2_a", 1.0), "AphC": ("current_l3_a", 1.0),
    "PhVphA": ("voltage_l1_v", 1.0), "PhVphB": ("voltage_l2_v", 1.0), "PhVphC": ("voltage_l3_v", 1.0),
    "PhVphAB": ("voltage_l1_l2_v", 1.0), "PhVphBC": ("voltage_l2_l3_v", 1.0), "PhVphCA": ("voltage_l3_l1_v", 1.0),
    "PPVphAB": ("voltage_l1_l2_v", 1.0), "PPVphBC": ("voltage_l2_l3_v", 1.0), "PPVphCA": ("voltage_l3_l1_v", 1.0),
    "Hz": ("frequency_hz", 1.0), "W": ("active_power_w", 1.0),
    "WphA": ("active_power_l1_w", 1.0), "WphB": ("active_power_l2_w", 1.0), "WphC": ("active_power_l3_w", 1.0),
    "VA": ("apparent_power_va", 1.0), "VAR": ("reactive_power_var", 1.0), "PF": ("power_factor", 0.01),
    "TotWhExp": ("energy_export_kwh", 0.001), "TotWhImp": ("energy_import_kwh", 0.001),
}


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a model: where it sits (registers after the model's ID) and how to read it."""

    name: str
    type: str
    offset: int
    size: int
    sf: str | None


@dataclass(frozen=True, slots=True)
class FoundModel:
    """A model block found on a device."""

    id: int
    address: int
    """Address of the block's ID register."""
    length: int


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a SunSpec device says about itself."""

    base: int
    models: tuple[FoundModel, ...]
    manufacturer: str = ""
    model: str = ""
    serial: str = ""

    @property
    def supported(self) -> list[FoundModel]:
        return [m for m in self.models if m.id in SUPPORTED]


class SunSpecError(Exception):
    """The device is not SunSpec, or its model chain is broken."""


@lru_cache(maxsize=32)
def model_points(model_id: int) -> dict[str, Point]:
    """The top-level points of a model, by name, with offsets from its ID register."""
    definition = json.loads((MODELS_DIR / f"model_{model_id}.json").read_text(encoding="utf-8"))
    points: dict[str, Point] = {}
    offset = 0
    for raw in definition["group"]["points"]:
        size = int(raw.get("size", 1))
        points[raw["name"]] = Point(raw["name"], raw["type"], offset, size, raw.get("sf"))
        offset += size
    return points


def _text(words: list[int]) -> str:
    return b"".join(w.to_bytes(2, "big") for w in words).split(b"\0", 1)[0].decode("ascii", "replace").strip()


Read = Callable[[int, int], Awaitable[list[int] | None]]
"""``read(address, count)``: holding registers, or None if the device refused or did not answer."""


async def discover(read: Read, *, max_models: int = 64) -> Discovery:
    """Find the SunSpec marker and walk the model chain; raise SunSpecError if there is none."""
    for base in BASES:
        marker = await read(base, 2)
        if marker is not None and tuple(marker) == MARKER:
            break
    else:
        raise SunSpecError(f"no SunSpec marker 'SunS' at {', '.join(map(str, BASES))}")
    models: list[FoundModel] = []
    address = base + 2
    for _ in range(max_models):
        header = await read(address, 2)
        if header is None:
            raise SunSpecError(f"model header at {address} could not be read")
        model_id, length = header
        if model_id == END:
            break
        models.append(FoundModel(model_id, address, length))
        address += 2 + length
    else:
        raise SunSpecError(f"no end marker after {max_models} models")
    found = Discovery(base, tuple(models))
    common = next((m for m in models if m.id == 1), None)
    if common is not None:
        points = model_points(1)
        words = await read(common.address, 2 + common.length)
        if words is not None:

            def text(name: str) -> str:
                p = points[name]
                return _text(words[p.offset : p.offset + p.size])

            found = Discovery(base, tuple(models), text("Mn"), text("Md"), text("SN"))
    return found


def build_profile(found: Discovery, *, name: str = "sunspec") -> Profile:
    """A profile reading every supported model of a discovered device (first model of a kind wins)."""
    registers: list[dict[str, Any]] = []
    taken: set[str] = set()
    for model in found.supported:
        points = model_points(model.id)
        mapping = _METER if model.id >= 200 else _INVERTER
        for point_name, (quantity, scale) in mapping.items():
            point = points.get(point_name)
            if point is None or quantity in taken or point.type not in _TYPES:
                continue
            codec_type, missing = _TYPES[point.type]
            spec: dict[str, Any] = {
                "quantity": quantity,
                "address": model.address + point.offset,
                "type": codec_type,
                "scale": scale,
                "missing": [missing] if missing is not None else [],
            }
            if point.sf:
                spec["scale_factor"] = model.address + points[point.sf].offset
            registers.append(spec)
            taken.add(quantity)
    if not registers:
        raise SunSpecError(f"no supported model among {[m.id for m in found.models]}")
    return Profile.model_validate(
        {
            "name": name,
            "manufacturer": found.manufacturer,
            "model": found.model,
            "description": f"SunSpec models {', '.join(str(m.id) for m in found.supported)} at base {found.base}",
            "sources": ["SunSpec Information Models (official JSON), https://github.com/sunspec/models"],
            "defaults": {"function": "holding", "order": "ABCD"},
            # A model block is contiguous and meant to be read whole.
            "plan": {"max_gap": 125},
            "registers": registers,
        }
    )
