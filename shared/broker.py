"""What every MQTT config section shares (the edge's ``mqtt:`` and the ingestor's): the broker's
URL, the TLS files, and what follows from them."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from greenwire.shared.tls import client_context, explain
from greenwire.shared.yamlconfig import checked_url


class BrokerEndpoint(BaseModel):
    """A broker URL (``mqtt://`` or ``mqtts://``) with the TLS files an ``mqtts://`` one may use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="mqtt://host:port, or mqtts://host:port for TLS.")
    ca_file: Path | None = Field(
        default=None,
        description="mqtts: the CA the broker's certificate must chain to (default: the system's). "
        "The broker's host name is always verified.",
    )
    cert_file: Path | None = Field(
        default=None, description="mqtts: a client certificate, for brokers that require one."
    )
    key_file: Path | None = Field(
        default=None, description="mqtts: the client certificate's private key."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checked_url(value, ("mqtt", "mqtts"), "mqtt://host:port or mqtts://host:port")

    @model_validator(mode="after")
    def _tls_files(self) -> Self:
        given = [
            name for name in ("ca_file", "cert_file", "key_file") if getattr(self, name) is not None
        ]
        if given and not self.tls:
            raise ValueError(f"{', '.join(given)}: only for an mqtts:// url")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give cert_file and key_file together")
        return self

    @property
    def host(self) -> str:
        """The broker's host name or address."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 for mqtts, when the URL has none)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        """True for ``mqtts://``."""
        return urlsplit(self.url).scheme == "mqtts"

    def tls_context(self) -> ssl.SSLContext | None:
        """For ``mqtts://``: verifies the broker against ``ca_file`` and its host name; else None."""
        return client_context(self.ca_file, self.cert_file, self.key_file) if self.tls else None

    def explain(self, error: BaseException) -> str:
        """Why connecting failed, in words (TLS certificate problems named)."""
        return explain(error, self.host, self.ca_file) if self.tls else str(error)
