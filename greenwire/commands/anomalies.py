"""``greenwire anomalies run|evaluate``.

The work is in ``greenwire.cloud.anomalies``; these functions parse options, resolve the site
model and servers (``carbon_common``) and print.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    EveryOption,
    SiteOption,
    SitesOption,
    buildings,
    fail,
    influx,
    one_building,
    parse_time,
    repeat,
)
from greenwire.commands.forecast import AtOption, BuildingOption, JsonOption, _now

app = typer.Typer(no_args_is_help=True, help="""Anomalies in each building's meters, found before the bill.

Kinds: baseload_drift, out_of_hours, step_change, frozen_counter, stopped_reporting,
submeter_mismatch. Stored in measurement anomalies and published, retained, on
greenwire/v1/{site}/anomalies/{building} (schema greenwire.anomalies.v1).
""")


@app.command("run")
def run(sites: SitesOption = None, site: SiteOption = None, building: BuildingOption = None,
        config: ConfigOption = None, at: AtOption = None,
        days: Annotated[int, typer.Option(help="Days examined, ending at the last full hour.")] = 90,
        publish: Annotated[bool, typer.Option(help="Publish each building's findings, retained, on MQTT.")] = True,
        every: EveryOption = 0.0, json_output: JsonOption = False) -> None:
    """Examine every meter of each building, store the findings and publish them.

    Each finding has its kind, start, end, the energy it cost (kWh above what was expected, or
    left unmeasured) and its kgCO2e at the factor in force, and a confidence (0-1). Running it
    again over the same hours rewrites the same points. --every 1 keeps it running, hourly (as
    the compose file's anomalies service does).

    Example: greenwire anomalies run --sites sites.yaml --building b2 --json
    """
    if every and at:
        raise fail("give --at (one run as of that time) or --every (runs from now on), not both", 2)
    repeat(every, lambda: _run_once(sites, site, building, config, at, days, publish, json_output))


def _run_once(sites: Path | None, site: str | None, building: str | None, config: Path | None, at: str | None,
              days: int, publish: bool, json_output: bool) -> None:
    from greenwire.cloud.anomalies.service import building_findings
    from greenwire.cloud.anomalies.service import publish as publish_findings
    from greenwire.cloud.anomalies.store import message
    from greenwire.shared.errors import StoreError
    from greenwire.shared.topics import anomalies_topic
    from greenwire.transport.mqtt import Message
    from greenwire.wiring import SetupError, cloud_broker, publisher_settings

    store, now = influx(config), _now(at)
    messages: list[Message] = []
    out: list[dict[str, Any]] = []
    for site_id, target in buildings(sites, site, building):
        try:
            result = building_findings(store, site_id, target, now, window_days=days)
            store.write(result.lines)
        except StoreError as exc:
            raise fail(f"{exc} ({site_id}/{target.id})", 1) from None
        g = result.g_per_kwh.get("grid_import", 0.0)
        messages.append(Message(anomalies_topic(site_id, target.id),
                                message(site_id, target.id, result.findings, g, result.window, now), retain=True))
        out.append({"site": site_id, "building": target.id, "findings": [f.as_dict() for f in result.findings]})
    if publish:
        try:
            settings = publisher_settings(cloud_broker(config, "greenwire-anomalies"), "greenwire-anomalies")
        except SetupError as exc:
            raise fail(exc, 2) from None
        publisher = publish_findings(settings, messages)
        if publisher.published < len(messages):
            raise fail(f"findings stored, but {len(messages) - publisher.published} building(s) not published: "
                       f"{publisher.last_error}", 1)
    if json_output:
        typer.echo(json.dumps(out, indent=2))
        return
    for b in out:
        typer.echo(f"{b['site']}/{b['building']}: {len(b['findings'])} finding(s)")
        for f in b["findings"]:
            typer.echo(f"  {f['kind']:<18} {f['start'][:16]} to {f['end'][:16]} {f['kwh']:>10,.1f} kWh "
                       f"confidence {f['confidence']:.2f}  {f['meter']}: {f['detail']}")


@app.command("evaluate")
def evaluate(building: Annotated[str, typer.Option(help="Building id.")],
             start: Annotated[str, typer.Option("--from", help="Start of the series (ISO 8601).")],
             end: Annotated[str, typer.Option("--to", help="End of the series (exclusive).")],
             sites: SitesOption = None, site: SiteOption = None, config: ConfigOption = None,
             count: Annotated[int, typer.Option(help="Anomalies of each kind injected.")] = 6,
             seed: Annotated[int, typer.Option(help="Where they are put (a seeded generator).")] = 0,
             json_output: JsonOption = False) -> None:
    """Inject known anomalies into each of the building's meters (grid import, gas) read from
    InfluxDB, run the detectors and print precision and recall per kind, and the false findings
    on the series as it is (per month).

    Example: greenwire anomalies evaluate --sites sites.yaml --building b2 --from 2022-01-01 --to 2023-01-01 --json
    """
    from greenwire.cloud.anomalies.evaluate import evaluate_meter
    from greenwire.cloud.forecast.features import calendar_for, country_of
    from greenwire.cloud.forecast.store import meter_series
    from greenwire.shared.errors import StoreError

    site_id, target = one_building(sites, site, building)
    t0, t1 = parse_time(start), parse_time(end)
    if t1 - t0 < timedelta(days=60):
        raise fail("--from to --to must span at least 60 days (the detectors need four weeks of reference)", 2)
    results = []
    try:
        for role in ("grid_import", "gas"):
            for device, series in meter_series(influx(config), target, role, t0, t1).items():
                cal = calendar_for(series, target.timezone, country_of(target.zone), extra_hours=0)
                results.append({"building": target.id, "meter": device, "role": role,
                                **evaluate_meter(series, cal, count=count, seed=seed)})
    except StoreError as exc:
        raise fail(exc, 1) from None
    if not results:
        raise fail(f"{site_id}/{target.id} has no grid_import or gas meter", 2)
    if json_output:
        typer.echo(json.dumps(results, indent=2))
        return
    for r in results:
        typer.echo(f"{r['meter']} ({r['role']}): {r['false_per_month']:.2f} false findings a month on the series as it is")
        for kind, s in r["scores"].items():
            also = s.get("false_also_clean", 0)
            typer.echo(f"  {kind:<18} precision {s['precision']:.2f} recall {s['recall']:.2f} ({s['truths']} injected"
                       + (f"; {also} false finding(s) also on the clean series" if also else "") + ")")
