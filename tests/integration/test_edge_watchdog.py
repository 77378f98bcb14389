"""The agent under systemd's Type=notify: READY once it runs, watchdog pings from its event loop, STOPPING."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import EdgeConfig
from greenwire.servers import Mosquitto
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def test_agent_notifies_systemd(mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    replay = Replay(builtin_series("b2"), start=datetime(2022, 6, 1, tzinfo=UTC), speed=60)
    messages: list[str] = []

    def received() -> list[str]:
        while True:
            try:
                messages.append(notify.recv(4096).decode())
            except BlockingIOError:
                return messages

    try:
        async with MeterServer(meters=[SimMeter(1, replay)]) as server:
            config = EdgeConfig.model_validate({
                "gateway": "gw-notify", "site": "campus-n", "mqtt": {"url": mosquitto.url},
                "buffer": {"path": str(tmp_path / "buffer.sqlite")},
                "buses": [{"name": "b", "host": "127.0.0.1", "port": server.port, "timeout_s": 0.2,
                           "devices": [{"id": "m", "unit": 1, "profile": "eastron-sdm630", "poll_interval_s": 0.5}]}],
            })
            agent = EdgeAgent(config, broker_settings(config))
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            # WATCHDOG_USEC of 1 s: a ping every half second once the agent runs.
            await eventually(lambda: received().count("WATCHDOG=1") >= 2 or task.done(), 30, "two watchdog pings")
            stop.set()
            await task
        received()
    finally:
        notify.close()
    assert messages[0].startswith("READY=1")
    assert messages.count("WATCHDOG=1") >= 2
    assert messages[-1] == "STOPPING=1"
