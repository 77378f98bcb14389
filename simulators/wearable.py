"""A simulated wearable gateway: the hub that collects clinical-grade wearables at a care site.

It serves FHIR R4 vital-sign Observations over HTTP for many participants, with an
incremental cursor, as hubs of this kind do::

    GET /fhir/Observation?_cursor=0&_count=500
    -> Bundle (searchset): the Observations recorded after cursor 0, oldest first, plus the
       Patient resources they reference (search.mode "include"), and
       link[relation=next] = /fhir/Observation?_cursor=N&_count=500 (N: where to go on from)

The resources are shaped like the official examples of the vital-signs profiles (heart rate
8867-4, SpO2 59408-5 with 2708-6, body temperature 8310-5, respiratory rate 9279-1, the
blood-pressure panel 85354-9 with components 8480-6 and 8462-4). Heart rate is a real
wearable's series (``data/wearable-heart-rate``, Fitbit, every 5 s), each participant from a
different offset; the other vitals are generated, deterministically. The awkward cases of real
hubs are all there:

- a blood-pressure panel with its diastolic component absent (``dataAbsentReason``
  not-performed, as ``observation-example-bloodpressure-dar``), and ``cancelled`` panels;
- temperatures later retracted as ``entered-in-error`` (same id, sent again);
- float artefacts (``36.800000000000004``) and a thermometer that reports ``[degF]``;
- a device resending a block of old observations (same ids, new cursor positions);
- body weight (29463-7), a code the pilot does not carry.

Participants have raw ids, medical record numbers, names, birth dates and addresses, in the
Observations' ``subject`` (reference, identifier, display) and the included Patients, so that
a privacy test can look for every one of them downstream.

Time: the hub records what the wearables measured up to its present moment, which runs
``speed`` times faster than the wall clock from ``start`` but never passes the wall clock
(catch-up, then live), so effective times are never in the future.
"""

from __future__ import annotations

import bisect
import csv
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

DATA_DIR: Final = Path(__file__).parent / "data" / "wearable-heart-rate"
HEART_RATE_FILE: Final = DATA_DIR / "fitbit-heartrate-seconds-2016-04-01.csv"
_NS: Final = uuid.UUID("6f1c3d1e-4d0b-4f38-9d8e-0c6b2a7f5e11")

LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
VITAL_SIGNS_CATEGORY: Final = [{"coding": [{
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "vital-signs", "display": "Vital Signs"}], "text": "Vital Signs"}]

_FIRST = ("Margaret", "Wei", "Ingrid", "Tomasz", "Aisha", "Henrik", "Lucia", "Jun", "Eleanor",
          "Oluwaseun", "Birgit", "Mateo", "Yuki", "Fatima", "Desmond", "Sofia")
_LAST = ("Okonkwo", "Lindqvist", "Zhang", "Kowalczyk", "Haddad", "Moreau", "Fitzgerald",
         "Nakamura", "Castellanos", "Brennan", "Achterberg", "Rahman", "Delacroix", "Ivanova")
_STREETS = ("Mill Lane", "Station Road", "Orchard Close", "Church Street", "Willow Way")


@dataclass(frozen=True, slots=True)
class Participant:
    """A participant as the hub knows them: everything here is identifying."""

    index: int
    id: str
    mrn: str
    given: str
    family: str
    birth_date: date
    address: str
    kind: str
    """``typical``, ``copd`` (SpO2 dips below 92 %), ``fever`` (spells above 38 degC)."""
    fahrenheit: bool = False

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


def make_participants(count: int, *, seed: int = 7) -> list[Participant]:
    """``count`` participants with made-up but realistic identities (deterministic)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        kind = "copd" if i % 5 == 1 else "fever" if i % 7 == 3 else "typical"
        out.append(Participant(
            index=i,
            id=f"pat-{rng.randrange(16**8):08x}",
            mrn=f"MRN{rng.randrange(10**7):07d}",
            given=_FIRST[i % len(_FIRST)],
            family=_LAST[(i * 5 + 3) % len(_LAST)],
            birth_date=date(1931 + rng.randrange(40), 1 + rng.randrange(12), 1 + rng.randrange(28)),
            address=f"{1 + rng.randrange(120)} {_STREETS[i % len(_STREETS)]}, Little Shelford CB22 {i}QX",
            kind=kind,
            fahrenheit=(i == 2),
        ))
    return out


@dataclass(frozen=True, slots=True)
class HeartRateSeries:
    """A recorded heart-rate series: seconds from its first sample, and beats per minute."""

    offsets_s: tuple[float, ...]
    bpm: tuple[float, ...]

    @property
    def duration_s(self) -> float:
        return self.offsets_s[-1] + 5.0

    def between(self, start_s: float, end_s: float) -> list[tuple[float, float]]:
        """Samples with series time in ``(start_s, end_s]``, the series repeating end to end."""
        out: list[tuple[float, float]] = []
        period = self.duration_s
        cycle = int(start_s // period)
        while cycle * period < end_s:
            base = cycle * period
            lo = bisect.bisect_right(self.offsets_s, start_s - base)
            hi = bisect.bisect_right(self.offsets_s, end_s - base)
            out += [(base + self.offsets_s[k], self.bpm[k]) for k in range(lo, hi)]
            cycle += 1
        return out


def load_heart_rate(path: Path = HEART_RATE_FILE) -> HeartRateSeries:
    """Read the Fitbit ``Id,Time,Value`` CSV (US 12-hour local times) into a series."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(datetime.strptime(r["Time"], "%m/%d/%Y %I:%M:%S %p"), float(r["Value"]))
                for r in csv.DictReader(handle)]
    if not rows:
        raise ValueError(f"{path}: no heart-rate samples")
    first = rows[0][0]
    return HeartRateSeries(tuple((t - first).total_seconds() for t, _ in rows), tuple(v for _, v in rows))


