"""``greenwire grafana build|push``: dashboards as code to JSON, and to a Grafana server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Grafana dashboards as code: build the JSON, push to a server.")


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="Directory for dashboards/ and provisioning/alerting/.")] = Path(
        "deploy/grafana"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the files differ from the code.")
    ] = False,
) -> None:
    """Generate deploy/grafana/dashboards/*.json and the alert rules from cloud/grafana/."""
    from greenwire.cloud.grafana.build import stale, write

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


@app.command()
def push(
    url: Annotated[str, typer.Option(help="Grafana's URL, e.g. https://grafana.example.org")],
    token: Annotated[str, typer.Option(envvar="GRAFANA_TOKEN", help="Service-account token (or $GRAFANA_TOKEN).")],
    influx_url: Annotated[
        str, typer.Option(help="The InfluxDB URL as Grafana reaches it.", envvar="GREENWIRE_INFLUX_URL")
    ] = "http://influxdb:8086",
    influx_db: Annotated[
        str, typer.Option(help="InfluxQL database (a 2.x bucket's DBRP name).", envvar="GREENWIRE_INFLUX_DB")
    ] = "greenwire",
    influx_token: Annotated[
        str | None, typer.Option(help="InfluxDB 2.x API token for the datasource.", envvar="GREENWIRE_INFLUX_TOKEN")
    ] = None,
    health_db: Annotated[
        str, typer.Option(help="The health pilot's InfluxQL database.", envvar="GREENWIRE_HEALTH_INFLUX_DB")
    ] = "greenwire_health",
) -> None:
    """Upload the datasource, dashboards and alert rules through Grafana's HTTP API (idempotent)."""
    from greenwire.cloud.grafana.push import GrafanaError, InfluxTarget
    from greenwire.cloud.grafana.push import push as push_all

    try:
        count = push_all(url, token, InfluxTarget(influx_url, influx_db, influx_token, health_db), echo=typer.echo)
    except GrafanaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"pushed {count} dashboards to {url}")


def report_command(
    site: Annotated[str, typer.Option(help="Site id.")],
    start: Annotated[str, typer.Option("--from", help="Start, ISO 8601 (UTC when no offset).")],
    end: Annotated[str, typer.Option("--to", help="End, ISO 8601 (UTC when no offset).")],
    out: Annotated[Path, typer.Option(help="Directory for index.html and the PNG charts.")] = Path("report"),
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Ingestor config (its influx section, api v1). Default: the local stack."),
    ] = None,
) -> None:
    """Render the main dashboard panels of a site to PNG and one HTML page, from the dashboards' own queries."""
    from datetime import UTC, datetime

    from greenwire.cloud.grafana.evaluate import influx_query
    from greenwire.cloud.grafana.model import DATASOURCE_UID
    from greenwire.cloud.grafana.report import report
    from greenwire.wiring import SetupError, find_site_model, influx_client

    def when(text: str) -> datetime:
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            typer.echo(f"error: not an ISO 8601 time: {text!r}", err=True)
            raise typer.Exit(2) from None
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at

    t0, t1 = when(start), when(end)
    if t1 <= t0:
        typer.echo("error: --to must be after --from", err=True)
        raise typer.Exit(2)
    try:
        influx = influx_client(config)
    except SetupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        index = report({DATASOURCE_UID: influx_query(influx.url, influx.database)}, site, t0, t1, out,
                       sites=find_site_model())
    except LookupError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {index}")
