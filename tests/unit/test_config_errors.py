"""Config mistakes an installer makes, each answered with file:line:column, the key, and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwire.edge.config import load_config
from greenwire.shared.errors import ConfigError

GOOD = """gateway: gw-01
site: campus-a
buses:
  - name: plant-room
    type: tcp
    host: 192.0.2.10
    devices:
      - {id: main, unit: 1, profile: eastron-sdm630}
"""


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (GOOD.replace("type: tcp", "type: tpc"), ":5:5:", ["buses[0].type", "did you mean 'tcp'?"]),
        (GOOD.replace("eastron-sdm630", "eastron-sdm603"), ":8:", ["unknown profile 'eastron-sdm603'",
                                                                   "did you mean 'eastron-sdm630'?"]),
        (GOOD.replace("  - name: plant-room", "\t- name: plant-room"), ":4:1:", ["tab", "spaces"]),
        (GOOD.replace("    type: tcp", "   type: tcp"), ":5:", ["indentation", "same column"]),
    ],
    ids=["bus type typo", "profile typo", "tab", "bad indentation"],
)
def test_a_mistake_is_named_where_it_is_with_a_hint(tmp_path: Path, text: str, where: str, words: list[str]) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"edge.yaml{where}" in message
    assert all(w in message for w in words), message
