"""Batches to InfluxDB line protocol: the documented storage schema. Pure, no I/O.

One point per reading::

    readings,building=b2,device=main-incomer,gateway=gw-01,site=campus-a active_power_w=48210.5,energy_import_kwh=183442.61,quality="good" 1795860000812000000

- measurement ``readings``
- tags ``site`` and ``gateway`` (from the topic), ``device``, and ``building``
  when the lookup knows the device's building (tags sorted, as InfluxDB stores them)
- fields: every quantity under its vocabulary name, as a float, in the order
  sent, then ``quality`` as a string
- timestamp: the reading's ``ts`` in nanoseconds since the epoch, computed
  with integers from the datetime (no float rounding)

One point per rejected message, so a dashboard can chart rejects by reason::

    ingest_rejected,gateway=gw-01,reason=malformed_json,site=campus-a bytes=734i 1795860000812000001

A point's series and timestamp are its identity: writing the same reading
twice (a redelivered message) overwrites, which makes at-least-once delivery
effectively once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import orjson

from shared.lineprotocol import SeriesPrefix, escape_key, format_field, format_float
from shared.quantities import QUANTITIES
from shared.wire import Quality, ReadingsBatch

READINGS_MEASUREMENT: Final = "readings"
REJECTED_MEASUREMENT: Final = "ingest_rejected"

BuildingLookup = Callable[[str, str, str], str | None]
"""``building_of(site, gateway, device)``: the building a device meters, or None if unknown."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FIELD_KEYS: Final = {name: escape_key(name) for name in QUANTITIES}
_QUALITY_FIELDS: Final = {q: f"quality={format_field(q.value)}" for q in Quality}
_MAX_TEMPLATES: Final = 4096


def _fields_slow(values: dict[str, float]) -> str:
    """The field set value by value through :func:`format_float` (any magnitude)."""
    keys = _FIELD_KEYS
    return ",".join([f"{keys[k]}={format_float(v)}" for k, v in values.items()])


def timestamp_ns(ts: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware datetime, exactly (integer arithmetic)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class PointEncoder:
    """Encodes accepted batches; keeps the escaped series prefix of each device.

    The cache holds one prefix per ``(site, gateway, device)``; it is cleared
    when it reaches ``max_series`` so that a flood of new device ids cannot
    grow memory without bound (the prefixes are simply rebuilt).
    """

    def __init__(self, building_of: BuildingLookup | None = None, *, max_series: int = 100_000) -> None:
        self._building_of = building_of
        self._max_series = max_series
        self._prefixes: dict[tuple[str, str, str], str] = {}
        self._templates: dict[tuple[str, ...], str] = {}

    def _prefix(self, site: str, gateway: str, device: str) -> str:
        key = (site, gateway, device)
        prefix = self._prefixes.get(key)
        if prefix is None:
            tags = {"site": site, "gateway": gateway, "device": device}
            building = self._building_of(site, gateway, device) if self._building_of else None
            if building:
                tags["building"] = building
            if len(self._prefixes) >= self._max_series:
                self._prefixes.clear()
            prefix = self._prefixes[key] = SeriesPrefix(READINGS_MEASUREMENT, tags).prefix
        return prefix

    def lines(self, site: str, gateway: str, batch: ReadingsBatch) -> list[str]:
        """One line per reading of ``batch`` received from ``site``/``gateway``.

        The hot path formats a reading's values in one ``orjson.dumps`` call
        (shortest round-trip digits, the same as ``repr``) and drops the
        ``.0`` of integral values, which is what :func:`format_float` writes
        for magnitudes in [1e-4, 1e6) and zero. A reading with any value
        outside that range (Go's encoder writes those with an exponent) goes
        through :func:`format_float` value by value. The field names of each
        distinct set of quantities become one ``%`` template, kept per
        encoder. About twice as fast as formatting value by value, and the
        same text (``tests/unit/test_cloud_points.py`` checks both paths).
        """
        out: list[str] = []
        append = out.append
        quality_fields = _QUALITY_FIELDS
        templates = self._templates
        dumps = orjson.dumps
        for reading in batch.readings:
            values = reading.values
            numbers = dumps(list(values.values()))
            # Exponent notation (b"e"), small magnitudes (orjson writes 1e-5 as 0.00001, so
            # b"0.0000" is in the text of every non-zero value under 1e-4, and may flag a
            # few harmless others) and magnitudes of 1e6 and more take the general path.
            if (
                b"e" in numbers
                or b"0.0000" in numbers
                or max(values.values()) >= 1e6
                or min(values.values()) <= -1e6
            ):
                fields = _fields_slow(values)
            else:
                names = tuple(values)
                template = templates.get(names)
                if template is None:
                    if len(templates) >= _MAX_TEMPLATES:
                        templates.clear()
                    keys = [_FIELD_KEYS[k].replace("%", "%%") for k in names]
                    template = templates[names] = ",".join([f"{k}=%s" for k in keys])
                # Shortest round-trip text never ends in 0 after the point except for ".0".
                text = numbers[1:-1].replace(b".0,", b",").decode()
                if text.endswith(".0"):
                    text = text[:-2]
                fields = template % tuple(text.split(","))
            append(
                f"{self._prefix(site, gateway, reading.device)} {fields},"
                f"{quality_fields[reading.quality]} {timestamp_ns(reading.ts)}"
            )
        return out


def rejected_line(
    reason: str, *, size: int, received_ns: int, site: str | None = None, gateway: str | None = None
) -> str:
    """The ``ingest_rejected`` point of one rejected message (``size`` in bytes)."""
    tags = {"reason": reason}
    if site is not None:
        tags["site"] = site
    if gateway is not None:
        tags["gateway"] = gateway
    return SeriesPrefix(REJECTED_MEASUREMENT, tags).line({"bytes": size}, received_ns)
