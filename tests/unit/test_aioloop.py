"""The loop guard silences exactly aiomqtt's closed-socket registration race, nothing else."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from greenwire.shared.aioloop import tolerate_closed_socket_registration


async def _race_then(extra: object | None = None) -> None:
    """What aiomqtt does when a connection drops with a write queued: add_writer on a closed fd."""
    tolerate_closed_socket_registration()
    tolerate_closed_socket_registration()  # idempotent
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    fd = left.fileno()
    left.close()
    right.close()
    loop.call_soon_threadsafe(loop.add_writer, fd, lambda: None)
    if extra is not None:
        loop.call_soon(extra)
    await asyncio.sleep(0.05)


def test_closed_socket_registration_is_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        asyncio.run(_race_then())
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert any("socket closed before the loop registered it" in r.getMessage() for r in caplog.records)


def test_other_loop_errors_still_reach_the_default_handler(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise ValueError("a real bug")

    with caplog.at_level(logging.DEBUG):
        asyncio.run(_race_then(broken))
    errors = [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], ValueError)
