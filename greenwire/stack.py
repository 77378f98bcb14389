"""The local stack: Mosquitto and InfluxDB on free loopback ports, state under ``.greenwire/``.

``up()`` starts both as background processes (they outlive the command that
started them), creates the ``greenwire`` database and records pids, ports
and URLs in ``.greenwire/stack/stack.json``. Every other command finds the
stack through ``discover()``, which trusts that file only if the processes
are alive and answer. ``down()`` stops them; their data stays for the next
``up()``, which reuses the same ports when they are free.

Set ``GREENWIRE_HOME`` to keep the state somewhere other than ``./.greenwire``.

``up(secure=True)`` starts Mosquitto the way a deployment runs it: TLS only
(a local CA and a certificate for ``localhost`` and ``127.0.0.1``), a password
per account and the ACL of ``greenwire.access``, anonymous access off. The
accounts come from a site inventory (by default the demo's gateway), the
files live in ``.greenwire/stack/secure/`` (secrets 0600), and ``edge run`` and
``ingest run`` without a config pick up their account from there. Gateways use
``mqtt_url``; ingestors the internal listener (``SecureStack.internal_url``). InfluxDB
stays on loopback without authentication.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from greenwire.servers import HOST, BrokerSecurity, InfluxDB1, Mosquitto, Server, pid_runs, stop_pid
from greenwire.shared.errors import StackError

DATABASE = "greenwire"
# The services of the stack and the binary each runs (a recorded pid is ours only if it runs it).
SERVICES = {"mosquitto": Mosquitto.binary, "influxdb": InfluxDB1.binary}


DEFAULT_INVENTORY = """\
# The secure local stack's accounts (greenwire stack up --secure): the demo's gateway.
sites:
  - id: cambridge
    gateways: [gw-demo]
ingestors: [ingest]
"""


@dataclass(frozen=True, slots=True)
class SecureStack:
    """Where the secure stack keeps its CA and the accounts' credential files."""

    ca_file: Path
    credentials: Path
    internal_url: str
    """The ingestors' listener (stable client ids); gateways use ``StackEnv.mqtt_url``."""

    def gateway_password_file(self, site: str, gateway: str) -> Path:
        return self.credentials / "gateways" / site / gateway / "mqtt-password"

    def service_password_file(self, name: str) -> Path:
        return self.credentials / "services" / name / "mqtt-password"

    def gateway_mqtt(self, url: str, site: str, gateway: str) -> dict[str, Any]:
        """The ``mqtt`` section of an edge config for a gateway of the inventory (StackError if absent)."""
        from greenwire.access import gateway_username

        password_file = self.gateway_password_file(site, gateway)
        if not password_file.is_file():
            raise StackError(
                f"gateway {gateway!r} of site {site!r} has no account on the secure stack: list it in an "
                "inventory and run `greenwire stack down && greenwire stack up --secure --inventory FILE`"
            )
        return {"url": url, "username": gateway_username(site, gateway), "password_file": password_file,
                "ca_file": self.ca_file}


@dataclass(frozen=True, slots=True)
class StackEnv:
    """Where the local stack's services are."""

    mqtt_url: str
    influx_url: str
    influx_db: str
    secure: SecureStack | None = None
    """Set when the stack runs with ``--secure`` (TLS, passwords, ACLs)."""

    def lines(self) -> list[str]:
        """``NAME=value`` lines, as ``greenwire stack env`` prints them."""
        return env_lines(self, export=False)


