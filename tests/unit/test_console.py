"""Tables printed anywhere but a terminal are at least 160 columns wide, so no cell is cut."""

from __future__ import annotations

import pytest

from greenwire.console import PIPED_WIDTH, table_console


def test_a_piped_table_is_wide_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    console = table_console()  # pytest captures stdout: not a terminal
    assert not console.is_terminal and console.width >= PIPED_WIDTH
