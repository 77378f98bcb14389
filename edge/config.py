"""Edge agent configuration: YAML in, one frozen, cross-checked model out.

A config describes one gateway::

    gateway: gw-01
    site: campus-a
    mqtt:
      url: mqtt://broker.example.org:1883
    buffer:
      path: /var/lib/greenwire/buffer.sqlite
    buses:
      - name: plant-room
        type: tcp
        host: 192.0.2.10
        port: 502
        devices:
          - id: main-incomer
            unit: 1
            profile: eastron-sdm630
            poll_interval_s: 10

Everything that can be checked before the agent starts is checked here, so a
bad config never reaches a roof: ids, ports, intervals, unique device ids on
the gateway, unique unit ids on each bus, a timeout that fits in the poll
interval, and that every profile exists and loads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from greenwire.shared.broker import BrokerEndpoint
from greenwire.shared.errors import ConfigError
from greenwire.shared.topics import RESERVED_GATEWAY_IDS, RESERVED_SITE_IDS
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import (
    LocatedValueError,
    checked_url,
    load_model,
    read_config,
    relative_to_config,
)

STANDARD_BAUDRATES: Final = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DEFAULT_STATE_DIR = Path(".greenwire") / "edge"


class MqttConfig(BrokerEndpoint):
    """The broker the gateway publishes to (URL and TLS files: ``greenwire.shared.broker.BrokerEndpoint``)."""

    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_file: Path | None = None
    client_id: str | None = Field(
        default=None, description="Defaults to greenwire-edge-{gateway}."
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    qos: Literal[1] = Field(default=1, description="Readings are always published at QoS 1.")

    def resolved_password(self) -> str | None:
        """The password, read from ``password_file`` when one is given."""
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        return self.password


class BufferConfig(BaseModel):
    """The on-disk store-and-forward buffer."""

    model_config = _FROZEN

    path: Path | None = Field(
        default=None,
        description="SQLite file; defaults to .greenwire/edge/{gateway}.sqlite.",
    )
    max_readings: int = Field(
        default=5_000_000,
        ge=1000,
        description="When full, the oldest batches are dropped and counted.",
    )


class PublishConfig(BaseModel):
    """How readings are grouped into MQTT messages."""

    model_config = _FROZEN

    interval_s: float = Field(default=1.0, gt=0, le=60, description="Batching window.")
    max_batch_readings: int = Field(default=500, ge=1, le=10_000)
    max_inflight: int = Field(default=16, ge=1, le=1000, description="Unacknowledged batches.")
    status_interval_s: float = Field(
        default=60.0, ge=1, le=3600, description="How often the retained status carries fresh health figures."
    )
    resend_after_s: float = Field(
        default=30.0, ge=0.1, le=3600,
        description="Publish a batch again when the cloud has not committed it this long after its PUBACK "
                    "(doubling after each resend without a commit, up to ten minutes).")
    commit_wait_s: float = Field(
        default=60.0, ge=0, le=86_400,
        description="With a cloud that has never sent a commit: forget batches on the broker's PUBACK once none "
                    "has come this long after one (a gateway that has seen a commit never does).")


class DeviceConfig(BaseModel):
    """One meter or sensor on a bus."""

    model_config = _FROZEN

    id: Id
    unit: int = Field(ge=0, le=247, description="Modbus unit (slave) id.")
    profile: str = Field(
        description="A shipped profile name, a path to a profile YAML, or 'sunspec' to discover the "
        "device's SunSpec models (meters 201-204/211-214, inverters 101-103/111-113)."
    )
    poll_interval_s: float = Field(default=10.0, ge=0.1, le=86_400)
    timeout_s: float | None = Field(
        default=None, gt=0, le=60, description="Defaults to the bus timeout."
    )
    max_power_kw: float | None = Field(
        default=None,
        gt=0,
        description="The most this meter can measure (for CT-connected meters: CT ratio x rated "
        "current x voltage). Energy counters rising faster are flagged counter_jump. "
        "Defaults to the profile's.",
    )
    max_flow_m3_per_h: float | None = Field(
        default=None, gt=0, description="For gas and water meters: volume counters rising faster are flagged."
    )

    @field_validator("profile")
    @classmethod
    def _profile_loads(cls, value: str, info: ValidationInfo) -> str:
        from greenwire.edge.profile import ProfileError, load_profile

        if Path(value).suffix in (".yaml", ".yml"):  # a profile file of the installer's, not a shipped name
            value = str(relative_to_config(Path(value), info.context))
        if value == "sunspec":
            return value  # built from the device's own model chain when it is first reached
        try:
            load_profile(value)
        except ProfileError as exc:
            raise ValueError(str(exc)) from None
        return value


class _BusBase(BaseModel):
    """What every Modbus bus has: devices, timing, and one request at a time."""

    model_config = _FROZEN

    name: Id
    timeout_s: float = Field(default=1.0, gt=0, le=60, description="Per request.")
    retries: int = Field(default=1, ge=0, le=10, description="Extra tries of a request that timed out.")
    frame_gap_s: float = Field(
        default=0.0,
        ge=0,
        le=5,
        description="Pause after each request before the next frame on this bus, for devices "
        "or RS-485 converters that need more silence than the protocol's 3.5 characters.",
    )
    devices: tuple[DeviceConfig, ...] = Field(min_length=1)

    @property
    def endpoint(self) -> str:
        """Where the bus is, for logs and tables."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _units_unique(self) -> Self:
        seen: dict[int, str] = {}
        for index, device in enumerate(self.devices):
            if device.unit in seen:
                raise LocatedValueError(
                    f"unit {device.unit} of device '{device.id}' is already used by "
                    f"'{seen[device.unit]}' on bus '{self.name}'",
                    loc=("devices", index, "unit"),
                )
            seen[device.unit] = device.id
            timeout = device.timeout_s or self.timeout_s
            if timeout * (1 + self.retries) >= device.poll_interval_s:
                raise LocatedValueError(
                    f"device '{device.id}': timeout {timeout} s x {1 + self.retries} tries "
                    f"does not fit in its poll interval of {device.poll_interval_s} s",
                    loc=("devices", index, "poll_interval_s" if device.timeout_s is None else "timeout_s"),
                )
        return self


