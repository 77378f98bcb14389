"""The ``greenwire`` command: one entry point, a sub-command per part of the system.

Each part keeps its own sub-app next to its code (``greenwire/commands/edge.py``,
``greenwire/commands/ingest.py``, ``greenwire/commands/sim.py``, ``greenwire/commands/stack.py``); this
module only mounts them. Sub-apps import their heavy libraries inside the
commands, so ``greenwire --help`` works on a gateway that installed only
``greenwire[edge]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from greenwire import __version__, helpformat
from greenwire.commands.anomalies import app as anomalies_app
from greenwire.commands.bms import app as bms_app
from greenwire.commands.carbon import carbon_app, import_app
from greenwire.commands.cbam import app as cbam_app
from greenwire.commands.deploy import app as deploy_app
from greenwire.commands.edge import app as edge_app
from greenwire.commands.forecast import forecast_app
from greenwire.commands.grafana import app as grafana_app
from greenwire.commands.grafana import report_command
from greenwire.commands.grid import app as grid_app
from greenwire.commands.health import app as health_app
from greenwire.commands.ingest import app as ingest_app
from greenwire.commands.sim import app as sim_app
from greenwire.commands.stack import app as stack_app
from greenwire.commands.zone import app as zone_app

helpformat.install()

app = typer.Typer(
    help="""greenwire: building-energy and health telemetry from gateways to live carbon numbers.

Data flows one way: meter -> edge agent (disk buffer) -> MQTT -> ingestor -> InfluxDB -> Grafana.

Quick start on one machine:

  greenwire stack up          # Mosquitto + InfluxDB on free loopback ports, state in .greenwire/
  greenwire demo              # simulated buildings, an edge agent and the ingestor, live view

