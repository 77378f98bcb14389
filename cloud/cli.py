"""``greenwire ingest``: run the cloud ingestor (MQTT → validate → InfluxDB)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cloud.config import IngestConfig

app = typer.Typer(
    help="""Run the cloud ingestor: gateways' meter batches from MQTT into InfluxDB.

The ingestor subscribes to greenwire/v1/+/+/readings (a shared subscription, so
several ingestors can split the load), validates every message, writes the
readings to InfluxDB and acknowledges a message only after InfluxDB stored it.
Rejected messages are counted by reason, kept in STATE_DIR/rejected-YYYYMMDD.jsonl
and written as `ingest_rejected` points.
""",
    no_args_is_help=True,
)

EXAMPLE = """
Minimal config (ingest.yaml), InfluxDB 1.x:

    mqtt:
      url: mqtt://127.0.0.1:1883
    influx:
      api: v1
      url: http://127.0.0.1:8086
      database: greenwire

InfluxDB 2.x/3 instead:

    influx:
      api: v2
      url: http://127.0.0.1:8086
      token_file: /etc/greenwire/influx-token
      org: my-org
      bucket: greenwire

Every key, with its default: cloud/ingest.example.yaml.
"""


def _config(path: Path | None) -> IngestConfig:
    """The config file's, else the local stack's; exits with a one-line reason if neither."""
    from cloud.config import IngestConfig, load_config
    from shared.errors import ConfigError

    if path is not None:
        try:
            return load_config(path)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    from greenwire.stack import discover

    env = discover()
    if env is None:
        typer.echo(
            "error: no config and no local stack running: run `greenwire stack up` or pass --config FILE",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(
        f"using the local stack: broker {env.mqtt_url}, InfluxDB {env.influx_url} database {env.influx_db}",
        err=True,
    )
    return IngestConfig.from_stack(env)


@app.command(epilog=EXAMPLE)
def run(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Ingestor YAML config. Without it, the local stack (`greenwire stack up`) is used.",
            dir_okay=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the ingestor until Ctrl-C or SIGTERM.

    On stop it stores and acknowledges what it has already taken, then
    disconnects; anything else stays queued in the broker's persistent
    session for the next start. Counters are logged every 10 s.
    """
    import asyncio
    import signal

    from cloud.ingest import Ingestor
    from greenwire.logs import setup_logging
    from shared.errors import GreenwireError

    try:
        setup_logging(log_level)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    cfg = _config(config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Ingestor(cfg).run(stop)

    try:
        asyncio.run(main())
    except GreenwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
