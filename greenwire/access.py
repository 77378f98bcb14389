"""Broker access control: who may connect to Mosquitto and which topics each may touch.

A site inventory names the gateways of each site and the cloud services::

    sites:
      - id: campus-a
        gateways: [gw-01, gw-02]
    ingestors: [ingest]          # `greenwire ingest run`, `carbon run`, `anomalies run`
    grid_feeds:                  # who may publish grid carbon intensity, per zone
      - {name: grid-feed, zones: [gb]}
    readers:                     # building-management systems: carbon signal and alerts
      - {name: bms-campus-a, sites: [campus-a]}

From it come, per account, a username, a random password and the ACL lines
(``acl_text``), and the Mosquitto password files (``passwd_text``). What each
account may do (Mosquitto denies everything not granted, ``allow_anonymous false``):

=============  ==========================================================  ==============================
account        publish                                                     subscribe (read)
=============  ==========================================================  ==============================
gateway        ``greenwire/v1/{site}/{gateway}/readings|vitals|status``     ``greenwire/v1/{site}/{gateway}/commit``
ingestor       ``greenwire/v1/{site}/carbon/#``, ``.../{site}/alerts/#``,   ``greenwire/v1/+/+/readings``,
               ``.../{site}/anomalies/#`` for each site of the inventory;  ``.../vitals``, ``.../status``,
               ``greenwire/v1/+/+/commit``                                 ``greenwire/v1/grid/+/intensity``
grid feed      ``greenwire/v1/grid/{zone}/intensity|forecast``, its zones  nothing
reader         nothing                                                     ``greenwire/v1/{site}/carbon/#``,
                                                                           ``.../alerts/#``, ``.../anomalies/#``
=============  ==========================================================  ==============================

The broker has two listeners, each with its own password file
(``per_listener_settings true``), so that no account can take over another's
session by connecting with its client id:

- *external* (gateways, grid feeds, readers: devices and systems outside the
  cloud): ``use_username_as_clientid true``, so each client's id is its username
  whatever it asks for; ``broker/passwd-external``.
- *internal* (ingestors, which need stable client ids of their own for their
  persistent sessions): ``broker/passwd-internal``; listen on a private address.

A gateway's username is ``{site}.{gateway}``: gateway ids are unique only within
a site, and ``.`` is not an id character, so the name is unambiguous. The
gateway ids ``carbon``, ``alerts`` and ``anomalies`` are refused: those words own
their branch of each site's tree (the carbon signal, alerts and anomaly findings,
written by the cloud services).

Passwords are 32 random bytes (URL-safe base64). The password file holds
PBKDF2-SHA512 hashes in Mosquitto's ``$7$`` format, computed here with
``hashlib`` (no ``mosquitto_passwd`` needed on the machine that deploys; the
unit tests check the format against ``mosquitto_passwd`` itself). Stretching
adds little to a 256-bit random password, so the iteration count stays
moderate: every CONNECT pays for it on the broker.

Pure functions apart from ``write_credentials``, which writes the files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from greenwire.shared.errors import ConfigError
from greenwire.shared.topics import PREFIX, RESERVED_GATEWAY_IDS, RESERVED_SITE_IDS
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import LocatedValueError, load_model

PBKDF2_ITERATIONS: Final = 1000
"""Iterations of PBKDF2-SHA512 per password (Mosquitto's own tool uses 101)."""
SALT_BYTES: Final = 12
"""Salt length ``mosquitto_passwd`` uses."""
PASSWORD_BYTES: Final = 32

RESERVED_BRANCHES: Final = frozenset(RESERVED_GATEWAY_IDS | {"carbon", "alerts", "anomalies"})
SERVICE_BRANCHES: Final = ("carbon", "alerts", "anomalies")
"""The branches of each site's tree that the cloud services write and readers read."""
"""Words that own a branch below ``greenwire/v1/{site}/``: never a gateway id."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SiteEntry(BaseModel):
    """One site and its gateways."""

    model_config = _FROZEN

    id: Id
    gateways: tuple[Id, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.id in RESERVED_SITE_IDS:
            raise LocatedValueError(f"site id {self.id!r} is reserved", loc=("id",))
        seen: set[str] = set()
        for g, gateway in enumerate(self.gateways):
            if gateway in RESERVED_BRANCHES:
                raise LocatedValueError(
                    f"gateway id {gateway!r} is reserved: greenwire/v1/{self.id}/{gateway}/ belongs to the cloud",
                    loc=("gateways", g),
                )
            if gateway in seen:
                raise LocatedValueError(f"gateway {gateway!r} is listed twice", loc=("gateways", g))
            seen.add(gateway)
        return self


class GridFeedEntry(BaseModel):
    """An account that publishes grid carbon intensity for some zones."""

    model_config = _FROZEN

    name: Id
    zones: tuple[Id, ...] = Field(min_length=1)


class ReaderEntry(BaseModel):
    """An account that reads the carbon signal of some sites (a building-management system)."""

    model_config = _FROZEN

    name: Id
    sites: tuple[Id, ...] = Field(min_length=1)


class Inventory(BaseModel):
    """The accounts of one broker."""

    model_config = _FROZEN

    sites: tuple[SiteEntry, ...] = Field(min_length=1)
    ingestors: tuple[Id, ...] = Field(default=("ingest",), min_length=1)
    grid_feeds: tuple[GridFeedEntry, ...] = ()
    readers: tuple[ReaderEntry, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Self:
        site_ids = [s.id for s in self.sites]
        for s, site in enumerate(site_ids):
            if site in site_ids[:s]:
                raise LocatedValueError(f"site {site!r} is listed twice", loc=("sites", s, "id"))
        names: set[str] = set()
        for key, values in (
            ("ingestors", self.ingestors),
            ("grid_feeds", tuple(f.name for f in self.grid_feeds)),
            ("readers", tuple(r.name for r in self.readers)),
        ):
            for i, name in enumerate(values):
                if name in names:
                    raise LocatedValueError(f"account name {name!r} is used twice", loc=(key, i))
                names.add(name)
        for r, reader in enumerate(self.readers):
            unknown = [s for s in reader.sites if s not in site_ids]
            if unknown:
                raise LocatedValueError(f"unknown site {unknown[0]!r}", loc=("readers", r, "sites"))
        return self

    def accounts(self) -> list[Account]:
        """Every account, gateways first, in inventory order."""
        out = [Account.for_gateway(s.id, g) for s in self.sites for g in s.gateways]
        sites = tuple(s.id for s in self.sites)
        out += [Account.for_ingestor(name, sites) for name in self.ingestors]
        out += [Account.for_grid_feed(f.name, f.zones) for f in self.grid_feeds]
        out += [Account.for_reader(r.name, r.sites) for r in self.readers]
        return out


@dataclass(frozen=True, slots=True)
class Account:
    """A broker user and what it may publish and read."""

    username: str
    role: str
    """``gateway``, ``ingestor``, ``grid-feed`` or ``reader``."""
    write: tuple[str, ...]
    read: tuple[str, ...]
    site: str | None = None
    gateway: str | None = None

    @property
    def internal(self) -> bool:
        """True for accounts of the internal listener (ingestors); the rest use the external one."""
        return self.role == "ingestor"

    @classmethod
    def for_gateway(cls, site: str, gateway: str) -> Account:
        base = f"{PREFIX}/{site}/{gateway}"
        return cls(
            username=gateway_username(site, gateway),
            role="gateway",
            write=(f"{base}/readings", f"{base}/vitals", f"{base}/status"),
            read=(f"{base}/commit",),
            site=site,
            gateway=gateway,
        )

    @classmethod
    def for_ingestor(cls, name: str, sites: tuple[str, ...]) -> Account:
        write = tuple(f"{PREFIX}/{site}/{branch}/#" for site in sites for branch in SERVICE_BRANCHES)
        write += (f"{PREFIX}/+/+/commit",)
        read = (
            f"{PREFIX}/+/+/readings",
            f"{PREFIX}/+/+/vitals",
            f"{PREFIX}/+/+/status",
            f"{PREFIX}/grid/+/intensity",
        )
        return cls(username=name, role="ingestor", write=write, read=read)

    @classmethod
    def for_grid_feed(cls, name: str, zones: tuple[str, ...]) -> Account:
        return cls(username=name, role="grid-feed", write=tuple(f"{PREFIX}/grid/{z}/{leaf}" for z in zones
                                                                 for leaf in ("intensity", "forecast")), read=())

    @classmethod
    def for_reader(cls, name: str, sites: tuple[str, ...]) -> Account:
        read = tuple(f"{PREFIX}/{s}/{branch}/#" for s in sites for branch in SERVICE_BRANCHES)
        return cls(username=name, role="reader", write=(), read=read)


def gateway_username(site: str, gateway: str) -> str:
    """The broker username of a gateway: ``{site}.{gateway}``."""
    return f"{site}.{gateway}"


def acl_text(accounts: list[Account]) -> str:
    """A Mosquitto ``acl_file``: a ``user`` block per account; nothing is granted outside them."""
    lines = [
        "# greenwire broker ACL, generated by `greenwire deploy credentials`; do not edit by hand.",
        "# Anything not granted here is denied (no anonymous access, no pattern lines).",
    ]
    for account in accounts:
        lines += ["", f"# {account.role}", f"user {account.username}"]
        lines += [f"topic write {topic}" for topic in account.write]
        lines += [f"topic read {topic}" for topic in account.read]
    return "\n".join(lines) + "\n"


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A Mosquitto 2 password hash: ``$7$iterations$base64(salt)$base64(PBKDF2-SHA512)``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches a ``$7$`` hash (as Mosquitto checks it)."""
    try:
        _, kind, iterations, salt, digest = encoded.split("$")
        if kind != "7":
            return False
        expected = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, base64.b64decode(digest))


