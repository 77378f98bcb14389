"""``greenwire stack``: a local Mosquitto and InfluxDB for development, demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="""A local single-node stack: Mosquitto and InfluxDB from the OS packages,
started in the background on free loopback ports, state under .greenwire/
(or $GREENWIRE_HOME).

  greenwire stack up        # start (or show the running stack)
  eval "$(greenwire stack env --export)"
  greenwire stack status
  greenwire stack down      # stop; data is kept for the next `up`

With no config given, `greenwire edge run`, `greenwire ingest run` and
`greenwire demo` use this stack.
""",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def up(
    json_output: JsonOption = False,
    secure: Annotated[
        bool, typer.Option("--secure", help="TLS only, a password per account, ACLs, no anonymous access.")
    ] = False,
    inventory: Annotated[
        Path | None,
        typer.Option(help="With --secure: the site inventory whose accounts to create (default: the demo's)."),
    ] = None,
) -> None:
    """Start Mosquitto and InfluxDB (if not already running) and print where they are.

    Both run in the background and keep running after this command returns,
    until `greenwire stack down`. Running `up` again prints the same stack.
    Data (Mosquitto's persistent sessions, InfluxDB's database "greenwire")
    and ports are kept across `down` and `up`. Logs: .greenwire/stack/*/*.log.

    With --secure the broker runs as in a deployment: mqtts:// only (a local CA
    and a certificate for localhost and 127.0.0.1), a generated password per
    gateway and service and the ACL of `greenwire deploy credentials`, anonymous
    access off. Credentials are in .greenwire/stack/secure/ (secrets 0600);
    `edge run` and `ingest run` without a config use them.
    """
    import orjson

    from greenwire import stack
    from greenwire.shared.errors import ConfigError, StackError

    if inventory is not None and not secure:
        _fail("--inventory goes with --secure")
    try:
        text = inventory.read_text(encoding="utf-8") if inventory is not None else None
        env = stack.up(secure=secure, inventory=text)
    except (StackError, ConfigError) as exc:
        _fail(str(exc))
        return
    except OSError as exc:
        _fail(f"{inventory}: {exc.strerror}")
        return
    if json_output:
        typer.echo(orjson.dumps(stack.describe(env)).decode())
        return
    typer.echo(f"stack up{' (secure)' if env.secure else ''} (state in {stack.state_dir() / 'stack'}):")
    for line in env.lines():
        typer.echo(f"  {line}")
    if env.secure is not None:
        typer.echo(f"  credentials: {env.secure.credentials} (a password file per account, 0600)")


@app.command()
def down() -> None:
    """Stop the stack (SIGTERM, SIGKILL after 10 s). Its data and ports are kept for the next `up`."""
    from greenwire import stack

    typer.echo("stack stopped" if stack.down() else "stack was not running")


@app.command()
def status(json_output: JsonOption = False) -> None:
    """Show each service: running or not, its port and URL. Exit code 3 when not fully up."""
    import orjson
    from rich.table import Table

    from greenwire import stack
    from greenwire.console import table_console

    services = stack.status()
    up_ = all(s["answering"] for s in services.values())
    if json_output:
        typer.echo(orjson.dumps({"up": up_, "services": services}).decode())
    else:
        table = Table(title=f"greenwire stack ({stack.state_dir() / 'stack'})")
        for column in ("service", "state", "pid", "url"):
            table.add_column(column)
        for name, s in services.items():
            state = "[green]up" if s["answering"] else ("[yellow]not answering" if s["running"] else "[red]down")
            table.add_row(name, state, str(s["pid"] or "-"), s["url"] or "-")
        table_console().print(table)
    if not up_:
        raise typer.Exit(3)


@app.command()
def env(
    export: Annotated[bool, typer.Option("--export", help="Prefix each line with `export `.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Print GREENWIRE_MQTT_URL, GREENWIRE_INFLUX_URL and GREENWIRE_INFLUX_DB of the running stack.

    Commands given no config read these, so tools outside greenwire (a shell,
    a notebook, Telegraf) can use the same stack:

      eval "$(greenwire stack env --export)"

    Exits 1 if the stack is not running.
    """
    import orjson

    from greenwire import stack

    found = stack.discover()
    if found is None:
        _fail("the local stack is not running: start it with `greenwire stack up`")
        return
    if json_output:
        typer.echo(orjson.dumps(stack.describe(found)).decode())
        return
    for line in stack.env_lines(found, export=export):
        typer.echo(line)
