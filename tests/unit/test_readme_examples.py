"""Every `greenwire ...` command the README and the --help pages show names a real command and real
options: an example that drifts from the code fails here (those that run against a stack are run by
the integration and end-to-end tests)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from greenwire.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"(?<![\w/-])greenwire ((?:[a-z][\w-]*)(?: [^`\n|]*)?)")


FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`\n]+)`")


def _code(text: str) -> list[str]:
    """The code in a Markdown text or a help page: fenced blocks, inline spans, indented example lines."""
    spans = [line for block in FENCE.findall(text) for line in block.replace("\\\n", " ").splitlines()]
    spans += INLINE.findall(FENCE.sub("", text))
    spans += [line.strip() for line in text.splitlines() if line.startswith(("  greenwire ", "    greenwire "))]
    spans += [line.split("Example:", 1)[1] for line in text.splitlines() if "Example: greenwire " in line]
    return spans


def _examples(text: str) -> list[str]:
    found = []
    for span in _code(text):
        for match in COMMAND.finditer(span):
            line = match.group(1).split(" #")[0].split("$(")[0].strip().rstrip(".,;:)\"'\\")
            if "|" in line.split(" ")[0] or "..." in line:
                line = line.split("...")[0].strip()
                if "|" in line.split(" ")[0]:
                    continue  # `stack up|down|status|env`: a list of commands, checked one by one below
            found.append(line)
    return found


def _resolve(argv: list[str]) -> tuple[Any, list[str]]:
    """The command an argv names, and the rest of the argv."""
    command = typer.main.get_command(app)
    rest = list(argv)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def _readme_and_help_examples() -> list[tuple[str, str]]:
    out = [("README.md", e) for e in _examples((ROOT / "README.md").read_text())]
    for doc in sorted((ROOT / "docs").glob("*.md")):
        out += [(f"docs/{doc.name}", e) for e in _examples(doc.read_text())]
    root = typer.main.get_command(app)

    def walk(command: Any, path: list[str]) -> None:
        text = " ".join(filter(None, [getattr(command, "help", None), getattr(command, "epilog", None)]))
        out.extend((f"greenwire {' '.join(path)} --help", e) for e in _examples(text))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    return sorted(set(out))


@pytest.mark.parametrize(("where", "example"), _readme_and_help_examples(), ids=lambda v: v[:60])
def test_example_names_a_real_command_and_real_options(where: str, example: str) -> None:
    try:
        argv = shlex.split(example)
    except ValueError:
        argv = example.split()
    command, rest = _resolve(argv)
    assert not hasattr(command, "commands") or not rest or rest[0].startswith("-"), (
        f"{where}: `greenwire {example}`: no command {rest[0]!r}")
    known = {opt for p in getattr(command, "params", []) for opt in (*p.opts, *p.secondary_opts)}
    used = [a.split("=")[0] for a in rest if a.startswith("--")]
    unknown = [a for a in used if a not in known and a != "--help"]
    assert not unknown, f"{where}: `greenwire {example}`: unknown option(s) {unknown}"
    if not hasattr(command, "commands"):
        assert CliRunner().invoke(app, [*argv[: len(argv) - len(rest)], "--help"]).exit_code == 0