def _noise(*key: int) -> float:
    """A deterministic number in [-1, 1] for this key (ints hash the same in every process)."""
    return random.Random(hash(key)).uniform(-1.0, 1.0)


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class HubStats:
    """What the hub has recorded and served, for tests and the demo."""

    recorded: int = 0
    resent: int = 0
    retracted: int = 0
    served_pages: int = 0
    by_code: dict[str, int] = field(default_factory=dict)


class WearableHub:
    """The hub's record: an append-only log of Observations; the cursor is a position in it."""

    SPO2_PERIOD_S: Final = 60
    RR_PERIOD_S: Final = 60
    TEMP_PERIOD_S: Final = 600
    BP_PERIOD_S: Final = 1800
    WEIGHT_PERIOD_S: Final = 43_200
    RESEND_PERIOD_S: Final = 900
    RESEND_COUNT: Final = 20

    def __init__(
        self,
        participants: list[Participant],
        *,
        start: datetime,
        speed: float = 1.0,
        heart_rate: HeartRateSeries | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hub_id: str = "hub",
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.participants = participants
        self.start = start
        self.speed = speed
        self.hr = heart_rate or load_heart_rate()
        self._clock = clock
        self._wall0 = clock()
        self._done_s = 0.0
        self.log: list[dict[str, Any]] = []
        self.stats = HubStats()
        self._retract: list[tuple[float, dict[str, Any]]] = []
        self._hub_id = hub_id
        self._last_at = 0.0

    def now(self) -> datetime:
        """The hub's present: ``start`` plus ``speed`` x wall time, never past the wall clock."""
        wall = self._clock()
        sim = self.start + (wall - self._wall0) * self.speed
        return min(sim, wall)

    # -- recording ------------------------------------------------------------------------

    def advance(self, until: datetime | None = None) -> int:
        """Record what the wearables measured up to ``until`` (default: now); return how many."""
        end_s = ((until or self.now()) - self.start).total_seconds()
        start_s = self._done_s
        if end_s <= start_s:
            return 0
        new: list[tuple[float, dict[str, Any]]] = []
        for p in self.participants:
            offset = (p.index * 28_657.0) % self.hr.duration_s
            for t, bpm in self.hr.between(start_s + offset, end_s + offset):
                new.append((t - offset, self._heart_rate(p, t - offset, bpm)))
            phase = p.index * 7.0
            for k in self._ticks(start_s, end_s, self.SPO2_PERIOD_S, phase):
                new.append((k * self.SPO2_PERIOD_S + phase, self._spo2(p, k)))
            for k in self._ticks(start_s, end_s, self.RR_PERIOD_S, phase + 30):
                new.append((k * self.RR_PERIOD_S + phase + 30, self._resp_rate(p, k)))
            for k in self._ticks(start_s, end_s, self.TEMP_PERIOD_S, phase):
                at = k * self.TEMP_PERIOD_S + phase
                resource = self._temperature(p, k)
                new.append((at, resource))
                if k % 9 == 5:  # taken again one period later: "wrong patient", entered-in-error
                    self._retract.append((at + self.TEMP_PERIOD_S, resource))
            for k in self._ticks(start_s, end_s, self.BP_PERIOD_S, phase * 3):
                new.append((k * self.BP_PERIOD_S + phase * 3, self._blood_pressure(p, k)))
            for k in self._ticks(start_s, end_s, self.WEIGHT_PERIOD_S, 3600 + phase):
                new.append((k * self.WEIGHT_PERIOD_S + 3600 + phase, self._weight(p, k)))
        due = [(at, r) for at, r in self._retract if start_s < at <= end_s]
        self._retract = [(at, r) for at, r in self._retract if at > end_s]
        for at, resource in due:
            new.append((at, {**resource, "status": "entered-in-error",
                             "meta": {**resource["meta"], "lastUpdated": _ts(self.start + timedelta(seconds=at))}}))
            self.stats.retracted += 1
        new.sort(key=lambda item: item[0])
        for at, resource in new:
            self.log.append(resource)
            self.stats.recorded += 1
            self.stats.by_code[resource["code"]["coding"][0]["code"]] = (
                self.stats.by_code.get(resource["code"]["coding"][0]["code"], 0) + 1)
            # A device that lost its acknowledgement sends its last observations again.
            if int(at // self.RESEND_PERIOD_S) != int(self._last_at // self.RESEND_PERIOD_S) and len(self.log) > 1:
                old = self.log[-1 - self.RESEND_COUNT : -1]
                self.log.extend(old)
                self.stats.resent += len(old)
            self._last_at = at
        self._done_s = end_s
        return len(new)

    @staticmethod
    def _ticks(start_s: float, end_s: float, period: float, phase: float) -> range:
        """Indices k with ``start_s < k * period + phase <= end_s``."""
        first = int((start_s - phase) // period) + 1
        last = int((end_s - phase) // period)
        return range(max(first, 0), last + 1)

    # -- resources ------------------------------------------------------------------------

    def _base(self, p: Participant, code: str, display: str, at_s: float, seq: str,
              profile: str, extra_codings: tuple[dict[str, str], ...] = ()) -> dict[str, Any]:
        at = self.start + timedelta(seconds=at_s)
        oid = uuid.uuid5(_NS, f"{self._hub_id}/{p.id}/{code}/{seq}")
        return {
            "resourceType": "Observation",
            "id": oid.hex[:20],
            "meta": {"profile": [f"http://hl7.org/fhir/StructureDefinition/{profile}"],
                     "lastUpdated": _ts(at)},
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{oid}"}],
            "status": "final",
            "category": VITAL_SIGNS_CATEGORY,
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}, *extra_codings],
                     "text": display},
            "subject": {"reference": f"Patient/{p.id}", "display": p.name,
                        "identifier": {"system": "urn:oid:1.2.36.146.595.217.0.1", "value": p.mrn}},
            "effectiveDateTime": _ts(at),
            "device": {"reference": f"Device/wb-{p.index:04d}", "display": f"wristband of {p.given}"},
        }

    def _heart_rate(self, p: Participant, at_s: float, bpm: float) -> dict[str, Any]:
        r = self._base(p, "8867-4", "Heart rate", at_s, f"{at_s:.0f}", "heartrate")
        r["valueQuantity"] = {"value": bpm, "unit": "beats/minute", "system": UCUM, "code": "/min"}
        return r

    def _spo2(self, p: Participant, k: int) -> dict[str, Any]:
        value = 97.0 + 1.5 * _noise(p.index, 1, k)
        if p.kind == "copd":
            minute = k % 60
            value = 93.5 + _noise(p.index, 1, k)
            if 20 <= minute < 35:
                value = 89.0 + _noise(p.index, 1, k)  # a desaturation spell
            elif 35 <= minute < 45:
                value = 92.0 + 0.5 * _noise(p.index, 1, k)  # wavering at the threshold
        r = self._base(p, "2708-6", "Oxygen saturation in Arterial blood", k * 60.0 + p.index * 7, str(k),
                       "oxygensat", ({"system": LOINC, "code": "59408-5",
                                      "display": "Oxygen saturation in Arterial blood by Pulse oximetry"},))
        r["valueQuantity"] = {"value": round(min(value, 100.0)), "unit": "%", "system": UCUM, "code": "%"}
        return r

    def _resp_rate(self, p: Participant, k: int) -> dict[str, Any]:
        r = self._base(p, "9279-1", "Respiratory rate", k * 60.0 + p.index * 7 + 30, str(k), "resprate")
        r["valueQuantity"] = {"value": round(15 + 2.5 * _noise(p.index, 2, k)), "unit": "breaths/minute",
                              "system": UCUM, "code": "/min"}
        return r

    def _temperature(self, p: Participant, k: int) -> dict[str, Any]:
        celsius = 36.6 + round(0.3 * _noise(p.index, 3, k), 1)  # float sums such as 36.800000000000004
        if p.kind == "fever" and 12 <= k % 36 < 21:
            celsius = 38.2 + round(0.5 * (1 + _noise(p.index, 3, k)), 1)
        r = self._base(p, "8310-5", "Body temperature", k * 600.0 + p.index * 7, str(k), "bodytemp")
        if p.fahrenheit:
            r["valueQuantity"] = {"value": celsius * 9 / 5 + 32, "unit": "degF", "system": UCUM, "code": "[degF]"}
        else:
            r["valueQuantity"] = {"value": celsius, "unit": "C", "system": UCUM, "code": "Cel"}
        return r

    def _blood_pressure(self, p: Participant, k: int) -> dict[str, Any]:
        r = self._base(p, "85354-9", "Blood pressure panel with all children optional",
                       k * 1800.0 + p.index * 21, str(k), "bp")
        systolic = round(124 + 10 * _noise(p.index, 4, k))
        diastolic = round(79 + 6 * _noise(p.index, 5, k))
        absent = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                              "code": "not-performed", "display": "Not Performed"}]}
        components: list[dict[str, Any]] = [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
             "valueQuantity": {"value": systolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
             "valueQuantity": {"value": diastolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
        ]
        if k % 7 == 4:  # the measurement was cancelled: status cancelled, nothing measured
            r["status"] = "cancelled"
            for c in components:
                del c["valueQuantity"]
                c["dataAbsentReason"] = absent
        elif k % 5 == 2:  # the cuff gave up on the diastolic
            del components[1]["valueQuantity"]
            components[1]["dataAbsentReason"] = absent
        r["component"] = components
        return r

    def _weight(self, p: Participant, k: int) -> dict[str, Any]:
        r = self._base(p, "29463-7", "Body Weight", k * 43_200.0 + 3600 + p.index * 7, str(k), "bodyweight")
        r["valueQuantity"] = {"value": round(68 + 12 * _noise(p.index, 6), 1), "unit": "kg",
                              "system": UCUM, "code": "kg"}
        return r

    # -- serving --------------------------------------------------------------------------

    def patient(self, p: Participant) -> dict[str, Any]:
        """The Patient resource the hub includes with a page (everything a privacy leak could carry)."""
        return {
            "resourceType": "Patient",
            "id": p.id,
            "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": p.mrn}],
            "name": [{"use": "official", "family": p.family, "given": [p.given]}],
            "birthDate": p.birth_date.isoformat(),
            "address": [{"line": [p.address.split(",")[0]], "city": "Little Shelford", "country": "GB"}],
        }

    def page(self, cursor: int, count: int, base_url: str = "") -> dict[str, Any]:
        """A searchset Bundle of the Observations after ``cursor`` and the Patients they reference."""
        self.advance()
        cursor = max(0, min(cursor, len(self.log)))
        chunk = self.log[cursor : cursor + count]
        subjects = {r["subject"]["reference"] for r in chunk}
        by_ref = {f"Patient/{p.id}": p for p in self.participants}
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{base_url}/fhir/Observation/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in chunk
        ]
        entries += [
            {"fullUrl": f"{base_url}/fhir/{ref}", "resource": self.patient(by_ref[ref]), "search": {"mode": "include"}}
            for ref in sorted(subjects) if ref in by_ref
        ]
        next_cursor = cursor + len(chunk)
        self.stats.served_pages += 1
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "timestamp": _ts(self._clock()),
            "link": [
                {"relation": "self", "url": f"{base_url}/fhir/Observation?_cursor={cursor}&_count={count}"},
                {"relation": "next", "url": f"{base_url}/fhir/Observation?_cursor={next_cursor}&_count={count}"},
            ],
            "entry": entries,
        }


