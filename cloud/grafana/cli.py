"""``greenwire grafana build|push``: dashboards as code to JSON, and to a Grafana server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Grafana dashboards as code: build the JSON, push to a server.")


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="Directory of the dashboard JSON files.")] = Path(
        "deploy/grafana/dashboards"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the files differ from the code.")
    ] = False,
) -> None:
    """Generate deploy/grafana/dashboards/*.json from cloud/grafana/dashboards.py."""
    from cloud.grafana.build import stale, write

    if check:
        problems = stale(out)
        if problems:
            typer.echo(f"error: out of date in {out}: {', '.join(problems)} (run `greenwire grafana build`)",
                       err=True)
            raise typer.Exit(1)
        typer.echo(f"{out}: up to date")
        return
    for path in write(out):
        typer.echo(f"wrote {path}")
