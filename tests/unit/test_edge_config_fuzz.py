"""Hostile and mangled edge configs: a ConfigError naming the file, never another exception or a hang.

An installer's typo and an attacker's file get the same treatment: one
``ConfigError`` that names the file (and the line when there is one). The
corpus in ``tests/data/hostile/edge-config/`` holds the classic YAML attacks
(billion laughs, deep nesting, Python tags, 5000-digit integers) beside
plain mistakes; hypothesis mangles a good config line by line.
"""

from __future__ import annotations

import re
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwire.edge.config import EdgeConfig, load_config, parse_config
from greenwire.shared.errors import ConfigError
from tests.unit.test_edge_config import GOOD

HOSTILE = sorted((Path(__file__).parents[1] / "data" / "hostile" / "edge-config").glob("*.yaml"))


def test_the_corpus_is_there() -> None:
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("path", HOSTILE, ids=[p.name for p in HOSTILE])
def test_each_hostile_config_is_refused_quickly_with_a_config_error(path: Path) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - started < 3.0, "refused quickly (no alias expansion, no quadratic parse)"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100 * 1024, "without taking memory"
    assert str(info.value).startswith(str(path)), "the message names the file"
    assert not Path("/tmp/greenwire-pwned").exists(), "no YAML tag ran code"


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.sampled_from([".nan", ".inf", "-.inf", "~", "''", "[]", "{}", "*x", "&x", "!!binary AA==", "1" + "0" * 5000,
                     "0x1F", "0o17", "1_000", "yes", "no", "on", "2024-01-01", "'\\x00'", "\t", ":", "- -"]),
)


def _mangle(line: str, value: object) -> str:
    key, sep, _ = line.partition(":")
    return f"{key}{sep} {value}" if sep else f"{line} {value}"


def _refused_or_loaded(text: str) -> None:
    try:
        config = parse_config(text, source="edge.yaml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("edge.yaml"), message
        assert re.match(r"edge\.yaml(:\d+(:\d+)?)?: \S", message), message
        return
    assert isinstance(config, EdgeConfig)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_good_config_with_any_line_mangled(data: st.DataObject) -> None:
    lines = GOOD.splitlines()
    index = data.draw(st.integers(0, len(lines) - 1))
    action = data.draw(st.sampled_from(["value", "delete", "duplicate", "indent", "dedent"]))
    if action == "value":
        lines[index] = _mangle(lines[index], data.draw(_scalars))
    elif action == "delete":
        del lines[index]
    elif action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "indent":
        lines[index] = "  " + lines[index]
    else:
        lines[index] = lines[index].lstrip()
    _refused_or_loaded("\n".join(lines) + "\n")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_any_text_is_refused_or_loaded(text: str) -> None:
    _refused_or_loaded(text)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(GOOD)))
def test_a_config_cut_anywhere(cut: int) -> None:
    _refused_or_loaded(GOOD[:cut])
