"""``greenwire ingest``: run the cloud ingestor (MQTT → validate → InfluxDB)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from greenwire.cloud.ingest.config import IngestConfig

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

Every key, with its default: cloud/ingest/ingest.example.yaml.
"""


def _config(path: Path | None) -> IngestConfig:
    """The config file's, else the local stack's; exits with a one-line reason if neither."""
    from greenwire.cloud.ingest.config import IngestConfig, load_config
    from greenwire.shared.errors import ConfigError

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
    from greenwire.stack import state_dir

    return IngestConfig.from_stack(env, state_dir=state_dir() / "ingest")


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Ingestor YAML config. Without it, the local stack (`greenwire stack up`) is used.",
        dir_okay=False,
    ),
]


@app.command(epilog=EXAMPLE)
def run(
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    sites: Annotated[
        Path | None,
        typer.Option("--sites", help="Site model YAML: readings and meters get their building tag.", dir_okay=False),
    ] = None,
) -> None:
    """Run the ingestor until Ctrl-C or SIGTERM.

    On stop it stores and acknowledges what it has already taken, then
    disconnects; anything else stays queued in the broker's persistent
    session for the next start. Counters are logged every 10 s.
    """
    import asyncio
    import signal

    from greenwire.cloud.ingest.pipeline import Ingestor
    from greenwire.shared.errors import GreenwireError
    from greenwire.shared.logs import setup_logging

    try:
        setup_logging(log_level)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    cfg = _config(config)
    building_of = None
    if sites is not None:
        from greenwire.cloud.ingest.buildings import building_lookup
        from greenwire.cloud.sites import load_sites

        try:
            building_of = building_lookup(load_sites(sites))
        except GreenwireError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Ingestor(cfg, building_of=building_of).run(stop)

    try:
        asyncio.run(main())
    except GreenwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command(epilog=EXAMPLE)
def check(
    config: ConfigOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Only validate the config; contact no server.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check an ingestor config, then that its broker and InfluxDB answer.

    A config problem is reported with its file and line (exit code 2). Unless
    --offline, the broker is connected to under a throw-away client id
    (CLIENT_ID-check: a running ingestor is not disturbed and no message is
    taken) and InfluxDB is asked for /ping; exit code 1 if either fails.
    """
    import asyncio

    import orjson

    cfg = _config(config)
    result: dict[str, object] = {"config": cfg.summary()}
    if not offline:
        result.update(asyncio.run(_reach(cfg)))
    failed = [name for name in ("broker", "influx") if name in result and not _ok(result[name])]
    if json_output:
        typer.echo(orjson.dumps(result | {"ok": not failed}).decode())
    else:
        typer.echo(f"config OK: {cfg.mqtt.url} -> {cfg.influx.describe()}, client id {cfg.mqtt.client_id}, "
                   f"group {cfg.mqtt.group}, rejects in {cfg.state_dir}")
        for name in ("broker", "influx"):
            if name in result:
                answer = result[name]
                assert isinstance(answer, dict)
                typer.echo(f"{name}: {'OK' if answer['ok'] else 'FAILED'}: {answer['detail']}")
    if failed:
        raise typer.Exit(1)


def _ok(answer: object) -> bool:
    return isinstance(answer, dict) and answer.get("ok") is True


async def _reach(cfg: IngestConfig) -> dict[str, dict[str, object]]:
    """Whether the broker accepts a connection and InfluxDB answers /ping."""
    from greenwire.cloud.adapters.influx import make_writer
    from greenwire.cloud.adapters.mqtt import probe
    from greenwire.shared.errors import BrokerError

    out: dict[str, dict[str, object]] = {}
    try:
        await probe(cfg.mqtt, timeout_s=5)
        out["broker"] = {"ok": True, "detail": f"{cfg.mqtt.url} accepted a connection"}
    except BrokerError as exc:
        out["broker"] = {"ok": False, "detail": str(exc)}
    writer = make_writer(cfg.influx)
    try:
        up = await writer.ping()
    finally:
        await writer.close()
    out["influx"] = {
        "ok": up,
        "detail": f"{cfg.influx.url} answers /ping" if up else f"{cfg.influx.url} does not answer /ping",
    }
    return out
