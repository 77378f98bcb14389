"""greenwire.cloud.ingest.config: the ingestor's YAML is checked at start-up, and every error names the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from greenwire.cloud.ingest.config import DEFAULT_STATE_DIR, IngestConfig, load_config, parse_config
from greenwire.shared.errors import ConfigError
from greenwire.stack import StackEnv

EXAMPLE = Path(__file__).parents[2] / "cloud" / "ingest" / "ingest.example.yaml"

V1 = """\
mqtt:
  url: mqtt://127.0.0.1:1883
influx:
  api: v1
  url: http://127.0.0.1:8086
  database: greenwire
"""


def error_of(text: str, *, base_dir: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="ingest.yaml", base_dir=base_dir)
    return str(caught.value)


def test_minimal_v1_config_and_its_defaults() -> None:
    config = parse_config(V1)
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("127.0.0.1", 1883, False)
    assert config.mqtt.client_id == "greenwire-ingest-1"
    assert config.mqtt.group == "ingest"
    assert config.limits.max_payload_bytes == 1_048_576, "1 MB by default"
    assert config.limits.max_future_s == 300, "5 minutes by default"
    assert config.state_dir == DEFAULT_STATE_DIR
    assert config.influx.describe() == "InfluxDB v1 http://127.0.0.1:8086 database greenwire"


def test_the_shipped_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.influx.api == "v1"
    assert config.mqtt.session_expiry_s == 7 * 86_400


def test_mqtts_defaults_to_port_8883() -> None:
    config = parse_config(V1.replace("mqtt://127.0.0.1:1883", "mqtts://broker.example.org"))
    assert (config.mqtt.port, config.mqtt.tls) == (8883, True)


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        ("mqtt://127.0.0.1:1883", "http://127.0.0.1:1883", "ingest.yaml:2", "expected mqtt://host:port"),
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:99999", "ingest.yaml:2", "bad port"),
        ("http://127.0.0.1:8086", "influx.local:8086", "ingest.yaml:5", "expected http://host:port"),
        ("api: v1", "api: v3", "ingest.yaml:4", "influx.api"),
        ("  database: greenwire\n", "", "ingest.yaml:3", "api v1 needs database"),
        ("  database: greenwire\n", "  database: greenwire\n  bucket: b\n", "ingest.yaml:3", "bucket: v2 settings"),
        ("  database: greenwire\n", "  database: greenwire\n  colour: green\n", "ingest.yaml:7", "influx.colour"),
    ],
)
def test_errors_name_the_file_and_line(old: str, new: str, where: str, words: str) -> None:
    text = V1.replace(old, new)
    assert text != V1
    message = error_of(text)
    assert re.match(rf"{re.escape(where)}:\d+: ", message), message  # file:line:column
    assert words in message
    assert "\n" not in message, "one problem, one line"


def test_v2_needs_token_org_and_bucket() -> None:
    text = V1.replace("api: v1", "api: v2").replace("  database: greenwire\n", "  org: county\n")
    message = error_of(text)
    assert re.match(r"ingest\.yaml:3:\d+: ", message)
    assert "api v2 needs token (or token_file), bucket" in message


def test_several_problems_are_listed_each_with_its_line() -> None:
    text = V1.replace("mqtt://127.0.0.1:1883", "tcp://x").replace("api: v1", "api: v2")
    message = error_of(text)
    assert re.match(r"ingest\.yaml:2:\d+: 2 problems:", message)
    assert "line 2: mqtt.url" in message
    assert "line 3: influx: database: v1 settings, but api is v2" in message


def test_yaml_syntax_error_names_the_line() -> None:
    message = error_of(V1 + "batch:\n  max_lines: [\n")
    assert message.startswith("ingest.yaml:")
    assert "ingest.yaml:8" in message or "ingest.yaml:9" in message


@pytest.mark.parametrize(
    ("section", "line", "field"),
    [
        ("batch:\n  max_lines: 0\n", 8, "batch.max_lines"),
        ("batch:\n  max_delay_s: -1\n", 8, "batch.max_delay_s"),
        ("limits:\n  max_payload_bytes: 10\n", 8, "limits.max_payload_bytes"),
        ("limits:\n  max_future_s: -5\n", 8, "limits.max_future_s"),
        ("mqtt_extra: 1\n", 7, "mqtt_extra"),
    ],
)
def test_bounds_and_unknown_keys(section: str, line: int, field: str) -> None:
    message = error_of(V1 + section)
    assert re.match(rf"ingest\.yaml:{line}:\d+: {re.escape(field)}: ", message), message


def test_secret_files_are_resolved_next_to_the_config_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    text = V1.replace("api: v1", "api: v2").replace(
        "  database: greenwire\n", "  token_file: token\n  org: county\n  bucket: greenwire\n"
    )
    (tmp_path / "ingest.yaml").write_text(text)
    config = load_config(tmp_path / "ingest.yaml")
    assert config.influx.resolved_token() == "s3cret", "read from the file, stripped"
    assert "s3cret" not in repr(config)

    (tmp_path / "token").unlink()
    message = error_of(text, base_dir=tmp_path)
    assert re.match(r"ingest\.yaml:6:\d+: ", message) and "is not a readable file" in message


def test_password_and_password_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("x")
    text = V1.replace(
        "  url: mqtt://127.0.0.1:1883\n",
        "  url: mqtt://127.0.0.1:1883\n  username: ingest\n  password: a\n  password_file: pw\n",
    )
    message = error_of(text, base_dir=tmp_path)
    assert re.match(r"ingest\.yaml:1:\d+: ", message) and "not both" in message


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"


def test_from_stack_uses_the_stacks_broker_database_and_state_dir(tmp_path: Path) -> None:
    env = StackEnv("mqtt://127.0.0.1:41883", "http://127.0.0.1:48086", "greenwire")
    config = IngestConfig.from_stack(env, state_dir=tmp_path / "ingest")
    assert config.mqtt.url == env.mqtt_url
    assert (config.influx.api, config.influx.url, config.influx.database) == ("v1", env.influx_url, "greenwire")
    assert config.state_dir == tmp_path / "ingest"
    assert "password" not in str(config.summary())


def test_check_command_offline(tmp_path: Path) -> None:
    import orjson
    from typer.testing import CliRunner

    from greenwire.commands.ingest import app

    (tmp_path / "ingest.yaml").write_text(V1)
    result = CliRunner().invoke(app, ["check", "--config", str(tmp_path / "ingest.yaml"), "--offline", "--json"])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)
    assert summary["ok"] is True and "broker" not in summary
    assert summary["config"]["influx"]["target"] == "InfluxDB v1 http://127.0.0.1:8086 database greenwire"

    (tmp_path / "ingest.yaml").write_text(V1.replace("api: v1", "api: v3"))
    result = CliRunner().invoke(app, ["check", "--config", str(tmp_path / "ingest.yaml"), "--offline"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'ingest.yaml'}:4:3: influx.api")