class WearableServer:
    """The hub over HTTP (aiohttp): ``GET /fhir/Observation?_cursor=N&_count=M``, ``GET /fhir/metadata``.

    ``port=0`` picks a free port; ``.port`` and ``.url`` tell which once started.
    ``fail_next(n)`` makes the next ``n`` requests answer 503, as a hub that is rebooting.
    """

    MAX_COUNT: Final = 1000

    def __init__(self, hub: WearableHub, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        self.requests = 0
        self._failures = 0
        self._runner: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def fail_next(self, requests: int) -> None:
        self._failures = requests

    async def start(self) -> Self:
        from aiohttp import web

        async def observations(request: web.Request) -> web.Response:
            self.requests += 1
            if self._failures > 0:
                self._failures -= 1
                return web.json_response({"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "transient", "diagnostics": "hub restarting"}]}, status=503)
            try:
                cursor = int(request.query.get("_cursor", "0"))
                count = int(request.query.get("_count", "500"))
            except ValueError:
                return web.json_response({"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "invalid", "diagnostics": "_cursor and _count are integers"}]},
                    status=400)
            count = max(1, min(count, self.MAX_COUNT))
            body = self.hub.page(cursor, count, base_url=self.url)
            return web.json_response(body, content_type="application/fhir+json")

        async def metadata(request: web.Request) -> web.Response:
            return web.json_response({"resourceType": "CapabilityStatement", "status": "active",
                                      "fhirVersion": "4.0.1", "kind": "instance", "format": ["json"]},
                                     content_type="application/fhir+json")

        app = web.Application()
        app.router.add_get("/fhir/Observation", observations)
        app.router.add_get("/fhir/metadata", metadata)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.stop()
