"""``--every``: a scheduled command repeats on its period and survives a failed run."""

from __future__ import annotations

import pytest
import typer

from greenwire.commands.carbon_common import repeat


def test_runs_once_without_a_period() -> None:
    calls: list[int] = []
    repeat(0, lambda: calls.append(1), sleep=lambda s: pytest.fail("slept"))
    assert calls == [1]


def test_a_failed_run_is_reported_and_the_next_goes_ahead(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = iter([None, typer.Exit(1), None])
    slept: list[float] = []

    def once() -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    repeat(24, once, sleep=slept.append, runs=3)
    assert len(slept) == 2 and all(0 < s <= 24 * 3600 for s in slept)
    assert "this run failed (exit 1); the next is in 24 h" in capsys.readouterr().err


def test_a_setup_error_on_the_first_run_ends_it() -> None:
    def once() -> None:
        raise typer.Exit(2)

    with pytest.raises(typer.Exit) as raised:
        repeat(1, once, sleep=lambda s: pytest.fail("slept"), runs=5)
    assert raised.value.exit_code == 2
