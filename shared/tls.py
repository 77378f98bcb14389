"""TLS for MQTT clients: one way to build the context, one way to explain a refusal.

The edge publisher, the ingestor and ``carbon run`` connect over ``mqtts://``
with the same rules:

- the broker's certificate must chain to ``ca_file`` (or, without one, to the
  system's trusted CAs) and name the host of the URL (hostname verification
  is never switched off);
- TLS 1.2 or newer;
- a client certificate (``cert_file`` with ``key_file``) is sent when given,
  for brokers that require one.

The only module of ``shared`` that touches files: building an
``ssl.SSLContext`` reads the certificates it names.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from greenwire.shared.errors import ConfigError


class _ClosingSSLSocket(ssl.SSLSocket):
    """An SSL socket that closes itself when its handshake fails.

    WORKAROUND: paho-mqtt 2.1 (``Client._ssl_wrap_socket``) drops the socket
    without closing it when the handshake raises (unknown CA, wrong name), so
    every refused attempt of a reconnect loop would leave a descriptor to the
    garbage collector.
    """

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def client_context(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """An ``SSLContext`` that verifies the broker against ``ca_file`` and its host name.

    Raises ``ConfigError`` naming the file when a certificate or key cannot be loaded.
    """
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the CA certificate: {exc.strerror or exc}", path=str(ca_file)
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # create_default_context already sets these; say so where a reader looks for them.
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.sslsocket_class = _ClosingSSLSocket
    if cert_file is not None:
        try:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file is not None else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the client certificate or its key ({key_file}): {exc.strerror or exc}",
                path=str(cert_file),
            ) from exc
    return context


def explain(error: BaseException | str, host: str, ca_file: Path | None = None) -> str:
    """A one-line reason for a failed TLS connection, for a person.

    Certificate problems are named (wrong host name, unknown CA, expired);
    anything else is returned as it came.
    """
    text = str(error)
    trust = (
        f"the CA in {ca_file}"
        if ca_file is not None
        else "the system's trusted CAs (no ca_file given)"
    )
    if "Hostname mismatch" in text or "IP address mismatch" in text:
        return (
            f"TLS: the broker's certificate is not valid for {host!r} (hostname verification failed; "
            f"connect with a name the certificate lists): {text}"
        )
    if (
        "unable to get local issuer certificate" in text
        or "self-signed certificate" in text
        or ("self signed certificate" in text)
    ):
        return f"TLS: the broker's certificate is not signed by {trust}: {text}"
    if "certificate has expired" in text:
        return f"TLS: the broker's certificate has expired: {text}"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS: the broker's certificate was refused ({trust}): {text}"
    if "certificate required" in text.lower() or "TLSV13_ALERT_CERTIFICATE_REQUIRED" in text:
        return f"TLS: the broker requires a client certificate (set cert_file and key_file): {text}"
    if "timed out" in text:
        # With TLS 1.3 a broker refuses a missing or untrusted client certificate after the
        # handshake; the client only sees the connection end without a CONNACK.
        return (
            f"{text}: no answer over TLS; if the broker is up, it may require a client certificate "
            "signed by its CA (cert_file, key_file)"
        )
    return text
