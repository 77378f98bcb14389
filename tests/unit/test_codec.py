"""Register decoding: every type, every word order, scale, offset and sentinels."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.edge.codec import DATA_TYPES, WORD_ORDERS, decode, decoder, encode, raw_value, width


def test_the_four_orders_place_bytes_as_their_names_say() -> None:
    # 0xAABBCCDD as uint32 on the wire in each order.
    assert encode(0xAABBCCDD, "uint32", "ABCD") == [0xAABB, 0xCCDD]
    assert encode(0xAABBCCDD, "uint32", "CDAB") == [0xCCDD, 0xAABB]
    assert encode(0xAABBCCDD, "uint32", "BADC") == [0xBBAA, 0xDDCC]
    assert encode(0xAABBCCDD, "uint32", "DCBA") == [0xDDCC, 0xBBAA]


def test_float32_from_an_eastron_voltage() -> None:
    # 230.5 V as an SDM630 sends it: IEEE 754 0x43668000, high word first.
    assert decode([0x4366, 0x8000], "float32") == 230.5
    assert decode([0x8000, 0x4366], "float32", "CDAB") == 230.5


def test_signed_types_are_twos_complement() -> None:
    assert decode([0xFFFF], "int16") == -1
    assert decode([0xFFFF], "uint16") == 65535
    assert decode([0xFFFF, 0xFFFE], "int32") == -2
    assert decode([0x8000, 0, 0, 0], "int64") == -(2**63)
    assert decode([0xFFFF] * 4, "uint64") == float(2**64 - 1)  # values are floats on the wire


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_width(data_type: str) -> None:
    assert width(data_type) == struct.calcsize(">" + {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I",
                                                   "int64": "q", "uint64": "Q", "float32": "f",
                                                   "float64": "d"}[data_type]) // 2


_RANGES = {
    "int16": st.integers(-(2**15), 2**15 - 1),
    "uint16": st.integers(0, 2**16 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "uint32": st.integers(0, 2**32 - 1),
    "int64": st.integers(-(2**53), 2**53),  # exact in a float
    "uint64": st.integers(0, 2**53),
    "float32": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "float64": st.floats(allow_nan=False, allow_infinity=False),
}


@given(data=st.data())
def test_prebuilt_decoder_agrees_with_reference_for_every_type_and_order(data: st.DataObject) -> None:
    data_type = data.draw(st.sampled_from(DATA_TYPES))
    order = data.draw(st.sampled_from(WORD_ORDERS))
    value = data.draw(_RANGES[data_type])
    words = encode(value, data_type, order)
    assert len(words) == width(data_type)
    prefix = data.draw(st.lists(st.integers(0, 0xFFFF), max_size=3))
    decoded = decoder(data_type, order)(prefix + words, len(prefix))
    assert decoded == decode(words, data_type, order) == value


def test_scale_and_offset() -> None:
    # A temperature in tenths of a degree with an offset, as many sensors send it.
    assert decoder("int16", scale=0.1, offset=-40.0)([654], 0) == pytest.approx(25.4)
    assert decoder("uint32", "CDAB", scale=0.01)([0x86A0, 0x0001], 0) == pytest.approx(1000.0)


def test_not_implemented_sentinels_give_no_value_not_zero() -> None:
    sunspec_int16 = decoder("int16", missing=(0x8000,))
    assert sunspec_int16([0x8000], 0) is None
    assert sunspec_int16([0x0000], 0) == 0.0
    acc32 = decoder("uint32", "CDAB", missing=(0xFFFFFFFF,))
    assert acc32([0xFFFF, 0xFFFF], 0) is None
    assert raw_value([0x0001, 0x0002], "CDAB") == 0x00020001


def test_nan_and_infinity_give_no_value() -> None:
    nan = decoder("float32")
    assert nan(encode(math.nan, "float32"), 0) is None
    assert nan(encode(math.inf, "float32"), 0) is None
    assert decoder("float64")(encode(-math.inf, "float64"), 0) is None


def test_reference_decode_checks_the_word_count() -> None:
    with pytest.raises(ValueError, match="float32 needs 2 registers, got 1"):
        decode([1], "float32")