Every command has --help.
""",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack", help="A local Mosquitto + InfluxDB for development and tests.")
app.add_typer(edge_app, name="edge", help="Run and check a gateway's edge agent.")
app.add_typer(ingest_app, name="ingest", help="Run the cloud ingestor (MQTT -> InfluxDB).")
app.add_typer(sim_app, name="sim", help="Simulated meters, indoor sensors and wearable hubs replaying real recorded data.")
app.add_typer(import_app, name="import", help="Bring outside data in: grid carbon intensity, meter history.")
app.add_typer(carbon_app, name="carbon", help="Carbon accounts of buildings.")
app.add_typer(cbam_app, name="cbam", help="EU CBAM: embedded emissions per product of industrial installations.")
app.add_typer(zone_app, name="zone", help="Zone roll-ups: a park's or county's enterprises, emissions, rankings.")
app.add_typer(health_app, name="health", help="The proactive-health pilot: vitals, alerts, carbon per participant-day.")
app.add_typer(deploy_app, name="deploy", help="Broker accounts, ACLs and TLS certificates for a deployment.")
app.add_typer(grafana_app, name="grafana", help="Grafana dashboards as code: build, push.")
app.add_typer(forecast_app, name="forecast", help="Day-ahead forecasts of energy and emissions, P10/P50/P90.")
app.add_typer(anomalies_app, name="anomalies", help="Anomalies in the meters, found before the bill.")
app.add_typer(grid_app, name="grid", help="Live grid carbon intensity from real providers.")
app.add_typer(bms_app, name="bms", help="Each building's carbon signal for building-management systems: "
              "Modbus TCP, BACnet/IP.")
app.command("report")(report_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"greenwire {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """greenwire command line."""


@app.command()
def demo(
    seconds: Annotated[
        float | None,
        typer.Option(envvar="DEMO_SECONDS", help="Stop after this many seconds (default: until Ctrl-C)."),
    ] = None,
    speed: Annotated[float, typer.Option(help="Replay speed of the recorded meter data.")] = 60.0,
) -> None:
    """Run the whole system locally: simulated buildings and a care site -> edge -> MQTT -> cloud.

    Starts the local stack if it is not running, then three simulated Eastron SDM630 meters
    replaying the real 2022 electricity of three Cambridge University buildings, a care site of
    the health pilot (a wearable hub with 12 participants and two indoor-climate sensors), two
    edge agents, the ingestor, the health service and the carbon engine, and shows a live table
    of readings, carbon figures and the care site's figures. Leaves nothing running when it
    stops (Ctrl-C, or after --seconds / DEMO_SECONDS); its data stay in .greenwire/.
    """
    from greenwire.demo import run_demo

    raise typer.Exit(run_demo(seconds=seconds, speed=speed))


@app.command()
def schema(
    which: Annotated[
        str, typer.Argument(help="readings, vitals, alert, commit, status, status-v2, status-v1 or carbon.")
    ] = "readings",
    write: Annotated[
        bool, typer.Option("--write", help="Write every shared/schemas/*.json instead of printing.")
    ] = False,
) -> None:
    """Print the JSON Schema of a wire format: greenwire.readings.v1 (default), vitals.v1, alert.v1,
    commit.v1 (what the cloud has stored, told to the gateway), status.v3 (status-v2: without the
    end-to-end commit's figures; status-v1: also without wearable sources), carbon.v1 (a
    building's carbon signal for its BMS)."""
    from greenwire.shared.commit import commit_json_schema
    from greenwire.shared.signal import carbon_json_schema
    from greenwire.shared.status import status_json_schema
    from greenwire.shared.vitals import alert_json_schema, vitals_json_schema
    from greenwire.shared.wire import batch_json_schema

    schemas = {
        "readings": ("greenwire.readings.v1", batch_json_schema),
        "vitals": ("greenwire.vitals.v1", vitals_json_schema),
        "alert": ("greenwire.alert.v1", alert_json_schema),
        "commit": ("greenwire.commit.v1", commit_json_schema),
        "status": ("greenwire.status.v3", lambda: status_json_schema(3)),
        "status-v2": ("greenwire.status.v2", lambda: status_json_schema(2)),
        "status-v1": ("greenwire.status.v1", lambda: status_json_schema(1)),
        "carbon": ("greenwire.carbon.v1", carbon_json_schema),
    }
    if which not in schemas:
        raise typer.BadParameter(f"expected one of {', '.join(schemas)}, got {which!r}")
    if write:
        for name, build in schemas.values():
            target = Path(__file__).parents[1] / "shared" / "schemas" / f"{name}.json"
            target.write_text(json.dumps(build(), indent=2, sort_keys=True) + "\n")
            typer.echo(f"wrote {target}")
    else:
        typer.echo(json.dumps(schemas[which][1](), indent=2, sort_keys=True) + "\n", nl=False)


EXTRAS = {
    "influxdb_client": "cloud", "cryptography": "cloud", "grafana_client": "cloud", "msgspec": "cloud",
    "matplotlib": "report", "pypdf": "report",
    "pymodbus": "edge", "aiomqtt": "edge", "paho": "edge", "httpx": "edge", "fhir": "edge", "jwt": "edge",
    "aiohttp": "sim",
    "lightgbm": "forecast", "sklearn": "forecast", "holidays": "forecast",
    "openpyxl": "cbam", "segno": "cbam",
    "bacpypes3": "bms",
}
"""The optional dependency each extra brings (pyproject's optional-dependencies), by import name."""


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The one-line advice for a command whose extra is not installed, or None if it is not one."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return (f"error: this command needs greenwire's {extra!r} extra ({top} is not installed): "
            f"pip install 'greenwire[{extra}]'")


def main() -> None:
    """Console-script entry point: errors meant for a person end in one line and exit code 1;
    a command whose optional dependencies are missing names the extra to install (exit 2)."""
    from greenwire.shared.errors import GreenwireError

    try:
        app()
    except GreenwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except ModuleNotFoundError as exc:
        advice = missing_extra(exc)
        if advice is None:
            raise
        typer.echo(advice, err=True)
        raise SystemExit(2) from None
    except BaseExceptionGroup as group:
        # A service's task group failing on a person's error (a token not set, say): its sentences.
        _, other = group.split(GreenwireError)
        if other is not None:
            raise
        for message in dict.fromkeys(str(exc) for exc in _leaves(group)):
            typer.echo(f"error: {message}", err=True)
        raise SystemExit(1) from None


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


if __name__ == "__main__":
    main()
