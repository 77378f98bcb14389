"""The exception tree of greenwire.

Every error the project raises on purpose derives from ``GreenwireError``,
so a command line or a service loop can tell "our" failures (with a message
meant for a person) from bugs::

    GreenwireError
    ├── ConfigError            a config or profile file is invalid (file, line, field)
    ├── ContractError          data does not satisfy the wire contract
    │   ├── TopicError         a topic or id does not match greenwire/v1/...
    │   └── EncodeError        a value cannot be written as line protocol
    ├── DeviceError            a field device (meter, wearable gateway) failed
    ├── BrokerError            the MQTT broker refused or dropped us
    ├── StoreError             the time-series database refused or is unreachable
    │   └── StoreRejected      it answered and refused the data (do not retry as is)
    ├── BufferFull             the gateway's disk buffer cannot grow (its disk is full)
    └── StackError             the local stack could not start or stop

Errors from pymodbus, aiomqtt/paho and the InfluxDB clients are translated
into these at the one place each library is called, with ``raise ... from``.
"""

from __future__ import annotations


class GreenwireError(Exception):
    """Base of every error greenwire raises on purpose."""


class ConfigError(GreenwireError):
    """A configuration or profile file is invalid.

    ``str()`` is a complete message for a person: file, line and field.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        where = path or ""
        if path and line is not None:
            where = f"{path}:{line}" if column is None else f"{path}:{line}:{column}"
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.column = column


class ContractError(GreenwireError):
    """Data does not satisfy the greenwire wire contract."""


class TopicError(ContractError):
    """A topic or an id is not valid under ``greenwire/v1``."""


class EncodeError(ContractError):
    """A value cannot be encoded as InfluxDB line protocol."""


class DeviceError(GreenwireError):
    """A field device did not answer or answered with an error."""


class BrokerError(GreenwireError):
    """The MQTT broker is unreachable or refused the client."""


class StoreError(GreenwireError):
    """The time-series database is unreachable or failed; retrying may help."""


class StoreRejected(StoreError):
    """The database answered and refused the data; retrying the same data will not help."""


class BufferFull(GreenwireError):
    """The gateway's disk buffer refused a write because its disk (or file limit) is full."""


class StackError(GreenwireError):
    """The local development stack could not be started, found or stopped."""
