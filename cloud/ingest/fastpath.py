"""One pass from MQTT bytes to line protocol: the ingestor's path for messages it can store.

:class:`FastPath` tries three codecs in turn, each stricter than the next:

1. the compiled pass (``_lines.c``, built by ``setup.py`` where a C compiler is found): one
   scan of the payload's bytes, writing the lines as it reads, for the spellings gateways
   send (see the C file's header for exactly which); no Python object per reading but the
   device id for its series prefix. It exists because the msgspec path below spends most of
   its time building the dicts, floats and strings of each reading only to write them out
   again as text: 2.5-4.5 us a reading on this project's machines, against the 2.5 us per
   reading, MQTT included, that 400,000 readings per CPU-second leaves;
2. msgspec, into the typed structures below (what the rest of this docstring describes);
3. the reference (pydantic), whose outcome is the contract.

The msgspec path decodes a payload straight into the typed
structures below (a compiled validator: field names, types, the quantity and
quality vocabularies, list and map sizes, integer bounds, RFC 3339 timestamps
with a zone, finite numbers, no unknown fields) and encodes line protocol from
them with a few whole-batch operations: one ``orjson.dumps`` of the batch's
value maps turned into the field sets by byte replacement, a cached series
prefix per device, one integer subtraction per timestamp. No model objects, no
intermediate dicts per reading.

The contract is :mod:`greenwire.cloud.ingest.validate` and
:mod:`greenwire.cloud.ingest.points` (the reference), unchanged:

- A message the fast path accepts gets exactly the lines the reference writes
  (``tests/unit/test_fastpath_differential.py`` runs both on the hostile corpus
  and on generated messages, valid and broken).
- A message the compiled pass refuses goes to the msgspec path as it came;
  one the msgspec path does not accept, for whatever reason, is handed to
  the reference as it came, and the reference's outcome is the answer: its
  reject reason and detail (the reasons' order and pydantic's wording are the
  contract, and rejects are rare), or its lines, for the few valid spellings the
  fast path leaves to it (below). So the fast path may be stricter than the
  contract, never looser, and a reject costs a scan and a msgspec attempt more
  than it did.

Left to the reference, on purpose:

- timestamps of 28 characters or more (over six fraction digits, or a
  fraction with an offset): msgspec rounds digits past the microsecond, the
  reference truncates them; telling the two apart would cost a scan of every
  payload, and gateways send milliseconds with ``Z``;
- spellings of a time that msgspec does not read and pydantic does (no
  seconds, a decimal comma, a Unix time in a string);
- a duplicate ``readings`` key whose first value is invalid (msgspec decodes
  both, the reference keeps the last);
- values outside [1e-4, 1e6) in magnitude (other than 0) are formatted value by
  value, as the reference does, instead of in one call.

Checks done here in Python rather than by msgspec, and why: ids are matched
with the pattern once per new id and then found in a set (a regex per reading
doubled the decode time), the payload's gateway is compared with the topic's
(the topic's was checked against the same pattern), and the time limits are
compared on integer nanoseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Final, Literal, Protocol

import msgspec
import orjson

from greenwire.cloud.ingest import _compiled
from greenwire.cloud.ingest.points import READINGS_MEASUREMENT, BuildingLookup, PointEncoder
from greenwire.cloud.ingest.validate import (
    EARLIEST_STORABLE,
    Accepted,
    Rejected,
    ValidationLimits,
    topic_ids,
    validate_message,
)
from greenwire.shared.lineprotocol import SeriesPrefix, format_float
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.topics import ID_PATTERN
from greenwire.shared.wire import (
    MAX_READINGS_PER_BATCH,
    MAX_VALUES_PER_READING,
    READINGS_SCHEMA,
    Quality,
)

if TYPE_CHECKING:
    QuantityName = str
    QualityName = str
else:
    QuantityName = Literal[tuple(QUANTITIES)]
    QualityName = Literal[tuple(q.value for q in Quality)]

ID_RE: Final = re.compile(ID_PATTERN)
"""Matched with ``fullmatch``: the whole string, as pydantic's ``^...$`` (no newline before the end)."""

Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_EARLIEST_NS: Final = (EARLIEST_STORABLE - _EPOCH) // _MICROSECOND * 1000
_EARLIEST_US: Final = _EARLIEST_NS // 1000
_LONGEST_FAST_TS: Final = 27
"""``YYYY-MM-DDTHH:MM:SS.ffffffZ``; every spelling with more fraction digits is longer."""
_MAX_IDS: Final = 100_000


