"""The local stack: Mosquitto and InfluxDB on free loopback ports, state under ``.greenwire/``.

``up()`` starts both as background processes (they outlive the command that
started them), creates the ``greenwire`` database and records pids, ports
and URLs in ``.greenwire/stack/stack.json``. Every other command finds the
stack through ``discover()``, which trusts that file only if the processes
are alive and answer. ``down()`` stops them; their data stays for the next
``up()``, which reuses the same ports when they are free.

Set ``GREENWIRE_HOME`` to keep the state somewhere other than ``./.greenwire``.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from greenwire.servers import InfluxDB1, Mosquitto, pid_alive, stop_pid
from shared.errors import StackError

DATABASE = "greenwire"


@dataclass(frozen=True, slots=True)
class StackEnv:
    """Where the local stack's services are."""

    mqtt_url: str
    influx_url: str
    influx_db: str

    def lines(self) -> list[str]:
        """``NAME=value`` lines, as ``greenwire stack env`` prints them."""
        return [
            f"GREENWIRE_MQTT_URL={self.mqtt_url}",
            f"GREENWIRE_INFLUX_URL={self.influx_url}",
            f"GREENWIRE_INFLUX_DB={self.influx_db}",
        ]


def state_dir() -> Path:
    """``$GREENWIRE_HOME``, or ``.greenwire`` in the current directory."""
    return Path(os.environ.get("GREENWIRE_HOME") or ".greenwire")


def _stack_dir() -> Path:
    return state_dir() / "stack"


def _record_path() -> Path:
    return _stack_dir() / "stack.json"


def _read_record() -> dict[str, Any] | None:
    try:
        record = orjson.loads(_record_path().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def status() -> dict[str, dict[str, Any]]:
    """Each service of the recorded stack: pid, port, url and whether it runs and answers."""
    record = _read_record() or {}
    out: dict[str, dict[str, Any]] = {}
    for name in ("mosquitto", "influxdb"):
        entry = record.get(name) or {}
        pid, port = entry.get("pid"), entry.get("port")
        alive = isinstance(pid, int) and pid_alive(pid)
        out[name] = {
            "pid": pid,
            "port": port,
            "url": entry.get("url"),
            "running": alive,
            "answering": bool(alive and isinstance(port, int) and _answers("127.0.0.1", port)),
        }
    return out


def discover() -> StackEnv | None:
    """The running local stack, or None when it is not (fully) up."""
    record = _read_record()
    if record is None:
        return None
    services = status()
    if not all(s["answering"] for s in services.values()):
        return None
    return StackEnv(
        mqtt_url=services["mosquitto"]["url"],
        influx_url=services["influxdb"]["url"],
        influx_db=record.get("database", DATABASE),
    )


def up() -> StackEnv:
    """Start the stack (or return the one already running)."""
    running = discover()
    if running is not None:
        return running
    down()  # a half-running stack (one service died): start both afresh
    root = _stack_dir()
    previous = {name: (s.get("port") or 0) for name, s in status().items()}
    ports = {name: port if isinstance(port, int) and port and _port_free(port) else 0
             for name, port in previous.items()}
    broker = Mosquitto(root / "mosquitto", port=ports["mosquitto"])
    influx = InfluxDB1(root / "influxdb", port=ports["influxdb"], databases=(DATABASE,))
    broker.start()
    try:
        influx.start()
    except StackError:
        broker.stop()
        raise
    record = {
        "mosquitto": {"pid": broker.detach(), "port": broker.port, "url": broker.url},
        "influxdb": {"pid": influx.detach(), "port": influx.port, "url": influx.url},
        "database": DATABASE,
    }
    root.mkdir(parents=True, exist_ok=True)
    _record_path().write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    return StackEnv(mqtt_url=broker.url, influx_url=influx.url, influx_db=DATABASE)


def down() -> bool:
    """Stop the recorded stack; True if anything was running. Data and ports are kept."""
    record = _read_record()
    if record is None:
        return False
    stopped = False
    for name in ("mosquitto", "influxdb"):
        pid = (record.get(name) or {}).get("pid")
        if isinstance(pid, int) and pid_alive(pid):
            stop_pid(pid)
            stopped = True
        with contextlib.suppress(KeyError, TypeError):
            record[name]["pid"] = None
    _record_path().write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    return stopped


def describe(env: StackEnv) -> dict[str, str]:
    """The environment as a dict (``--json`` output)."""
    return asdict(env)
