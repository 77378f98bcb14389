"""Fixtures of the grid connector tests: a replay server per test, a recording sleep."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.grid.replay import Handler, ReplayServer, Sleeps


@pytest.fixture
def replay() -> Iterator[Callable[[Handler], ReplayServer]]:
    """``replay(handler)`` starts a loopback provider answering with ``handler``; stopped at the end."""
    started: list[ReplayServer] = []

    def start(handler: Handler) -> ReplayServer:
        server = ReplayServer(handler).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
