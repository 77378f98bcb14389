"""A small private certificate authority for the broker's TLS listener (``cryptography``).

``ensure_ca`` makes (or reuses) a CA under a directory; ``issue_server`` a
broker certificate whose subject alternative names are the host names and IP
addresses clients use in their ``mqtts://`` URL (clients verify the name, so a
certificate for ``localhost`` is refused at ``127.0.0.1`` unless both are
listed); ``issue_client`` a client certificate for brokers that require one::

    ca = ensure_ca(root)                               # root/ca.crt, root/ca.key
    issue_server(ca, root, ["broker.example.org", "192.0.2.5"])
    issue_client(ca, root, "campus-a.gw-01")

Keys are ECDSA P-256; private keys are written 0600. The CA may only sign
end-entity certificates (path length 0); server certificates are for server
authentication only, client certificates for client authentication only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from greenwire.access import private_dir, write_private

CA_DAYS: Final = 3650
LEAF_DAYS: Final = 825
"""The longest leaf validity clients commonly accept."""


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA's certificate and key, and where the certificate is (clients' ``ca_file``)."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_file: Path


@dataclass(frozen=True, slots=True)
class Issued:
    """Files of an issued certificate."""

    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "greenwire"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def ensure_ca(directory: Path, name: str = "greenwire local CA") -> CertificateAuthority:
    """The CA in ``directory`` (``ca.crt``, ``ca.key``), created when absent."""
    directory = private_dir(directory)
    cert_file, key_file = directory / "ca.crt", directory / "ca.key"
    if cert_file.is_file() and key_file.is_file():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file}: expected an EC private key")
        return CertificateAuthority(cert, key, cert_file)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_file, _key_pem(key))
    write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return CertificateAuthority(cert, key, cert_file)


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    if not names:
        raise ValueError("a server certificate needs at least one host name or IP address")
    return x509.SubjectAlternativeName(names)


def _issue(
    ca: CertificateAuthority, common_name: str, usage: x509.ObjectIdentifier, san: x509.SubjectAlternativeName | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca.key, hashes.SHA256()), key


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    directory = private_dir(directory)
    cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
    write_private(key_file, _key_pem(key))
    write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return Issued(cert_file, key_file)


def issue_server(ca: CertificateAuthority, directory: Path, hosts: Iterable[str], *, stem: str = "server") -> Issued:
    """A broker certificate valid for ``hosts`` (DNS names and IP addresses), written to ``directory``."""
    hosts = list(hosts)
    cert, key = _issue(ca, hosts[0] if hosts else "broker", ExtendedKeyUsageOID.SERVER_AUTH, _san(hosts))
    return _write(directory, stem, cert, key)


def issue_client(ca: CertificateAuthority, directory: Path, common_name: str) -> Issued:
    """A client certificate with ``common_name`` (the account's username), written to ``directory``."""
    cert, key = _issue(ca, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, None)
    return _write(directory, "client", cert, key)
