"""``greenwire deploy``: broker accounts, ACLs and TLS certificates for a real deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="""Secrets and certificates for a deployment's broker.

  greenwire deploy credentials sites.yaml --out secrets/   # passwd, acl, one password per account
  greenwire deploy certs --out secrets/pki --host broker.example.org

The broker (Mosquitto 2) then runs two TLS listeners with per_listener_settings
true and allow_anonymous false (deploy/mosquitto/greenwire.conf): the external
one for gateways, grid feeds and readers (password_file broker/passwd-external,
use_username_as_clientid true), the internal one for ingestors (password_file
broker/passwd-internal), both with acl_file broker/acl and the certificate
pki/server.crt; every client's ca_file is pki/ca.crt. Files holding secrets are
written 0600, directories 0700. docs/threat-model.md says what this stops.
""",
    no_args_is_help=True,
)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def credentials(
    inventory: Annotated[Path, typer.Argument(help="The site inventory (YAML): sites and their gateways.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into (created 0700).")],
    rotate: Annotated[bool, typer.Option(help="New passwords for every account, not only new ones.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Write the broker's password file and ACL, and one credential file per gateway and service.

    The inventory names each site's gateways and the cloud accounts:

      sites:
        - {id: campus-a, gateways: [gw-01, gw-02]}
      ingestors: [ingest]
      grid_feeds: [{name: grid-feed, zones: [gb]}]
      readers: [{name: bms-campus-a, sites: [campus-a]}]

    A gateway logs in as SITE.GATEWAY and may publish only its own readings,
    vitals and status, and read nothing; the ingestor reads data topics and
    writes only carbon and alert topics. Passwords are random (32 bytes) and
    hashed PBKDF2-SHA512 in Mosquitto's format. Running it again keeps existing
    passwords (use --rotate to replace them; delete one account's
    mqtt-password file to replace only that one) and rewrites the broker
    files: reload Mosquitto afterwards (systemctl reload mosquitto).
    Never prints a password.
    """
    import orjson

    from greenwire.access import account_dir, load_inventory, write_credentials
    from greenwire.shared.errors import ConfigError

    try:
        written = write_credentials(load_inventory(inventory), out, rotate=rotate)
    except ConfigError as exc:
        _fail(str(exc), 2)
        return
    rows = [
        {
            "username": a.username,
            "role": a.role,
            "listener": "internal" if a.internal else "external",
            "password_file": str(written.secret_path(a)),
            "new": a.username in written.created,
            "directory": str(account_dir(written.root, a)),
        }
        for a in written.accounts
    ]
    if json_output:
        typer.echo(orjson.dumps({"external_password_file": str(written.external_password_file),
                                 "internal_password_file": str(written.internal_password_file),
                                 "acl_file": str(written.acl_file), "accounts": rows}).decode())
        return
    typer.echo(f"broker: external listener password_file {written.external_password_file}")
    typer.echo(f"        internal listener password_file {written.internal_password_file}")
    typer.echo(f"        acl_file (both)                  {written.acl_file}")
    for row in rows:
        state = "new password" if row["new"] else "kept"
        typer.echo(f"  {row['role']:<9} {row['listener']:<8} {row['username']:<40} {state:<12} {row['password_file']}")


@app.command()
def certs(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory of the CA and certificates (created 0700).")],
    host: Annotated[
        list[str],
        typer.Option("--host", help="A DNS name or IP address clients use for the broker (repeat for each)."),
    ],
    client: Annotated[
        list[str] | None,
        typer.Option("--client", help="Also issue a client certificate with this name (repeat for each)."),
    ] = None,
) -> None:
    """Make (or reuse) a local CA in OUT and issue the broker's TLS certificate for every --host.

    Clients verify the broker's name against the certificate, so list every
    name and address that appears in a client's mqtts:// URL. Client
    certificates (--client campus-a.gw-01) land in OUT/clients/NAME/ for
    brokers that require them (client cert_file and key_file).
    """
    from greenwire.access import private_dir
    from greenwire.pki import ensure_ca, issue_client, issue_server

    ca = ensure_ca(out)
    server = issue_server(ca, out, host)
    typer.echo(f"CA        {ca.cert_file} (clients' ca_file)")
    typer.echo(f"broker    {server.cert_file} and {server.key_file} for {', '.join(host)}")
    for name in client or []:
        issued = issue_client(ca, private_dir(out / "clients") / name, name)
        typer.echo(f"client    {issued.cert_file} and {issued.key_file}")