class WireReading(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One reading as decoded; ``ts`` stays text until the batch's timestamps are read at once."""

    ts: str
    device: str
    values: Annotated[
        dict[QuantityName, float], msgspec.Meta(min_length=1, max_length=MAX_VALUES_PER_READING)
    ]
    quality: QualityName = "good"


class WireBatch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """``greenwire.readings.v1`` as msgspec decodes it (``shared.wire.ReadingsBatch`` is the contract)."""

    schema: Literal["greenwire.readings.v1"]
    gateway: str
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    sent_at: Timestamp
    readings: Annotated[
        list[WireReading], msgspec.Meta(min_length=1, max_length=MAX_READINGS_PER_BATCH)
    ]


assert READINGS_SCHEMA == "greenwire.readings.v1"

PlainFloat = Annotated[float, msgspec.Meta(gt=-1e6, lt=1e6)]
"""A value that orjson and the reference write alike unless it is under 1e-4 (checked on the text)."""


class _PlainReading(WireReading, forbid_unknown_fields=True, gc=False):
    values: Annotated[
        dict[QuantityName, PlainFloat], msgspec.Meta(min_length=1, max_length=MAX_VALUES_PER_READING)
    ]


class _PlainBatch(WireBatch, forbid_unknown_fields=True, gc=False):
    # A narrower item type: only decoded, never assigned to, so list's invariance does not bite.
    readings: Annotated[  # type: ignore[assignment]
        list[_PlainReading], msgspec.Meta(min_length=1, max_length=MAX_READINGS_PER_BATCH)
    ]


# Most batches hold only values under 1e6 in magnitude: the first decoder says so in its types,
# and the batch's field sets come from one orjson call. A batch it refuses is decoded again by
# the second (any finite value), and formatted reading by reading where needed.
_PLAIN: Final = msgspec.json.Decoder(_PlainBatch)
_DECODER: Final = msgspec.json.Decoder(WireBatch)
_DECODE_ERRORS: Final = (msgspec.MsgspecError, ValueError)
"""What decoding may raise: msgspec's own errors, and UnicodeDecodeError for bytes that are not UTF-8."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """An accepted message as the ingestor stores it: its lines and its readings' time span.

    The lines are one buffer, UTF-8, joined by newlines (none at the end): the ingestor holds
    a message's lines as one ``bytes`` and a request body is its messages' buffers joined by
    newlines, with no text per line built again (a body built from ``str`` costs a second copy
    of a megabyte-sized buffer per request). Line protocol escapes every newline in names and
    values, so splitting the buffer at newlines gives the lines back.
    """

    site: str
    gateway: str
    data: bytes
    count: int
    """How many lines ``data`` holds (one per reading)."""
    oldest_ns: int
    newest_ns: int
    seq: int | None = None
    """The batch's ``seq``, which the ingestor's commit to the gateway names once it is stored."""

    @property
    def lines(self) -> list[str]:
        """The lines, split out of ``data`` (for tests and tools; the ingestor keeps the buffer)."""
        return self.data.decode().split("\n")


Outcome = Encoded | Rejected


class Codec(Protocol):
    """Validates and encodes one message (``FastPath``, or ``ReferencePath`` for comparison)."""

    def encode(self, topic: str, payload: bytes, received_ns: int) -> Outcome: ...

    def describe(self) -> str: ...


def make_codec(
    kind: Literal["fast", "reference"], limits: ValidationLimits, building_of: BuildingLookup | None = None
) -> Codec:
    """The codec the ingestor's ``validation`` setting names."""
    return FastPath(limits, building_of) if kind == "fast" else ReferencePath(limits, building_of)


class ReferencePath:
    """:func:`validate_message` then :class:`PointEncoder`: the contract, as an ``encode`` call."""

    def __init__(self, limits: ValidationLimits, building_of: BuildingLookup | None = None) -> None:
        self._limits = limits
        self._encoder = PointEncoder(building_of)

    def describe(self) -> str:
        """What validates, for the ingestor's start-up log line."""
        return "the pydantic models (validation: reference)"

    def encode(self, topic: str, payload: bytes, received_ns: int) -> Outcome:
        """The outcome of a message received at ``received_ns`` (wall clock, ns since the epoch)."""
        now = _EPOCH + timedelta(microseconds=received_ns // 1000)
        outcome = validate_message(topic, payload, now=now, limits=self._limits)
        if not isinstance(outcome, Accepted):
            return outcome
        lines = self._encoder.lines(outcome.site, outcome.gateway, outcome.batch)
        stamps = [(r.ts - _EPOCH) // _MICROSECOND * 1000 for r in outcome.batch.readings]
        return Encoded(outcome.site, outcome.gateway, "\n".join(lines).encode(), len(lines), min(stamps), max(stamps),
                       outcome.batch.seq)


class _Prefixes(dict[str, str]):
    """Series prefix per device of one ``(site, gateway)``, built on first use."""

    __slots__ = ("_make", "gateway", "site")

    def __init__(self, site: str, gateway: str, make: Callable[[str, str, str], str]) -> None:
        super().__init__()
        self.site, self.gateway, self._make = site, gateway, make

    def __missing__(self, device: str) -> str:
        prefix = self[device] = self._make(self.site, self.gateway, device)
        return prefix


class _LinePrefixes(dict[str, bytes]):
    """The compiled pass's series prefixes of one ``(site, gateway)``: ``prefix + " "`` as bytes,
    built on first use; an id the contract does not allow raises KeyError (the pass then refuses
    the message, and the reference names the reason)."""

    __slots__ = ("_make", "gateway", "site")

    def __init__(self, site: str, gateway: str, make: Callable[[str, str, str], str]) -> None:
        super().__init__()
        self.site, self.gateway, self._make = site, gateway, make

    def __missing__(self, device: str) -> bytes:
        if not ID_RE.fullmatch(device):
            raise KeyError(device)
        prefix = self[device] = f"{self._make(self.site, self.gateway, device)} ".encode()
        return prefix


_QUALITY_SUFFIX: Final = {q.value: f',quality="{q.value}" ' for q in Quality}


class FastPath:
    """The ingestor's codec: :meth:`encode` gives the reference's outcome, faster.

    Keeps, per encoder, the escaped series prefix of each device (at most
    ``max_series``, for the msgspec path as ``str`` and for the compiled pass as
    ``bytes``; the caches are cleared when full, so a flood of new device or
    gateway ids cannot grow memory) and the device ids already matched against
    the id pattern.
    """

    def __init__(
        self,
        limits: ValidationLimits,
        building_of: BuildingLookup | None = None,
        *,
        max_series: int = 100_000,
        compiled: bool = True,
    ) -> None:
        self._max_payload = limits.max_payload_bytes
        # The reference adds timedelta(seconds=max_future_s) to a microsecond clock: same rounding.
        self._future_us = timedelta(seconds=limits.max_future_s) // _MICROSECOND
        self._building_of = building_of
        self._max_series = max_series
        self._series = 0
        self._prefixes: dict[tuple[str, str], _Prefixes] = {}
        self._line_prefixes: dict[tuple[str, str], _LinePrefixes] = {}
        self._ids: set[str] = set()
        self._lines = _compiled.lines() if compiled else None
        self._compiled_off = not compiled
        self.compiled = 0
        """Messages the compiled pass encoded (the rest went to the msgspec path first)."""
        self.reference = ReferencePath(limits, building_of)
        self.handed_over = 0
        """Messages the fast path left to the reference (rejects, and the spellings listed above)."""

    def describe(self) -> str:
        """What validates, for the ingestor's start-up log line."""
        if self._lines is not None:
            return "the compiled pass, then msgspec (validation: fast)"
        if self._compiled_off:
            return "msgspec (validation: fast, the compiled pass turned off)"
        return "msgspec (validation: fast; the compiled pass is not built in this install)"

    def _prefix(self, site: str, gateway: str, device: str) -> str:
        if self._series >= self._max_series:
            # Every cache at once, the (site, gateway) maps too: a flood of new gateway ids cannot
            # grow memory either. A map in use for the message at hand is simply dropped after it.
            self._prefixes.clear()
            self._line_prefixes.clear()
            self._series = 0
        self._series += 1
        tags = {"site": site, "gateway": gateway, "device": device}
        building = self._building_of(site, gateway, device) if self._building_of else None
        if building:
            tags["building"] = building
        return SeriesPrefix(READINGS_MEASUREMENT, tags).prefix

    def _valid_ids(self, devices: list[str]) -> bool:
        if self._ids.issuperset(devices):
            return True
        fresh = set(devices) - self._ids
        if not all(ID_RE.fullmatch(device) for device in fresh):
            return False
        if len(self._ids) + len(fresh) > _MAX_IDS:
            self._ids.clear()
        self._ids |= fresh
        return True

    def encode(self, topic: str, payload: bytes, received_ns: int) -> Outcome:
        """Validate and encode a message received at ``received_ns`` (wall clock, ns since the epoch).

        The reference's outcome for every message; never raises.
        """
        if len(payload) <= self._max_payload:
            ids = topic_ids(topic)
            if ids is not None:
                if self._lines is not None:
                    lines = self._line_prefixes.get(ids)
                    if lines is None:
                        lines = self._line_prefixes[ids] = _LinePrefixes(ids[0], ids[1], self._prefix)
                    done = self._lines.encode(payload, ids[1], lines, received_ns // 1000 + self._future_us,
                                              _EARLIEST_US)
                    if done is not None:
                        self.compiled += 1
                        return Encoded(ids[0], ids[1], *done)
                batch: WireBatch | None
                try:
                    batch, plain = _PLAIN.decode(payload), True
                except msgspec.ValidationError:
                    try:
                        batch, plain = _DECODER.decode(payload), False
                    except _DECODE_ERRORS:
                        batch = None
                except _DECODE_ERRORS:
                    batch = None
                if batch is not None:
                    encoded = self._encode(ids[0], ids[1], batch, plain, received_ns)
                    if encoded is not None:
                        return encoded
        self.handed_over += 1
        return self.reference.encode(topic, payload, received_ns)

    def _encode(self, site: str, gateway: str, batch: WireBatch, plain: bool, received_ns: int) -> Encoded | None:
        """The lines of a decoded batch, or None to leave the message to the reference."""
        if batch.gateway != gateway:
            return None
        readings = batch.readings
        texts = [r.ts for r in readings]
        if max(map(len, texts)) > _LONGEST_FAST_TS:
            return None
        try:
            stamps = msgspec.convert(texts, list[Timestamp])
        except msgspec.ValidationError:
            return None
        epoch = _EPOCH
        # Integer nanoseconds, exactly (timedelta // timedelta is 4x slower; a comprehension is
        # 15 % faster than a loop of appends).
        ns = [((d := ts - epoch).days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1000 for ts in stamps]
        oldest, newest = min(ns), max(ns)
        if newest > (received_ns // 1000 + self._future_us) * 1000 or oldest < _EARLIEST_NS:
            return None
        devices = [r.device for r in readings]
        if not self._valid_ids(devices):
            return None
        prefixes = self._prefixes.get((site, gateway))
        if prefixes is None:
            prefixes = self._prefixes[(site, gateway)] = _Prefixes(site, gateway, self._prefix)
        fields = _field_sets([r.values for r in readings], plain)
        suffix = _QUALITY_SUFFIX
        data = "\n".join([
            f"{prefixes[device]} {text}{suffix[r.quality]}{stamp}"
            for device, text, r, stamp in zip(devices, fields, readings, ns, strict=True)
        ]).encode()
        return Encoded(site, gateway, data, len(ns), oldest, newest, batch.seq)


def _field_sets(values: list[dict[str, float]], plain: bool) -> list[str]:
    """``name=value,...`` of each reading, in the order sent, as :class:`PointEncoder` writes it.

    One ``orjson.dumps`` of all the maps (shortest round-trip digits, as
    ``repr``; the names need no escaping), then, in one ``translate``: quotes
    dropped, ``:`` to ``=`` and ``}`` to ``,``, so that one ``replace`` drops
    the ``.0`` of every integral value (shortest round-trip text never ends in 0
    after the point except for ``.0``): that is what the reference's
    ``format_float`` writes for magnitudes in [1e-4, 1e6) and zero. Readings
    are then separated by ``,,{``. ``plain`` says the decoder already held
    every value under 1e6 in magnitude; a reading with a value outside
    [1e-4, 1e6) (other than 0) is formatted value by value instead.
    """
    text = orjson.dumps(values).translate(_TO_FIELDS, b'"').replace(b".0,", b",")
    sets = text.decode()[2:-2].split(",,{")
    # Under 1e-4, orjson writes an exponent below 1e-5 (b"e-": no quantity name has a "-") and
    # b"0.0000..." from 1e-5 (a few harmless others match too, and are checked one by one).
    # b"-" first: one memchr, where the two-byte b"e-" stops at every "e" of the names.
    if not plain or (b"-" in text and b"e-" in text) or b"0.0000" in text:
        sets = [text_ if _plain(v) else _fields_by_value(v) for text_, v in zip(sets, values, strict=True)]
    return sets


_TO_FIELDS: Final = bytes.maketrans(b":}", b"=,")


def _plain(values: dict[str, float]) -> bool:
    """All values are 0 or in [1e-4, 1e6) in magnitude: orjson's text is the reference's."""
    return all(v == 0.0 or 1e-4 <= abs(v) < 1e6 for v in values.values())


def _fields_by_value(values: dict[str, float]) -> str:
    """The field set through :func:`format_float`, value by value (any magnitude; names need no escaping)."""
    return ",".join([f"{name}={format_float(value)}" for name, value in values.items()])
