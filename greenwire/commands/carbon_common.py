"""What the carbon and import commands share: their options, the site model and the servers they use."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.cloud.carbon.report import Account, Readings
    from greenwire.cloud.sites import Building, SiteModel

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


def fail(message: object, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def influx(config: Path | None) -> InfluxV1:
    """The InfluxDB client of ``--config`` or the local stack; exit 2 with the reason if neither."""
    from greenwire.wiring import SetupError, influx_client

    try:
        return influx_client(config)
    except SetupError as exc:
        raise fail(exc, 2) from None


def _sites_path(sites: Path | None) -> Path:
    if sites is not None:
        return sites
    from greenwire.stack import state_dir

    for candidate in (Path("sites.yaml"), state_dir() / "sites.yaml"):
        if candidate.exists():
            return candidate
    raise fail("no site model: give --sites FILE, set GREENWIRE_SITES, or run where sites.yaml is", 2)


def site_model(sites: Path | None) -> SiteModel:
    """The site model of ``--sites`` (or where it is found); exit 2 with the reason if none or invalid."""
    from greenwire.cloud.sites import load_sites
    from greenwire.shared.errors import ConfigError

    try:
        return load_sites(_sites_path(sites))
    except ConfigError as exc:
        raise fail(exc, 2) from None


def one_building(sites: Path | None, site: str | None, building: str) -> tuple[str, Building]:
    """(site id, building) for the one building the options name, or a one-line error (exit 2)."""
    model = site_model(sites)
    if site is None:
        owners = [s.id for s in model.sites for b in s.buildings if b.id == building]
        if len(owners) != 1:
            known = ", ".join(f"{s.id}/{b.id}" for s in model.sites for b in s.buildings)
            why = "is in several sites: give --site" if owners else "is not in the site model"
            raise fail(f"building {building!r} {why} ({known})", 2)
        site = owners[0]
    try:
        return site, model.building(site, building)
    except KeyError as exc:
        raise fail(exc.args[0], 2) from None


def buildings(sites: Path | None, site: str | None, building: str | None) -> list[tuple[str, Building]]:
    """Every (site id, building) the options select (all when both are None); exit 2 if none."""
    model = site_model(sites)
    chosen = [(s.id, b) for s in model.sites if site in (None, s.id) for b in s.buildings if building in (None, b.id)]
    if not chosen:
        raise fail(f"no building matches --site {site} --building {building}", 2)
    return chosen


def parse_time(text: str) -> datetime:
    """An ISO 8601 time option; UTC when it has no offset."""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"expected an ISO 8601 time such as 2022-01-01 or 2022-01-01T00:00Z, got {text!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def period_account(config: Path | None, building: str, target: Building, start: datetime, end: datetime) -> Account:
    """The building's account of [start, end) from InfluxDB; a period with no reading is warned
    about on stderr (every figure would be zero), a database error ends the command (exit 1)."""
    return period_readings(config, building, target, start, end)[0]


def period_readings(config: Path | None, building: str, target: Building, start: datetime,
                    end: datetime) -> tuple[Account, Readings]:
    """``period_account`` with the readings it was computed from (for figures per day)."""
    from greenwire.cloud.carbon.fetch import coverage, fetch_readings
    from greenwire.cloud.carbon.report import account_of
    from greenwire.shared.errors import StoreError

    try:
        client = influx(config)
        readings = fetch_readings(client, target, start, end)
        account = account_of(target, readings, start, end)
        empty = coverage(client, target, start, end).warning(building, start, end)
    except (StoreError, LookupError) as exc:
        raise fail(exc, 1) from None
    if empty is not None:
        typer.echo(f"warning: {empty}", err=True)
    return account, readings


EveryOption = Annotated[float, typer.Option(
    "--every", min=0, help="Hours between runs: keep running and repeat (0: run once). A failed run (a "
    "server down) is reported on stderr and the next goes ahead; a setup error in the first run (no site "
    "model, no config) exits 2.")]


def repeat(every_h: float, once: Callable[[], None], *, sleep: Callable[[float], None] = time.sleep,
           runs: int | None = None) -> None:
    """Call ``once``; with ``every_h`` > 0, again every ``every_h`` hours from the first start
    (a run that overruns is not caught up), reporting a failed run on stderr and carrying on.
    ``runs`` stops after that many (tests). Ctrl-C or SIGTERM ends it between runs."""
    if every_h <= 0:
        once()
        return
    period, started, done = every_h * 3600, time.monotonic(), 0
    while runs is None or done < runs:
        try:
            once()
        except typer.Exit as exc:
            if exc.exit_code == 2 and done == 0:
                raise  # a setup error (no config, no site model): no point in repeating it
            typer.echo(f"warning: this run failed (exit {exc.exit_code}); the next is in {every_h:g} h", err=True)
        done += 1
        if runs is not None and done >= runs:
            return
        elapsed = time.monotonic() - started
        sleep(period - elapsed % period)