def passwd_text(hashes: dict[str, str]) -> str:
    """A Mosquitto ``password_file``: ``username:hash`` per line."""
    return "".join(f"{username}:{encoded}\n" for username, encoded in hashes.items())


def new_password() -> str:
    """A random password: 32 bytes, URL-safe base64 (no ``:`` or whitespace)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


# -- files -----------------------------------------------------------------------------------


def write_private(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write a file that is never readable by others, not even for an instant.

    The file is created with ``mode`` (not the umask's default and a chmod after)
    under a temporary name, then renamed over ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        os.chmod(temporary, mode)  # the umask may have taken bits away from os.open's mode
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@dataclass(frozen=True, slots=True)
class Credentials:
    """Where ``write_credentials`` put everything."""

    root: Path
    external_password_file: Path
    """Gateways, grid feeds and readers: the listener whose client ids are the usernames."""
    internal_password_file: Path
    """Ingestors: the listener for clients with stable client ids of their own."""
    acl_file: Path
    accounts: tuple[Account, ...]
    created: tuple[str, ...]
    """Usernames that got a new password (the others kept theirs)."""

    def secret_path(self, account: Account) -> Path:
        return account_dir(self.root, account) / "mqtt-password"


def account_dir(root: Path, account: Account) -> Path:
    """The directory of one account's credential files."""
    if account.role == "gateway":
        assert account.site is not None and account.gateway is not None
        return root / "gateways" / account.site / account.gateway
    return root / "services" / account.username


