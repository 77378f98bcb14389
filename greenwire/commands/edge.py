"""``greenwire edge``: run, check and inspect a gateway's agent."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

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
    from greenwire.edge.config import load_config
    from greenwire.shared.errors import ConfigError

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
    from greenwire.edge.plan import build_plan
    from greenwire.edge.profile import load_profile

    cfg = _load(config)
    rows = []
    polls: dict[str, list[str]] = {}
    for bus in cfg.buses:
        for device in bus.devices:
            row: dict[str, object] = {
                "bus": bus.name,
                "endpoint": bus.endpoint,
                "device": device.id,
                "unit": device.unit,
                "profile": "sunspec (discovered at run time)",
                "quantities": "-",
                "requests": "-",
                "poll_interval_s": device.poll_interval_s,
            }
            if device.profile != "sunspec":
                profile = load_profile(device.profile)
                plan = build_plan(profile)
                row |= {"profile": profile.name, "quantities": len(profile.registers),
                        "requests": len(plan.requests),
                        "reads": [{"function": r.code, "address": r.address, "count": r.count} for r in plan.requests]}
                polls[device.id] = [f"FC{r.code:02d} {'input' if r.code == 4 else 'holding'} registers "
                                    f"{r.address}-{r.address + r.count - 1} ({r.count})" for r in plan.requests]
            rows.append(row)
    notes: list[str] = []
    if cfg.wearables is not None:
        from greenwire.shared.vitals import VITAL_SIGNS

        for source in cfg.wearables.sources:
            rows.append({"bus": "wearables", "endpoint": source.url, "device": source.id, "unit": "-",
                         "profile": "FHIR R4 vital signs" + (" (search)" if source.protocol == "fhir-search"
                                                               else " (greenwire cursor)"), "quantities": len(VITAL_SIGNS), "requests": 1,
                         "poll_interval_s": source.poll_interval_s})
        # Counts only: consent entries are participant ids.
        notes.append(f"wearables: {len(cfg.wearables.consented())} consenting participants, pseudonym key "
                     f"{cfg.wearables.key_id}" + ("" if cfg.wearables.key_file.exists() else
                     f" (key file {cfg.wearables.key_file} not there yet: run `greenwire edge keygen` on the gateway)"))
    if json_output:
        import orjson

        typer.echo(orjson.dumps({"gateway": cfg.gateway, "site": cfg.site, "devices": rows, "notes": notes}).decode())
        return
    # One block per bus and device rather than a wide table: readable at 80 columns, and whole
    # when piped to a file.
    typer.echo(f"gateway {cfg.gateway} at site {cfg.site}: config OK")
    for bus_name in dict.fromkeys(str(r["bus"]) for r in rows):
        members = [r for r in rows if r["bus"] == bus_name]
        typer.echo(f"\n{bus_name}  {members[0]['endpoint']}")
        for r in members:
            unit = f"unit {r['unit']}  " if r["unit"] != "-" else ""
            typer.echo(f"  {r['device']}  {unit}{r['profile']}  every {r['poll_interval_s']:g} s  "
                       f"{r['quantities']} quantities")
            for line in polls.get(str(r["device"]), []):
                typer.echo(f"      {line}")
    for note in notes:
        typer.echo(note)


@app.command()
def pseudonym(
    config: ConfigArg,
    subject: Annotated[str, typer.Option(help="The participant's id at the hub: Patient/ID, ID or system|value.")],
) -> None:
    """Print a participant's pseudonym under this gateway's key (run it ON the gateway).

    For a participant who asks for their data to be erased: give the pseudonym, never the id,
    to `greenwire health erase --pseudonym ...` in the cloud. Nothing is logged.
    """
    from greenwire.edge.fhir import consent_key

    cfg = _load(config)
    if cfg.wearables is None:
        typer.echo(f"error: {config} has no wearables section", err=True)
        raise typer.Exit(2)
    typer.echo(cfg.wearables.pseudonymiser()(consent_key(subject)))


@app.command()
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the key, e.g. /etc/greenwire/pseudonym.key.")],
    force: Annotated[bool, typer.Option(help="Replace an existing key (every pseudonym changes).")] = False,
) -> None:
    """Make the gateway's pseudonym key: 256 random bits, mode 0600. Run it ON the gateway.

    The key turns participants' ids into keyed-HMAC pseudonyms; it must never leave the
    gateway (it is not part of `greenwire edge bundle`). To rotate (a new pilot), make a new
    key and change wearables.key_id in the config: every participant gets a new pseudonym.
    """
    import os
    import secrets

    if path.exists() and not force:
        typer.echo(f"error: {path} exists (use --force to replace it: every pseudonym changes)", err=True)
        raise typer.Exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    typer.echo(f"wrote {path} (mode 0600); keep it on this gateway")


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
    from greenwire.edge.agent import EdgeAgent, broker_settings
    from greenwire.shared.errors import GreenwireError
    from greenwire.shared.lifecycle import install_signal_handlers
    from greenwire.shared.logs import setup_logging
    from greenwire.stack import discover

    setup_logging(log_level)
    cfg = _load(config)
    stack = discover() if cfg.mqtt is None else None
    try:
        if stack is not None and stack.secure is not None:  # greenwire stack up --secure: this gateway's account
            from greenwire.edge.config import MqttConfig

            mqtt = MqttConfig(**stack.secure.gateway_mqtt(stack.mqtt_url, cfg.site, cfg.gateway))
            cfg = cfg.model_copy(update={"mqtt": mqtt})
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


@app.command()
def schema() -> None:
    """Print the JSON Schema of the edge config, for editors (YAML language servers) and CI checks.

    Example, with the YAML language server: put this line at the top of edge.yaml

        # yaml-language-server: $schema=edge-config.schema.json

    after `greenwire edge schema > edge-config.schema.json`.
    """
    import orjson

    from greenwire.edge.config import EdgeConfig

    typer.echo(orjson.dumps(EdgeConfig.model_json_schema(), option=orjson.OPT_INDENT_2).decode())


@app.command()
def bundle(
    config: ConfigArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The tarball to write (default gw-ID-HASH.tar.gz).")
    ] = None,
) -> None:
    """Pack what a gateway needs into one tarball: config, systemd unit, secrets, a README, the config hash.

    The config is validated first; files it refers to (a password file, a custom profile)
    are copied in and the config is rewritten to point at their installed paths under
    /etc/greenwire. Copy the tarball to the gateway and follow its README.
    """
    from greenwire.edge import bundle as bundles
    from greenwire.shared.errors import ConfigError

    cfg = _load(config)
    try:
        made = bundles.build(config, cfg)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for warning in made.warnings:
        typer.echo(f"warning: {warning}", err=True)
    target = output or Path(f"{made.prefix}.tar.gz")
    bundles.write(made, target)
    typer.echo(f"wrote {target} ({len(made.files)} files, config hash {cfg.config_hash})")


# The installer's tools at the bus (probe, scan) register on this app from their own module.
from greenwire.commands import edge_tools  # noqa: E402, F401
