"""Health-service and wearable command-line configuration: checked at start, errors name the line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.carbon.care import per_participant_day
from greenwire.cloud.health.config import DEFAULT_HEALTH_CLIENT_ID, parse_config
from greenwire.shared.errors import ConfigError

CONFIG = """\
mqtt:
  url: mqtt://127.0.0.1:1883
influx:
  url: http://127.0.0.1:8086
sites:
  - {id: care-home, timezone: Europe/London}
"""


def test_defaults_keep_health_apart() -> None:
    config = parse_config(CONFIG)
    assert config.influx.database == "greenwire_health" and config.influx.energy_database == "greenwire"
    assert (config.influx.raw_retention, config.influx.aggregate_retention) == ("30d", "730d")
    assert config.mqtt.client_id == DEFAULT_HEALTH_CLIENT_ID and config.mqtt.group == "health"
    assert {r.id for r in config.rules} >= {"spo2_low", "indoor_co2_high"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  database: greenwire\n", "<config>:3:1: influx: the health database must not be the energy database"),
        ("  raw_retention: 30 days\n", "<config>:5:3: influx.raw_retention"),
    ],
)
def test_influx_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG.replace("  url: http://127.0.0.1:8086\n", "  url: http://127.0.0.1:8086\n" + extra))
    assert message in str(info.value)


def test_rules_and_sites_are_checked() -> None:
    bad_rule = CONFIG + ("rules:\n  - {id: x, scope: participant, codes: [39156-5], direction: above,\n"
                         "     threshold: 30, margin: 1, unit: kg/m2, source: BMI}\n")
    with pytest.raises(ConfigError, match=r"<config>:8:5: rules\[0\]: .*not vital signs"):
        parse_config(bad_rule)
    with pytest.raises(ConfigError, match="unknown timezone"):
        parse_config(CONFIG.replace("Europe/London", "Mars/Olympus"))
    with pytest.raises(ConfigError, match="listed twice"):
        parse_config(CONFIG + "  - {id: care-home}\n")


def test_carbon_per_participant_day_never_divides_by_zero() -> None:
    assert per_participant_day(42.0, 7) == 6.0
    assert per_participant_day(42.0, 0) is None


def test_keygen_makes_a_private_key_once(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "k" / "pseudonym.key"
    result = runner.invoke(app, ["edge", "keygen", str(key)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) == 64
    first = key.read_text()
    assert runner.invoke(app, ["edge", "keygen", str(key)]).exit_code == 1
    assert key.read_text() == first, "an existing key is never replaced without --force"


def test_validate_shows_wearables_without_naming_participants(tmp_path: Path) -> None:
    (tmp_path / "edge.yaml").write_text(
        "gateway: care-gw\nsite: care-home\nwearables:\n  key_file: pseudonym.key\n  key_id: pilot2026\n"
        "  consent: [Patient/pat-0001, pat-0002]\n  sources:\n    - {id: ward-hub, url: 'http://192.0.2.20/fhir'}\n")
    result = CliRunner().invoke(app, ["edge", "validate", str(tmp_path / "edge.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    assert "ward-hub" in result.output and "2 consenting participants" in result.output
    assert "keygen" in result.output, "the missing key is pointed out"
    assert "pat-000" not in result.output


def test_pseudonym_for_an_erasure_request_and_erase_refuses_raw_ids(tmp_path: Path) -> None:
    from greenwire.edge.fhir import Pseudonymiser

    key = tmp_path / "pseudonym.key"
    runner = CliRunner()
    assert runner.invoke(app, ["edge", "keygen", str(key)]).exit_code == 0
    (tmp_path / "edge.yaml").write_text(
        "gateway: care-gw\nsite: care-home\nwearables:\n  key_file: pseudonym.key\n  key_id: pilot2026\n"
        "  consent: [pat-1]\n  sources:\n    - {id: ward-hub, url: 'http://192.0.2.20/fhir'}\n")
    result = runner.invoke(app, ["edge", "pseudonym", str(tmp_path / "edge.yaml"), "--subject", "pat-1"])
    assert result.exit_code == 0, result.output
    expected = Pseudonymiser(key.read_bytes().strip(), "pilot2026")("Patient/pat-1")
    assert result.output.strip() == expected
    refused = runner.invoke(app, ["health", "erase", "--pseudonym", "Patient/pat-1", "--yes"])
    assert refused.exit_code == 2 and "never the raw id" in refused.output
