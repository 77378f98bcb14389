"""Read planning: a profile's registers become the fewest Modbus read requests.

Built once at start-up (``build_plan``), used on every poll: the poll loop
sends ``plan.requests`` in order and hands the answers to ``plan.decode``,
which runs decoders prebuilt for each register.

Grouping, per function code (input and holding registers are never mixed in
one request): registers sorted by address are merged into one request while
the request stays within ``max_registers`` (125, the Modbus limit) and the
unused registers between two values are at most ``max_gap``. This greedy
sweep is optimal for a sorted list: starting a new request only when the next
register cannot join the current one gives the minimum number of requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenwire.edge.codec import Decoder, decoder
from greenwire.edge.profile import Function, Profile, Register


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: ``count`` registers of ``function`` from ``address``."""

    function: Function
    address: int
    count: int

    @property
    def code(self) -> int:
        """The Modbus function code (3 holding, 4 input)."""
        return 4 if self.function == "input" else 3


@dataclass(frozen=True, slots=True)
class _Slot:
    quantity: str
    request: int
    offset: int
    decode: Decoder
    sf_request: int = -1
    sf_offset: int = 0


@dataclass(frozen=True, slots=True)
class _Span:
    """Registers a request must cover: a value, or a scale-factor register."""

    function: Function
    address: int
    end: int


SF_NOT_IMPLEMENTED = 0x8000


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """The requests of one poll and how to turn their answers into values."""

    requests: tuple[ReadRequest, ...]
    slots: tuple[_Slot, ...]

    def decode(self, responses: Sequence[Sequence[int]]) -> dict[str, float]:
        """Values by quantity from the registers each request returned, in request order.

        A register whose raw value is a "not implemented" sentinel, NaN or
        infinite is left out: it has no value, it is not zero.
        """
        if len(responses) != len(self.requests):
            raise ValueError(f"expected {len(self.requests)} responses, got {len(responses)}")
        for request, words in zip(self.requests, responses, strict=True):
            if len(words) < request.count:
                raise ValueError(
                    f"{request.function} registers {request.address}+{request.count}: "
                    f"device returned {len(words)} registers"
                )
        values: dict[str, float] = {}
        for slot in self.slots:
            value = slot.decode(responses[slot.request], slot.offset)
            if value is None:
                continue
            if slot.sf_request >= 0:
                raw = responses[slot.sf_request][slot.sf_offset]
                if raw == SF_NOT_IMPLEMENTED:
                    continue
                value *= 10.0 ** (raw - 0x10000 if raw & 0x8000 else raw)
            values[slot.quantity] = value
        return values


def group_registers(registers: Sequence[_Span | Register], *, max_gap: int, max_registers: int) -> list[list[Any]]:
    """Registers grouped into requests (see the module docstring)."""
    groups: list[list[Any]] = []
    for function in ("holding", "input"):
        start = end = -1
        current: list[Any] = []
        for register in sorted((r for r in registers if r.function == function), key=lambda r: r.address):
            fits = (
                current
                and register.address - end <= max_gap
                and max(end, register.end) - start <= max_registers
            )
            if fits:
                current.append(register)
                end = max(end, register.end)
            else:
                if current:
                    groups.append(current)
                current, start, end = [register], register.address, register.end
        if current:
            groups.append(current)
    return groups


def build_plan(profile: Profile) -> ReadPlan:
    """The minimal read plan of a profile, with its decoders built.

    A register with a scale factor (SunSpec) needs its scale-factor register in the plan
    too; both are grouped like any other registers, so they share a request when they are
    close (SunSpec models keep them next to their values).
    """
    registers = profile.resolved()
    spans = {_Span(r.function, r.address, r.end) for r in registers}
    spans |= {_Span(r.function, r.scale_factor, r.scale_factor + 1) for r in registers if r.scale_factor is not None}
    requests: list[ReadRequest] = []
    for group in group_registers(
        sorted(spans, key=lambda s: (s.function, s.address)),
        max_gap=profile.plan.max_gap,
        max_registers=profile.plan.max_registers,
    ):
        start = group[0].address
        requests.append(ReadRequest(group[0].function, start, max(r.end for r in group) - start))

    def locate(function: str, address: int, end: int) -> tuple[int, int]:
        for index, request in enumerate(requests):
            if request.function == function and request.address <= address and end <= request.address + request.count:
                return index, address - request.address
        raise AssertionError(f"register {address} is in no request")  # grouping covers every span

    slots: list[_Slot] = []
    for register in registers:
        index, offset = locate(register.function, register.address, register.end)
        sf_index, sf_offset = (
            locate(register.function, register.scale_factor, register.scale_factor + 1)
            if register.scale_factor is not None
            else (-1, 0)
        )
        slots.append(
            _Slot(
                register.quantity,
                index,
                offset,
                decoder(register.type, register.order, scale=register.scale, offset=register.offset,
                        missing=register.missing),
                sf_index,
                sf_offset,
            )
        )
    return ReadPlan(tuple(requests), tuple(slots))
