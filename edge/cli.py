"""``greenwire edge``: run, check and inspect a gateway's agent."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from edge.modbus import ModbusBus
    from edge.plan import ReadPlan

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
                row |= {"profile": profile.name, "quantities": len(profile.registers),
                        "requests": len(build_plan(profile).requests)}
            rows.append(row)
    notes: list[str] = []
    if cfg.wearables is not None:
        from shared.vitals import VITAL_SIGNS

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
    table = Table(title=f"gateway {cfg.gateway} at site {cfg.site}: config OK")
    for column in rows[0]:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)
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
    from edge.fhir import consent_key

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
    from edge.agent import EdgeAgent, broker_settings, install_signal_handlers
    from greenwire.logs import setup_logging
    from greenwire.stack import discover
    from shared.errors import GreenwireError

    setup_logging(log_level)
    cfg = _load(config)
    stack = discover() if cfg.mqtt is None else None
    try:
        if stack is not None and stack.secure is not None:  # greenwire stack up --secure: this gateway's account
            from edge.config import MqttConfig

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

    from edge.config import EdgeConfig

    typer.echo(orjson.dumps(EdgeConfig.model_json_schema(), option=orjson.OPT_INDENT_2).decode())


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
    from rich.console import Console
    from rich.table import Table

    from edge.modbus import ModbusBus
    from shared.errors import DeviceError
    from shared.quantities import QUANTITIES

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
    Console().print(table)


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
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from edge.modbus import ModbusBus
    from edge.plan import build_plan
    from edge.profile import list_profiles, load_profile

    if not 1 <= first <= last <= 247:
        typer.echo("error: unit ids are 1..247 and --first must not exceed --last", err=True)
        raise typer.Exit(2)
    cfg = _load(config)
    bus_config = next((b for b in cfg.buses if b.name == bus), None)
    if bus_config is None:
        typer.echo(f"error: no bus {bus!r} in {config} (buses: {', '.join(b.name for b in cfg.buses)})", err=True)
        raise typer.Exit(2)
    plans = {name: build_plan(load_profile(name)) for name in list_profiles()}
    first_requests = {(r.function, r.address, r.count) for p in plans.values() for r in p.requests[:1]}

    async def run() -> list[dict[str, object]]:
        modbus = ModbusBus(bus_config, lambda reading: None)
        found: list[dict[str, object]] = []
        try:
            with Progress(transient=True) as progress:
                task = progress.add_task(f"scanning {bus_config.endpoint}", total=last - first + 1)
                for unit in range(first, last + 1):
                    for function, address, count in sorted(first_requests):
                        if await modbus.try_unit(unit, function, address, count) is not None:
                            found.append({"unit": unit, "profiles": await _guess(modbus, unit, plans)})
                            break
                    progress.advance(task)
        finally:
            await modbus.close()
        return found

    found = asyncio.run(run())
    if json_output:
        import orjson

        typer.echo(orjson.dumps({"bus": bus, "endpoint": bus_config.endpoint, "found": found}).decode())
        return
    table = Table(title=f"{len(found)} unit(s) answered on {bus_config.endpoint}")
    table.add_column("unit", justify="right")
    table.add_column("likely profiles")
    for entry in found:
        table.add_row(str(entry["unit"]), ", ".join(entry["profiles"]) or "(none of the shipped profiles fits)")  # type: ignore[arg-type]
    Console().print(table)


async def _guess(modbus: ModbusBus, unit: int, plans: dict[str, ReadPlan]) -> list[str]:
    """Shipped profiles whose every request the unit answers with values that look like a meter's."""
    fits: list[str] = []
    for name, plan in plans.items():
        responses: list[list[int]] = []
        for request in plan.requests:
            words = await modbus.try_unit(unit, request.function, request.address, request.count)
            if words is None:
                break
            responses.append(words)
        else:
            values = plan.decode(responses)
            voltages = [v for k, v in values.items() if k.startswith("voltage_l") and k.count("_") == 2]
            frequency = values.get("frequency_hz")
            if frequency is not None and 45 <= frequency <= 65 and voltages and all(80 <= v <= 500 for v in voltages):
                fits.append(name)
    return fits