# One bus type so far; serial buses join as a union chosen by `type` (defaulting to tcp,
# so existing configs keep loading).

class TcpBusConfig(_BusBase):
    """A Modbus TCP endpoint: a meter with Ethernet, or a TCP gateway in front of RS-485 meters."""

    type: Literal["tcp"] = "tcp"
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.host}:{self.port}"


class RtuOverTcpBusConfig(_BusBase):
    """Modbus RTU frames carried over TCP: a transparent serial-to-Ethernet converter on an RS-485 bus."""

    type: Literal["rtu-over-tcp"]
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)

    @property
    def endpoint(self) -> str:
        return f"rtu-over-tcp://{self.host}:{self.port}"


class SerialBusConfig(_BusBase):
    """An RS-485 bus on a serial port of the gateway (Modbus RTU)."""

    type: Literal["serial"]
    port: str = Field(min_length=1, description="The serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/...")
    baudrate: int = Field(default=9600, description="Must match every meter on the bus.")
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    @model_validator(mode="after")
    def _bus_can_serve(self) -> Self:
        """The devices' polls must fit in the time the line has: frames at this baud rate."""
        load = self.line_load()
        if load > 1.0:
            raise ValueError(
                f"bus '{self.name}' cannot serve its devices: one round of polls needs "
                f"{load:.0%} of the line's time at {self.baudrate} baud "
                f"({self.bytesize}{self.parity}{self.stopbits}); raise the baud rate or poll less often"
            )
        return self

    def line_load(self) -> float:
        """Share of the line's time the devices' polls take (1.0 = always busy).

        Per request: the request frame (8 bytes), the answer (5 + 2 per register), the
        3.5-character silences after each, and ``frame_gap_s``; per device, its requests
        every ``poll_interval_s``.
        """
        from greenwire.edge.plan import build_plan
        from greenwire.edge.profile import load_profile

        char_s = (1 + self.bytesize + (self.parity != "N") + self.stopbits) / self.baudrate
        load = 0.0
        for device in self.devices:
            plan = build_plan(load_profile(device.profile))
            seconds = sum(
                (8 + 5 + 2 * r.count + 2 * 3.5) * char_s + self.frame_gap_s for r in plan.requests
            )
            load += seconds / device.poll_interval_s
        return load

    @field_validator("baudrate")
    @classmethod
    def _baudrate(cls, value: int) -> int:
        if value not in STANDARD_BAUDRATES:
            raise ValueError(f"{value} is not a standard baud rate ({', '.join(map(str, STANDARD_BAUDRATES))})")
        return value

    @property
    def endpoint(self) -> str:
        return f"serial://{self.port}@{self.baudrate}/{self.bytesize}{self.parity}{self.stopbits}"


