"""``greenwire demo``: the whole system on one machine, with a live view.

Three simulated buildings (Eastron SDM630 meters replaying the 2022
electricity of three Cambridge University buildings, each building its own
Modbus TCP endpoint), one edge agent polling them, the local stack's
Mosquitto, the ingestor, and InfluxDB. The view shows, per device, the last
reading and how many readings went through, and its carbon figures: the
intensity of its recent consumption (the carbon engine, from InfluxDB, with the GB
grid's 2022 hourly intensity replayed in step by the recorded grid provider, see
``greenwire.demo_grid``), its emission rate now, and its year account's budget status (the one
``carbon_account`` stores and ``greenwire carbon account`` prints), and the best 1 h window of
its carbon signal; underneath, the grid's intensity now and its best windows, and what the buffer, the broker link, the ingestor and InfluxDB have seen.

Before the replay starts, the campus's recorded months go in as a second site in real time
(``greenwire.demo_history``), with one known anomaly per building: the demo prints each
building's day-ahead forecast and the anomalies found, as ``forecast run`` and ``anomalies run``
store them for the Building dashboard and the statement's notes.

Leaves nothing running: the servers and agents it starts stop with it, and
the local stack is stopped again if the demo started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from greenwire.shared.errors import GreenwireError
from greenwire.shared.logs import quiet_libraries

log = logging.getLogger(__name__)

BUILDINGS = ("b2", "b25", "b85")
SITE = "cambridge"
GATEWAY = "gw-demo"
REPLAY_START = datetime(2022, 6, 1, 6, tzinfo=UTC)


def _edge_config(mqtt_url: str, state: Path, ports: dict[str, int], speed: float) -> Any:
    from greenwire.edge.config import (
        BufferConfig,
        DeviceConfig,
        EdgeConfig,
        MqttConfig,
        PublishConfig,
        TcpBusConfig,
    )

    return EdgeConfig(
        gateway=GATEWAY,
        site=SITE,
        mqtt=MqttConfig(url=mqtt_url),
        buffer=BufferConfig(path=state / f"{GATEWAY}.sqlite"),
        publish=PublishConfig(interval_s=1.0),
        buses=tuple(
            TcpBusConfig(
                name=f"bldg-{building}",
                host="127.0.0.1",
                port=port,
                timeout_s=0.5,
                devices=(
                    DeviceConfig(id=f"{building}-main", unit=1, profile="eastron-sdm630",
                                 poll_interval_s=2.0,
                                 # CT-connected, 2 MW; the replay runs `speed` times faster
                                 max_power_kw=2000 * speed),
                ),
            )
            for building, port in ports.items()
        ),
    )


def _count_points(influx_url: str, database: str) -> int | None:
    """Points stored in the last day, straight from InfluxDB (None if it does not answer)."""
    import httpx

    try:
        response = httpx.get(
            f"{influx_url}/query",
            params={"db": database, "q": 'SELECT count("active_power_w") FROM "readings" WHERE time > now() - 1d'},
            timeout=2,
        )
        series = response.json()["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0
    except (httpx.HTTPError, KeyError, IndexError, ValueError):
        return None


def _demo_buildings() -> dict[str, Any]:
    """The demo's buildings as the carbon engine sees them: GB grid, a budget of a typical year.

    Each annual budget is the building's recorded 2022 electricity at the GB average intensity,
    so a building runs "at risk" when the replayed hours use more than its average.
    """
    from greenwire.cloud.carbon.factors import load_factors
    from greenwire.cloud.sites import Building
    from greenwire.simulators.series import builtin_series

    gb = load_factors().grid_factor("GB").value
    return {
        b: Building.model_validate({
            "id": b, "floor_area_m2": 1000, "zone": "GB", "timezone": "Europe/London",
            "annual_budget_kgco2e": builtin_series(b).total_kwh * gb / 1000,
            "meters": [{"gateway": GATEWAY, "device": f"{b}-main", "role": "grid_import"}],
        })
        for b in BUILDINGS
    }


def _write_site_model(buildings: dict[str, Any], path: Path) -> None:
    """The demo's site model as YAML (the campus, the care home and the campus's history), so `greenwire carbon ...` and
    `greenwire report` work after the demo without --sites, for either site."""
    import orjson
    from ruamel.yaml import YAML

    from greenwire.demo_care import SITES_YAML as CARE_SITES
    from greenwire.demo_history import site_model as history_site

    model = {"sites": [{"id": SITE, "name": "demo campus (Cambridge 2022 replay)",
                        "buildings": [b.model_dump(mode="json", exclude_none=True) for b in buildings.values()]},
                       *YAML(typ="safe").load(CARE_SITES)["sites"], history_site()]}
    # JSON is YAML: one line per building keeps it readable and needs no YAML writer.
    path.write_text(orjson.dumps(model, option=orjson.OPT_INDENT_2).decode() + "\n", encoding="utf-8")


_ACCOUNTS: Any = None
"""When the demo refreshes each building's year account (carbon_account), made on first use."""


