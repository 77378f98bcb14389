"""One whole greenwire path of its own, for fault tests, and the tools that break it.

    simulated SDM630 meters (pymodbus, in this process)
      -> `greenwire edge run` (a process)  -> [CuttableLink, optional]
      -> Mosquitto (a process of its own)  -> `greenwire ingest run` (a process)
      -> InfluxDB 1.x (a process of its own)

Every pipeline has its own servers, so several can run at once and one
test's outage does not touch another's.

Counting. Readings *in* are every reading the edge committed to its SQLite
buffer: before the agent starts, the test adds a ``journal`` table and a
trigger to the buffer file, so each batch the agent inserts is copied in the
same transaction and is still there after the publisher deleted it (or after
a SIGKILL). Readings *out* are the rows of ``readings`` in InfluxDB. A
:class:`Tally` compares the two by (device, timestamp) and values.

Clock jumps. The edge process can run under libfaketime (Debian
``faketime``) with ``FAKETIME_TIMESTAMP_FILE``: the test writes an offset
such as ``-3600`` to the file and the gateway's wall clock steps within a second,
as an NTP step would, while its monotonic clock goes on
(``FAKETIME_DONT_FAKE_MONOTONIC``). The product code has no test hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from greenwire.transport.buffer import SqliteBuffer
from tests.helpers import GREENWIRE

DB = "greenwire"

_JOURNAL = """
CREATE TABLE IF NOT EXISTS journal (seq INTEGER NOT NULL, readings BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS journal_batches AFTER INSERT ON batches
BEGIN INSERT INTO journal (seq, readings) VALUES (NEW.seq, NEW.readings); END;
"""


def outage_s(default: float = 60.0) -> float:
    """How long the long outages last: ``GREENWIRE_FAULT_OUTAGE_S``, else 60 s."""
    return float(os.environ.get("GREENWIRE_FAULT_OUTAGE_S", default))


def faketime_library() -> str:
    """The multi-threaded libfaketime (``make test`` installs the Debian package ``faketime``)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    if not found:
        raise RuntimeError(
            "libfaketime is not installed: run `make install` (scripts/install-system-deps.sh installs 'faketime')"
        )
    return found[0]


def ts_ns(text: str) -> int:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((at - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) * 1000


def rss_kb(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Tally:
    """Readings in (committed by the edge) against readings out (rows in InfluxDB)."""

    fault: str
    readings_in: int
    readings_out: int
    lost: int
    duplicated: int
    wrong_values: int
    redelivered_rows: int = 0
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        note = "; ".join(self.notes)
        return (f"| {self.fault} | {self.readings_in} | {self.readings_out} | {self.lost} | "
                f"{self.duplicated} | {note} |")


class CuttableLink:
    """A TCP proxy between the gateway and the broker that a test can cut like a cable.

    ``cut()``: bytes in flight are dropped in both directions and new connections are
    accepted but get no answer (a dead link: no RST, no FIN; only timeouts tell).
    ``restore()``: connections held during the cut are closed (their state is gone,
    as on a router that lost its NAT table) and forwarding resumes for new ones.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CuttableLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._close_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def cut(self) -> None:
        self._cut = True
        self.cuts += 1

    def restore(self) -> None:
        self._close_all()
        self._cut = False

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self._cut:
            return  # held open and silent until restore()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if self._cut:
                    continue  # the cable is cut: the bytes go nowhere
                dst.write(data)
                await dst.drain()
        except (OSError, RuntimeError):
            pass
        finally:
            if not self._cut:
                dst.transport.abort()


class BrokerObserver:
    """A plain paho-mqtt client that sees every readings batch the gateway publishes (its own session).

    Counts the distinct readings that reached the broker: with the end-to-end commit the gateway's
    buffer keeps published batches until they are stored, so "published" is seen here, not there.
    """

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        import paho.mqtt.client as mqtt

        self._seen: dict[int, int] = {}
        self.messages = 0
        self.status: dict[str, Any] | None = None
        """The gateway's last ``online`` status message (its topic is subscribed too)."""
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"observer-{os.getpid()}-{port}",
                                   protocol=mqtt.MQTTv5)
        self._client.on_message = self._on_message
        self._client.on_connect = lambda c, *a: c.subscribe(
            [(topic_filter, 1), (topic_filter.rsplit("/", 1)[0] + "/status", 1)])
        self._client.reconnect_delay_set(0.2, 1)
        properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        self._client.connect(host, port, clean_start=False, properties=properties)
        self._client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic.endswith("/status"):
            status = orjson.loads(message.payload) if message.payload else {}
            if status.get("state") == "online":
                self.status = status
            return
        batch = orjson.loads(message.payload)
        self._seen[batch["seq"]] = len(batch["readings"])
        self.messages += 1

    def readings(self) -> int:
        """Distinct readings seen on the broker (a batch sent again counts once)."""
        return sum(dict(self._seen).values())

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _stacks(pid: int) -> str:
    """Every thread's stack of a process that does not stop (py-spy), for the failure message."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return "(py-spy is not installed: no stacks)"
    done = subprocess.run([str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30)
    return done.stdout or done.stderr


class Pipeline:
    """Meters -> edge process -> (link) -> Mosquitto -> ingest process -> InfluxDB, all its own."""

    def __init__(
        self,
        root: Path,
        name: str,
        *,
        meters: int = 2,
        poll_interval_s: float = 0.25,
        via_link: bool = False,
        faketime: bool = False,
        receive_maximum: int = 1000,
        max_delay_s: float = 0.3,
        resend_after_s: float = 3.0,
        commits: bool = True,
        commit_wait_s: float = 60.0,
    ) -> None:
        self.root = root / name
        self.root.mkdir(parents=True)
        self.name = name
        self.meters = meters
        self.poll_interval_s = poll_interval_s
        self.via_link = via_link
        self.faketime = faketime
        self.receive_maximum = receive_maximum
        self.max_delay_s = max_delay_s
        self.resend_after_s = resend_after_s
        self.commits = commits
        """False: the ingestor sends no commits (a cloud from before them), for comparison."""
        self.commit_wait_s = commit_wait_s
        self.mosquitto = Mosquitto(self.root / "mqtt")
        self.influxdb = InfluxDB1(self.root / "influx", databases=(DB,))
        self.buffer_path = self.root / "edge" / "buffer.sqlite"
        self.edge_log = self.root / "edge.log"
        self.ingest_log = self.root / "ingest.log"
        self.clock_file = self.root / "faketime"
        self.edge: subprocess.Popen[bytes] | None = None
        self.ingest: subprocess.Popen[bytes] | None = None
        self.link: CuttableLink | None = None
        self.meter_server: MeterServer | None = None
        self.observer: BrokerObserver | None = None
        self._stack = contextlib.AsyncExitStack()

    # -- start and stop -------------------------------------------------------------------

    async def __aenter__(self) -> Pipeline:
        try:
            await asyncio.gather(asyncio.to_thread(self.mosquitto.start), asyncio.to_thread(self.influxdb.start))
            self._stack.callback(self.influxdb.stop)
            self._stack.callback(self.mosquitto.stop)
            start = datetime(2022, 6, 1, tzinfo=UTC)
            self.meter_server = await self._stack.enter_async_context(
                MeterServer(meters=[SimMeter(unit, Replay(builtin_series(("b2", "b25", "b85")[unit % 3]), start=start,
                                                          speed=60)) for unit in range(1, self.meters + 1)])
            )
            broker_port = self.mosquitto.port
            if self.via_link:
                self.link = await self._stack.enter_async_context(CuttableLink(self.mosquitto.host, self.mosquitto.port))
                broker_port = self.link.port
            self._stack.push_async_callback(self._kill_all)
            self.observer = BrokerObserver(self.mosquitto.host, self.mosquitto.port,
                                           f"greenwire/v1/faults/gw-{self.name}/readings")
            self._stack.callback(self.observer.close)
            self._write_configs(broker_port)
            self._prepare_journal()
            self.start_ingest()
            await self.wait_log(self.ingest_log, "subscribed: ", 90)
            self.start_edge()
            await self.wait(lambda: self.journal_count() > 0, 90, "the first readings in the buffer")
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def _write_configs(self, broker_port: int) -> None:
        devices = "\n".join(
            f"      - {{id: m{unit}, unit: {unit}, profile: eastron-sdm630, "
            f"poll_interval_s: {self.poll_interval_s}, max_power_kw: 1000000}}"
            for unit in range(1, self.meters + 1)
        )
        assert self.meter_server is not None
        (self.root / "edge.yaml").write_text(
            f"""gateway: gw-{self.name}
site: faults
mqtt: {{url: "mqtt://127.0.0.1:{broker_port}", keepalive_s: 10}}
buffer: {{path: "{self.buffer_path}"}}
publish: {{interval_s: 0.2, status_interval_s: 5, resend_after_s: {self.resend_after_s}, commit_wait_s: {self.commit_wait_s}}}
buses:
  - name: plant-room
    host: 127.0.0.1
    port: {self.meter_server.port}
    timeout_s: 0.1
    devices:
{devices}
"""
        )
        (self.root / "ingest.yaml").write_text(
            f"""mqtt:
  url: {self.mosquitto.url}
  client_id: ingest-{self.name}
  group: faults
  keepalive_s: 10
  receive_maximum: {self.receive_maximum}
influx:
  api: v1
  url: {self.influxdb.url}
  database: {DB}
  timeout_s: 2
batch:
  max_delay_s: {self.max_delay_s}
state_dir: {self.root / "ingest-state"}
commits: {str(self.commits).lower()}
"""
        )

    def _prepare_journal(self) -> None:
        SqliteBuffer(self.buffer_path).close()  # the agent's own schema
        with contextlib.closing(sqlite3.connect(self.buffer_path)) as db:
            db.executescript(_JOURNAL)

    def _spawn(self, log: Path, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [*GREENWIRE, *args], stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )

    def start_edge(self) -> None:
        env = {}
        if self.faketime:
            if not self.clock_file.exists():
                self.clock_file.write_text("+0\n")
            env = {
                "LD_PRELOAD": faketime_library(),
                "FAKETIME_TIMESTAMP_FILE": str(self.clock_file),
                # The file is read again once a second (a step lands within 1 s). FAKETIME_NO_CACHE,
                # a read in every clock call of every thread, once left the agent hung at exit.
                "FAKETIME_CACHE_DURATION": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            }
        self.edge = self._spawn(self.edge_log, ["edge", "run", str(self.root / "edge.yaml")], env)

    def start_ingest(self) -> None:
        self.ingest = self._spawn(self.ingest_log, ["ingest", "run", "--config", str(self.root / "ingest.yaml")])

    def step_gateway_clock(self, offset_s: float) -> None:
        """Step the gateway's wall clock to ``offset_s`` from true time (needs ``faketime=True``)."""
        assert self.faketime
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(f"{offset_s:+.0f}\n")
        tmp.replace(self.clock_file)

    async def _kill_all(self) -> None:
        for process in (self.edge, self.ingest):
            if process is not None and process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.wait)

    async def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        code = await asyncio.to_thread(process.wait, 10)
        assert code == -signal.SIGKILL

    async def crash_broker(self) -> None:
        """SIGKILL Mosquitto (no last save, like a power cut or the OOM killer) and start it again."""
        assert self.mosquitto.pid is not None
        os.kill(self.mosquitto.pid, signal.SIGKILL)
        await asyncio.to_thread(self.mosquitto.stop)  # reaps it
        await asyncio.to_thread(self.mosquitto.start)

    async def stop_meters(self) -> None:
        """The meters go silent: no new readings, so the backlog can drain to the end."""
        assert self.meter_server is not None
        await self.meter_server.__aexit__(None, None, None)

    async def finish(self, fault: str, *, within_s: float = 120.0) -> Tally:
        """Stop the meters, wait until the buffer is empty and InfluxDB holds every reading, tally.

        Both processes must then stop cleanly on SIGTERM, with no traceback in their logs.
        """
        await self.stop_meters()
        await self.wait(lambda: self.buffer_depth() == 0, within_s, "the edge buffer to drain")
        committed = self.committed()
        await self.wait(lambda: len(self.stored()) >= len(committed), within_s, "InfluxDB to hold every reading")
        await asyncio.sleep(1.0)  # anything still coming would show as a duplicate or a stranger
        tally = self.tally(fault)
        for process, log in ((self.edge, self.edge_log), (self.ingest, self.ingest_log)):
            assert process is not None
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                stacks = _stacks(process.pid)
                process.kill()
                raise AssertionError(f"{process.args} still running 30 s after SIGTERM\n{stacks}\n"
                                     f"{log.read_text(errors='replace')[-4000:]}") from None
            assert code == 0, f"clean exit of {process.args}"
        for log in (self.edge_log, self.ingest_log):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, text[-4000:]
            assert "never retrieved" not in text, text[-4000:]
            # Faults are logged, data is not: no payload, no reading, no line of line protocol
            # (the rule that keeps participants' vitals out of logs holds for meters too).
            for leak in ('"values"', '"readings"', "readings,device=", "energy_import_kwh"):
                assert leak not in text, f"{log.name} shows data: {leak}"
        return tally

    # -- what is where --------------------------------------------------------------------

    def _journal_rows(self) -> list[tuple[int, bytes]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.buffer_path}?mode=ro", uri=True, timeout=10)) as db:
            return [(int(s), bytes(r)) for s, r in db.execute("SELECT seq, readings FROM journal ORDER BY seq")]

    def journal_seq(self) -> int:
        """The newest seq the agent has committed to its buffer (0 before the first)."""
        rows = self._journal_rows()
        return rows[-1][0] if rows else 0

    def tally_seqs(self, fault: str, first: int, last: int) -> Tally:
        """:meth:`tally` of the readings buffered in batches ``first`` to ``last`` only."""
        journal = [r for seq, raw in self._journal_rows() if first <= seq <= last for r in orjson.loads(raw)]
        return self._tally(fault, journal, self.stored(), strangers=False)

    def journal_count(self) -> int:
        return sum(len(orjson.loads(r)) for _, r in self._journal_rows())

    def journal_readings(self) -> list[dict[str, Any]]:
        return [reading for _, r in self._journal_rows() for reading in orjson.loads(r)]

    def committed(self) -> dict[tuple[str, int], dict[str, float]]:
        """Every reading the edge committed, by (device, ns timestamp)."""
        return {(r["device"], ts_ns(r["ts"])): r["values"] for r in self.journal_readings()}

    def buffer_depth(self) -> int:
        with contextlib.closing(sqlite3.connect(f"file:{self.buffer_path}?mode=ro", uri=True, timeout=10)) as db:
            return int(db.execute("SELECT COALESCE(SUM(count), 0) FROM batches").fetchone()[0])

    def stored(self) -> dict[tuple[str, int], dict[str, Any]]:
        rows = self.influxdb.query(DB, 'SELECT * FROM "readings"')
        return {(row["device"], row["time"]): row for row in rows}

    def stored_rows(self) -> int:
        return len(self.influxdb.query(DB, 'SELECT * FROM "readings"'))

    def tally(self, fault: str) -> Tally:
        return self._tally(fault, self.journal_readings(), self.stored())

    @staticmethod
    def _tally(fault: str, journal: list[dict[str, Any]], stored: dict[tuple[str, int], dict[str, Any]], *,
               strangers: bool = True) -> Tally:
        committed = {(r["device"], ts_ns(r["ts"])): r["values"] for r in journal}
        lost = [key for key in committed if key not in stored]
        foreign = [key for key in stored if key not in committed] if strangers else []
        wrong = [key for key, values in committed.items()
                 if key in stored and any(stored[key][q] != v for q, v in values.items())]
        return Tally(
            fault=fault,
            readings_in=len(journal),
            readings_out=len(stored) if strangers else len(committed) - len(lost),
            lost=len(lost),
            # the edge committing one reading twice, or InfluxDB holding a reading the edge never made
            duplicated=(len(journal) - len(committed)) + len(foreign),
            wrong_values=len(wrong),
        )

    # -- waiting --------------------------------------------------------------------------

    async def wait(self, predicate: Any, within_s: float, what: str, every_s: float = 0.2) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not await asyncio.to_thread(predicate):
            if loop.time() > deadline:
                raise AssertionError(
                    f"{self.name}: timed out after {within_s} s waiting for {what}\n"
                    f"--- edge log ---\n{self._tail(self.edge_log)}\n--- ingest log ---\n{self._tail(self.ingest_log)}"
                )
            await asyncio.sleep(every_s)

    async def wait_log(self, log: Path, text: str, within_s: float, *, count: int = 1) -> None:
        await self.wait(lambda: log.exists() and log.read_text(errors="replace").count(text) >= count,
                        within_s, f"{text!r} in {log.name}")

    @staticmethod
    def _tail(log: Path) -> str:
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(none)"