BUNDLE_README = """greenwire edge bundle for gateway {gateway} (site {site})
config hash {config_hash}, made {made} by greenwire {version}

Contents
  edge.yaml                 the gateway's config (validated when the bundle was made)
  greenwire-edge.service    systemd unit
  secrets/                  files the config refers to (passwords, certificates), mode 0600
  SHA256SUMS                checksums of everything above

On the gateway (Raspberry Pi OS / Debian / Ubuntu), as root:
  sha256sum -c SHA256SUMS
  python3 -m venv /opt/greenwire && /opt/greenwire/bin/pip install 'greenwire[edge]'
  useradd --system --home /var/lib/greenwire greenwire || true
  install -d -m 0750 -o greenwire /etc/greenwire
  install -m 0640 -o root -g greenwire edge.yaml /etc/greenwire/edge.yaml
  cp -r secrets /etc/greenwire/ && chown -R root:greenwire /etc/greenwire/secrets && chmod 0640 /etc/greenwire/secrets/*
  install -m 0644 greenwire-edge.service /etc/systemd/system/
  # with wearables: make the pseudonym key here, on the gateway; it never leaves it
  #   /opt/greenwire/bin/greenwire edge keygen KEY_FILE && chown root:greenwire KEY_FILE && chmod 0640 KEY_FILE
  systemctl daemon-reload && systemctl enable --now greenwire-edge
  journalctl -u greenwire-edge -f
"""


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
    import hashlib
    import io
    import tarfile
    import time as time_
    from datetime import UTC, datetime

    from greenwire import __version__

    cfg = _load(config)
    text = config.read_text(encoding="utf-8")
    files: dict[str, tuple[bytes, int]] = {}
    secret_files = _wearable_files(cfg)
    for path in _referenced_files(cfg, config.parent) + secret_files:
        secret = "password" in path.name or path.suffix in (".pem", ".key", ".crt") or path in secret_files
        name = f"secrets/{path.name}" if secret else f"profiles/{path.name}"
        files[name] = (path.read_bytes(), 0o600 if name.startswith("secrets/") else 0o644)
        spellings = {str(path)}
        if path.is_relative_to(config.parent):
            spellings.add(str(path.relative_to(config.parent)))
        for spelled in sorted(spellings, key=len, reverse=True):
            text = text.replace(spelled, f"/etc/greenwire/{name}")
    unit = (Path(__file__).parent / "systemd" / "greenwire-edge.service").read_bytes()
    made = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    readme = BUNDLE_README.format(gateway=cfg.gateway, site=cfg.site, config_hash=cfg.config_hash, made=made,
                                  version=__version__).encode()
    files = {"edge.yaml": (text.encode(), 0o640), "greenwire-edge.service": (unit, 0o644), "README": (readme, 0o644),
             **files}
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, (data, _) in sorted(files.items()))
    files["SHA256SUMS"] = (sums.encode(), 0o644)
    target = output or Path(f"{cfg.gateway}-{cfg.config_hash}.tar.gz")
    prefix = f"{cfg.gateway}-{cfg.config_hash}"
    with tarfile.open(target, "w:gz") as tar:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(f"{prefix}/{name}")
            info.size, info.mode, info.mtime = len(data), mode, int(time_.time())
            tar.addfile(info, io.BytesIO(data))
    typer.echo(f"wrote {target} ({len(files)} files, config hash {cfg.config_hash})")


def _wearable_files(cfg: object) -> list[Path]:
    """The consent list, hub tokens and SMART client keys travel to the gateway (as secrets); the
    pseudonym key never does."""
    from edge.config import EdgeConfig

    assert isinstance(cfg, EdgeConfig)
    if cfg.wearables is None:
        return []
    files = [cfg.wearables.consent_file] + [s.token_file for s in cfg.wearables.sources]
    files += [s.smart.key_file for s in cfg.wearables.sources if s.smart is not None]
    return [f for f in files if f is not None]


def _referenced_files(cfg: object, base: Path) -> list[Path]:
    """Files a config points at that must travel with it: password, TLS files and custom profiles."""
    from edge.config import EdgeConfig
    from edge.profile import PROFILES_DIR

    assert isinstance(cfg, EdgeConfig)
    found: list[Path] = []
    if cfg.mqtt is not None:
        m = cfg.mqtt
        for secret in (m.password_file, m.ca_file, m.cert_file, m.key_file):
            if secret is not None:
                found.append(secret if secret.is_absolute() else base / secret)
    for bus in cfg.buses:
        for device in bus.devices:
            profile = Path(device.profile)
            if profile.suffix in (".yaml", ".yml") and profile.parent != PROFILES_DIR and profile not in found:
                found.append(profile)
    return found
