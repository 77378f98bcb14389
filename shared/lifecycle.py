"""Process lifecycle every long-running service uses: stop on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import signal


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (systemd and docker stop services with SIGTERM)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
