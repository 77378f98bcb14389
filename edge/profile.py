"""Meter profiles: what a device's registers mean, as data (YAML), not code.

A profile names each register by the quantity it measures (the wire
contract's vocabulary, so ``voltage_l1_v`` is in volts whatever the meter
calls it) and says how to decode it::

    name: eastron-sdm630
    manufacturer: Eastron
    model: SDM630 Modbus V2
    sources:
      - Eastron SDM630 Modbus protocol, via sdm_modbus 0.7.0 (MIT)
    defaults:               # apply to every register unless it says otherwise
      function: input       # input (code 4) or holding (code 3)
      type: float32         # int16 uint16 int32 uint32 int64 uint64 float32 float64
      order: ABCD           # ABCD CDAB BADC DCBA (see greenwire.edge.codec)
    plan:
      max_gap: 20           # unused registers a request may span to save a round trip
    registers:
      - {quantity: voltage_l1_v, address: 0}
      - {quantity: energy_import_kwh, address: 72}
      - {quantity: power_factor, address: 62, scale: 1.0, offset: 0.0, missing: [0xFFFF]}

Addresses are 0-based protocol addresses (register 30001 of a manual is
address 0 of function ``input``). Shipped profiles live in
``edge/profiles/``; an installer adds one by writing such a file and giving
its path as a device's ``profile``.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from greenwire.edge.codec import DataType, WordOrder, width
from greenwire.edge.counters import CounterSpec
from greenwire.shared.errors import ConfigError
from greenwire.shared.quantities import COUNTERS
from greenwire.shared.wire import QuantityName
from greenwire.shared.yamlconfig import LocatedValueError, load_model

PROFILES_DIR: Final = Path(__file__).parent / "profiles"
MAX_ADDRESS: Final = 0xFFFF
MAX_REQUEST_REGISTERS: Final = 125
"""The Modbus limit for one read of holding or input registers (spec 6.3, 6.4)."""

Function = Literal["input", "holding"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ProfileError(ConfigError):
    """A profile is missing or invalid."""


class Defaults(BaseModel):
    """Decoding settings every register of the profile inherits."""

    model_config = _FROZEN

    function: Function = "holding"
    type: DataType = "uint16"
    order: WordOrder = "ABCD"


class PlanOptions(BaseModel):
    """How the registers are grouped into read requests."""

    model_config = _FROZEN

    max_gap: int = Field(
        default=0,
        ge=0,
        le=MAX_REQUEST_REGISTERS,
        description="Unused registers one request may span rather than starting a new request. "
        "0 (the default) reads only contiguous registers together: some meters answer "
        "'illegal data address' for gaps, so a profile opts in where the meter allows it.",
    )
    max_registers: int = Field(
        default=MAX_REQUEST_REGISTERS,
        ge=1,
        le=MAX_REQUEST_REGISTERS,
        description="Registers per request; lower it for devices that cannot serve 125.",
    )


class RegisterSpec(BaseModel):
    """One register as written in the profile (unset fields come from ``defaults``)."""

    model_config = _FROZEN

    quantity: QuantityName
    address: int = Field(ge=0, le=MAX_ADDRESS)
    function: Function | None = None
    type: DataType | None = None
    order: WordOrder | None = None
    scale: float = Field(default=1.0, allow_inf_nan=False)
    offset: float = Field(default=0.0, allow_inf_nan=False)
    missing: tuple[int, ...] = Field(
        default=(),
        description="Raw values that mean 'not implemented' (e.g. 0x8000 for a SunSpec int16).",
    )
    rollover: float | None = Field(
        default=None,
        gt=0,
        description="For a counter: the value at which it wraps to zero (e.g. 99999.99 for a "
        "display-limited meter). Unsigned integer counters default to 2^bits x scale.",
    )
    scale_factor: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ADDRESS,
        description="Address of a SunSpec scale-factor register (int16 exponent of 10, same function) "
        "applied as value x scale x 10^sf; read in the same request as the value.",
    )


class Register(BaseModel):
    """A register with every decoding setting resolved."""

    model_config = _FROZEN

    quantity: QuantityName
    address: int
    function: Function
    type: DataType
    order: WordOrder
    scale: float
    offset: float
    missing: tuple[int, ...]
    rollover: float | None
    scale_factor: int | None = None

    @property
    def counter(self) -> CounterSpec | None:
        """What the counter guard needs, if this register is a counter."""
        if self.quantity not in COUNTERS:
            return None
        integer = not self.type.startswith("float")
        rollover = self.rollover
        if rollover is None and self.type.startswith("uint"):
            rollover = 2 ** (16 * self.count) * abs(self.scale)
        return CounterSpec(self.quantity, rollover=rollover, resolution=abs(self.scale) if integer else 0.0)

    @property
    def count(self) -> int:
        """Registers the value occupies."""
        return width(self.type)

    @property
    def end(self) -> int:
        """One past the last register of the value."""
        return self.address + self.count


class Profile(BaseModel):
    """A meter model's register map, validated and resolved."""

    model_config = _FROZEN

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    manufacturer: str = ""
    model: str = ""
    description: str = ""
    sources: tuple[str, ...] = Field(default=(), description="Where the register map comes from.")
    max_power_kw: float | None = Field(
        default=None,
        gt=0,
        description="The most the meter can measure (e.g. 3 x 230 V x 100 A for a direct-connected "
        "three-phase meter); energy counters rising faster are flagged counter_jump. A device's "
        "own max_power_kw (for CT-connected meters) overrides it.",
    )
    defaults: Defaults = Defaults()
    plan: PlanOptions = PlanOptions()
    registers: tuple[RegisterSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: dict[str, int] = {}
        spans: list[tuple[str, int, int, int]] = []
        for index, spec in enumerate(self.registers):
            where = ("registers", index)
            if spec.quantity in seen:
                raise LocatedValueError(
                    f"quantity {spec.quantity} appears twice (addresses {seen[spec.quantity]} and {spec.address})",
                    loc=(*where, "quantity"),
                )
            seen[spec.quantity] = spec.address
            function = spec.function or self.defaults.function
            n = width(spec.type or self.defaults.type)
            if spec.address + n - 1 > MAX_ADDRESS:
                raise LocatedValueError(
                    f"{spec.quantity}: address {spec.address} + {n} registers is past {MAX_ADDRESS}",
                    loc=(*where, "address"),
                )
            for sentinel in spec.missing:
                if not 0 <= sentinel < 2 ** (16 * n):
                    raise LocatedValueError(
                        f"{spec.quantity}: missing value {sentinel:#x} does not fit {16 * n} bits",
                        loc=(*where, "missing"),
                    )
            spans.append((function, spec.address, spec.address + n, index))
        spans.sort()
        for (f1, _, end1, i1), (f2, start2, _, i2) in itertools.pairwise(spans):
            if f1 == f2 and start2 < end1:
                q1, q2 = self.registers[i1].quantity, self.registers[i2].quantity
                raise LocatedValueError(f"{q1} and {q2} overlap at {f1} register {start2}", loc=("registers", i2))
        if self.plan.max_registers < max(width(s.type or self.defaults.type) for s in self.registers):
            raise LocatedValueError("max_registers is smaller than the widest register", loc=("plan", "max_registers"))
        return self

    def resolved(self) -> tuple[Register, ...]:
        """Every register with the defaults applied."""
        d = self.defaults
        return tuple(
            Register(
                quantity=s.quantity,
                address=s.address,
                function=s.function or d.function,
                type=s.type or d.type,
                order=s.order or d.order,
                scale=s.scale,
                offset=s.offset,
                missing=s.missing,
                rollover=s.rollover,
                scale_factor=s.scale_factor,
            )
            for s in self.registers
        )


def list_profiles() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _is_path(ref: str) -> bool:
    return "/" in ref or ref.endswith((".yaml", ".yml"))


def load_profile(ref: str) -> Profile:
    """A shipped profile by name (``eastron-sdm630``) or a profile file by path.

    Raises ``ProfileError`` naming the file and line of any problem, or
    listing the shipped profiles when a name is unknown.
    """
    if _is_path(ref):
        return _load_file(str(Path(ref).resolve()))
    path = PROFILES_DIR / f"{ref}.yaml"
    if not path.is_file():
        import difflib

        close = difflib.get_close_matches(ref, list_profiles(), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ProfileError(f"unknown profile {ref!r}; shipped profiles: {', '.join(list_profiles())} "
                           f"(or give the path of a profile YAML){hint}")
    return _load_file(str(path))


@lru_cache(maxsize=256)
def _load_file(path: str) -> Profile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile: {exc.strerror}", path=path) from exc
    try:
        return load_model(text, Profile, source=path)
    except ProfileError:
        raise
    except ConfigError as exc:
        raise ProfileError(str(exc)) from None
