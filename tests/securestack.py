"""A secure Mosquitto for the access and TLS tests: TLS only, passwords, ACLs, no anonymous access.

Everything comes from the deploy tooling under test: the accounts, password
file and ACL from ``greenwire.access.write_credentials`` (inventory below), the
CA and the broker certificate (for ``localhost`` and ``127.0.0.1``) from
``greenwire.pki``. Loaded as a pytest plugin by ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from greenwire.access import Credentials, parse_inventory, write_credentials
from greenwire.pki import CertificateAuthority, ensure_ca, issue_server
from greenwire.servers import BrokerSecurity, Mosquitto

INVENTORY = """\
sites:
  - id: campus-a
    gateways: [gw-01, gw-02]
  - id: campus-b
    gateways: [gw-01]
ingestors: [ingest]
grid_feeds:
  - {name: grid-feed, zones: [gb]}
readers:
  - {name: bms-a, sites: [campus-a]}
"""


@dataclass(frozen=True)
class SecureBroker:
    """The running broker, its CA and the credentials of every account."""

    broker: Mosquitto
    ca: CertificateAuthority
    credentials: Credentials
    root: Path

    @property
    def ca_file(self) -> Path:
        return self.ca.cert_file

    def port(self, username: str) -> int:
        """The listener of an account: the internal one for ingestors, the external one for the rest."""
        account = next(a for a in self.credentials.accounts if a.username == username)
        return self.broker.internal_port if account.internal else self.broker.port

    def url(self, username: str) -> str:
        return f"mqtts://{self.broker.host}:{self.port(username)}"

    def password_file(self, username: str) -> Path:
        account = next(a for a in self.credentials.accounts if a.username == username)
        return self.credentials.secret_path(account)

    def password(self, username: str) -> str:
        return self.password_file(username).read_text().strip()


@pytest.fixture(scope="session")
def _secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = tmp_path_factory.mktemp("secure")
    credentials = write_credentials(parse_inventory(INVENTORY), root / "credentials")
    ca = ensure_ca(root / "pki")
    server = issue_server(ca, root / "pki", ["localhost", "127.0.0.1"])
    security = BrokerSecurity(
        ca_file=ca.cert_file,
        cert_file=server.cert_file,
        key_file=server.key_file,
        external_password_file=credentials.external_password_file,
        internal_password_file=credentials.internal_password_file,
        acl_file=credentials.acl_file,
    )
    with Mosquitto(root / "mosquitto", security=security) as broker:
        yield SecureBroker(broker, ca, credentials, root)


@pytest.fixture
def secure_broker(_secure_broker: SecureBroker) -> Iterator[SecureBroker]:
    """A running TLS-only Mosquitto with the accounts of ``INVENTORY`` (restarted if a test stopped it)."""
    _secure_broker.broker.start()
    yield _secure_broker
    _secure_broker.broker.start()