def _bus_type(value: Any) -> str:
    """The bus variant; ``type`` may be left out for TCP, as in configs written before serial buses."""
    if isinstance(value, dict):
        return str(value.get("type", "tcp"))
    return str(getattr(value, "type", "tcp"))


BusConfig = Annotated[
    Annotated[TcpBusConfig, Tag("tcp")]
    | Annotated[RtuOverTcpBusConfig, Tag("rtu-over-tcp")]
    | Annotated[SerialBusConfig, Tag("serial")],
    Discriminator(_bus_type, custom_error_type="bus_type",
                  custom_error_message="type must be tcp, rtu-over-tcp or serial",
                  custom_error_context={"key": "type", "choices": "tcp rtu-over-tcp serial"}),
]


KEY_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,15}$"


WearableProtocol = Literal["fhir-search", "greenwire-cursor"]
"""``fhir-search``: standard FHIR R4 search (``greenwire.edge.fhir_search``), the default; ``greenwire-cursor``:
the project's own hub and simulator (``GET {url}/Observation?_cursor=C``, ``greenwire.edge.wearable``)."""

SEARCH_CONTROL_PARAMS: Final = frozenset({"_lastUpdated", "_sort", "_count", "_getpages", "_getpagesoffset",
                                          "_format", "_summary", "_elements", "_total"})
"""Search parameters the source sets itself; ``search`` may not name them."""


class SmartBackendAuthConfig(BaseModel):
    """SMART Backend Services: a token from the server's token endpoint, for a signed JWT assertion.

    The gateway is registered at the FHIR server as a confidential client with a public key
    (JWKS); ``key_file`` is its private key (PEM: RSA of 2048 bits or more for RS384, EC P-384
    for ES384). See ``greenwire.edge.smart_auth``.
    """

    model_config = _FROZEN

    client_id: str = Field(min_length=1, max_length=255, description="The client id the server registered.")
    key_file: Path = Field(description="The private key, PEM, mode 0600 (or 0640 with the service's group).")
    kid: str = Field(min_length=1, max_length=255, description="The key's id in the registered JWKS.")
    alg: Literal["RS384", "ES384"] = Field(default="RS384", description="RS384 (RSA) or ES384 (EC P-384).")
    scope: str = Field(default="system/Observation.read", min_length=1, max_length=1000,
                       pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$")
    token_url: str | None = Field(default=None, description="The token endpoint; defaults to the one "
                                  "in {url}/.well-known/smart-configuration.")

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str | None) -> str | None:
        return None if value is None else checked_url(value, ("http", "https"), "https://host/token")

    @field_validator("key_file")
    @classmethod
    def _key_file(cls, value: Path, info: ValidationInfo) -> Path:
        path = _local_file(value, info, "SMART private key file")
        assert path is not None
        if path.stat().st_mode & 0o007:
            raise ValueError(f"SMART private key file {path} can be read by every user: chmod 600 {path}")
        return path

    @model_validator(mode="after")
    def _key_fits_alg(self) -> Self:
        from greenwire.edge.smart_auth import key_problem

        problem = key_problem(self.key_file, self.alg)
        if problem:
            raise LocatedValueError(problem, loc=("key_file",))
        return self


