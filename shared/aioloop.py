"""Event-loop policy shared by every asyncio MQTT client (ingestor, carbon, health, edge).

aiomqtt 2.5 registers the socket with the loop through ``loop.call_soon_threadsafe(loop.add_writer,
fd, ...)``. When the connection drops between scheduling and running that callback (a broker
restart while a PUBACK is queued), the descriptor is already closed and the loop's default
handler prints a traceback for ``OSError: [Errno 9] Bad file descriptor`` (or, when epoll has
already dropped the descriptor, ``FileNotFoundError: [Errno 2]`` from ``add_reader``). Nothing is lost: the
connection's loss is reported through aiomqtt's own disconnect path, which the reconnect loop
logs and retries. This handler recognises exactly that case, logs one debug line, and passes
every other unhandled loop error on unchanged.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any

log = logging.getLogger(__name__)

_REGISTRATIONS = frozenset({"add_reader", "add_writer"})


def _is_closed_socket_registration(context: dict[str, Any]) -> bool:
    exception = context.get("exception")
    # EBADF: the descriptor is closed; ENOENT: epoll no longer holds it (closed, deregistered).
    if not isinstance(exception, OSError) or exception.errno not in (errno.EBADF, errno.ENOENT):
        return False
    # asyncio.Handle keeps its callback in a private attribute only.
    callback = getattr(context.get("handle"), "_callback", None)
    return getattr(callback, "__name__", None) in _REGISTRATIONS


def tolerate_closed_socket_registration(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Install the handler on ``loop`` (default: the running loop); calling it again is a no-op."""
    loop = loop or asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    if getattr(previous, "_greenwire_guard", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _is_closed_socket_registration(context):
            log.debug("socket closed before the loop registered it (connection lost meanwhile)")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler._greenwire_guard = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
