"""What an edge config's own validation cannot say while other fields are wrong.

pydantic runs a model's cross-field checks (duplicate units, ids, timeouts that do not fit the
poll) only once every field is valid, and validates nothing of a bus whose ``type`` names no
variant. A new installer then fixes one mistake per run. :func:`raw_problems` reads the raw
config instead: the cross-checks on whatever values are usable, and a mistyped bus validated as
the closest variant, so ``shared.yamlconfig.load_model`` lists every mistake in one run. The
messages are the validators' own, so a problem both find is listed once.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from greenwire.shared.yamlconfig import LocatedValueError

_DEFAULT_TIMEOUT_S = 1.0
_DEFAULT_RETRIES = 1


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def raw_problems(data: Any, bus_models: dict[str, type[BaseModel]], default_poll_s: float,
                 context: Any = None) -> list[LocatedValueError | tuple[tuple[int | str, ...], type[BaseModel],
                                                                        ValidationError]]:
    """Problems of the raw config ``data`` (see the module docstring)."""
    buses = data.get("buses") if isinstance(data, dict) else None
    if not isinstance(buses, list):
        return []
    out: list[Any] = []
    names: dict[str, int] = {}
    owners: dict[str, str] = {}
    for b, bus in enumerate(buses):
        if not isinstance(bus, dict):
            continue
        kind = str(bus.get("type", "tcp"))
        if kind not in bus_models:
            close = difflib.get_close_matches(kind, list(bus_models), n=1, cutoff=0.6)
            if close:
                try:
                    bus_models[close[0]].model_validate({**bus, "type": close[0]}, context=context)
                except ValidationError as exc:
                    out.append((("buses", b), bus_models[close[0]], exc))
        name = str(bus.get("name", ""))
        if name in names:
            out.append(LocatedValueError(f"bus name '{name}' is used twice", loc=("buses", b, "name")))
        names.setdefault(name, b)
        devices = bus.get("devices")
        if isinstance(devices, list):
            out += _devices(b, name, bus, devices, owners, default_poll_s)
    return out


def _devices(b: int, name: str, bus: dict[str, Any], devices: list[Any], owners: dict[str, str],
             default_poll_s: float) -> list[LocatedValueError]:
    out: list[LocatedValueError] = []
    units: dict[int, str] = {}
    bus_timeout = _number(bus.get("timeout_s", _DEFAULT_TIMEOUT_S))
    retries = bus.get("retries", _DEFAULT_RETRIES)
    for d, device in enumerate(devices):
        if not isinstance(device, dict):
            continue
        device_id, unit = str(device.get("id", "")), device.get("unit")
        if isinstance(unit, int) and not isinstance(unit, bool):
            if unit in units:
                out.append(LocatedValueError(f"unit {unit} of device '{device_id}' is already used by "
                                             f"'{units[unit]}' on bus '{name}'", loc=("buses", b, "devices", d, "unit")))
            units.setdefault(unit, device_id)
        own_timeout = _number(device.get("timeout_s"))
        timeout = own_timeout or bus_timeout
        poll = _number(device.get("poll_interval_s", default_poll_s))
        if timeout is not None and poll is not None and isinstance(retries, int) and not isinstance(retries, bool) \
                and timeout * (1 + retries) >= poll:
            out.append(LocatedValueError(
                f"device '{device_id}': timeout {timeout} s x {1 + retries} tries does not fit in its poll "
                f"interval of {poll} s",
                loc=("buses", b, "devices", d, "poll_interval_s" if own_timeout is None else "timeout_s")))
        if device_id and device_id in owners:
            out.append(LocatedValueError(f"device id '{device_id}' on bus '{name}' is already used on bus "
                                         f"'{owners[device_id]}': device ids are unique per gateway",
                                         loc=("buses", b, "devices", d, "id")))
        owners.setdefault(device_id, name)
    return out