class WearableSourceConfig(BaseModel):
    """A FHIR R4 server with the site's wearable Observations: a hub, a health platform, a cloud FHIR service.

    By default it is searched as the FHIR specification says (``protocol: fhir-search``):
    incrementally on ``meta.lastUpdated``, following the server's paging links.
    """

    model_config = _FROZEN

    id: Id = Field(description="The hub's id: the 'device' of its observations on the wire.")
    url: str = Field(description="The server's FHIR base, e.g. http://192.0.2.20/fhir.")
    protocol: WearableProtocol = Field(default="fhir-search", description="fhir-search (standard FHIR R4 "
                                       "search) or greenwire-cursor (the project's own hub and simulator).")
    poll_interval_s: float = Field(default=5.0, ge=0.2, le=3600)
    page_size: int = Field(default=500, ge=1, le=1000, description="Observations asked for per request.")
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per request.")
    token_file: Path | None = Field(default=None, description="A bearer token for the hub, if it wants one.")
    smart: SmartBackendAuthConfig | None = Field(default=None, description="SMART Backend Services "
                                                 "authentication (fhir-search only), instead of token_file.")
    overlap_s: float = Field(default=5.0, ge=0, le=3600, description="fhir-search: each search starts this "
                             "long before the newest meta.lastUpdated seen (clock skew, same-instant updates, "
                             "late commits); what is read again is recognised by id and version.")
    search: dict[str, str] = Field(default_factory=dict, description="fhir-search: more search parameters, "
                                   "e.g. {category: vital-signs}.")
    max_retry_after_s: float = Field(default=300.0, gt=0, le=3600, description="fhir-search: the longest "
                                     "Retry-After of a 429 or 503 that is waited for.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checked_url(value, ("http", "https"), "http://host[:port]/path or https://...").rstrip("/")

    @field_validator("token_file")
    @classmethod
    def _token_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _local_file(value, info, "token file")

    @field_validator("search")
    @classmethod
    def _search(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-.:]{0,63}", name):
                raise ValueError(f"search parameter name {name!r} is not a FHIR search parameter name")
            if name.split(":")[0] in SEARCH_CONTROL_PARAMS:
                raise ValueError(f"search parameter {name} is set by the source itself")
        return value

    @model_validator(mode="after")
    def _protocol_options(self) -> Self:
        if self.token_file is not None and self.smart is not None:
            raise ValueError("token_file and smart are two ways to authenticate: give one")
        if self.protocol == "greenwire-cursor":
            for name in ("smart", "overlap_s", "search", "max_retry_after_s"):
                if name in self.model_fields_set:
                    raise LocatedValueError(f"{name} applies to protocol fhir-search only", loc=(name,))
        return self


def _local_file(value: Path | None, info: ValidationInfo, what: str) -> Path | None:
    """Resolve against the config's directory and check the file can be read."""
    if value is None:
        return None
    value = relative_to_config(value, info.context)
    if not value.is_file():
        raise ValueError(f"{what} {value} does not exist or is not a file")
    return value


class BleDeviceConfig(BaseModel):
    """A Bluetooth LE health device the gateway reads directly (``greenwire.edge.ble_source``).

    Its participant is the one whose consent line carries ``ble=ADDRESS``; a device bound to
    nobody is not connected at all.
    """

    model_config = _FROZEN

    id: Id = Field(description="The gateway's id for the device (sent as the observations' device).")
    address: str = Field(pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$",
                         description="Its Bluetooth address, AA:BB:CC:DD:EE:FF.")
    services: tuple[Literal["heart_rate", "pulse_oximeter", "health_thermometer", "blood_pressure"], ...] = Field(
        default=("heart_rate", "pulse_oximeter", "health_thermometer", "blood_pressure"), min_length=1,
        description="The standard GATT services to subscribe to.")


class WearablesConfig(BaseModel):
    """Wearable hubs, and the privacy rules every observation passes before it leaves the gateway.

    Subject ids become keyed-HMAC pseudonyms with the key in ``key_file``, which is made on
    the gateway (``greenwire edge keygen``) and never copied off it; ``key_id`` names the
    key's generation (change both to rotate: every participant gets a new pseudonym).
    Only participants on the consent list (``consent`` and ``consent_file``, one
    ``Patient/id`` or ``id`` or ``system|value`` identifier each) are forwarded at all.
    """

    model_config = _FROZEN

    key_file: Path = Field(description="32 or more random bytes, mode 0600 (or 0640 with the service's group), "
                           "made on the gateway.")
    key_id: str = Field(pattern=KEY_ID_PATTERN, description="The key's generation, e.g. pilot2026.")
    consent: tuple[str, ...] = Field(default=(), repr=False, description="Consenting participants' ids.")
    consent_file: Path | None = Field(default=None, description="More consenting ids, one per line.")
    buffer_path: Path | None = Field(
        default=None, description="SQLite buffer of vitals; defaults to .greenwire/edge/{gateway}-vitals.sqlite."
    )
    state_path: Path | None = Field(
        default=None, description="Cursors and forwarded-observation keys; "
        "defaults to .greenwire/edge/{gateway}-wearables.sqlite."
    )
    max_observations: int = Field(default=2_000_000, ge=1000, description="Buffer bound (oldest dropped, counted).")
    dedup_days: float = Field(default=7.0, gt=0, le=365, description="How long forwarded ids are remembered.")
    sources: tuple[WearableSourceConfig, ...] = Field(default=(), description="FHIR hubs.")
    ble: tuple[BleDeviceConfig, ...] = Field(default=(), description="Bluetooth LE health devices read directly.")

    @field_validator("key_file")
    @classmethod
    def _key_file(cls, value: Path, info: ValidationInfo) -> Path:
        """A key that exists must be private and long enough; a missing one is made on the gateway."""
        value = relative_to_config(value, info.context)
        if value.exists():
            problem = key_file_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("consent_file")
    @classmethod
    def _consent_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _local_file(value, info, "consent file")

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if not self.sources and not self.ble:
            raise ValueError("wearables need at least one FHIR source (sources) or Bluetooth device (ble)")
        ids: set[str] = set()
        named: tuple[tuple[str, list[str]], ...] = (("sources", [s.id for s in self.sources]),
                                                    ("ble", [b.id for b in self.ble]))
        for key, names in named:
            for index, name in enumerate(names):
                if name in ids:
                    raise LocatedValueError(f"wearable source id '{name}' is used twice", loc=(key, index, "id"))
                ids.add(name)
        for index, entry in enumerate(self.consent):
            if not entry.strip():
                # The entry itself is never quoted: consent entries are participant ids.
                raise LocatedValueError(f"consent entry {index} is empty", loc=("consent", index))
        if not self.consented():
            raise ValueError("the consent list is empty: no participant would be forwarded")
        return self

    def consented(self) -> frozenset[str]:
        """Every consenting participant, in the form subjects are compared (``greenwire.edge.fhir.consent_key``)."""
        from greenwire.edge.fhir import consent_key

        entries = [re.sub(r"\s*\bble=\S+", "", line) for line in self.consent_lines()]
        return frozenset(consent_key(e) for e in entries if e.strip())

    def consent_lines(self) -> list[str]:
        """The consent entries as written (with any ``ble=ADDRESS`` binding), comments removed."""
        entries = list(self.consent)
        if self.consent_file is not None:
            entries += [line.split("#")[0] for line in self.consent_file.read_text(encoding="utf-8").splitlines()]
        return [e for e in entries if e.strip()]

    def pseudonymiser(self) -> Any:
        """The gateway's keyed pseudonym function (``greenwire.edge.fhir.Pseudonymiser``); ConfigError without a key."""
        from greenwire.edge.fhir import Pseudonymiser

        if not self.key_file.exists():
            raise ConfigError(f"pseudonym key file {self.key_file} does not exist: make it on this gateway with "
                              f"`greenwire edge keygen {self.key_file}` (it must never be copied off it)")
        problem = key_file_problem(self.key_file)
        if problem:
            raise ConfigError(problem)
        return Pseudonymiser(self.key_file.read_bytes().strip(), self.key_id)


def key_file_problem(path: Path) -> str | None:
    """Why this pseudonym key file cannot be used, or None."""
    from greenwire.edge.fhir import KEY_MIN_BYTES

    if not path.is_file():
        return f"key file {path} is not a file"
    if path.stat().st_mode & 0o007:
        # 0640 root:greenwire is fine (the service's group); readable by everyone is not.
        return f"key file {path} can be read by every user: chmod 600 {path} (or 640 with the service's group)"
    if len(path.read_bytes().strip()) < KEY_MIN_BYTES:
        return f"key file {path} holds fewer than {KEY_MIN_BYTES} bytes: make one with `greenwire edge keygen`"
    return None


class EdgeConfig(BaseModel):
    """The whole configuration of one gateway."""

    model_config = _FROZEN

    gateway: Id
    site: Id
    mqtt: MqttConfig | None = Field(
        default=None, description="The broker; when absent, the local stack's (greenwire stack up)."
    )
    buffer: BufferConfig = BufferConfig()
    publish: PublishConfig = PublishConfig()
    buses: tuple[BusConfig, ...] = ()
    wearables: WearablesConfig | None = Field(
        default=None, description="Wearable health hubs (the proactive-health pilot)."
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> EdgeConfig:
        if not self.buses and self.wearables is None:
            raise ValueError("a gateway needs buses (Modbus devices) or wearables (health hubs)")
        if self.gateway in RESERVED_GATEWAY_IDS:
            raise ValueError(f"gateway id {self.gateway!r} is reserved")
        if self.site in RESERVED_SITE_IDS:
            raise ValueError(f"site id {self.site!r} is reserved")
        buses: set[str] = set()
        serial_ports: dict[str, str] = {}
        devices: dict[str, str] = {}
        for b, bus in enumerate(self.buses):
            if bus.name in buses:
                raise LocatedValueError(f"bus name '{bus.name}' is used twice", loc=("buses", b, "name"))
            buses.add(bus.name)
            if isinstance(bus, SerialBusConfig):
                if bus.port in serial_ports:
                    raise LocatedValueError(
                        f"serial port {bus.port} is already bus '{serial_ports[bus.port]}': one port is "
                        "one RS-485 line; put all its devices on one bus",
                        loc=("buses", b, "port"),
                    )
                serial_ports[bus.port] = bus.name
            for d, device in enumerate(bus.devices):
                if device.id in devices:
                    raise LocatedValueError(
                        f"device id '{device.id}' on bus '{bus.name}' is already used on "
                        f"bus '{devices[device.id]}': device ids are unique per gateway",
                        loc=("buses", b, "devices", d, "id"),
                    )
                devices[device.id] = bus.name
        if self.wearables is not None:
            for w, source in enumerate(self.wearables.sources):
                if source.id in devices:
                    raise LocatedValueError(
                        f"wearable source id '{source.id}' is already a device on bus '{devices[source.id]}'",
                        loc=("wearables", "sources", w, "id"),
                    )
        return self

    @classmethod
    def raw_problems(cls, data: Any, context: Any = None) -> list[Any]:
        """What validation cannot say while other fields are wrong (``greenwire.edge.config_checks``)."""
        from greenwire.edge.config_checks import raw_problems

        models: dict[str, type[BaseModel]] = {"tcp": TcpBusConfig, "rtu-over-tcp": RtuOverTcpBusConfig,
                                               "serial": SerialBusConfig}
        return raw_problems(data, models, DeviceConfig.model_fields["poll_interval_s"].default, context)

    @property
    def client_id(self) -> str:
        configured = self.mqtt.client_id if self.mqtt is not None else None
        return configured or f"greenwire-edge-{self.gateway}"

    @property
    def config_hash(self) -> str:
        """A short fingerprint of the effective config (in the status, to see what a gateway runs)."""
        import hashlib

        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    @property
    def buffer_path(self) -> Path:
        return self.buffer.path or DEFAULT_STATE_DIR / f"{self.gateway}.sqlite"

    @property
    def vitals_buffer_path(self) -> Path:
        """The vitals' own buffer: health data is never mixed with meter readings, even on disk."""
        configured = self.wearables.buffer_path if self.wearables is not None else None
        return configured or DEFAULT_STATE_DIR / f"{self.gateway}-vitals.sqlite"

    @property
    def wearable_state_path(self) -> Path:
        configured = self.wearables.state_path if self.wearables is not None else None
        return configured or DEFAULT_STATE_DIR / f"{self.gateway}-wearables.sqlite"


def parse_config(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> EdgeConfig:
    """Validate edge config YAML text; raise ``ConfigError`` naming the line on any problem."""
    return load_model(text, EdgeConfig, source=source, context={"base_dir": base_dir})


def load_config(path: Path) -> EdgeConfig:
    """Read and validate an edge config file."""
    text = read_config(path)
    return parse_config(text, source=str(path), base_dir=path.parent)
