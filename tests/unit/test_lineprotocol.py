"""Line-protocol encoder against InfluxData's conformance corpus and the hot path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.shared.errors import EncodeError
from greenwire.shared.lineprotocol import SeriesPrefix, encode_fields, encode_line, format_float

CORPUS = Path(__file__).parents[1] / "data" / "influx-line-protocol" / "encode_cases.json"
CASES = json.loads(CORPUS.read_text())["encode"]


class UInt(int):
    """An unsigned field value, which greenwire never writes but the corpus has."""


def _field(value: dict[str, object]) -> object:
    ((kind, raw),) = value.items()
    return {"float": float, "int": int, "string": str, "bool": bool, "uint": UInt}[kind](raw)


def _encode_case(point: dict) -> str:
    fields = [(f["key"], _field(f["value"])) for f in point["fields"]]
    if any(isinstance(v, UInt) for _, v in fields):
        pytest.skip("unsigned integers are not part of greenwire's schema")
    tags = [(t["key"], t["value"]) for t in point["tags"]]
    return encode_line(point["name"], tags, fields, point.get("time"))


@pytest.mark.parametrize("key", sorted(CASES))
def test_conformance_encode_case(key: str) -> None:
    case = CASES[key]
    expected = case["output"]
    if "error" in expected:
        with pytest.raises(EncodeError):
            _encode_case(case["input"]["point"])
    else:
        assert _encode_case(case["input"]["point"]) == expected["result"]


def test_corpus_is_the_full_encode_section() -> None:
    assert len(CASES) == 115


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_round_trips(value: float) -> None:
    assert float(format_float(value)) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(EncodeError):
        format_float(value)


def test_series_prefix_is_reused_and_sorted() -> None:
    prefix = SeriesPrefix("readings", {"site": "campus", "device": "main incomer", "gateway": "gw-01"})
    assert prefix.prefix == r"readings,device=main\ incomer,gateway=gw-01,site=campus"
    line = prefix.line({"active_power_w": 48210.5, "quality": "good"}, 1_700_000_000_000)
    assert line == (
        r"readings,device=main\ incomer,gateway=gw-01,site=campus "
        'active_power_w=48210.5,quality="good" 1700000000000'
    )


def test_fields_required_and_integers_bounded() -> None:
    with pytest.raises(EncodeError):
        encode_fields({})
    with pytest.raises(EncodeError):
        encode_fields({"x": 2**63})
    assert encode_fields({"x": -(2**63)}) == f"x={-(2**63)}i"
