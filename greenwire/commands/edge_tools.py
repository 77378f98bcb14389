"""``greenwire edge probe``, ``scan`` and ``status``: an installer's tools at the bus and the buffer."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from greenwire.commands.edge import ConfigArg, _load, app


@app.command()
def probe(
    config: ConfigArg,
    device: Annotated[str, typer.Option("--device", "-d", help="The device id in the config.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Read one device once and print every value it gave, decoded, with units.

    For an installer at the meter: is it wired, addressed and profiled right?
    Exit code 1 if the device does not answer.
    """
    from rich.table import Table

    from greenwire.console import table_console
    from greenwire.edge.modbus import ModbusBus
    from greenwire.shared.errors import DeviceError
    from greenwire.shared.quantities import QUANTITIES

    cfg = _load(config)
    bus_config = next((b for b in cfg.buses if any(d.id == device for d in b.devices)), None)
    if bus_config is None:
        known = ", ".join(d.id for b in cfg.buses for d in b.devices)
        typer.echo(f"error: no device {device!r} in {config} (devices: {known})", err=True)
        raise typer.Exit(2)
    bus = ModbusBus(bus_config, lambda reading: None)
    try:
        reading = asyncio.run(bus.read_once(device))
    except DeviceError as exc:
        typer.echo(f"error: {device} on {bus_config.endpoint}: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        import orjson

        typer.echo(orjson.dumps({"device": device, "ts": reading.ts.isoformat(), "values": reading.values}).decode())
        return
    table = Table(title=f"{device} on {bus_config.endpoint}, read at {reading.ts:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC")
    for column, justify in (("quantity", "left"), ("value", "right"), ("unit", "left"), ("what", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, value in reading.values.items():
        q = QUANTITIES[name]
        table.add_row(name, f"{value:,.6g}", q.unit, q.description)
    table_console().print(table)


@app.command()
def scan(
    config: ConfigArg,
    bus: Annotated[str, typer.Option("--bus", "-b", help="The bus name in the config.")],
    first: Annotated[int, typer.Option(help="First unit id to try.")] = 1,
    last: Annotated[int, typer.Option(help="Last unit id to try.")] = 247,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Find the unit ids that answer on a bus, and guess each one's profile.

    Tries each unit id with the bus's timeout (keep it short for a scan: each
    silent id costs one timeout), then reads every shipped profile's registers
    from each unit that answered and lists the profiles whose values look
    like a meter's (mains voltage and frequency). Devices listed in the config
    are not needed: only the bus settings are used.
    """
    from rich.progress import Progress
    from rich.table import Table

    from greenwire.console import table_console
    from greenwire.edge.scan import scan_bus
    from greenwire.shared.errors import DeviceError
    from greenwire.shared.logs import quiet_libraries

    quiet_libraries()
    if not 1 <= first <= last <= 247:
        typer.echo("error: unit ids are 1..247 and --first must not exceed --last", err=True)
        raise typer.Exit(2)
    cfg = _load(config)
    bus_config = next((b for b in cfg.buses if b.name == bus), None)
    if bus_config is None:
        typer.echo(f"error: no bus {bus!r} in {config} (buses: {', '.join(b.name for b in cfg.buses)})", err=True)
        raise typer.Exit(2)
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"scanning {bus_config.endpoint}", total=last - first + 1)
            found = asyncio.run(scan_bus(bus_config, range(first, last + 1),
                                         on_unit=lambda unit: progress.advance(task)))
    except DeviceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        import orjson

        typer.echo(orjson.dumps({"bus": bus, "endpoint": bus_config.endpoint,
                                 "found": [{"unit": f.unit, "profiles": list(f.profiles)} for f in found]}).decode())
        return
    if not found:
        typer.echo(f"error: no unit id from {first} to {last} answered on {bus_config.endpoint} within "
                   f"{bus_config.timeout_s:g} s each: check the wiring (A/B swapped?), the baud rate and "
                   "parity, and the meters' unit ids", err=True)
        raise typer.Exit(1)
    table = Table(title=f"{len(found)} unit(s) answered on {bus_config.endpoint}")
    table.add_column("unit", justify="right")
    table.add_column("likely profiles")
    for entry in found:
        table.add_row(str(entry.unit), ", ".join(entry.profiles) or "(none of the shipped profiles fits)")
    table_console().print(table)


@app.command()
def status(
    config: ConfigArg,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """What the gateway's buffer holds and when it forgets a reading, read beside the running agent.

    Readings and batches waiting (published or not), the oldest one's read time, readings dropped
    by the buffer's bound, and the delivery mode: commit (the cloud has confirmed storage at least
    once, so batches stay until the ingestor commits them) or, before any commit, waiting (kept for
    publish.commit_wait_s after their PUBACK, then forgotten on PUBACK: a cloud without commits).
    The running agent's own figures (uncommitted readings, resends) are in its retained status.
    """
    import json
    import time

    from greenwire.transport.buffer import inspect_buffer

    cfg = _load(config)
    summary = inspect_buffer(cfg.buffer_path)
    if summary is None:
        typer.echo(f"error: no buffer at {cfg.buffer_path} yet (has `greenwire edge run` started?)", err=True)
        raise typer.Exit(1)
    mode = "commit" if summary.commit_seen else "waiting (no commit from the cloud yet; PUBACK after the wait)"
    age = None if summary.oldest_ts_ms is None else round(time.time() - summary.oldest_ts_ms / 1000, 1)
    if json_output:
        typer.echo(json.dumps({"buffer": str(cfg.buffer_path), "readings": summary.readings,
                               "batches": summary.batches, "oldest_reading_age_s": age,
                               "dropped_readings": summary.dropped_readings,
                               "delivery_mode": "commit" if summary.commit_seen else "waiting"}))
        return
    typer.echo(f"buffer {cfg.buffer_path}: {summary.readings} readings in {summary.batches} batches"
               + (f", oldest read {age:g} s ago" if age is not None else "")
               + f", {summary.dropped_readings} dropped by the bound")
    typer.echo(f"delivery: {mode}")
