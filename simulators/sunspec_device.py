"""A SunSpec device image: the "SunS" marker and model blocks laid out from the official model JSON.

Used to serve a simulated SunSpec meter or inverter (``MeterServer`` with ``sunspec=``) so the
edge's discovery and decoding are tested on real model layouts. Values are given as raw
register values per point (integers, with their scale factors) or floats for float models.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Final

MODELS_DIR: Final = Path(__file__).parents[1] / "edge" / "sunspec"
BASE: Final = 40000


def _words(point_type: str, size: int, value: object) -> list[int]:
    if point_type == "string":
        data = str(value).encode("ascii")[: size * 2].ljust(size * 2, b"\0")
        return list(struct.unpack(f">{size}H", data))
    if point_type == "float32":
        return list(struct.unpack(">2H", struct.pack(">f", float(value))))  # type: ignore[arg-type]
    raw = int(value)  # type: ignore[call-overload]
    raw &= (1 << (16 * size)) - 1
    return [(raw >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def model_block(model_id: int, values: dict[str, object]) -> list[int]:
    """One model block (ID, L, points) with the given point values; others "not implemented"."""
    definition = json.loads((MODELS_DIR / f"model_{model_id}.json").read_text(encoding="utf-8"))
    points = definition["group"]["points"]
    length = sum(int(p.get("size", 1)) for p in points) - 2
    words: list[int] = []
    for point in points:
        size = int(point.get("size", 1))
        if point["name"] == "ID":
            words += [model_id]
        elif point["name"] == "L":
            words += [length]
        elif point["name"] in values:
            words += _words(point["type"], size, values[point["name"]])
        else:
            unset = {"int16": 0x8000, "sunssf": 0x8000, "uint16": 0xFFFF, "int32": 0x80000000,
                     "uint32": 0xFFFFFFFF, "float32": 0x7FC00000}.get(point["type"], 0)
            words += _words("uint32" if size == 2 else "uint16" if size == 1 else "x", size, unset) if size <= 2 \
                else [0] * size
    return words


def device_image(models: list[tuple[int, dict[str, object]]]) -> list[int]:
    """Registers from BASE: "SunS", each model block, the end marker."""
    words = [0x5375, 0x6E53]
    for model_id, values in models:
        words += model_block(model_id, values)
    return [*words, 0xFFFF, 0]
