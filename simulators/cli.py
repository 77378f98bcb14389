"""``greenwire sim``: simulated field devices replaying real recorded data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

app = typer.Typer(
    help="Simulated devices for installers, demos and CI: no hardware needed.",
    no_args_is_help=True,
)

EXAMPLE = """Example: two SDM630 meters behind one simulated RS-485 gateway, a day per minute:

  greenwire sim modbus --port 5020 --meter 1:b2 --meter 2:b25 --speed 1440

then point an edge config at 127.0.0.1:5020, units 1 and 2, profile eastron-sdm630.
"""


def _parse_meter(text: str) -> tuple[int, str]:
    unit, _, series = text.partition(":")
    try:
        number = int(unit)
    except ValueError:
        raise typer.BadParameter(f"expected UNIT:SERIES such as 1:b2, got {text!r}") from None
    if not 1 <= number <= 247 or not series:
        raise typer.BadParameter(f"expected UNIT:SERIES with UNIT in 1..247, got {text!r}")
    return number, series


@app.command(epilog=EXAMPLE)
def modbus(
    meter: Annotated[
        list[str],
        typer.Option(help="UNIT:SERIES, repeatable. Series: b2, b25, b85 (Cambridge buildings, 2022)."),
    ],
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 5020,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    speed: Annotated[float, typer.Option(help="Series seconds per wall second (3600: an hour per second).")] = 60.0,
    start: Annotated[
        datetime, typer.Option(help="Where in the series to start (UTC).", formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"])
    ] = datetime(2022, 6, 1),
) -> None:
    """Serve Eastron SDM630 meters over Modbus TCP, values following a recorded series.

    Each meter's power is the recorded hourly energy of its building, and its
    import counter accumulates exactly that energy, as a real meter's does.
    Runs until Ctrl-C.
    """
    import asyncio
    import contextlib

    from simulators.modbus_meter import MeterServer, SimMeter
    from simulators.series import Replay, builtin_series

    moment = start.replace(tzinfo=UTC)
    try:
        meters = [
            SimMeter(unit, Replay(builtin_series(name), start=moment, speed=speed))
            for unit, name in map(_parse_meter, meter)
        ]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    async def serve() -> None:
        async with MeterServer(host=host, port=port, meters=meters) as server:
            typer.echo(f"serving {len(meters)} SDM630 meter(s) on {host}:{server.port} (replay x{speed:g}):")
            for m in meters:
                typer.echo(f"  unit {m.device_id}: {m.replay.series.name} from {moment:%Y-%m-%d %H:%M} UTC")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
