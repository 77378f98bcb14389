"""``greenwire import grid`` and ``greenwire carbon report``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import typer

import_app = typer.Typer(help="Bring outside data into InfluxDB (grid carbon intensity).", no_args_is_help=True)
carbon_app = typer.Typer(help="Carbon accounts of buildings, from their meters and their grid.", no_args_is_help=True)

SitesOption = Annotated[
    Path | None,
    typer.Option("--sites", envvar="GREENWIRE_SITES", show_default=False,
                 help="The site model YAML. Default: $GREENWIRE_SITES, ./sites.yaml, else the demo's "
                      "sites.yaml in the state directory (.greenwire/)."),
]
SiteOption = Annotated[
    str | None, typer.Option(help="Site id; may be left out when the building id is unique across sites.")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Ingestor config (its influx section; with api v2 the bucket needs a "
                 "DBRP mapping of the same name). Default: the local stack."),
]


def _influx(config: Path | None):  # type: ignore[no-untyped-def]
    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.shared.errors import ConfigError

    if config is not None:
        from greenwire.cloud.ingest.config import load_config

        try:
            cfg = load_config(config)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        influx = cfg.influx
        try:
            if influx.api == "v2":
                # InfluxDB 2.x/3 answer InfluxQL on /query through a DBRP mapping of the bucket.
                assert influx.bucket is not None
                return InfluxV1(influx.url, influx.bucket, token=influx.resolved_token())
            assert influx.database is not None
            return InfluxV1(influx.url, influx.database, username=influx.username,
                            password=influx.resolved_password())
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    from greenwire.stack import discover

    env = discover()
    if env is None:
        typer.echo("error: no --config and no local stack running (`greenwire stack up`)", err=True)
        raise typer.Exit(2)
    return InfluxV1(env.influx_url, env.influx_db)


def _sites_path(sites: Path | None) -> Path:
    if sites is not None:
        return sites
    from greenwire.stack import state_dir

    for candidate in (Path("sites.yaml"), state_dir() / "sites.yaml"):
        if candidate.exists():
            return candidate
    typer.echo("error: no site model: give --sites FILE, set GREENWIRE_SITES, or run where sites.yaml is", err=True)
    raise typer.Exit(2)


def _model(sites: Path | None):  # type: ignore[no-untyped-def]
    from greenwire.cloud.sites import load_sites
    from greenwire.shared.errors import ConfigError

    try:
        return load_sites(_sites_path(sites))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _building(sites: Path | None, site: str | None, building: str):  # type: ignore[no-untyped-def]
    """(site id, building) for the one building the options name, or a one-line error (exit 2)."""
    model = _model(sites)
    if site is None:
        owners = [s.id for s in model.sites for b in s.buildings if b.id == building]
        if len(owners) != 1:
            known = ", ".join(f"{s.id}/{b.id}" for s in model.sites for b in s.buildings)
            why = "is in several sites: give --site" if owners else "is not in the site model"
            typer.echo(f"error: building {building!r} {why} ({known})", err=True)
            raise typer.Exit(2)
        site = owners[0]
    try:
        return site, model.building(site, building)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(2) from None


def _time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"expected an ISO 8601 time such as 2022-01-01 or 2022-01-01T00:00Z, got {text!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@import_app.command()
def grid(
    file: Annotated[Path, typer.Argument(help="CSV: NESO, Electricity Maps export, or timestamp,gco2_per_kwh.")],
    zone: Annotated[str, typer.Option(help="The grid zone the series is for (as in the site model), e.g. GB.")],
    basis: Annotated[Literal["direct", "lifecycle"], typer.Option(help="Which intensity to take.")] = "direct",
    config: ConfigOption = None,
) -> None:
    """Import a grid carbon-intensity series for a zone into InfluxDB (measurement grid_intensity).

    Each value holds from its timestamp to the next one; energy is matched to the value of
    the minute it was used. Importing the same file again overwrites the same points.
    """
    from greenwire.cloud.carbon.intensity import load_csv
    from greenwire.shared.errors import StoreError

    try:
        series = load_csv(file, zone=zone, basis=basis)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    influx = _influx(config)
    try:
        count = influx.write_series(series)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"imported {count} values for zone {zone} ({series.basis}, {series.kind}) from "
               f"{series.starts[0]:%Y-%m-%d %H:%M} to {series.end:%Y-%m-%d %H:%M} UTC; source: {series.source}")


@carbon_app.command()
def report(
    building: Annotated[str, typer.Option(help="Building id.")],
    start: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601; UTC when no offset.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    sites: SitesOption = None,
    site: SiteOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json).")] = False,
    output_format: Annotated[
        Literal["table", "json", "csv"], typer.Option("--format", help="table (for people), json or csv.")
    ] = "table",
    config: ConfigOption = None,
) -> None:
    """A building's energy by role and its emissions (Scope 1, Scope 2 location- and market-based, Scope 2 of district heat) over a period.

    Energy comes from the meters' counters (deltas, never integrated power); each minute's
    grid energy is multiplied by its zone's intensity for that minute (an imported series or
    the live feed, else the static factor of the zone), and every factor used is listed.

    Example: greenwire carbon report --building b2 --from 2026-11-01 --to 2026-12-01 --format json
    """
    from greenwire.cloud.carbon.report import account_from_influx
    from greenwire.shared.errors import StoreError

    site, target = _building(sites, site, building)
    t0, t1 = _time(start), _time(end)
    if t1 <= t0:
        typer.echo("error: --to must be after --from", err=True)
        raise typer.Exit(2)
    try:
        result = account_from_influx(_influx(config), target, t0, t1)
    except (StoreError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_output or output_format == "json":
        import orjson

        typer.echo(orjson.dumps(result.as_dict()).decode())
        return
    if output_format == "csv":
        import csv
        import sys

        row = result.as_dict()
        row["factors"] = row["factor_sources"] = "; ".join(row["factors"])
        writer = csv.DictWriter(sys.stdout, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        return
    intensity = result.intensity_g_per_kwh
    typer.echo(f"{site}/{building}, {t0:%Y-%m-%d %H:%M} to {t1:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"  grid import          {result.grid_import_kwh:14,.1f} kWh"
               f"  ({result.estimated_kwh:,.1f} kWh estimated, {result.rejected_kwh:,.1f} kWh rejected)")
    typer.echo(f"  Scope 2 (location)   {result.scope2_location_kgco2e:14,.1f} kgCO2e"
               f"  ({'-' if intensity is None else f'{intensity:.1f}'} gCO2e/kWh)")
    if result.scope2_market_kgco2e is not None:
        typer.echo(f"  Scope 2 (market)     {result.scope2_market_kgco2e:14,.1f} kgCO2e"
                   f"  ({result.instrument_kwh:,.1f} kWh covered by instruments)")
    if result.pv_generation_kwh:
        typer.echo(f"  PV generation        {result.pv_generation_kwh:14,.1f} kWh"
                   f"  (self-consumed {result.pv_self_consumption_kwh or 0:,.1f} kWh, zero emissions)")
    if result.grid_export_kwh:
        typer.echo(f"  grid export          {result.grid_export_kwh:14,.1f} kWh  (reported, not netted)")
    if result.scope2_heat_kgco2e is not None:
        typer.echo(f"  district heat        {result.heat_kwh:14,.1f} kWh")
        typer.echo(f"  Scope 2 (heat)       {result.scope2_heat_kgco2e:14,.1f} kgCO2e  ({result.heat_factor_source})")
    elif result.heat_kwh:
        typer.echo(f"  district heat        {result.heat_kwh:14,.1f} kWh  (energy only: no heat-network factor)")
    if result.gas_kwh:
        typer.echo(f"  gas                  {result.gas_kwh:14,.1f} kWh")
        typer.echo(f"  Scope 1 (gas)        {result.scope1_kgco2e:14,.1f} kgCO2e")
    if result.scope2_heat_kgco2e is not None:
        typer.echo(f"  total                {result.total_kgco2e:14,.1f} kgCO2e  (Scope 1 + Scope 2 location-based "
                   "+ Scope 2 heat)")
    typer.echo(f"  per floor area       {result.kgco2e_per_m2_year:14,.2f} kgCO2e/m2/year (annualised)")
    if result.budget_kgco2e is not None and result.budget_used_pct is not None:
        state = "within budget" if result.budget_used_pct <= 100 else "OVER BUDGET"
        typer.echo(f"  budget for the period {result.budget_kgco2e:13,.1f} kgCO2e  ({result.budget_used_pct:.0f} % used: {state})")
    for source in sorted(result.factors):
        typer.echo(f"  factor: {source}")
    typer.echo(f"  factor table version {result.factor_table_version}")


def _targets(sites: Path | None, site: str | None, building: str | None):  # type: ignore[no-untyped-def]
    model = _model(sites)
    chosen = [(s.id, b) for s in model.sites if site in (None, s.id) for b in s.buildings if building in (None, b.id)]
    if not chosen:
        typer.echo(f"error: no building matches --site {site} --building {building}", err=True)
        raise typer.Exit(2)
    return chosen


@carbon_app.command()
def backfill(
    start: Annotated[str, typer.Option("--from", help="First day (its local midnight), ISO 8601 date.")],
    end: Annotated[str, typer.Option("--to", help="Day after the last (exclusive).")],
    sites: SitesOption = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    building: Annotated[str | None, typer.Option(help="Only this building.")] = None,
    config: ConfigOption = None,
) -> None:
    """Compute and store results (measurement carbon: 1m, 1h, 1d, 1mo) for whole local days.

    Use it after importing history or a grid series; running it again overwrites the same
    periods, so it is safe to repeat. Shows progress per building and day.
    """
    from rich.progress import Progress

    from greenwire.cloud.carbon import facts
    from greenwire.cloud.carbon.results import compute, local_midnight, month_from_days

    influx = _influx(config)
    targets = _targets(sites, site, building)
    t0, t1 = _time(start), _time(end)
    written = 0
    with Progress(transient=True) as progress:
        for site_id, target in targets:
            first, last = local_midnight(t0, target.timezone), local_midnight(t1, target.timezone)
            days = max(1, round((last - first).total_seconds() / 86400))
            task = progress.add_task(f"{site_id}/{target.id}", total=days)
            day = first
            months: set[datetime] = set()
            while day < last:
                following = local_midnight(day + timedelta(hours=36), target.timezone)
                lines = compute(influx, site_id, target, day, following)
                lines += facts.daily_lines(influx, site_id, target, day, following)
                influx.write(lines)
                written += len(lines)
                months.add(local_midnight(day.astimezone(ZoneInfo(target.timezone)).replace(day=1), target.timezone))
                day = following
                progress.advance(task)
            for month in sorted(months):
                lines = month_from_days(influx, site_id, target, month)
                influx.write(lines)
                written += len(lines)
            influx.write([facts.account_line(influx, site_id, target, min(last, datetime.now(UTC)))])
            written += 1
    typer.echo(f"wrote {written} result points for {len(targets)} building(s)")


@carbon_app.command()
def run(
    sites: SitesOption = None,
    interval_s: Annotated[float, typer.Option("--interval", help="Seconds between updates.")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="Update once and exit (for cron or tests).")] = False,
    publish: Annotated[bool, typer.Option(help="Publish each building's retained carbon signal on MQTT.")] = True,
    config: ConfigOption = None,
) -> None:
    """Keep every building's results and live carbon signal current, every minute.

    Each update writes today's minutes, hours and day, the month, and the live intensity and
    emission rate over the last 15 minutes (measurement carbon_live). Each building's live figures are also published, retained, on greenwire/v1/{site}/carbon/{building}
    (schema greenwire.carbon.v1) for building-management systems to shift load by.
    """
    import time as time_

    from greenwire.cloud.carbon import facts
    from greenwire.cloud.carbon.live import refresh
    from greenwire.cloud.carbon.results import signal_payload
    from greenwire.shared.errors import StoreError
    from greenwire.shared.topics import carbon_topic

    influx = _influx(config)
    targets = _targets(sites, None, None)
    accounts = facts.AccountSchedule()
    import queue

    feed: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
    publisher = _signal_publisher(config, publish, feed)
    if publisher is not None and once:
        time_.sleep(1.0)  # retained and queued feed messages arrive right after subscribing
    rejected_feed = 0
    while True:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        try:
            if not feed.empty():
                from greenwire.cloud.carbon.feed import feed_line

                taken = []
                while not feed.empty():
                    taken.append(feed.get_nowait())
                lines = []
                for topic, payload in taken:
                    line, why = feed_line(topic, payload)
                    if line is None:
                        rejected_feed += 1
                        typer.echo(f"grid feed message on {topic} rejected: {why} ({rejected_feed} so far)", err=True)
                    else:
                        lines.append(line)
                influx.write(lines)
            for site_id, target in targets:
                update = refresh(influx, site_id, target, now, accounts)
                if publisher is not None and update.live is not None and update.grid_g_per_kwh is not None:
                    payload = signal_payload(site_id, target, update.live, update.today_kgco2e, update.grid_g_per_kwh)
                    publisher.publish(carbon_topic(site_id, target.id), payload, qos=1, retain=True).wait_for_publish(10)
        except StoreError as exc:
            typer.echo(f"error: {exc} (retrying at the next update)", err=True)
            if once:
                raise typer.Exit(1) from None
        if once:
            if publisher is not None:
                publisher.disconnect()
                publisher.loop_stop()
            return
        time_.sleep(interval_s)


def _signal_publisher(config: Path | None, enabled: bool, feed: Any):  # type: ignore[no-untyped-def]
    """A connected paho client for the carbon signal and the grid feed (the ingest config's broker, or the stack's).

    It subscribes to greenwire/v1/grid/+/intensity with a persistent session, so feed values
    published while ``carbon run`` is down are delivered when it comes back.
    """
    if not enabled:
        return None
    import paho.mqtt.client as mqtt

    if config is not None:
        from greenwire.cloud.ingest.config import load_config

        section = load_config(config).mqtt
    else:
        from greenwire.cloud.ingest.config import IngestConfig
        from greenwire.stack import discover

        env = discover()
        if env is None:
            return None
        section = IngestConfig.from_stack(env).mqtt  # the ingestor's account on a --secure stack
    host, port, username, password = section.host, section.port, section.username, section.resolved_password()
    tls = section.tls_context()
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="greenwire-carbon", protocol=mqtt.MQTTv5)
    client.on_message = lambda _c, _u, message: feed.put((message.topic, bytes(message.payload)))
    client.on_connect = lambda c, *_: c.subscribe("greenwire/v1/grid/+/intensity", qos=1)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 7 * 86400
    if username:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)
    try:
        client.connect(host, port, clean_start=False, properties=properties)
    except OSError as exc:
        typer.echo(f"error: cannot reach the broker {host}:{port} for the carbon signal: {exc}", err=True)
        raise typer.Exit(1) from None
    client.loop_start()
    return client


@carbon_app.command()
def statement(
    building: Annotated[str, typer.Option(help="Building id.")],
    sites: SitesOption = None,
    site: SiteOption = None,
    start: Annotated[str | None, typer.Option("--from", help="Start (inclusive), ISO 8601.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), ISO 8601.")] = None,
    period: Annotated[str | None, typer.Option(help="A calendar month YYYY-MM in the building's timezone, instead of --from/--to.")] = None,
    output_format: Annotated[
        Literal["md", "html", "csv", "pdf"],
        typer.Option("--format", help="md or html (for people), csv (every figure, full precision), pdf (Chromium)."),
    ] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: print).")] = None,
    config: ConfigOption = None,
) -> None:
    """An auditable carbon statement of a building for a month or period (md, html, csv or pdf).

    Method, boundary, energy by role, Scope 1 and 2 (location- and market-based), every factor
    with its source, data-quality shares, the budget, and a SHA-256 content hash so that a copy
    can be checked against the original (greenwire carbon verify FILE).

    Example: greenwire carbon statement --building b2 --period 2026-10 --format html -o b2-2026-10.html
    """
    from greenwire import __version__
    from greenwire.cloud.carbon.report import account_from_influx
    from greenwire.shared.errors import StoreError

    site, target = _building(sites, site, building)
    if period is not None:
        try:
            local = datetime.strptime(period, "%Y-%m").replace(tzinfo=ZoneInfo(target.timezone))
        except ValueError:
            raise typer.BadParameter(f"expected YYYY-MM, got {period!r}", param_hint="--period") from None
        next_month = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
        t0, t1 = local.astimezone(UTC), next_month.astimezone(UTC)
    elif start is not None and end is not None:
        t0, t1 = _time(start), _time(end)
    else:
        typer.echo("error: give --period YYYY-MM, or --from and --to", err=True)
        raise typer.Exit(2)
    try:
        a = account_from_influx(_influx(config), target, t0, t1)
    except (StoreError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    from greenwire.cloud.carbon.statement import Header, render

    header = Header(site, building, t0, t1, datetime.now(UTC), __version__)
    fmt = "html" if output_format == "pdf" else output_format
    text, digest = render(fmt, header, target, a)
    if output_format == "pdf":
        if output is None:
            typer.echo("error: --format pdf needs --output FILE.pdf", err=True)
            raise typer.Exit(2)
        _html_to_pdf(text, output)
        typer.echo(f"wrote {output} (content hash {digest})")
    elif output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output} (content hash {digest})")


def _html_to_pdf(page: str, output: Path) -> None:
    """Print the HTML statement to PDF with headless Chromium (Debian package ``chromium``)."""
    import shutil
    import subprocess
    import tempfile

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        typer.echo("error: --format pdf needs Chromium (apt install chromium); --format html or csv need nothing",
                   err=True)
        raise typer.Exit(1)
    with tempfile.TemporaryDirectory(prefix="greenwire-pdf-") as tmp:
        source = Path(tmp) / "statement.html"
        source.write_text(page, encoding="utf-8")
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
                   f"--print-to-pdf={output.resolve()}", source.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            typer.echo("error: Chromium did not finish printing the PDF within 120 s", err=True)
            raise typer.Exit(1) from None
    if done.returncode != 0 or not output.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        typer.echo(f"error: Chromium could not print the PDF: {last}", err=True)
        raise typer.Exit(1)


@carbon_app.command()
def verify(
    statement_file: Annotated[Path, typer.Argument(help="A statement written by 'carbon statement' (md or csv).")],
) -> None:
    """Check that a carbon statement is unchanged: recompute its SHA-256 content hash."""
    from greenwire.cloud.carbon.statement import content_hash
    from greenwire.cloud.carbon.statement import verify as matches

    try:
        text = statement_file.read_text(encoding="utf-8")
        ok = matches(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"error: {statement_file}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not ok:
        typer.echo(f"error: {statement_file} was changed: its content no longer matches its hash", err=True)
        raise typer.Exit(1)
    typer.echo(f"{statement_file}: unchanged (SHA-256 {content_hash(text)})")


@carbon_app.command()
def ranking(
    start: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    sites: SitesOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Every building ranked by emissions per floor area, worst first.

    kgCO2e/m2/year: Scope 1 + Scope 2 location-based + Scope 2 of district heat (with a heat
    factor) over the period, annualised.
    """
    from rich.console import Console
    from rich.table import Table

    from greenwire.cloud.carbon.report import account_from_influx
    from greenwire.shared.errors import StoreError

    influx = _influx(config)
    t0, t1 = _time(start), _time(end)
    rows = []
    try:
        for site_id, target in _targets(sites, None, None):
            a = account_from_influx(influx, target, t0, t1)
            rows.append({"site": site_id, "building": target.id, "kgco2e_per_m2_year": a.kgco2e_per_m2_year,
                         "kgco2e": a.total_kgco2e, "floor_area_m2": target.floor_area_m2})
    except (StoreError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    rows.sort(key=lambda r: r["kgco2e_per_m2_year"], reverse=True)
    if json_output:
        import orjson

        typer.echo(orjson.dumps(rows).decode())
        return
    table = Table(title=f"buildings by kgCO2e/m2/year, {t0:%Y-%m-%d} to {t1:%Y-%m-%d}")
    for column in ("rank", "site", "building", "kgCO2e/m2/year", "kgCO2e", "m2"):
        table.add_column(column, justify="left" if column in ("site", "building") else "right")
    for rank, row in enumerate(rows, start=1):
        table.add_row(str(rank), str(row["site"]), str(row["building"]), f"{row['kgco2e_per_m2_year']:,.2f}",
                      f"{row['kgco2e']:,.1f}", f"{row['floor_area_m2']:,.0f}")
    Console().print(table)


@carbon_app.command()
def account(
    building: Annotated[str, typer.Option(help="Building id.")],
    year: Annotated[int, typer.Option(help="The budget year (local calendar year of the building).")],
    sites: SitesOption = None,
    site: SiteOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 time; default now.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """The building's carbon account for a year: budget, emitted so far, remaining, projected total, status."""
    from greenwire.cloud.carbon.budget import carbon_account
    from greenwire.cloud.carbon.results import local_midnight
    from greenwire.shared.errors import StoreError

    site, target = _building(sites, site, building)
    start = local_midnight(datetime(year, 1, 1, 12, tzinfo=ZoneInfo(target.timezone)), target.timezone)
    moment = _time(as_of) if as_of else datetime.now(UTC)
    try:
        result = carbon_account(_influx(config), target, start, moment)
    except (StoreError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        import orjson

        typer.echo(orjson.dumps(result.as_dict()).decode())
        return
    budget = "none" if result.budget_kgco2e is None else f"{result.budget_kgco2e:,.0f} kgCO2e"
    typer.echo(f"{site}/{building}, {year}, as of {moment:%Y-%m-%d %H:%M} UTC: {result.status.upper()}")
    typer.echo(f"  budget      {budget}")
    typer.echo(f"  emitted     {result.emitted_kgco2e:,.0f} kgCO2e")
    if result.remaining_kgco2e is not None:
        typer.echo(f"  remaining   {result.remaining_kgco2e:,.0f} kgCO2e")
    typer.echo(f"  projected   {result.projected_kgco2e:,.0f} kgCO2e ({result.projection_method})")


@import_app.command()
def readings(
    file: Annotated[Path, typer.Argument(help="CSV with columns timestamp,device,quantity,value (UTC offsets required).")],
    site: Annotated[str, typer.Option(help="Site id the readings belong to.")],
    gateway: Annotated[str, typer.Option(help="Gateway id to publish as.")],
    batch: Annotated[int, typer.Option(help="Readings per MQTT message.")] = 500,
    config: ConfigOption = None,
) -> None:
    """Publish past meter readings (CSV) through MQTT exactly as a gateway's backlog.

    Batches of greenwire.readings.v1 at QoS 1 with their original timestamps, which the
    ingestor stores like live data. CSV columns: timestamp,device,quantity,value. Cumulative counters are expected (energy_import_kwh, gas_volume_m3, ...). Nothing is
    counted as delivered until the broker has passed it to a subscriber, so start the
    ingestor first. The gateway's own retained status is not touched.
    """
    import asyncio

    from rich.progress import Progress

    from greenwire.cloud.history import HistoryError, read_history
    from greenwire.shared.errors import TopicError
    from greenwire.shared.readings import encode_readings
    from greenwire.shared.topics import check_id
    from greenwire.transport.buffer import AsyncBuffer, MemoryBuffer
    from greenwire.transport.publisher import Publisher

    try:
        check_id(site, "site")
        check_id(gateway, "gateway")
        history = read_history(file)
    except (HistoryError, TopicError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not history:
        typer.echo("nothing to import")
        return
    settings = _broker(config, f"greenwire-import-{gateway}", site=site, gateway=gateway)

    async def upload() -> int:
        buffer = AsyncBuffer(MemoryBuffer(max_readings=len(history) + 1))
        for start in range(0, len(history), batch):
            chunk = history[start : start + batch]
            await buffer.append(encode_readings(chunk), len(chunk), int(chunk[0].ts.timestamp() * 1000))
        publisher = Publisher(settings, site, gateway, buffer, announce=False)
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        with Progress() as progress:
            bar = progress.add_task(f"publishing {file.name} as {site}/{gateway}", total=len(history))
            while buffer.buffer.depth_readings > 0 and not task.done():
                progress.update(bar, completed=publisher.stats.published_readings)
                await asyncio.sleep(0.2)
            progress.update(bar, completed=publisher.stats.published_readings)
        stop.set()
        await task
        await buffer.close()
        return publisher.stats.published_readings

    published = asyncio.run(upload())
    typer.echo(f"published {published} readings ({len(history)} in the file) from "
               f"{history[0].ts:%Y-%m-%d %H:%M} to {history[-1].ts:%Y-%m-%d %H:%M} UTC")


def _broker(config: Path | None, client_id: str, *, site: str = "", gateway: str = ""):  # type: ignore[no-untyped-def]
    """Broker settings from the ingest config's mqtt section, or the local stack's broker."""
    from greenwire.transport.publisher import BrokerSettings

    if config is not None:
        from greenwire.cloud.ingest.config import load_config

        m = load_config(config).mqtt
        return BrokerSettings(m.host, m.port, client_id, m.keepalive_s, m.username, m.resolved_password(), m.tls,
                              ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file)
    from urllib.parse import urlsplit

    from greenwire.stack import discover

    env = discover()
    if env is None:
        typer.echo("error: no --config and no local stack running (`greenwire stack up`)", err=True)
        raise typer.Exit(2)
    if env.secure is not None:  # greenwire stack up --secure: only the gateway's own account may publish its readings
        from greenwire.edge.config import MqttConfig
        from greenwire.shared.errors import StackError

        try:
            own = MqttConfig(**env.secure.gateway_mqtt(env.mqtt_url, site, gateway))
        except StackError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        return BrokerSettings(own.host, own.port, client_id, own.keepalive_s, own.username,
                              own.resolved_password(), own.tls, ca_file=own.ca_file)
    parts = urlsplit(env.mqtt_url)
    return BrokerSettings(parts.hostname or "127.0.0.1", parts.port or 1883, client_id)
