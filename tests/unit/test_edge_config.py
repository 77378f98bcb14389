"""Edge config: valid files load; every mistake is named with its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from greenwire.edge.config import load_config, parse_config
from greenwire.shared.errors import ConfigError

GOOD = textwrap.dedent(
    """\
    gateway: gw-01
    site: campus-a
    mqtt:
      url: mqtt://127.0.0.1:1883
    buses:
      - name: plant-room
        type: tcp
        host: 127.0.0.1
        port: 5020
        devices:
          - id: main-incomer
            unit: 1
            profile: eastron-sdm630
            poll_interval_s: 10
          - id: chiller
            unit: 2
            profile: eastron-sdm630
    """
)


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="edge.yaml")
    return info.value


def test_good_config_loads_with_defaults() -> None:
    config = parse_config(GOOD)
    assert config.gateway == "gw-01"
    assert config.mqtt is not None and (config.mqtt.host, config.mqtt.port) == ("127.0.0.1", 1883)
    bus = config.buses[0]
    assert [d.id for d in bus.devices] == ["main-incomer", "chiller"]
    assert bus.devices[1].poll_interval_s == 10.0
    assert config.client_id == "greenwire-edge-gw-01"
    assert config.buffer_path.name == "gw-01.sqlite"


def test_mqtt_section_is_optional() -> None:
    config = parse_config(GOOD.replace("mqtt:\n  url: mqtt://127.0.0.1:1883\n", ""))
    assert config.mqtt is None


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("unit: 2", "unit: 1", 16, "unit 1 of device 'chiller' is already used by 'main-incomer'"),
        ("id: chiller", "id: main-incomer", 15, "device id"),
        ("profile: eastron-sdm630\n  ", "profile: no-such-meter\n  ", 13, "no-such-meter"),
        ("gateway: gw-01", "gateway: GW 01", 1, "gateway"),
        ("port: 5020", "port: 70000", 9, "less than or equal to 65535"),
        ("poll_interval_s: 10", "poll_interval_s: 1", 14, "does not fit in its poll interval"),
        ("url: mqtt://127.0.0.1:1883", "url: http://127.0.0.1:1883", 4, "mqtt://host:port"),
        ("  - name: plant-room", "  - name: plant-room\n    colour: green", 7, "unknown key 'colour'"),
        ("poll_interval_s: 10", "poll_interval: 10", 14, "unknown key 'poll_interval'; did you mean 'poll_interval_s'?"),
        # A missing key is named, on the line of the mapping it belongs in.
        ("        unit: 2\n", "", 15, "buses[0].devices[1].unit: required key 'unit' is missing"),
        ("site: campus-a\n", "", 1, "site: required key 'site' is missing"),
    ],
)
def test_mistakes_name_the_line(old: str, new: str, line: int, words: str) -> None:
    assert old in GOOD
    error = _error(GOOD.replace(old, new, 1))
    assert error.line == line, str(error)
    assert words in str(error)
    assert str(error).startswith(f"edge.yaml:{line}:")


def test_broken_yaml_names_the_line() -> None:
    error = _error(GOOD.replace("    port: 5020", "    port: [5020"))
    assert error.line is not None and "invalid YAML" in str(error)


def test_empty_and_non_mapping_files() -> None:
    assert "empty" in str(_error(""))
    assert "mapping" in str(_error("- a\n- b\n"))


def test_custom_profile_path_is_relative_to_the_config(tmp_path: Path) -> None:
    from greenwire.edge.profile import load_profile

    shipped = load_profile("eastron-sdm630")
    assert shipped.registers
    (tmp_path / "profiles").mkdir()
    source = Path(__import__("greenwire.edge.profile", fromlist=["x"]).__file__).parent / "profiles" / "eastron-sdm630.yaml"
    (tmp_path / "profiles" / "my-meter.yaml").write_text(source.read_text())
    config_file = tmp_path / "edge.yaml"
    config_file.write_text(GOOD.replace("profile: eastron-sdm630\n    - id: chiller", "x").replace(
        "profile: eastron-sdm630\n", "profile: profiles/my-meter.yaml\n", 1))
    config = load_config(config_file)
    assert config.buses[0].devices[0].profile == str(tmp_path / "profiles" / "my-meter.yaml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


SERIAL = textwrap.dedent(
    """\
    gateway: gw-02
    site: campus-a
    buses:
      - name: rs485-1
        type: serial
        port: /dev/ttyUSB0
        baudrate: 19200
        parity: E
        frame_gap_s: 0.01
        devices:
          - {id: main, unit: 1, profile: eastron-sdm630}
      - name: converter
        type: rtu-over-tcp
        host: 10.0.0.7
        port: 4001
        devices:
          - {id: pv, unit: 1, profile: eastron-sdm120}
      - name: plant-room
        host: 10.0.0.8
        devices:
          - {id: chiller, unit: 1, profile: eastron-sdm72}
    """
)


def test_serial_rtu_over_tcp_and_tcp_buses() -> None:
    config = parse_config(SERIAL)
    assert [b.endpoint for b in config.buses] == [
        "serial:///dev/ttyUSB0@19200/8E1",
        "rtu-over-tcp://10.0.0.7:4001",
        "tcp://10.0.0.8:502",
    ]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("baudrate: 19200", "baudrate: 19000", 7, "19000 is not a standard baud rate"),
        ("type: rtu-over-tcp", "type: rtu", 13, "buses[1].type: type must be tcp, rtu-over-tcp or serial"),
        ("parity: E", "parity: X", 8, "'N', 'E' or 'O'"),
    ],
)
def test_serial_mistakes_name_the_line(old: str, new: str, line: int, words: str) -> None:
    error = _error(SERIAL.replace(old, new, 1))
    assert words in str(error)
    assert error.line == line, str(error)


def test_a_slow_line_that_cannot_serve_its_devices_is_refused() -> None:
    devices = "".join(f"      - {{id: m{u}, unit: {u}, profile: eastron-sdm630, poll_interval_s: 1}}\n" for u in range(1, 9))
    single = "      - {id: main, unit: 1, profile: eastron-sdm630}\n"
    assert single in SERIAL
    text = SERIAL.replace(single, devices, 1).replace("baudrate: 19200", "baudrate: 2400\n    timeout_s: 0.2")
    error = _error(text)
    assert "bus 'rs485-1' cannot serve its devices" in str(error) and "at 2400 baud (8E1)" in str(error)
    # The same eight meters fit at 38400 baud: 8 x 3 requests of (8 + 5 + 2n + 7) chars of 11 bits.
    config = parse_config(text.replace("baudrate: 2400", "baudrate: 38400"))
    bus = config.buses[0]
    chars = sum(8 + 5 + 2 * n + 7 for n in (80, 26, 2))
    expected = 8 * (chars * 11 / 38400 + 3 * 0.01)
    assert bus.line_load() == pytest.approx(expected)  # type: ignore[union-attr]


def test_one_serial_port_is_one_bus() -> None:
    text = SERIAL.replace("    host: 10.0.0.7\n    port: 4001\n", "    port: /dev/ttyUSB0\n").replace(
        "type: rtu-over-tcp", "type: serial"
    )
    error = _error(text)
    assert "serial port /dev/ttyUSB0 is already bus 'rs485-1'" in str(error)
    assert error.line == 14
