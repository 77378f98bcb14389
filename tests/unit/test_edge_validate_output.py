"""`greenwire edge validate` shows the Modbus requests of a poll, readable at 80 columns."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.edge.plan import build_plan
from greenwire.edge.profile import load_profile

CONFIG = """gateway: gw-01
site: campus-a
buses:
  - name: plant-room
    type: tcp
    host: 192.0.2.10
    devices:
      - {id: main-incomer, unit: 1, profile: eastron-sdm630, poll_interval_s: 10}
      - {id: chiller, unit: 2, profile: eastron-sdm120}
"""


def test_validate_prints_each_request_of_a_poll_within_80_columns(tmp_path: Path) -> None:
    (tmp_path / "edge.yaml").write_text(CONFIG)
    result = CliRunner().invoke(app, ["edge", "validate", str(tmp_path / "edge.yaml")], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    plan = build_plan(load_profile("eastron-sdm630"))
    for request in plan.requests:
        assert f"registers {request.address}-{request.address + request.count - 1} ({request.count})" in result.output
    assert "main-incomer  unit 1  eastron-sdm630  every 10 s" in result.output
    assert "…" not in result.output, "nothing cut"


def test_validate_json_lists_the_reads(tmp_path: Path) -> None:
    (tmp_path / "edge.yaml").write_text(CONFIG)
    result = CliRunner().invoke(app, ["edge", "validate", str(tmp_path / "edge.yaml"), "--json"])
    devices = orjson.loads(result.output)["devices"]
    plan = build_plan(load_profile("eastron-sdm120"))
    assert devices[1]["requests"] == len(plan.requests)
    assert devices[1]["reads"] == [{"function": r.code, "address": r.address, "count": r.count} for r in plan.requests]
