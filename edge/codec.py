"""Modbus register words to numbers: pure functions, no I/O.

A Modbus register is a 16-bit word. Values wider than one word are spread
over consecutive registers, and meters disagree on the order. The four
orders are named by where the bytes of a 32-bit big-endian value ``ABCD``
end up on the wire (the names Telegraf's modbus input and most meter manuals
use):

========  ===================================  =======================================
order     wire bytes of value 0xAABBCCDD       who uses it
========  ===================================  =======================================
ABCD      AA BB | CC DD  (big-endian)          Eastron, Janitza, SunSpec, most meters
CDAB      CC DD | AA BB  (low word first)      Carlo Gavazzi, some ABB, Schneider int64
BADC      BB AA | DD CC  (bytes swapped)       rare, some PLC gateways
DCBA      DD CC | BB AA  (little-endian)       rare
========  ===================================  =======================================

For 64-bit values the same rule extends to four words: ``CDAB`` reverses the
word order, ``BADC`` swaps the bytes inside each word, ``DCBA`` does both.

:func:`decoder` builds, once at start-up, a function that turns the words of
one register into a float; the poll loop only calls it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import Final, Literal

DataType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]

DATA_TYPES: Final[tuple[DataType, ...]] = (
    "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
)
WORD_ORDERS: Final[tuple[WordOrder, ...]] = ("ABCD", "CDAB", "BADC", "DCBA")

# struct format (big-endian) and width in registers of each type.
_FORMATS: Final[dict[DataType, tuple[str, int]]] = {
    "int16": (">h", 1),
    "uint16": (">H", 1),
    "int32": (">i", 2),
    "uint32": (">I", 2),
    "int64": (">q", 4),
    "uint64": (">Q", 4),
    "float32": (">f", 2),
    "float64": (">d", 4),
}

Decoder = Callable[[Sequence[int], int], "float | None"]
"""``decode(words, offset)``: the value of the register starting at ``words[offset]``, or None."""


def width(data_type: DataType) -> int:
    """How many 16-bit registers a value of ``data_type`` occupies."""
    return _FORMATS[data_type][1]


def _to_big_endian(words: Sequence[int], order: WordOrder) -> list[int]:
    """Words as read from the wire, rearranged into ABCD (big-endian) order."""
    out = list(words)
    if order in ("CDAB", "DCBA"):
        out.reverse()
    if order in ("BADC", "DCBA"):
        out = [((w & 0xFF) << 8) | (w >> 8) for w in out]
    return out


def raw_value(words: Sequence[int], order: WordOrder = "ABCD") -> int:
    """The unsigned integer the words hold (for "not implemented" sentinels)."""
    value = 0
    for word in _to_big_endian(words, order):
        value = (value << 16) | word
    return value


def decode(words: Sequence[int], data_type: DataType, order: WordOrder = "ABCD") -> float:
    """Decode one value from exactly ``width(data_type)`` words (reference implementation)."""
    fmt, n = _FORMATS[data_type]
    if len(words) != n:
        raise ValueError(f"{data_type} needs {n} registers, got {len(words)}")
    ordered = _to_big_endian(words, order)
    return float(struct.unpack(fmt, struct.pack(f">{n}H", *ordered))[0])


def encode(value: float, data_type: DataType, order: WordOrder = "ABCD") -> list[int]:
    """The register words a device holding ``value`` presents (for tests and simulators)."""
    fmt, n = _FORMATS[data_type]
    number: float | int = value if data_type.startswith("float") else int(value)
    words = list(struct.unpack(f">{n}H", struct.pack(fmt, number)))
    # Each order is its own inverse (a reversal, a swap, or both), so the same rearrangement encodes.
    return _to_big_endian(words, order)


def decoder(
    data_type: DataType,
    order: WordOrder = "ABCD",
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    missing: Sequence[int] = (),
) -> Decoder:
    """Build the decoder of one register: raw words → ``raw * scale + offset``.

    Returns None instead of a value when the raw words equal one of the
    ``missing`` sentinels ("not implemented", e.g. 0x8000 for a SunSpec int16)
    or decode to NaN or infinity: a register without a value gives no value,
    never zero.
    """
    fmt, n = _FORMATS[data_type]
    unpack = struct.Struct(fmt).unpack
    pack = struct.Struct(f">{n}H").pack
    sentinels = frozenset(missing)
    swap_words = order in ("CDAB", "DCBA")
    swap_bytes = order in ("BADC", "DCBA")
    is_float = data_type.startswith("float")

    def decode_one(words: Sequence[int], at: int) -> float | None:
        chunk = words[at : at + n]
        if swap_words:
            chunk = chunk[::-1]
        if swap_bytes:
            chunk = [((w & 0xFF) << 8) | (w >> 8) for w in chunk]
        packed = pack(*chunk)
        if sentinels and int.from_bytes(packed, "big") in sentinels:
            return None
        value: float = unpack(packed)[0]
        if is_float and not math.isfinite(value):
            return None
        return value * scale + offset if (scale != 1.0 or offset != 0.0) else float(value)

    return decode_one
