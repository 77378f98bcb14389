"""Real servers as child processes: Mosquitto, InfluxDB 1.x and VictoriaMetrics.

Used by ``greenwire stack``, ``greenwire demo`` and the test suite, so the
tests run against exactly what a user runs. Each server gets a generated
config and its state in a directory of its own, listens on loopback only, on
a free port chosen at the first start and kept across restarts (so clients
reconnect to the same address after ``restart()``)::

    with Mosquitto(tmp / "mqtt") as broker:
        print(broker.url)           # mqtt://127.0.0.1:40123
        broker.restart()            # same port, same persistent sessions

A server that exits or never answers raises ``StackError`` with the end of
its log. Processes start in their own session, so Ctrl-C in a terminal does
not reach them and ``greenwire stack up`` can return while they keep running;
``stop()`` (or ``stop_pid()`` from another process) ends them with SIGTERM,
then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from greenwire.shared.errors import StackError

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PICK_ATTEMPTS = 3
"""Starts on freshly picked ports before a port clash is reported."""
_SEARCH_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_binary(name: str, package: str) -> str:
    """The path of a server binary, or a StackError that says how to install it."""
    found = shutil.which(name) or next(
        (str(Path(d) / name) for d in _SEARCH_PATH if (Path(d) / name).is_file()), None
    )
    if found is None:
        raise StackError(
            f"{name} is not installed: run `make install` (scripts/install-system-deps.sh"
            f" installs the Debian package {package!r})"
        )
    return found


def pid_runs(pid: int, binary: str) -> bool:
    """True if ``pid`` is alive and runs ``binary`` (not a stranger that reused the pid).

    ``greenwire stack`` keeps pids in a file that may outlive a reboot; only a
    process whose command line names the expected binary is ours to signal.
    """
    if not pid_alive(pid):
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return True  # no /proc to look at: trust the pid
    return Path(argv0.decode(errors="replace")).name == binary


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie (reaping it if it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return status != "Z"


def stop_pid(pid: int, binary: str | None = None, timeout: float = STOP_TIMEOUT_S) -> bool:
    """End a server started by another process: SIGTERM, then SIGKILL after ``timeout``.

    With ``binary``, a pid that now belongs to another program is left alone.
    True if a process was signalled.
    """
    if not (pid_runs(pid, binary) if binary else pid_alive(pid)):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


class Server:
    """A server process with a generated config, on a fixed loopback port."""

    name: ClassVar[str] = "server"
    binary: ClassVar[str] = ""
    package: ClassVar[str] = ""
    scheme: ClassVar[str] = "http"
    port_names: ClassVar[tuple[str, ...]] = ("port",)
    """The attributes that hold a port; each left at 0 is picked free at start (see ``_ports``)."""

    def __init__(self, state_dir: Path, *, host: str = HOST, port: int = 0) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.host = host
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # -- what subclasses provide -----------------------------------------------------------

    def _command(self, binary: str) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        """True once the server answers (called repeatedly until the start deadline)."""
        raise NotImplementedError

    def _after_start(self) -> None:
        """Called once the server answers (e.g. to create a database)."""

    def _ports(self) -> tuple[str, ...]:
        """The port attributes this server listens on."""
        return self.port_names

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers; raise StackError if it does not."""
        if self.running:
            return self
        binary = find_binary(self.binary, self.package)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, PICK_ATTEMPTS + 1):
            # A port picked free can be taken before the server binds it (any process's outgoing
            # connection may get it): then the server says so, and other free ports are tried.
            picked = [name for name in self._ports() if getattr(self, name) == 0]
            for name in picked:
                setattr(self, name, free_port(self.host))
            command = self._command(binary)
            with self.log_path.open("ab") as log:
                # The log is kept across starts; an error shows only what this start wrote.
                self._log_offset = log.tell()
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.state_dir,
                    start_new_session=True,
                )
            try:
                self._wait_ready(self._process)
            except StackError as exc:
                self.stop()
                if not (picked and attempt < PICK_ATTEMPTS and "address already in use" in str(exc).lower()):
                    raise
                for name in picked:
                    setattr(self, name, 0)
            except BaseException:
                # Ctrl-C while waiting: leave no half-started server behind.
                self.stop()
                raise
            else:
                return self
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {process.returncode} at start"
                    f" (log {self.log_path}):\n{self.log_tail()}"
                )
            if self._ready():
                self._after_start()
                return
            time.sleep(0.05)
        raise StackError(
            f"{self.name} did not answer on {self.url} within {START_TIMEOUT_S:.0f} s"
            f" (log {self.log_path}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its state stays for the next start."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def detach(self) -> int:
        """Forget the process but leave it running (``greenwire stack up``); return its pid.

        From then on it is stopped by pid (``stop_pid``), from any process.
        """
        process, self._process = self._process, None
        if process is None:
            raise StackError(f"{self.name} is not running")
        # Popen warns when an object whose process still runs is collected; this one is
        # handed over on purpose, so mark it as settled.
        process.returncode = 0
        return process.pid

    def restart(self) -> Self:
        """Stop and start again on the same port."""
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server logged since its latest start, for an error message."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return "  (no log)"
        tail = text.splitlines()[-lines:]
        return "\n".join("  " + line for line in tail) if tail else "  (nothing logged)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()

    def describe(self) -> dict[str, Any]:
        """What another process needs to find and stop this server (``greenwire stack``'s record)."""
        return {"pid": self.pid, "port": self.port, "url": self.url, "binary": self.binary}

    def _http_ok(self, path: str, expect: int) -> bool:
        try:
            return httpx.get(f"{self.url}{path}", timeout=1.0).status_code == expect
        except httpx.HTTPError:
            return False


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """What makes Mosquitto secure: TLS, passwords, ACLs, optional client certificates.

    The password files and ACL come from ``greenwire deploy credentials``
    (``greenwire.access``), the certificates from ``greenwire.pki``. The broker
    then has two TLS listeners and no anonymous access: the main one (``url``)
    for gateways, grid feeds and readers, where each client's id is forced to
    its username, and the internal one (``internal_url``) for ingestors, with
    their own stable client ids. Each listener knows only its own accounts, so
    nobody can take over a session by claiming its client id.
    """

    ca_file: Path
    cert_file: Path
    key_file: Path
    external_password_file: Path
    internal_password_file: Path
    acl_file: Path
    require_certificate: bool = False
    """Refuse clients that present no certificate signed by ``ca_file``."""


class Mosquitto(Server):
    """Mosquitto 2 with persistence, so QoS 1 sessions survive a restart.

    With ``security`` both listeners speak TLS only, with passwords and ACLs
    and no anonymous access (``url`` and ``internal_url`` are ``mqtts://``).
    """

    name = "mosquitto"
    binary = "mosquitto"
    package = "mosquitto"
    scheme = "mqtt"

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = HOST,
        port: int = 0,
        security: BrokerSecurity | None = None,
        internal_port: int = 0,
    ) -> None:
        super().__init__(state_dir, host=host, port=port)
        self.security = security
        self.internal_port = internal_port

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.security is not None else 'mqtt'}://{self.host}:{self.port}"

    def _ports(self) -> tuple[str, ...]:
        return ("port", "internal_port") if self.security is not None else ("port",)

    @property
    def internal_url(self) -> str:
        """The ingestors' listener of a secure broker (the only listener otherwise)."""
        if self.security is None:
            return self.url
        return f"mqtts://{self.host}:{self.internal_port}"

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.security is not None:
            out["internal_port"] = self.internal_port
            out["internal_url"] = self.internal_url
        return out

    def _secure_lines(self, security: BrokerSecurity) -> list[str]:
        tls = [
            f"cafile {security.ca_file.resolve()}",
            f"certfile {security.cert_file.resolve()}",
            f"keyfile {security.key_file.resolve()}",
            "tls_version tlsv1.2",
            f"require_certificate {'true' if security.require_certificate else 'false'}",
        ]
        acl = f"acl_file {security.acl_file.resolve()}"
        return [
            # gateways, grid feeds, readers: a client's id is its username, whatever it asks for
            f"listener {self.port} {self.host}",
            "allow_anonymous false",
            f"password_file {security.external_password_file.resolve()}",
            acl,
            "use_username_as_clientid true",
            *tls,
            # ingestors: stable client ids of their own for their persistent sessions
            f"listener {self.internal_port} {self.host}",
            "allow_anonymous false",
            f"password_file {security.internal_password_file.resolve()}",
            acl,
            *tls,
        ]

    def _command(self, binary: str) -> list[str]:
        config = self.state_dir / "mosquitto.conf"
        if self.security is not None:
            # Security settings then belong to the listener above them; the listener blocks come last.
            head = ["per_listener_settings true"]
        else:
            head = [f"listener {self.port} {self.host}", "allow_anonymous true"]
        lines = [
            *head,
            "persistence true",
            f"persistence_location {self.state_dir}/",
            "autosave_interval 1",
            # Queued QoS 1 messages of offline persistent sessions: the ingestor may be away
            # for a while and must find everything when it comes back.
            "max_queued_messages 1000000",
            "max_queued_bytes 0",
            # QoS 1 messages in flight per client (both ways; MQTT 5 clients may ask for less
            # with Receive Maximum). Mosquitto's default of 20 would cap how many messages
            # the ingestor can hold unacknowledged while it batches them into one write.
            "max_inflight_messages 1000",
            "max_packet_size 2098176",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            # As root Mosquitto switches to the 'mosquitto' user, which cannot write our state dir.
            lines.append("user root")
        if self.security is not None:
            lines += self._secure_lines(self.security)
        config.write_text("\n".join(lines) + "\n")
        return [binary, "-c", str(config)]

    def _ready(self) -> bool:
        if self.security is not None:
            return self._tls_ready()
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                # A CONNECT for MQTT 3.1.1 with a clean session; a CONNACK (0x20) means it is serving.
                client_id = b"greenwire-probe"
                body = b"\x00\x04MQTT\x04\x02\x00\x05" + len(client_id).to_bytes(2, "big") + client_id
                sock.sendall(bytes([0x10, len(body)]) + body)
                answer = sock.recv(4)
                sock.sendall(b"\xe0\x00")  # DISCONNECT
                return answer[:1] == b"\x20"
        except OSError:
            return False

    def _tls_ready(self) -> bool:
        """True once both TLS listeners complete a handshake (no MQTT: anonymous clients are refused)."""
        import ssl

        assert self.security is not None
        context = ssl.create_default_context(cafile=str(self.security.ca_file))
        context.check_hostname = False  # only "is it serving?"; clients verify the name
        for port in (self.port, self.internal_port):
            try:
                with socket.create_connection((self.host, port), timeout=0.5) as raw, context.wrap_socket(raw):
                    pass
            except ssl.SSLError:
                pass  # it answers TLS and refused this client (no certificate): it is serving
            except OSError:
                return False
        return True


class InfluxDB1(Server):
    """InfluxDB 1.x (``influxd``), HTTP API only, nothing reported home."""

    name = "influxdb"
    binary = "influxd"
    package = "influxdb"
    port_names = ("port", "rpc_port")

    def __init__(self, state_dir: Path, *, host: str = HOST, port: int = 0, databases: tuple[str, ...] = ()) -> None:
        super().__init__(state_dir, host=host, port=port)
        self.rpc_port = 0
        self.databases = databases

    def _command(self, binary: str) -> list[str]:
        root = self.state_dir
        config = root / "influxdb.conf"
        # Debian's build names the switch `reporting-enabled`, upstream `reporting-disabled`;
        # each ignores the other's key.
        config.write_text(
            f"""reporting-disabled = true
reporting-enabled = false
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  log-enabled = false
  suppress-write-log = true
  max-body-size = 0
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  log-enabled = false
"""
        )
        return [binary, "-config", str(config)]

    def _ready(self) -> bool:
        return self._http_ok("/ping", 204)

    def _after_start(self) -> None:
        for database in self.databases:
            self.create_database(database)

    def _query(self, q: str, *, db: str | None = None, epoch: str | None = None, post: bool = False) -> Any:
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        try:
            if post:
                response = httpx.post(f"{self.url}/query", params=params, timeout=30)
            else:
                response = httpx.get(f"{self.url}/query", params=params, timeout=30)
            body = response.json()
        except httpx.HTTPError as exc:
            raise StackError(f"InfluxDB at {self.url}: {exc}") from exc
        except ValueError as exc:  # not JSON: a proxy's error page, a server going down
            raise StackError(
                f"InfluxDB at {self.url} answered {response.status_code}: {response.text[:200]!r}"
            ) from exc
        errors = [r["error"] for r in body.get("results", []) if "error" in r]
        if response.status_code != 200 or "error" in body or errors:
            raise StackError(f"InfluxDB refused {q!r}: {body.get('error') or errors}")
        return body

    def create_database(self, name: str) -> None:
        """Create a database (a no-op if it exists)."""
        self._query(f'CREATE DATABASE "{name}"', post=True)

    def drop_database(self, name: str) -> None:
        """Drop a database and all its data (a no-op if it does not exist)."""
        self._query(f'DROP DATABASE "{name}"', post=True)

    def query(self, db: str, q: str, *, epoch: str = "ns") -> list[dict[str, Any]]:
        """Rows of every series of every statement, each a dict of column (tags included) to value."""
        rows: list[dict[str, Any]] = []
        for result in self._query(q, db=db, epoch=epoch).get("results", []):
            for series in result.get("series", []):
                tags = series.get("tags", {})
                for values in series["values"]:
                    row = dict(tags)
                    row.update(zip(series["columns"], values, strict=True))
                    if "name" in series:
                        row.setdefault("_measurement", series["name"])
                    rows.append(row)
        return rows

    def write(self, db: str, lines: list[str] | str, *, precision: str = "ns") -> None:
        """Write line protocol (one string or a list of lines) to ``db``; StackError if refused."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        try:
            response = httpx.post(
                f"{self.url}/write", params={"db": db, "precision": precision}, content=body.encode(), timeout=30
            )
        except httpx.HTTPError as exc:
            raise StackError(f"InfluxDB at {self.url}: {exc}") from exc
        if response.status_code != 204:
            raise StackError(f"InfluxDB refused the write: {response.status_code} {response.text.strip()}")


class VictoriaMetrics(Server):
    """VictoriaMetrics single node: accepts InfluxDB line protocol on /write and /api/v2/write."""

    name = "victoria-metrics"
    binary = "victoria-metrics"
    package = "victoria-metrics"

    def _command(self, binary: str) -> list[str]:
        return [
            binary,
            f"-storageDataPath={self.state_dir / 'data'}",
            "-retentionPeriod=100y",
            f"-httpListenAddr={self.host}:{self.port}",
            "-loggerLevel=ERROR",
            # Tests read back right after writing: no cached query results that hide new samples.
            "-search.disableCache",
        ]

    def _ready(self) -> bool:
        return self._http_ok("/health", 200)

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = httpx.get(f"{self.url}{path}", params=params, timeout=30)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise StackError(f"VictoriaMetrics at {self.url}{path}: {exc}") from exc
        return response

    def write(self, lines: list[str] | str) -> None:
        """Write InfluxDB line protocol (``/write``); a field ``f`` of ``m`` becomes series ``m_f``."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        try:
            httpx.post(f"{self.url}/write", content=body.encode(), timeout=30).raise_for_status()
        except httpx.HTTPError as exc:
            raise StackError(f"VictoriaMetrics at {self.url}/write: {exc}") from exc

    def flush(self) -> None:
        """Make what was written searchable now (VictoriaMetrics buffers for about a second)."""
        self._get("/internal/force_flush")

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching a selector (e.g. ``{__name__="readings_active_power_w"}``).

        Flushes first, so a write made just before is included. Each item is one
        series as ``/api/v1/export`` gives it: ``metric`` (name and labels),
        ``values`` and ``timestamps`` (milliseconds).
        """
        import orjson

        self.flush()
        response = self._get("/api/v1/export", {"match[]": match})
        return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
