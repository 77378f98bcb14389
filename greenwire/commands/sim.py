"""``greenwire sim``: simulated field devices replaying real recorded data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

app = typer.Typer(
    help="Simulated devices for installers, demos and CI: no hardware needed.",
    no_args_is_help=True,
)

EXAMPLE = """Example: two SDM630 meters behind one simulated RS-485 gateway, an hour per minute:

  greenwire sim modbus --port 5020 --meter 1:b2 --meter 2:b25 --speed 60

then point an edge config at 127.0.0.1:5020, units 1 and 2, profile eastron-sdm630. A replay
at xN shows N times the building's real power, and the university buildings draw far more
than one SDM630's 72 kW: give each device max_power_kw of at least 2000 x N in the edge config
(as `greenwire demo` does), or the gateway rightly flags every reading as a counter_jump.
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

    from greenwire.simulators.modbus_meter import MeterServer, SimMeter
    from greenwire.simulators.series import Replay, builtin_series

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
                name = m.replay.series.name if m.replay is not None else "(no replay)"
                typer.echo(f"  unit {m.device_id}: {name} from {moment:%Y-%m-%d %H:%M} UTC")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


WEARABLE_EXAMPLE = """Example: a care site's hub with 12 participants, six past hours replayed at x120, then live:

  greenwire sim wearable --port 8090 --participants 12 --backlog-hours 6 --speed 120

then give the edge config a wearable source with url http://127.0.0.1:8090/fhir and
protocol: greenwire-cursor (the hub's own cursor; a source without it searches as FHIR does).
"""


@app.command(epilog=WEARABLE_EXAMPLE)
def wearable(
    port: Annotated[int, typer.Option(help="HTTP port (0 picks a free one).")] = 8090,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    participants: Annotated[int, typer.Option(min=1, max=500, help="How many participants wear devices.")] = 12,
    speed: Annotated[float, typer.Option(min=0.01, help="Recorded seconds per wall second until the hub "
                                                        "catches up with the present.")] = 60.0,
    backlog_hours: Annotated[float, typer.Option(min=0, help="The hub starts this far in the past.")] = 1.0,
    show_participants: Annotated[bool, typer.Option(help="Print the participants' raw ids, for a consent list.")] = False,
) -> None:
    """Serve FHIR R4 vital-sign Observations of simulated participants, with an incremental cursor.

    GET /fhir/Observation?_cursor=N&_count=M answers a searchset Bundle of what was recorded
    after cursor N and a next link. Heart rate replays a real wearable's series; the awkward
    cases of real hubs (absent components, cancelled, entered-in-error, float artefacts,
    resent old data, codes outside the pilot) are included. Runs until Ctrl-C.
    """
    import asyncio
    import contextlib
    from datetime import timedelta

    from greenwire.simulators.wearable import WearableHub, WearableServer, make_participants

    people = make_participants(participants)
    hub = WearableHub(people, start=datetime.now(UTC) - timedelta(hours=backlog_hours), speed=speed)

    async def serve() -> None:
        async with WearableServer(hub, host=host, port=port) as server:
            typer.echo(f"wearable hub with {len(people)} participants on {server.url}/fhir "
                       f"(backlog {backlog_hours:g} h at x{speed:g}, then live)")
            if show_participants:
                for p in people:
                    typer.echo(f"  Patient/{p.id}")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


@app.command()
def environment(
    sensor: Annotated[
        list[str], typer.Option(help="UNIT:ROOM, repeatable. ROOM: normal, heatwave, crowded.")
    ],
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 5021,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    timezone: Annotated[str, typer.Option(help="The rooms' local time zone.")] = "Europe/London",
) -> None:
    """Serve Sensirion SCD30 indoor-environment sensors (CO2, temperature, humidity) over Modbus TCP."""
    import asyncio
    import contextlib

    from greenwire.simulators.environment import Room
    from greenwire.simulators.modbus_meter import MeterServer, SimMeter

    meters = []
    for text in sensor:
        unit, _, kind = text.partition(":")
        if not unit.isdigit() or kind not in ("normal", "heatwave", "crowded"):
            raise typer.BadParameter(f"expected UNIT:ROOM such as 1:heatwave, got {text!r}")
        meters.append(SimMeter(int(unit), profile="sensirion-scd30",
                               climate=Room(kind=kind, timezone=timezone).values))

    async def serve() -> None:
        async with MeterServer(host=host, port=port, meters=meters) as server:
            typer.echo(f"serving {len(meters)} SCD30 sensor(s) on {host}:{server.port}")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
