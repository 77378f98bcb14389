"""Every --help page at 80 columns: flags show no type, prose paragraphs flow instead of breaking twice."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from greenwire.cli import app


def _commands() -> list[list[str]]:
    """The argv of every command and group of ``greenwire``."""
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return found


@pytest.mark.parametrize("argv", _commands(), ids=lambda argv: " ".join(argv) or "greenwire")
def test_help_page_reads_at_80_columns(argv: list[str]) -> None:
    result = CliRunner().invoke(app, [*argv, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output, "a flag takes no value"
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_a_docstring_paragraph_flows_across_its_source_lines() -> None:
    result = CliRunner().invoke(app, ["edge", "bundle", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    text = " ".join(result.output.split())
    assert "(a password file, a custom profile) are copied in and the config is rewritten" in text
    lines = [line.strip() for line in result.output.splitlines()]
    assert "profile)" not in lines, "no line holds a sentence's stray tail"


def test_the_demo_help_counts_what_the_demo_runs() -> None:
    from greenwire.demo import BUILDINGS

    words = {2: "two", 3: "three", 4: "four", 5: "five"}
    text = " ".join(CliRunner().invoke(app, ["demo", "--help"], terminal_width=200).output.split())
    assert f"{words[len(BUILDINGS)]} simulated Eastron SDM630 meters" in text
    assert "two edge agents" in text  # the buildings' gateway and the care site's


@pytest.mark.parametrize(("argv", "entry"), [
    ([], "greenwire.readings.v1 (default), vitals.v1, alert.v1,"),
    (["health"], "raise alerts, and keep the site figures"),
])
def test_a_groups_list_of_commands_flows_each_entry(argv: list[str], entry: str) -> None:
    """A wide terminal shows each command's first paragraph on one line, not broken where its source was."""
    result = CliRunner().invoke(app, [*argv, "--help"], env={"COLUMNS": "300"}, terminal_width=300)
    assert any(entry in line for line in result.output.splitlines()), result.output