Figures = tuple[float, float, str, str]
"""A building's carbon intensity, kgCO2e/h, year-account status and best 1 h window (start and g/kWh)."""


def _carbon(env: Any, buildings: dict[str, Any], power_w: dict[str, float],
            grid: Any = None) -> tuple[dict[str, Figures], str | None]:
    """Per building: keep its results in InfluxDB current (as `greenwire carbon run` does), then its
    carbon intensity of recent consumption (the engine), its emission rate now (the meter's power x
    that intensity, since the replay runs faster than real time), its year account's status and its
    signal's best 1 h window (the zone's stored forecast, on the recorded clock); and the grid's line."""
    from datetime import timedelta

    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.cloud.carbon.facts import AccountSchedule
    from greenwire.cloud.carbon.live import refresh

    global _ACCOUNTS
    if _ACCOUNTS is None:
        _ACCOUNTS = AccountSchedule(every=timedelta(seconds=30))

    influx = InfluxV1(env.influx_url, env.influx_db)
    # The minute under way counts too: the demo's first minute would show nothing otherwise.
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    out: dict[str, Figures] = {}
    shrunk = {} if grid is None else {"durations": grid.durations, "horizon": grid.horizon}
    grid_line = None
    for name, building in buildings.items():
        update = refresh(influx, SITE, building, now, _ACCOUNTS, **shrunk)
        windows = update.outlook.windows if update.outlook is not None else ()
        if grid is not None and grid_line is None:
            grid_line = grid.line(windows)
        if update.status is not None:
            _STATUS[name] = update.status
        if update.live is None or name not in power_w:
            continue
        intensity = update.live[1]
        per_hour = power_w[name] / 1000 * intensity / 1000
        # The year account's status, as stored in carbon_account and printed by `carbon account`.
        best = grid.window_cell(windows[0]) if grid is not None and windows else "-"
        out[name] = (intensity, per_hour, _STATUS.get(name, "waiting"), best)
    return out, grid_line


def _history(env: Any, now: datetime, console: Console) -> list[str]:
    """Store the campus's recorded months (``greenwire.demo_history``), its forecasts and anomaly
    findings; the lines the demo prints of them."""
    from greenwire import demo_history
    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.wiring import cloud_broker, publisher_settings

    console.print(f"storing {demo_history.DAYS} recorded days of the campus as site {demo_history.SITE}, "
                  "training its day-ahead forecasts and looking for anomalies...", soft_wrap=True)
    try:
        settings = publisher_settings(cloud_broker(None, "greenwire-demo-anomalies"), "greenwire-demo-anomalies")
        results = demo_history.seed(InfluxV1(env.influx_url, env.influx_db), now, settings)
    except GreenwireError as exc:
        console.print(f"history not stored: {exc}")
        return []
    lines = [f"forecast and anomalies, site {demo_history.SITE}: " + r.line() for r in results]
    for line in lines:
        console.print(line, soft_wrap=True)
    return lines


_STATUS: dict[str, str] = {}
"""Each building's latest year-account status (refreshed every 30 s by the account schedule)."""


WIDE = 120
"""Below this many columns the live table drops its less needed columns instead of cutting cells."""


