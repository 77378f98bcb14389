"""Bus scan for installers (``greenwire edge scan``): which unit ids answer, and what they look like.

Each unit id costs one request with the bus's timeout and no retries, so a silent id costs one
timeout. A unit that answered is then read with every shipped profile's requests, and the
profiles whose values look like a meter's (mains voltage and frequency) are its likely profiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from greenwire.edge.config import BusConfig
from greenwire.edge.modbus import ModbusBus
from greenwire.edge.plan import ReadPlan, build_plan
from greenwire.edge.profile import list_profiles, load_profile

MAINS_FREQUENCY_HZ = (45.0, 65.0)
MAINS_VOLTAGE_V = (80.0, 500.0)


@dataclass(frozen=True, slots=True)
class Found:
    """A unit id that answered, with the shipped profiles its registers fit."""

    unit: int
    profiles: tuple[str, ...]


def shipped_plans() -> dict[str, ReadPlan]:
    """The read plan of every shipped profile, by profile name."""
    return {name: build_plan(load_profile(name)) for name in list_profiles()}


def looks_like_a_meter(values: dict[str, float]) -> bool:
    """Mains frequency and every phase voltage in a plausible range."""
    voltages = [v for k, v in values.items() if k.startswith("voltage_l") and k.count("_") == 2]
    frequency = values.get("frequency_hz")
    low_f, high_f = MAINS_FREQUENCY_HZ
    low_v, high_v = MAINS_VOLTAGE_V
    return (frequency is not None and low_f <= frequency <= high_f and bool(voltages)
            and all(low_v <= v <= high_v for v in voltages))


async def guess_profiles(modbus: ModbusBus, unit: int, plans: dict[str, ReadPlan]) -> tuple[str, ...]:
    """Shipped profiles whose every request the unit answers with values that look like a meter's."""
    fits: list[str] = []
    for name, plan in plans.items():
        responses: list[list[int]] = []
        for request in plan.requests:
            words = await modbus.try_unit(unit, request.function, request.address, request.count)
            if words is None:
                break
            responses.append(words)
        else:
            if looks_like_a_meter(plan.decode(responses)):
                fits.append(name)
    return tuple(fits)


async def scan_bus(bus: BusConfig, units: range, *, on_unit: Callable[[int], None] = lambda unit: None,
                   plans: dict[str, ReadPlan] | None = None) -> list[Found]:
    """Every unit id of ``units`` that answers on ``bus``, with its likely profiles.

    ``on_unit`` is called after each id (a progress bar). Retries are off while scanning.
    """
    plans = shipped_plans() if plans is None else plans
    modbus = ModbusBus(bus.model_copy(update={"retries": 0}), lambda reading: None)
    found: list[Found] = []
    try:
        for unit in units:
            if await modbus.answers(unit):
                found.append(Found(unit, await guess_profiles(modbus, unit, plans)))
            on_unit(unit)
    finally:
        await modbus.close()
    return found
