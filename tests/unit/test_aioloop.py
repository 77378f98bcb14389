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


def test_a_reader_epoll_dropped_already_is_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """add_reader on a descriptor epoll no longer holds (the socket closed and deregistered
    meanwhile) raises FileNotFoundError from epoll_ctl: the same race, the same debug line."""
    import errno

    async def race() -> None:
        tolerate_closed_socket_registration()
        loop = asyncio.get_running_loop()
        handle = asyncio.Handle(loop.add_reader, (0, lambda: None), loop)
        loop.call_exception_handler({"message": "Exception in callback", "handle": handle,
                                     "exception": FileNotFoundError(errno.ENOENT, "No such file or directory")})

    with caplog.at_level(logging.DEBUG):
        asyncio.run(race())
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert any("socket closed before the loop registered it" in r.getMessage() for r in caplog.records)
