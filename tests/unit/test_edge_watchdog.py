"""sd_notify: READY, watchdog pings at half WATCHDOG_USEC, STOPPING; silent outside systemd."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from greenwire.edge import watchdog


def _socket(tmp_path: Path) -> tuple[socket.socket, dict[str, str]]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock, {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}


def _drain(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


async def test_ready_then_pings_then_stopping(tmp_path: Path) -> None:
    sock, env = _socket(tmp_path)
    try:
        stop = asyncio.Event()
        task = asyncio.create_task(watchdog.run(stop, env))
        await asyncio.sleep(1.2)  # WATCHDOG_USEC 1 s: a ping every 0.5 s
        stop.set()
        await task
        messages = _drain(sock)
    finally:
        sock.close()
    assert messages[0].startswith("READY=1")
    assert 2 <= messages.count("WATCHDOG=1") <= 4
    assert messages[-1] == "STOPPING=1"


async def test_nothing_without_systemd_and_no_watchdog_for_another_pid(tmp_path: Path) -> None:
    assert watchdog.notify("READY=1", {}) is False
    await asyncio.wait_for(watchdog.run(asyncio.Event(), {}), 1)  # returns at once
    assert watchdog.watchdog_interval_s({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog.watchdog_interval_s({"WATCHDOG_USEC": "60000000"}) == 30.0
    assert watchdog.notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False
