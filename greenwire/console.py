"""Where the commands print their tables.

rich sizes a table to the terminal; piped to a file or a pager it assumes 80 columns and folds or
cuts cells (a quantity name such as ``reactive_energy_import_kvarh`` becomes two lines). A table
printed anywhere but a terminal gets at least ``PIPED_WIDTH`` columns instead, so every cell is
whole and a script can read it line by line.
"""

from __future__ import annotations

from typing import Final

from rich.console import Console

PIPED_WIDTH: Final = 160


def table_console() -> Console:
    """The terminal's console, or one at least ``PIPED_WIDTH`` wide when the output is not a terminal."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, PIPED_WIDTH))