def _view(agent: Any, ingestor: Any, stored: int | None, started: float, speed: float,
          carbon: dict[str, Figures] | None = None, care: Any = None, *,
          width: int = WIDE, grid: str | None = None) -> Group:
    snap = agent.snapshot()
    wide = width >= WIDE
    # Narrow: no outer edge, so eight columns fit 80 characters without cutting a cell.
    table = Table(title=f"greenwire demo: site {SITE}, gateway {GATEWAY} (replay x{speed:g})", show_edge=wide)
    columns = (("device", "state", "read at (UTC)", "power kW", "energy import kWh", "gCO2e/kWh",
                "kgCO2e/h", "budget", "best 1 h", "reads", "errors") if wide else
               ("device", "state", "kW", "kWh", "g/kWh", "kg/h", "budget", "best 1h"))
    for column in columns:
        left = column in ("device", "state", "budget")
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    carbon = carbon or {}
    for device in snap.devices:
        values = device.last_values
        state = {True: "[green]online", False: "[red]offline", None: "[yellow]waiting"}[device.online]
        power = f"{values['active_power_w'] / 1000:,.1f}" if "active_power_w" in values else "-"
        energy = f"{values['energy_import_kwh']:,.{2 if wide else 0}f}" if "energy_import_kwh" in values else "-"
        figures = _carbon_cells(carbon.get(device.device.removesuffix("-main")))
        if wide:
            read_at = device.last_read.strftime("%H:%M:%S.%f")[:-3] if device.last_read else "-"
            table.add_row(device.device, state, read_at, power, energy, *figures, str(device.reads),
                          str(device.errors))
        else:
            table.add_row(device.device, state, power, energy, *figures)
    pub = snap.publisher
    stats = ingestor.stats
    footer = Text.from_markup(
        f"edge buffer [bold]{snap.buffer_readings}[/] readings   published [bold]{pub.published_readings}[/] "
        f"(seq {pub.last_seq})   broker {'[green]connected' if pub.connected else '[red]disconnected'}[/]\n"
        f"ingested [bold]{stats.readings_written}[/] readings   rejected [bold]{stats.rejected_total}[/]   "
        f"in InfluxDB [bold]{'?' if stored is None else stored}[/] points   "
        f"running {time.monotonic() - started:,.0f} s   (Ctrl-C to stop)"
    )
    parts = [table, *([Text(grid)] if grid else []), footer, *([care.view(width)] if care is not None else [])]
    return Group(*parts)


def _carbon_cells(figures: Figures | None) -> tuple[str, str, str, str]:
    if figures is None:
        return "-", "-", "[yellow]waiting", "-"
    intensity, per_hour, status, best = figures
    colour = {"on track": "green", "waiting": "yellow", "no budget": "yellow"}.get(status, "red")
    return f"{intensity:,.0f}", f"{per_hour:,.1f}", f"[{colour}]{status}", best