def write_credentials(inventory: Inventory, root: Path, *, rotate: bool = False) -> Credentials:
    """Write the broker's password and ACL files and each account's credentials under ``root``.

    Layout (every secret 0600, every directory 0700)::

        broker/passwd-external                  password_file of the external listener (hashes only)
        broker/passwd-internal                  password_file of the internal listener (hashes only)
        broker/acl                              acl_file of both listeners
        gateways/{site}/{gateway}/mqtt-password the gateway's password
        gateways/{site}/{gateway}/mqtt.yaml     the edge config's mqtt section for it
        services/{name}/mqtt-password           ingestors, grid feeds, readers

    An account that already has a password file keeps its password (adding a
    gateway does not log every other one out) unless ``rotate``. Accounts no
    longer in the inventory disappear from the broker files; their old
    credential directories are left for the operator to remove.
    """
    root = private_dir(root)
    broker_dir = private_dir(root / "broker")
    accounts = inventory.accounts()
    hashes: dict[str, str] = {}
    created: list[str] = []
    for account in accounts:
        directory = account_dir(root, account)
        current = root
        for part in directory.relative_to(root).parts:
            current = private_dir(current / part)
        secret = directory / "mqtt-password"
        password = None if rotate else _existing_password(secret)
        if password is None:
            password = new_password()
            write_private(secret, password + "\n")
            created.append(account.username)
        hashes[account.username] = hash_password(password)
        if account.role == "gateway":
            write_private(directory / "mqtt.yaml", gateway_mqtt_yaml(account), mode=0o644)
    internal = {a.username for a in accounts if a.internal}
    external_file, internal_file = broker_dir / "passwd-external", broker_dir / "passwd-internal"
    write_private(external_file, passwd_text({u: h for u, h in hashes.items() if u not in internal}))
    write_private(internal_file, passwd_text({u: h for u, h in hashes.items() if u in internal}))
    write_private(broker_dir / "acl", acl_text(accounts), mode=0o644)
    return Credentials(root, external_file, internal_file, broker_dir / "acl", tuple(accounts), tuple(created))


def gateway_mqtt_yaml(account: Account) -> str:
    """The ``mqtt`` section of a gateway's edge config that goes with its credentials."""
    return (
        "# The mqtt section for this gateway's edge config; set url to your broker.\n"
        "mqtt:\n"
        "  url: mqtts://broker.example.org:8883\n"
        f"  username: {account.username}\n"
        "  password_file: /etc/greenwire/secrets/mqtt-password\n"
        "  ca_file: /etc/greenwire/secrets/ca.crt\n"
    )


def _existing_password(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    return value or None


def parse_inventory(text: str, *, source: str = "<inventory>") -> Inventory:
    """Validate an inventory's YAML; ``ConfigError`` naming the line on any problem."""
    return load_model(text, Inventory, source=source)


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    return parse_inventory(text, source=str(path))
