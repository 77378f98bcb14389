"""``greenwire bms modbus`` and ``bms bacnet`` read by clients we did not write, against real Mosquitto.

The carbon signal is built by the carbon engine's own ``signal_payload`` and published retained
with ``mosquitto_pub``; the bridge runs as its own process; the registers are read with
``mbpoll`` (Debian's libmodbus client) and the BACnet objects with a bacpypes3 client in
another process on another UDP port, all on 127.0.0.1. What they read must be what the MQTT
signal says, to the resolution of the documented scale.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from greenwire.cloud.bms.encode import decode
from greenwire.cloud.bms.points import BANDS, BY_NAME, REGISTER_COUNT
from greenwire.cloud.carbon.signal import Forecast, outlook, signal_payload
from greenwire.cloud.carbon.windows import Step
from greenwire.cloud.sites import Building
from greenwire.servers import Mosquitto

pytestmark = pytest.mark.integration

SITE = "bms-test"


def _signal(building: str, intensity: float, rate: float, today: float) -> dict[str, Any]:
    model = Building.model_validate({"id": building, "zone": "GB", "timezone": "Europe/London",
                                     "floor_area_m2": 1000,
                                     "meters": [{"gateway": "gw-01", "device": "main", "role": "grid_import"}]})
    ts = datetime.now(UTC).replace(second=0, microsecond=0)
    # The zone's forecast as the carbon engine reads it from InfluxDB: the cleanest hour two hours on.
    hourly = [300.0, 250.0, 120.5] + [400.0] * 30
    forecast = Forecast("test forecast", tuple(Step(ts + timedelta(hours=k), ts + timedelta(hours=k + 1), v)
                                               for k, v in enumerate(hourly)))
    signal = orjson.loads(signal_payload(SITE, model, (ts, intensity, rate), today, 210.0, 400.0,
                                         outlook(None, forecast, ts)))
    assert signal["best_windows"][0]["start"] == f"{ts + timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}"
    return dict(signal)


def _publish(broker: Mosquitto, building: str, payload: bytes) -> None:
    subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-r",
                    "-t", f"greenwire/v1/{SITE}/carbon/{building}", *(["-s"] if payload else ["-n"])],
                   input=payload, check=True, timeout=10)


def _retained(broker: Mosquitto, building: str) -> dict[str, Any]:
    out = subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-C", "1", "-W", "10",
                          "-t", f"greenwire/v1/{SITE}/carbon/{building}"], capture_output=True, check=True,
                         timeout=20).stdout
    return dict(json.loads(out))


def _config(tmp_path: Path, broker: Mosquitto) -> Path:
    path = tmp_path / "bms.yaml"
    path.write_text(f"buildings:\n  - {{site: {SITE}, building: b2, unit: 1}}\n"
                    f"  - {{site: {SITE}, building: b9, unit: 2}}\n"
                    f"mqtt:\n  url: {broker.url}\n")
    return path


def _start(args: list[str], log: Path, processes: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "greenwire", "bms", *args], stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    processes.append(process)
    return process


def _ready_line(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while True:
        text = log.read_text(errors="replace")
        found = re.search(r"^serving .*$", text, re.MULTILINE)
        if found:
            return found.group(0)
        assert process.poll() is None and time.monotonic() < deadline, text[-2000:]
        time.sleep(0.1)


def _mbpoll(port: int, unit: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mbpoll", "-m", "tcp", "-a", str(unit), "-0", "-r", "0", "-c", str(REGISTER_COUNT),
                           "-t", "4:hex", "-1", "-o", "2", "-p", str(port), "127.0.0.1"],
                          capture_output=True, text=True, timeout=20)


def _words(output: str) -> list[int]:
    found = dict(re.findall(r"^\[(\d+)\]:\s+0x([0-9A-Fa-f]{4})", output, re.MULTILINE))
    assert len(found) == REGISTER_COUNT, output
    return [int(found[str(i)], 16) for i in range(REGISTER_COUNT)]


def _eventually(check: Callable[[], Any], within_s: float = 20) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _same_as_signal(values: dict[str, Any], signal: dict[str, Any]) -> None:
    """The served values are the MQTT signal's, to within half a step of each point's scale."""
    def close(name: str, expected: float) -> None:
        assert values[name] == pytest.approx(expected, abs=BY_NAME[name].scale / 2 + 1e-9), name

    close("intensity_g_per_kwh", signal["intensity_g_per_kwh"])
    close("grid_intensity_g_per_kwh", signal["grid_intensity_g_per_kwh"])
    close("emission_rate_kg_per_h", signal["emission_rate_kg_per_h"])
    close("today_kgco2e", signal["today_kgco2e"])
    close("today_budget_used_pct", 100 * signal["today_kgco2e"] / signal["today_budget_kgco2e"])
    assert values["grid_band"] == BANDS.index(signal["grid_band"])
    ts = datetime.fromisoformat(signal["ts"].replace("Z", "+00:00"))
    assert values["signal_time"] == ts.timestamp()
    for window in signal["best_windows"]:  # the engine's 1, 2, 4 and 8 h windows
        hours = window["duration_h"]
        close(f"best_{hours}h_g_per_kwh", window["g_per_kwh"])
        close(f"best_{hours}h_saving_pct", window["saving_percent"])
        start = datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
        assert values[f"best_{hours}h_start_time"] == start.timestamp()
    assert 100 <= values["best_1h_start_in_min"] <= 120
    assert 40 <= values["best_2h_start_in_min"] <= 60
    assert values["map_version"] == 1 and values["status_code"] == 0


def test_mbpoll_reads_the_documented_registers(mosquitto: Mosquitto, tmp_path: Path,
                                               processes: list[subprocess.Popen[bytes]]) -> None:
    _publish(mosquitto, "b9", b"")  # b9 has no signal (a retained one from an earlier run is cleared)
    _publish(mosquitto, "b2", orjson.dumps(_signal("b2", 231.44, 12.3456, 48.125)))
    log = tmp_path / "modbus.log"
    process = _start(["modbus", "--config", str(_config(tmp_path, mosquitto)), "--port", "0"], log, processes)
    port = int(re.search(r"Modbus TCP on 127\.0\.0\.1:(\d+)", _ready_line(process, log)).group(1))  # type: ignore[union-attr]

    signal = _retained(mosquitto, "b2")

    def served() -> dict[str, Any]:
        result = _mbpoll(port, 1)
        assert result.returncode == 0, result.stdout + result.stderr
        values = decode(_words(result.stdout))
        assert values["status_code"] == 0, values
        return values

    values = _eventually(served)
    _same_as_signal(values, signal)
    assert values["data_age_s"] is not None and 0 <= values["data_age_s"] < 180
    first_beat = values["heartbeat"]

    # A new signal is served at the next read; the heartbeat moves on.
    _publish(mosquitto, "b2", orjson.dumps(_signal("b2", 198.7, 9.5, 50.0)))
    newer = _retained(mosquitto, "b2")
    values = _eventually(lambda: (v := served(), _same_as_signal(v, newer))[0])
    assert values["heartbeat"] > first_beat or values["heartbeat"] < 100  # (wraps at 65536)

    # The building without a signal says so; a unit id no building has is refused.
    empty = decode(_words(_mbpoll(port, 2).stdout))
    assert empty["status_code"] == 2 and empty["intensity_g_per_kwh"] is None and empty["map_version"] == 1
    unknown = _mbpoll(port, 9)
    assert unknown.returncode != 0 or "0x" not in unknown.stdout

    # The broker goes away: the last signal is still served, with its age (and then stale).
    mosquitto.stop()
    try:
        during = decode(_words(_mbpoll(port, 1).stdout))
        _same_as_signal(during, newer)
    finally:
        mosquitto.start()

    process.terminate()
    assert process.wait(timeout=20) == 0, log.read_text()


def test_an_old_signal_is_served_as_stale(mosquitto: Mosquitto, tmp_path: Path,
                                          processes: list[subprocess.Popen[bytes]]) -> None:
    old = _signal("b2", 231.44, 12.3456, 48.125)
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    old["ts"] = ts.isoformat().replace("+00:00", "Z")
    _publish(mosquitto, "b2", orjson.dumps(old))
    config = _config(tmp_path, mosquitto)
    config.write_text(config.read_text() + "stale_after_s: 600\n")
    log = tmp_path / "modbus.log"
    process = _start(["modbus", "--config", str(config), "--port", "0"], log, processes)
    port = int(re.search(r"Modbus TCP on 127\.0\.0\.1:(\d+)", _ready_line(process, log)).group(1))  # type: ignore[union-attr]

    def stale() -> dict[str, Any]:
        values = decode(_words(_mbpoll(port, 1).stdout))
        assert values["status_code"] == 1, values
        return values

    values = _eventually(stale)
    assert 1200 <= values["data_age_s"] < 1300
    assert values["intensity_g_per_kwh"] == pytest.approx(231.4)  # still served, said to be stale
    process.terminate()
    assert process.wait(timeout=20) == 0, log.read_text()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bacnet_read(server_port: int, objects: list[str]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "tests.bms.bacnet_client", str(server_port),
                             str(_free_udp_port()), "3990", *objects],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(json.loads(result.stdout.splitlines()[-1]))


def test_a_bacpypes3_client_reads_the_objects(mosquitto: Mosquitto, tmp_path: Path,
                                             processes: list[subprocess.Popen[bytes]]) -> None:
    _publish(mosquitto, "b9", b"")
    _publish(mosquitto, "b2", orjson.dumps(_signal("b2", 231.44, 12.3456, 48.125)))
    signal = _retained(mosquitto, "b2")
    port = _free_udp_port()
    log = tmp_path / "bacnet.log"
    process = _start(["bacnet", "--config", str(_config(tmp_path, mosquitto)), "--address", "127.0.0.1/32",
                      "--port", str(port)], log, processes)
    _ready_line(process, log)

    def av(unit: int, name: str) -> str:
        return f"analog-value,{unit * 1000 + BY_NAME[name].instance}"

    def msv(unit: int, name: str) -> str:
        return f"multi-state-value,{unit * 1000 + BY_NAME[name].instance}"

    wanted = [msv(1, "status_code"), av(1, "intensity_g_per_kwh"), av(1, "emission_rate_kg_per_h"),
              av(1, "today_kgco2e"), av(1, "today_budget_used_pct"), msv(1, "grid_band"),
              av(1, "best_1h_g_per_kwh"), av(1, "best_2h_g_per_kwh"), msv(2, "status_code"),
              av(2, "intensity_g_per_kwh")]

    def read() -> dict[str, Any]:
        answer = _bacnet_read(port, wanted)
        assert answer[msv(1, "status_code")]["present-value"] == 1, answer  # state 1: ok
        return answer

    answer = _eventually(read, 40)
    assert len(answer["object-list"]) == 1 + 2 * len(BY_NAME)
    intensity = answer[av(1, "intensity_g_per_kwh")]
    assert intensity["object-name"] == f"{SITE}.b2.intensity_g_per_kwh"
    # BACnet REAL is 32-bit: equal to the signal to float32 precision, in engineering units.
    assert intensity["present-value"] == pytest.approx(signal["intensity_g_per_kwh"], rel=1e-6)
    assert answer[av(1, "emission_rate_kg_per_h")]["present-value"] == pytest.approx(
        signal["emission_rate_kg_per_h"], rel=1e-6)
    assert answer[av(1, "emission_rate_kg_per_h")]["units"] == "kilograms-per-hour"
    assert answer[av(1, "today_kgco2e")]["present-value"] == pytest.approx(signal["today_kgco2e"], rel=1e-6)
    assert answer[av(1, "today_budget_used_pct")]["present-value"] == pytest.approx(
        100 * signal["today_kgco2e"] / signal["today_budget_kgco2e"], rel=1e-6)
    band = answer[msv(1, "grid_band")]
    assert band["state-text"][band["present-value"] - 1] == signal["grid_band"]
    # The engine's best windows of the forecast: the cleanest hour, and the cleanest two hours.
    assert answer[av(1, "best_1h_g_per_kwh")]["present-value"] == pytest.approx(120.5)
    assert answer[av(1, "best_2h_g_per_kwh")]["present-value"] == pytest.approx((250.0 + 120.5) / 2)
    assert answer[av(1, "best_2h_g_per_kwh")]["present-value"] == pytest.approx(
        signal["best_windows"][1]["g_per_kwh"], rel=1e-6)
    assert answer[msv(2, "status_code")]["present-value"] == 3  # no signal
    # Not available: NaN with reliability no-sensor, never a number.
    missing = answer[av(2, "intensity_g_per_kwh")]
    assert missing["present-value"] is None and missing["reliability"] == "no-sensor"

    process.terminate()
    assert process.wait(timeout=20) == 0, log.read_text()
