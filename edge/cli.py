"""``greenwire edge``: run, check and inspect a gateway's agent."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="""Run and check the edge agent of a gateway.

An installer writes one YAML file per gateway (see `greenwire edge validate --help`
for an example), checks it with `greenwire edge validate`, and runs it with
`greenwire edge run`. Readings are written to a disk buffer first and published
to MQTT at QoS 1; nothing is deleted before the broker has acknowledged it.
""",
    no_args_is_help=True,
)

ConfigArg = Annotated[Path, typer.Argument(help="The gateway's YAML config.", exists=False)]

EXAMPLE = """
Example config (edge.yaml):

    gateway: gw-01
    site: campus-a
    mqtt:
      url: mqtt://127.0.0.1:1883        # omit to use `greenwire stack up`
    buses:
      - name: plant-room
        type: tcp
        host: 192.0.2.10
        port: 502
        timeout_s: 1.0
        devices:
          - id: main-incomer
            unit: 1
            profile: eastron-sdm630      # or a path to your own profile YAML
            poll_interval_s: 10
"""


def _load(path: Path):  # type: ignore[no-untyped-def]
    from edge.config import load_config
    from shared.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command(epilog=EXAMPLE)
def validate(
    config: ConfigArg,
    json_output: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Check a gateway config without touching any device or broker.

    Every problem is reported with its file and line, and the exit code is 2.
    On success, prints each device with the Modbus requests one poll will make.
    """
    from rich.console import Console
    from rich.table import Table

    from edge.plan import build_plan
    from edge.profile import load_profile

    cfg = _load(config)
    rows = []
    for bus in cfg.buses:
        for device in bus.devices:
            profile = load_profile(device.profile)
            plan = build_plan(profile)
            rows.append(
                {
                    "bus": bus.name,
                    "endpoint": bus.endpoint,
                    "device": device.id,
                    "unit": device.unit,
                    "profile": profile.name,
                    "quantities": len(profile.registers),
                    "requests": len(plan.requests),
                    "poll_interval_s": device.poll_interval_s,
                }
            )
    if json_output:
        import orjson

        typer.echo(orjson.dumps({"gateway": cfg.gateway, "site": cfg.site, "devices": rows}).decode())
        return
    table = Table(title=f"gateway {cfg.gateway} at site {cfg.site}: config OK")
    for column in rows[0]:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


@app.command(epilog=EXAMPLE)
def run(
    config: ConfigArg,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the agent: poll every device, buffer on disk, publish at QoS 1.

    Without an `mqtt` section the broker of the local stack is used
    (`greenwire stack up`). Stops cleanly on Ctrl-C or SIGTERM: what was read
    but not yet published stays in the buffer for the next start.
    """
    from edge.agent import EdgeAgent, broker_settings, install_signal_handlers
    from greenwire.logs import setup_logging
    from greenwire.stack import discover
    from shared.errors import GreenwireError

    setup_logging(log_level)
    cfg = _load(config)
    stack = discover() if cfg.mqtt is None else None
    try:
        broker = broker_settings(cfg, stack.mqtt_url if stack else None)
    except GreenwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await EdgeAgent(cfg, broker).run(stop)

    logging.getLogger(__name__).info("publishing to mqtt://%s:%d", broker.host, broker.port)
    asyncio.run(main())
