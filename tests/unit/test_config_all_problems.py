"""A config with several kinds of mistakes shows them all in one run, each on its own line, in file order."""

from __future__ import annotations

import re

import pytest

from greenwire.edge.config import parse_config
from greenwire.shared.errors import ConfigError

MISTAKES = """\
gateway: gw-01
site: campus-a
buses:
  - name: plant-room
    type: tpc
    host: 192.0.2.10
    timout_s: 1.0
    devices:
      - {id: main-incomer, unit: 1, profile: eastron-sdm603, poll_interval_s: 10}
      - {id: chiller, unit: 1, profile: eastron-sdm630, poll_interval_s: 10}
      - {id: chiller, unit: 3, profile: eastron-sdm630, poll_interval_s: 10}
  - name: rs485-1
    type: serial
    port: /dev/ttyUSB0
    baudrate: 9600
    timeout_s: 1.0
    retries: 2
    devices:
      - {id: sub-lighting, unit: 2, profile: eastron-sdm120, poll_interval_s: 2}
"""


def test_every_mistake_in_one_run() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(MISTAKES, source="multi.yaml")
    text = str(raised.value)
    problems = re.findall(r"^  line (\d+): (.*)$", text, flags=re.M)
    assert [int(line) for line, _ in problems] == [5, 7, 9, 10, 11, 19], text
    said = dict((int(line), what) for line, what in problems)
    assert "did you mean 'tcp'" in said[5]
    assert "unknown key 'timout_s'; did you mean 'timeout_s'" in said[7]
    assert "did you mean 'eastron-sdm630'" in said[9]
    assert "unit 1 of device 'chiller' is already used by 'main-incomer'" in said[10]
    assert "device id 'chiller'" in said[11]
    assert "does not fit in its poll interval of 2.0 s" in said[19]


def test_a_problem_both_checks_find_is_listed_once() -> None:
    valid_but_two_units = MISTAKES.replace("type: tpc", "type: tcp").replace("    timout_s: 1.0\n", "") \
        .replace("eastron-sdm603", "eastron-sdm630").replace("id: chiller, unit: 3", "id: pump, unit: 3") \
        .replace("poll_interval_s: 2}", "poll_interval_s: 5}")
    with pytest.raises(ConfigError) as raised:
        parse_config(valid_but_two_units, source="two.yaml")
    assert str(raised.value).count("unit 1 of device 'chiller'") == 1
    assert "problems" not in str(raised.value)  # the validator's error and the raw check's are one
