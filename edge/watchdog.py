"""systemd readiness and watchdog notifications (``sd_notify``), without libsystemd.

Under ``Type=notify`` with ``WatchdogSec=``, systemd sets ``NOTIFY_SOCKET`` and
``WATCHDOG_USEC``; the agent says ``READY=1`` once it runs and ``WATCHDOG=1`` at half the
watchdog period. The pings come from a task on the agent's event loop, so a blocked loop
(a stuck driver, a synchronous call that never returns) stops them and systemd restarts
the agent; the disk buffer keeps every reading across the restart. Outside systemd
(no ``NOTIFY_SOCKET``) everything here does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one ``sd_notify`` datagram; False when not run by systemd (or the socket is gone)."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", message, exc)
        return False
    return True


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Half the watchdog period systemd asks for (``WATCHDOG_USEC``), or None without a watchdog."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.5, int(usec) / 1e6 / 2)
    except ValueError:
        return None


async def run(stop: asyncio.Event, environ: Mapping[str, str] | None = None) -> None:
    """Say READY=1, then ping the watchdog until ``stop``; then STOPPING=1."""
    if not notify("READY=1\nSTATUS=polling and publishing", environ):
        return
    interval = watchdog_interval_s(environ)
    while not stop.is_set():
        if interval is None:
            await stop.wait()
            break
        notify("WATCHDOG=1", environ)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    notify("STOPPING=1", environ)
