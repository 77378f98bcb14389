"""``greenwire bms``: each building's carbon signal served to building-management systems."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from greenwire.cloud.bms.config import BmsConfig
    from greenwire.transport.mqtt import BrokerSettings

app = typer.Typer(
    help="""Each building's carbon signal (greenwire/v1/{site}/carbon/{building}) for building-management
systems: Modbus TCP holding registers or BACnet/IP objects, one versioned point list (docs/bms.md,
`greenwire bms points`).
""",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="The BMS config YAML: buildings and their unit ids, and optionally "
                 "the mqtt, modbus and bacnet sections (the broker defaults to the local stack's)."),
]


def _setup(config: Path) -> tuple[BmsConfig, BrokerSettings]:
    from greenwire.cloud.bms.config import load_config
    from greenwire.shared.errors import ConfigError
    from greenwire.wiring import SetupError, bms_broker

    try:
        settings = load_config(config)
        return settings, bms_broker(settings)
    except (ConfigError, SetupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _serve(config: Path, protocol: str, overrides: dict[str, object]) -> None:
    from greenwire.cloud.bms.service import BmsService, serve
    from greenwire.shared.logs import setup_logging

    settings, broker = _setup(config)
    section = "modbus" if protocol == "modbus" else "bacnet"
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        settings = settings.model_copy(update={section: getattr(settings, section).model_copy(update=given)})
    setup_logging()
    service = BmsService(settings, broker, protocol,  # type: ignore[arg-type]
                         ready=lambda line: typer.echo(line, err=True))
    try:
        asyncio.run(serve(service))
    except OSError as exc:
        typer.echo(f"error: cannot serve {service.where()}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def modbus(
    config: ConfigOption,
    host: Annotated[str | None, typer.Option(help="Listen on this address (default: the config's).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen on this port; 0 picks a free one.")] = None,
) -> None:
    """Serve each building's carbon signal as Modbus TCP holding registers (unit id = the building's unit).

    Example: greenwire bms modbus --config bms.yaml --port 5020, then
    mbpoll -m tcp -a 1 -0 -r 0 -c 34 -1 -p 5020 127.0.0.1
    """
    _serve(config, "modbus", {"host": host, "port": port})


@app.command()
def bacnet(
    config: ConfigOption,
    address: Annotated[str | None, typer.Option(help="Interface address/prefix, e.g. 192.168.10.5/24.")] = None,
    port: Annotated[int | None, typer.Option(help="UDP port (BACnet/IP: 47808).")] = None,
) -> None:
    """Serve each building's carbon signal as BACnet/IP analog-value and multi-state-value objects.

    Example: greenwire bms bacnet --config bms.yaml --address 127.0.0.1/32 --port 47808
    """
    _serve(config, "bacnet", {"address": address, "port": port})


@app.command()
def points(
    as_json: Annotated[bool, typer.Option("--json", help="Print bms-points.json.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print bms-registers.csv.")] = False,
) -> None:
    """Print the register map and BACnet object list (version in register 0) for a BMS integrator.

    Example: greenwire bms points --csv > greenwire-registers.csv
    """
    from greenwire.cloud.bms.points import MAP_VERSION, POINTS
    from greenwire.cloud.bms.points import as_csv as csv_text
    from greenwire.cloud.bms.points import as_json as json_text

    if as_json:
        typer.echo(json_text(), nl=False)
        return
    if as_csv:
        typer.echo(csv_text(), nl=False)
        return
    typer.echo(f"register map version {MAP_VERSION}: holding registers (function 3), 0-based, "
               "32-bit values high word first")
    for p in POINTS:
        where = f"{p.address}" if p.count == 1 else f"{p.address}-{p.address + p.count - 1}"
        scale = "" if p.scale == 1 else f" x{p.scale:g}"
        typer.echo(f"{where:>6}  {p.name:<28} {p.type:<6}{scale:<7} {p.unit}")
