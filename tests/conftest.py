"""Real servers for the integration and end-to-end tests, started once per test session.

Mosquitto, InfluxDB 1.x and VictoriaMetrics run as child processes on free
loopback ports with their state in a temporary directory (``make test``
installs the Debian packages when they are missing). A test may stop and
start a server to simulate an outage; the function-scoped fixtures start it
again if a test left it stopped, so one failure does not cascade. A missing
binary is an error naming ``make install``, never a skip: a suite that skips
its integration tests would pass without proving anything.
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenwire.servers import InfluxDB1, Mosquitto, VictoriaMetrics

# The TLS-only, password-and-ACL broker of the access and TLS tests (fixture `secure_broker`).
pytest_plugins = ["tests.securestack"]


@pytest.fixture(scope="session")
def _state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def _mosquitto(_state: Path) -> Iterator[Mosquitto]:
    with Mosquitto(_state / "mosquitto") as server:
        yield server


@pytest.fixture(scope="session")
def _influxdb(_state: Path) -> Iterator[InfluxDB1]:
    with InfluxDB1(_state / "influxdb") as server:
        yield server


@pytest.fixture(scope="session")
def _victoria(_state: Path) -> Iterator[VictoriaMetrics]:
    with VictoriaMetrics(_state / "victoria") as server:
        yield server


@pytest.fixture
def mosquitto(_mosquitto: Mosquitto) -> Iterator[Mosquitto]:
    """A running Mosquitto (``.url``, ``.host``, ``.port``, ``.stop()``, ``.start()``: same port)."""
    _mosquitto.start()
    yield _mosquitto
    _mosquitto.start()


@pytest.fixture
def influxdb(_influxdb: InfluxDB1) -> Iterator[InfluxDB1]:
    """A running InfluxDB 1.x (``.url``, ``.query(db, q)``, ``.write(db, lines)``, ``.stop()``, ``.start()``)."""
    _influxdb.start()
    yield _influxdb
    _influxdb.start()


@pytest.fixture
def influx_db(influxdb: InfluxDB1) -> Iterator[str]:
    """A fresh, empty database of its own for the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxdb.create_database(name)
    yield name
    if influxdb.running:
        influxdb.drop_database(name)


@pytest.fixture
def health_db(influxdb: InfluxDB1) -> Iterator[str]:
    """A name for the health service's own database (it creates it), dropped after the test."""
    name = f"health_{uuid.uuid4().hex[:10]}"
    yield name
    if influxdb.running:
        influxdb.drop_database(name)


@pytest.fixture
def victoria(_victoria: VictoriaMetrics) -> Iterator[VictoriaMetrics]:
    """A running VictoriaMetrics (InfluxDB line protocol on ``/write`` and ``/api/v2/write``)."""
    _victoria.start()
    yield _victoria
    _victoria.start()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The greenwire processes a test starts (append them): any still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread running (an unclosed client, a forgotten executor)."""
    before = set(threading.enumerate())
    yield
    deadline = 50
    leaked: list[threading.Thread] = []
    for _ in range(deadline):
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        threading.Event().wait(0.1)
    pytest.fail(f"threads left running: {', '.join(t.name for t in leaked)}")