def env_lines(env: StackEnv, *, export: bool = True) -> list[str]:
    """The environment variables every command reads, as shell lines.

    ``export GREENWIRE_MQTT_URL=mqtt://127.0.0.1:40123`` and so on, ready for
    ``eval``; with ``export=False`` plain ``NAME=value`` lines (an env file).
    The values are URLs and an id, with nothing a shell would expand.
    """
    prefix = "export " if export else ""
    lines = [
        f"{prefix}GREENWIRE_MQTT_URL={env.mqtt_url}",
        f"{prefix}GREENWIRE_INFLUX_URL={env.influx_url}",
        f"{prefix}GREENWIRE_INFLUX_DB={env.influx_db}",
    ]
    if env.secure is not None:
        lines.append(f"{prefix}GREENWIRE_MQTT_INTERNAL_URL={env.secure.internal_url}")
        lines.append(f"{prefix}GREENWIRE_MQTT_CA_FILE={shlex.quote(str(env.secure.ca_file))}")
    return lines


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
    """True if a server could listen on ``port`` now.

    With SO_REUSEADDR, as Mosquitto and InfluxDB listen: a connection of the stopped server's still
    in TIME_WAIT does not make its port look taken (without it the stack moved to new ports after
    a restart whenever a client had just been connected).
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def _write_record(record: dict[str, Any]) -> None:
    _stack_dir().mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file.
    temporary = _record_path().with_suffix(".json.tmp")
    temporary.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    temporary.replace(_record_path())


def status() -> dict[str, dict[str, Any]]:
    """Each service of the recorded stack: pid, port, url, ``running`` and ``answering``.

    ``running`` means the recorded pid is alive and still runs the service's
    binary; ``answering`` that its port also accepts connections.
    """
    record = _read_record() or {}
    out: dict[str, dict[str, Any]] = {}
    for name, binary in SERVICES.items():
        entry = record.get(name) or {}
        pid, port = entry.get("pid"), entry.get("port")
        alive = isinstance(pid, int) and pid_runs(pid, binary)
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
        secure=_secure_from_record(record),
    )


def _secure_from_record(record: dict[str, Any]) -> SecureStack | None:
    secure = record.get("secure")
    if not isinstance(secure, dict):
        return None
    internal_url = (record.get("mosquitto") or {}).get("internal_url")
    if not isinstance(internal_url, str):
        return None
    return SecureStack(ca_file=Path(secure["ca_file"]), credentials=Path(secure["credentials"]), internal_url=internal_url)


def _secure_setup(root: Path, inventory_text: str) -> tuple[BrokerSecurity, Path, Path]:
    """Credentials, ACL, CA and broker certificate for the secure stack, under ``root``."""
    from greenwire.access import parse_inventory, private_dir, write_credentials
    from greenwire.pki import ensure_ca, issue_server

    private_dir(root)
    credentials = write_credentials(parse_inventory(inventory_text), root / "credentials")
    ca = ensure_ca(root / "pki")
    server = issue_server(ca, root / "pki", ["localhost", HOST])
    security = BrokerSecurity(ca.cert_file, server.cert_file, server.key_file, credentials.external_password_file,
                              credentials.internal_password_file, credentials.acl_file)
    return security, ca.cert_file.resolve(), credentials.root.resolve()


def up(*, secure: bool = False, inventory: str | None = None) -> StackEnv:
    """Start the stack, or return the one already running and answering.

    A half-running stack (one service died) is stopped and started afresh.
    The ports of the previous run are reused when they are still free, so
    clients configured from ``greenwire stack env`` keep working. Raises
    ``StackError`` (with the server's log) if a service does not come up;
    nothing is left running then.

    With ``secure`` the broker is TLS only with passwords and ACLs for the
    accounts of ``inventory`` (YAML text, default ``DEFAULT_INVENTORY``); a
    running stack of the other kind is an error (``down`` it first).
    """
    running = discover()
    if running is not None:
        if (running.secure is not None) != secure or (secure and inventory is not None):
            kind = "with --secure" if running.secure is not None else "without --secure"
            raise StackError(f"the local stack is running {kind}: stop it first with `greenwire stack down`")
        return running
    down()
    root = _stack_dir()
    previous = {name: s.get("port") for name, s in status().items()}
    ports = {name: port if isinstance(port, int) and port > 0 and _port_free(port) else 0
             for name, port in previous.items()}
    security: BrokerSecurity | None = None
    if secure:
        security, ca_file, credentials = _secure_setup(root / "secure", inventory or DEFAULT_INVENTORY)
    internal_port = ((_read_record() or {}).get("mosquitto") or {}).get("internal_port")
    if not (isinstance(internal_port, int) and internal_port > 0 and _port_free(internal_port)):
        internal_port = 0
    broker = Mosquitto(root / ("mosquitto-secure" if secure else "mosquitto"), port=ports["mosquitto"],
                       security=security, internal_port=internal_port)
    influx = InfluxDB1(root / "influxdb", port=ports["influxdb"], databases=(DATABASE,))
    servers: tuple[Server, ...] = (broker, influx)
    started: list[Server] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        # Only now hand the processes over: from here on they are found and stopped by pid.
        record: dict[str, Any] = {"mosquitto": broker.describe(), "influxdb": influx.describe(), "database": DATABASE}
        secure_stack = None
        if security is not None:
            secure_stack = SecureStack(ca_file=ca_file, credentials=credentials, internal_url=broker.internal_url)
            record["secure"] = {"ca_file": str(ca_file), "credentials": str(credentials)}
        _write_record(record)
    except BaseException:
        for server in started:
            server.stop()
        raise
    broker.detach()
    influx.detach()
    return StackEnv(mqtt_url=broker.url, influx_url=influx.url, influx_db=DATABASE, secure=secure_stack)


def down() -> bool:
    """Stop the recorded stack; True if anything was running. Data and ports are kept."""
    record = _read_record()
    if record is None:
        return False
    stopped = False
    for name, binary in SERVICES.items():
        pid = (record.get(name) or {}).get("pid")
        if isinstance(pid, int) and stop_pid(pid, binary):
            stopped = True
        with contextlib.suppress(KeyError, TypeError):
            record[name]["pid"] = None
    _write_record(record)
    return stopped


def describe(env: StackEnv) -> dict[str, Any]:
    """The environment as a dict (``--json`` output); paths as strings."""
    out = asdict(env)
    if env.secure is not None:
        out["secure"] = {"ca_file": str(env.secure.ca_file), "credentials": str(env.secure.credentials),
                         "internal_url": env.secure.internal_url}
    return out
