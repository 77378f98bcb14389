"""``greenwire import grid|readings``: a grid intensity series into InfluxDB, past meter readings through MQTT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from greenwire.commands.carbon_common import ConfigOption, fail, influx

import_app = typer.Typer(help="Bring outside data into InfluxDB (grid carbon intensity).", no_args_is_help=True)


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
        raise fail(exc, 2) from None
    store = influx(config)
    try:
        count = store.write_series(series)
    except StoreError as exc:
        raise fail(exc, 1) from None
    typer.echo(f"imported {count} values for zone {zone} ({series.basis}, {series.kind}) from "
               f"{series.starts[0]:%Y-%m-%d %H:%M} to {series.end:%Y-%m-%d %H:%M} UTC; source: {series.source}")


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

    from greenwire.cloud.history import HistoryError, publish_history, read_history
    from greenwire.shared.errors import TopicError
    from greenwire.shared.lifecycle import install_signal_handlers
    from greenwire.shared.topics import check_id
    from greenwire.wiring import SetupError, gateway_broker

    try:
        check_id(site, "site")
        check_id(gateway, "gateway")
        history = read_history(file)
    except (HistoryError, TopicError, OSError) as exc:
        raise fail(exc, 2) from None
    if not history:
        typer.echo("nothing to import")
        return
    try:
        settings = gateway_broker(config, f"greenwire-import-{gateway}", site=site, gateway=gateway)
    except SetupError as exc:
        raise fail(exc, 2) from None

    async def upload() -> int:
        stop = asyncio.Event()
        install_signal_handlers(stop)  # SIGTERM or Ctrl-C: stop waiting, keep what was delivered
        with Progress() as progress:
            bar = progress.add_task(f"publishing {file.name} as {site}/{gateway}", total=len(history))
            return await publish_history(settings, site, gateway, history, batch=batch, stop=stop,
                                         progress=lambda done: progress.update(bar, completed=done))

    published = asyncio.run(upload())
    typer.echo(f"published {published} readings ({len(history)} in the file) from "
               f"{history[0].ts:%Y-%m-%d %H:%M} to {history[-1].ts:%Y-%m-%d %H:%M} UTC")


import_app.command()(grid)
import_app.command()(readings)
