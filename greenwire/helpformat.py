"""How ``--help`` pages read: flags without a type, paragraphs that flow at any width.

WORKAROUND (typer 0.29 with rich): every option's type is shown, so a flag such as ``--json``
reads ``--json <bool>`` as if it took a value; and a docstring's single line breaks are kept,
so at 80 columns a sentence breaks twice, once where rich wraps it and once where the source
did. Both are fixed here, once, for every command: a flag shows no type, and the lines of a
prose paragraph are joined (paragraphs that are indented, lists, or marked ``\\b`` keep their
lines), in a command's own page and in its group's list of commands. ``tests/unit/test_help_pages.py`` checks the result, so a typer upgrade that changes
these internals fails loudly.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

_KEEP_LINES = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\S+:$)|^\s{2,}\S")


def _flow(paragraph: str) -> str:
    lines = paragraph.split("\n")
    if paragraph.startswith("\b") or any(_KEEP_LINES.match(line) for line in lines[1:] + lines[:1]):
        return paragraph
    return " ".join(line.strip() for line in lines)


def install() -> None:
    """Apply both fixes to typer's help rendering (idempotent)."""
    import typer.core
    import typer.rich_utils

    if getattr(typer.rich_utils, "_greenwire_help", False):
        return
    original_type = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) else original_type(self, ctx)

    def fix_linebreaks(paragraphs: list[str], markup_mode: Any) -> str:
        return "\n\n".join(_flow(p) for p in paragraphs)

    original_command_help = typer.rich_utils._make_command_help

    def make_command_help(*, help_text: str, markup_mode: Any) -> Any:
        # A group's list of commands shows each one's first paragraph: flowed too.
        first = inspect.cleandoc(help_text).split("\n\n")[0]
        return original_command_help(help_text=_flow(first), markup_mode=markup_mode)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    typer.rich_utils._fix_linebreaks = fix_linebreaks
    typer.rich_utils._make_command_help = make_command_help
    typer.rich_utils._greenwire_help = True  # type: ignore[attr-defined]
