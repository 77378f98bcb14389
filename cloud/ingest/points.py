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

from greenwire.shared.lineprotocol import SeriesPrefix, escape_key, format_field, format_float
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.wire import Quality, ReadingsBatch

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

    def _template(self, names: tuple[str, ...]) -> str:
        """``name=%s,name=%s,...`` for one set of quantities (cached per encoder)."""
        template = self._templates.get(names)
        if template is None:
            if len(self._templates) >= _MAX_TEMPLATES:
                self._templates.clear()
            keys = [_FIELD_KEYS[k].replace("%", "%%") for k in names]
            template = self._templates[names] = ",".join([f"{k}=%s" for k in keys])
        return template

    def lines(self, site: str, gateway: str, batch: ReadingsBatch) -> list[str]:
        """One line per reading of ``batch`` received from ``site``/``gateway``.

        The hot path formats all values of the batch in one ``orjson.dumps``
        call (shortest round-trip digits, the same as ``repr``) and drops the
        ``.0`` of integral values, which is what :func:`format_float` writes
        for magnitudes in [1e-4, 1e6) and zero. The field names of each
        distinct set of quantities become one ``%`` template, kept per
        encoder. A batch with any value outside that range (Go's encoder
        writes those with an exponent) is encoded reading by reading, and a
        reading with such a value through :func:`format_float` value by value.
        Same text either way (``tests/unit/test_cloud_points.py`` checks it).
        """
        readings = batch.readings
        columns = [list(reading.values.values()) for reading in readings]
        numbers = orjson.dumps(columns)
        texts: list[str | None]
        if _plain(numbers) and max(map(max, columns)) < 1e6 and min(map(min, columns)) > -1e6:
            # Shortest round-trip text never ends in 0 after the point except for ".0".
            text = numbers[2:-2].replace(b".0,", b",").replace(b".0]", b"]").decode()
            if text.endswith(".0"):
                text = text[:-2]
            texts = list(text.split("],["))
        else:
            texts = [self._fields_text(values) for values in columns]
        out: list[str] = []
        append = out.append
        quality_fields = _QUALITY_FIELDS
        zone: object = None
        epoch = _EPOCH
        template = self._template
        prefix = self._prefix
        for reading, numbers_text in zip(readings, texts, strict=True):
            values = reading.values
            if numbers_text is None:
                fields = _fields_slow(values)
            else:
                fields = template(tuple(values)) % tuple(numbers_text.split(","))
            ts = reading.ts
            if ts.tzinfo is not zone:
                # The epoch in the reading's own fixed-offset tzinfo: subtracting datetimes that
                # share a tzinfo object skips two offset lookups (see greenwire.cloud.ingest.validate), same result.
                zone = ts.tzinfo
                fixed = ts.tzinfo is not None and ts.tzinfo.utcoffset(None) is not None
                epoch = _EPOCH.astimezone(ts.tzinfo) if fixed else _EPOCH
            delta = ts - epoch  # timestamp_ns, inline: exact integer nanoseconds
            ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
            append(f"{prefix(site, gateway, reading.device)} {fields},{quality_fields[reading.quality]} {ns}")
        return out

    @staticmethod
    def _fields_text(values: list[float]) -> str | None:
        """The comma-separated text of one reading's values, or None if any needs format_float."""
        numbers = orjson.dumps(values)
        if not _plain(numbers) or max(values) >= 1e6 or min(values) <= -1e6:
            return None
        text = numbers[1:-1].replace(b".0,", b",").decode()
        return text[:-2] if text.endswith(".0") else text


def _plain(numbers: bytes) -> bool:
    """No exponent (b"e") and no magnitude under 1e-4 in orjson's text of the values.

    orjson writes 1e-5 as 0.00001, so b"0.0000" is in the text of every
    non-zero value under 1e-4 (it may flag a few harmless others, which then
    take the general path).
    """
    return b"e" not in numbers and b"0.0000" not in numbers


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