async def _run(env: Any, seconds: float | None, speed: float, state: Path, console: Console) -> int:
    from greenwire.cloud.ingest.config import IngestConfig
    from greenwire.cloud.ingest.pipeline import Ingestor
    from greenwire.demo_grid import DemoGrid, minute_start
    from greenwire.edge.agent import EdgeAgent, broker_settings
    from greenwire.shared.lifecycle import install_signal_handlers
    from greenwire.simulators.modbus_meter import MeterServer, SimMeter
    from greenwire.simulators.series import Replay, builtin_series

    stop = asyncio.Event()
    install_signal_handlers(stop)
    # The meters and the grid replay 2022 from REPLAY_START at the last wall-clock minute, so
    # that each minute the carbon engine accounts is one recorded hour at the default speed.
    now = datetime.now(UTC)
    anchor = minute_start(now)
    start = REPLAY_START + (now - anchor) * speed
    grid = DemoGrid(env, REPLAY_START, speed, anchor)
    servers = [
        MeterServer(
            host="127.0.0.1",
            port=0,
            meters=[SimMeter(device_id=1, replay=Replay(builtin_series(b), start=start, speed=speed))],
        )
        for b in BUILDINGS
    ]
    started = time.monotonic()
    for server in servers:
        await server.__aenter__()
    try:
        ports = {b: s.port for b, s in zip(BUILDINGS, servers, strict=True)}
        config = _edge_config(env.mqtt_url, state, ports, speed)
        agent = EdgeAgent(config, broker_settings(config))
        ingestor = Ingestor(IngestConfig.from_stack(env))
        edge_stop, ingest_stop = asyncio.Event(), asyncio.Event()
        from greenwire.demo_care import CareSite

        care = await CareSite(env, state / "care", speed).__aenter__()
        console.print(
            f"simulated meters on 127.0.0.1 ports {', '.join(map(str, ports.values()))}; "
            f"broker {env.mqtt_url}; InfluxDB {env.influx_url} database {env.influx_db}"
        )
        console.print(f"meters and grid replay 2022 from {REPLAY_START:%d %b %H:%M} at {anchor:%H:%M} UTC, "
                      f"a recorded hour every {3600 / speed:g} s", soft_wrap=True)
        async with asyncio.TaskGroup() as group:
            group.create_task(ingestor.run(ingest_stop), name="ingestor")
            group.create_task(agent.run(edge_stop), name="edge")
            grid_stop = asyncio.Event()
            group.create_task(grid.run(grid_stop), name="grid")
            # The history site's forecasts and findings take a few CPU-seconds: beside the replay.
            history = group.create_task(asyncio.to_thread(_history, env, now, console), name="history")
            stored: int | None = None
            carbon: dict[str, Figures] = {}
            grid_line: str | None = None
            power: dict[str, float] = {}
            buildings = _demo_buildings()
            _write_site_model(buildings, state.parent / "sites.yaml")
            deadline = None if seconds is None else started + seconds
            last_count = 0.0
            live = Live(console=console, refresh_per_second=4) if console.is_terminal else None
            if live is not None:
                live.start()
            try:
                while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                    if time.monotonic() - last_count >= 3:
                        stored = await asyncio.to_thread(_count_points, env.influx_url, env.influx_db)
                        power = {d.device.removesuffix("-main"): d.last_values["active_power_w"]
                                 for d in agent.snapshot().devices if "active_power_w" in d.last_values}
                        with contextlib.suppress(GreenwireError):
                            carbon, grid_line = await asyncio.to_thread(_carbon, env, buildings, power, grid)
                        last_count = time.monotonic()
                        if live is None:
                            snap = agent.snapshot()
                            console.print(
                                f"[{time.monotonic() - started:5.0f} s] read {sum(d.reads for d in snap.devices)}"
                                f"  published {snap.publisher.published_readings}"
                                f"  ingested {ingestor.stats.readings_written}"
                                f"  rejected {ingestor.stats.rejected_total}"
                                f"  in InfluxDB {stored}"
                                + "".join(f"  {b}: {c[0]:.0f} g/kWh {c[2]} best 1 h {c[3]}"
                                          for b, c in sorted(carbon.items()))
                                + care.line(), soft_wrap=True  # one line a report, for whoever parses it
                            )
                            if grid_line:
                                console.print(grid_line, soft_wrap=True)
                    if live is not None:
                        live.update(_view(agent, ingestor, stored, started, speed, carbon, care, width=console.width,
                                          grid=grid_line))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=0.5)
            finally:
                if live is not None:
                    live.stop()
                edge_stop.set()
                grid_stop.set()
                # Give the ingestor a moment to store what the edge drained on its way out.
                await asyncio.sleep(1.5)
                ingest_stop.set()
                await care.__aexit__(None, None, None)
        # The stored day and account include everything the run read, as `carbon report` will.
        with contextlib.suppress(GreenwireError):
            carbon, grid_line = await asyncio.to_thread(_carbon, env, buildings, power, grid)
        console.print(_view(agent, ingestor, _count_points(env.influx_url, env.influx_db), started, speed, carbon,
                            care, width=console.width, grid=grid_line))
        for line in history.result():
            console.print(line, soft_wrap=True)
        return 0
    finally:
        for server in servers:
            await server.__aexit__(None, None, None)


def run_demo(seconds: float | None = None, speed: float = 60.0) -> int:
    """Run the demo; return the process exit code."""
    from greenwire import stack
    from greenwire.console import table_console

    console = table_console()  # piped to a file: the whole table, not an 80-column cut
    home = stack.state_dir()
    home.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        filename=home / "demo.log",
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    quiet_libraries()  # the hub and InfluxDB are polled every few seconds: no request lines
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    env = stack.discover()
    started_stack = False
    if env is None:
        console.print("starting the local stack (Mosquitto + InfluxDB)...")
        stack.up()
        started_stack = True
        env = stack.discover()
        assert env is not None
    console.print(f"logs: {home / 'demo.log'}")
    try:
        return asyncio.run(_run(env, seconds, speed, home / "demo", console))
    except KeyboardInterrupt:
        return 130
    finally:
        if started_stack:
            console.print("stopping the local stack")
            stack.down()
