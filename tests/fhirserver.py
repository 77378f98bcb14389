"""An independent FHIR R4 server for tests, written from the specification and HAPI FHIR's behaviour.

It is not derived from ``simulators/wearable.py``: its paging, filtering, ids and data are its own.
Run it as a process (``python -m tests.fhirserver --state DIR``); it prints one JSON line with its
base URL (``http://127.0.0.1:PORT/baseR4``) and serves until killed. What it does, and where from:

- ``GET [base]/metadata``: a CapabilityStatement (R4 3.1.0.0: fhirVersion 4.0.1, JSON formats,
  Observation with ``search-type`` and its search parameters, the SMART ``oauth-uris`` extension).
- ``GET [base]/Observation?...`` (R4 3.1.1 search): ``_lastUpdated`` with the prefixes
  ``eq ne gt lt ge le sa eb`` and the implicit range of the value's precision (R4 3.1.1.5.6;
  ``gt2026-12-02T10:00`` means from 10:01), repeatable (AND); ``_id``, ``patient``/``subject``,
  ``code``, ``category``; ``_sort`` on ``_lastUpdated``, ``-_lastUpdated``, ``_id``, ``date``
  (ties broken by id); ``_count`` (default 20, at most 200, as HAPI's defaults); ``Bundle.total``.
  Unknown parameters are ignored and left out of the self link (R4 3.1.1.5.1: "the server SHALL
  return the parameters it actually used"); with ``Prefer: handling=strict`` they are a 400.
- Paging as HAPI FHIR does it: a search is a snapshot of matching ids, kept ``--search-ttl``
  seconds; its next links are ``[base]?_getpages=<uuid>&_getpagesoffset=N&_count=N&_pretty=true
  &_bundletype=searchset`` (on the base, not on ``/Observation``); a page serves the resources'
  current versions; an unknown or expired search id is 410 Gone with an OperationOutcome, and
  so is every link of an earlier process (a restart changes the ids).
- A search repeated within ``--reuse-cached-s`` (60 s, HAPI's ``reuseCachedSearchResultsForMillis``)
  is answered from the first one's snapshot, unless the request has ``Cache-Control: no-cache``.
- Without ``_sort`` the order is unspecified (here: by a hash of the id, never chronological);
  ``--no-sort`` makes ``_sort`` unsupported (ignored and not echoed), as some servers are.
- ``meta.versionId`` and ``meta.lastUpdated`` (milliseconds, ``+00:00``) set by the server on
  every write; a batch of writes shares one instant, like a HAPI transaction.
- Errors as OperationOutcome (``application/fhir+json``): 400 invalid parameters, 401 missing or
  expired tokens (with ``WWW-Authenticate``), 410 gone searches, 429 with ``Retry-After`` when
  throttled; gzip when the client accepts it.
- SMART Backend Services (``--smart-client-id``, ``--smart-jwks``): ``POST /auth/token`` takes a
  client_credentials grant with a JWT assertion (RS384 or ES384, checked against the JWKS:
  iss = sub = client id, aud = the token URL, exp at most 5 minutes ahead, jti used once) and
  issues opaque tokens living ``--token-lifetime`` seconds.

Data: the official R4 vital-sign examples (``tests/data/fhir-r4-vital-signs``, CC0) as templates,
heart rate from the real Fitbit series (``simulators/data/wearable-heart-rate``, CC BY 4.0), for
participants with made-up identities that a privacy test can look for. Every version written is
appended to ``STATE/versions.jsonl``, so a restart keeps the data and loses the searches.

Test control (not FHIR, under ``/_control``): ``POST live`` writes what was measured since the last
write (``--live-interval S`` does it every S seconds); ``POST backfill?hours=H`` writes H hours of measurements from
before the first (a wearable uploading what it stored offline); ``POST update?count=K`` gives K observations a new version (an amended temperature,
a retracted heart rate, a touched resource); ``POST throttle?requests=N&retry_after=S``;
``POST forget?after=N`` (all searches dropped after N more pages, as by a restart mid-traversal);
``POST expire-tokens``; ``GET stats``, ``GET participants``, ``GET versions``, ``GET served``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import csv
import hashlib
import json
import math
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

ROOT: Final = Path(__file__).parents[1]
EXAMPLES: Final = ROOT / "tests" / "data" / "fhir-r4-vital-signs"
HEART_RATE: Final = ROOT / "simulators" / "data" / "wearable-heart-rate" / "fitbit-heartrate-seconds-2016-04-01.csv"
BASE_PATH: Final = "/baseR4"
DEFAULT_COUNT: Final = 20
MAX_COUNT: Final = 200
FHIR_JSON: Final = "application/fhir+json;charset=UTF-8"
OBS_IDENTIFIER: Final = "urn:oid:2.16.840.1.113883.3.9999.7"
MRN_SYSTEM: Final = "urn:oid:2.16.840.1.113883.3.9999.1"
LOCAL: Final = timezone(timedelta(hours=8))
"""Effective times carry the site's offset (UTC+8), lastUpdated the server's UTC."""

_GIVEN = ("Anneliese", "Bartholomew", "Chiamaka", "Dmitri", "Evangelina", "Florian", "Guadalupe", "Hiroshi",
          "Ilse", "Jovan")
_FAMILY = ("Abernathy", "Bergqvist", "Chukwuma", "Dragomirov", "Esposito", "Fairweather", "Gallagher",
           "Hoshino", "Iversen", "Jankowski")


@dataclass(frozen=True, slots=True)
class Person:
    """A participant as the server knows them: every field is identifying."""

    index: int
    id: str
    mrn: str
    given: str
    family: str
    birth_date: str
    kind: str  # typical, copd (SpO2 dips), fever (temperature spells)

    def secrets(self) -> list[str]:
        return [self.id, self.mrn, self.given, self.family, f"{self.given} {self.family}", self.birth_date]


def people(count: int) -> list[Person]:
    out = []
    for i in range(count):
        digest = hashlib.sha256(f"fhirserver-person-{i}".encode()).hexdigest()
        out.append(Person(i, f"pt{int(digest[:8], 16) % 900000 + 100000}", f"H{int(digest[8:16], 16) % 10**8:08d}",
                          _GIVEN[i % len(_GIVEN)], _FAMILY[(i * 3 + 1) % len(_FAMILY)],
                          f"19{40 + int(digest[16:18], 16) % 40}-0{1 + i % 9}-1{i % 10}",
                          "copd" if i % 4 == 1 else "fever" if i % 4 == 3 else "typical"))
    return out


def _template(name: str) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((EXAMPLES / f"observation-example-{name}.json").read_text())
    for key in ("id", "text", "identifier", "subject", "effectiveDateTime", "partOf", "basedOn", "device"):
        resource.pop(key, None)
    return resource


def _heart_rates() -> list[float]:
    with HEART_RATE.open(newline="") as handle:
        return [float(row["Value"]) for row in csv.DictReader(handle)]


def _instant(at: datetime) -> str:
    """FHIR instant as HAPI writes it: milliseconds and an explicit offset."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+00:00"


def _unit(*key: object) -> float:
    """A deterministic number in [0, 1) for a key."""
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:12], 16) / 16**12


# --- measurements: what the wearables record, from the official examples ---------------------

SCHEDULE: Final = (("heart-rate", 5), ("satO2", 60), ("respiratory-rate", 300), ("body-temperature", 900),
                   ("bloodpressure", 1800), ("body-height", 21600))
"""Template and period in seconds (heart rate at the real series' own 5 s spacing)."""


class Measurements:
    """Observations of each person for a span of effective time (pure, deterministic)."""

    def __init__(self, persons: list[Person], origin: datetime) -> None:
        self.persons = persons
        self.origin = origin
        self.templates = {name: _template(name) for name, _ in SCHEDULE}
        self.templates["bloodpressure-dar"] = _template("bloodpressure-dar")
        self.templates["bloodpressure-cancel"] = _template("bloodpressure-cancel")
        self.hr = _heart_rates()

    def between(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Observations with effective time in ``[start, end)``, without id or meta (the server sets them)."""
        t0 = (start - self.origin).total_seconds()
        t1 = (end - self.origin).total_seconds()
        for name, period in SCHEDULE:
            for person in self.persons:
                phase = (person.index * 7) % period
                k = math.floor((t0 - phase) / period)
                while True:
                    at_s = k * period + phase
                    if at_s >= t1:
                        break
                    if at_s >= t0:
                        yield self._one(name, person, k, self.origin + timedelta(seconds=at_s))
                    k += 1

    def _one(self, name: str, person: Person, k: int, at: datetime) -> dict[str, Any]:
        template = name
        if name == "bloodpressure":
            turn = k + person.index
            template = "bloodpressure-dar" if turn % 5 == 2 else "bloodpressure-cancel" if turn % 7 == 3 else name
        resource = copy.deepcopy(self.templates[template])
        resource["identifier"] = [{"system": OBS_IDENTIFIER, "value": str(uuid.UUID(int=int(
            hashlib.sha256(f"{person.id}/{name}/{k}".encode()).hexdigest()[:32], 16)))}]
        resource["subject"] = {"reference": f"Patient/{person.id}", "display": f"{person.given} {person.family}",
                               "identifier": {"system": MRN_SYSTEM, "value": person.mrn}}
        resource["effectiveDateTime"] = at.astimezone(LOCAL).isoformat(timespec="seconds")
        u = _unit(person.id, name, k)
        if name == "heart-rate":
            resource["valueQuantity"]["value"] = self.hr[(person.index * 997 + k) % len(self.hr)]
        elif name == "satO2":
            dip = person.kind == "copd" and k % 20 < 4  # four minutes below 92 %: a held low
            resource["valueQuantity"]["value"] = round((88.0 if dip else 95.0) + 3 * u)
        elif name == "respiratory-rate":
            resource["valueQuantity"]["value"] = 12 + round(8 * u)
        elif name == "body-temperature":
            spell = person.kind == "fever" and k % 8 < 2
            resource["valueQuantity"]["value"] = round((38.4 if spell else 36.3) + 0.2 + 0.6 * u, 1)
        elif template == "bloodpressure":
            resource["component"][0]["valueQuantity"]["value"] = 105 + round(30 * u)
            resource["component"][1]["valueQuantity"]["value"] = 60 + round(25 * u)
        return resource


# --- the store ----------------------------------------------------------------------------------

@dataclass(slots=True)
class Search:
    ids: list[str]
    used: dict[str, list[str]]
    created: float


@dataclass(slots=True)
class Stats:
    requests: int = 0
    searches: int = 0
    pages: int = 0
    observations_served: int = 0
    throttled: int = 0
    unauthorised: int = 0
    gone: int = 0
    gzip_responses: int = 0
    tokens_issued: int = 0
    token_refusals: int = 0
    cache_hits: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class Store:
    """Every Observation's versions, the current one last; appended to a JSON-lines file."""

    def __init__(self, state: Path) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.path = state / "versions.jsonl"
        self.current: dict[str, dict[str, Any]] = {}
        self.versions: list[dict[str, Any]] = []
        self.next_id = 1000
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                resource = json.loads(line)
                self.versions.append(resource)
                self.current[resource["id"]] = resource
                self.next_id = max(self.next_id, int(resource["id"]) + 1)

    def write(self, resources: list[dict[str, Any]], *, update: bool = False) -> None:
        """Create (or, with ``update``, new versions of) resources, all at one instant (a transaction)."""
        stamp = _instant(datetime.now(UTC))
        lines = []
        for resource in resources:
            resource = copy.deepcopy(resource)
            if update:
                version = int(self.current[resource["id"]]["meta"]["versionId"]) + 1
            else:
                resource["id"] = str(self.next_id)
                self.next_id += 1
                version = 1
            resource["meta"] = {**resource.get("meta", {}), "versionId": str(version), "lastUpdated": stamp}
            self.current[resource["id"]] = resource
            self.versions.append(resource)
            lines.append(json.dumps(resource, separators=(",", ":")))
        with self.path.open("a") as handle:
            handle.write("".join(line + "\n" for line in lines))


# --- search, from the specification -------------------------------------------------------------

class BadRequest(Exception):
    pass


_PREFIXES: Final = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def date_range(text: str) -> tuple[datetime, datetime]:
    """A search date value's implicit range ``[low, high)`` by its precision (R4 3.1.1.5.6)."""
    formats = (("%Y", 4), ("%Y-%m", 7), ("%Y-%m-%d", 10))
    for fmt, size in formats:
        if len(text) == size:
            try:
                low = datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                raise BadRequest(f"invalid date {text!r}") from None
            if size == 4:
                return low, low.replace(year=low.year + 1)
            if size == 7:
                return low, (low + timedelta(days=32)).replace(day=1)
            return low, low + timedelta(days=1)
    try:
        low = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"invalid date/time {text!r}") from None
    if low.tzinfo is None:
        raise BadRequest(f"a time needs a zone: {text!r}")
    clock = text[11:]
    digits = clock.split("+")[0].split("-")[0].rstrip("Z")
    if "." in digits:
        step = timedelta(microseconds=10 ** (6 - len(digits.split(".")[1])))
    elif digits.count(":") == 2:
        step = timedelta(seconds=1)
    else:
        step = timedelta(minutes=1)
    return low, low + step


def date_matches(value: str, at: datetime) -> bool:
    prefix = value[:2] if value[:2] in _PREFIXES else "eq"
    low, high = date_range(value[2:] if value[:2] in _PREFIXES else value)
    if prefix == "eq":
        return low <= at < high
    if prefix == "ne":
        return not low <= at < high
    if prefix in ("gt", "sa"):
        return at >= high
    if prefix == "ge":
        return at >= low
    if prefix in ("lt", "eb"):
        return at < low
    if prefix == "le":
        return at < high
    return low - (high - low) <= at < high + (high - low)  # ap: roughly, as the spec leaves it


def _token_matches(value: str, concepts: list[Any]) -> bool:
    wanted = [v for v in value.split(",") if v]
    for concept in concepts:
        for coding in (concept or {}).get("coding", []):
            for want in wanted:
                system, _, code = want.rpartition("|") if "|" in want else ("", "", want)
                if coding.get("code") == code and (not system or coding.get("system") == system):
                    return True
    return False


SEARCH_PARAMS: Final = ("_id", "_lastUpdated", "patient", "subject", "code", "category", "date")


def matches(resource: dict[str, Any], params: dict[str, list[str]]) -> bool:
    for name, values in params.items():
        for value in values:
            if name == "_lastUpdated":
                ok = date_matches(value, datetime.fromisoformat(resource["meta"]["lastUpdated"]))
            elif name == "date":
                ok = date_matches(value, datetime.fromisoformat(resource["effectiveDateTime"]))
            elif name == "_id":
                ok = resource["id"] in value.split(",")
            elif name in ("patient", "subject"):
                ref = resource["subject"]["reference"]
                ok = any(ref == v or ref == f"Patient/{v}" for v in value.split(","))
            elif name == "code":
                ok = _token_matches(value, [resource.get("code")])
            else:
                ok = _token_matches(value, resource.get("category") or [])
            if not ok:
                return False
    return True


SORTS: Final = {"_lastUpdated": lambda r: (r["meta"]["lastUpdated"], int(r["id"])),
                "_id": lambda r: (int(r["id"]),),
                "date": lambda r: (datetime.fromisoformat(r["effectiveDateTime"]).astimezone(UTC), int(r["id"]))}


def outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


# --- the HTTP server ---------------------------------------------------------------------------

class FhirServer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.persons = people(args.participants)
        self.store = Store(Path(args.state))
        self.origin = datetime.fromisoformat(args.origin) if args.origin else None
        self.searches: dict[str, Search] = {}
        self.cache: dict[str, str] = {}
        self.stats = Stats()
        self.served: set[tuple[str, str]] = set()
        self.throttle_left = 0
        self.forget_after: int | None = None
        self.retry_after = "1"
        self.tokens: dict[str, float] = {}
        self.jtis: set[str] = set()
        served = Path(args.state) / "served.jsonl"
        if served.exists():
            self.served = {tuple(json.loads(line)) for line in served.read_text().splitlines()}  # type: ignore[misc]
        self.url = ""
        self.jwks = json.loads(Path(args.smart_jwks).read_text()) if args.smart_jwks else None
        origin_file = Path(args.state) / "origin.txt"
        if origin_file.exists():
            self.origin = datetime.fromisoformat(origin_file.read_text().strip())
            self.generated_to = datetime.fromisoformat((Path(args.state) / "generated.txt").read_text().strip())
        else:
            now = datetime.now(UTC).replace(microsecond=0)
            self.origin = now - timedelta(hours=args.hours)
            origin_file.write_text(self.origin.isoformat())
            self.generated_to = self.origin
        self.measurements = Measurements(self.persons, self.origin)
        backfilled = Path(args.state) / "backfilled.txt"
        self.backfilled_from = (datetime.fromisoformat(backfilled.read_text().strip()) if backfilled.exists()
                                else self.origin)
        if not self.store.current and args.hours > 0:
            self.generate(datetime.now(UTC).replace(microsecond=0))

    def generate(self, until: datetime) -> int:
        """Write what the wearables measured up to ``until`` (one transaction)."""
        batch = list(self.measurements.between(self.generated_to, until))
        batch.sort(key=lambda r: r["effectiveDateTime"])
        if batch:
            self.store.write(batch)
        self.generated_to = until
        (Path(self.args.state) / "generated.txt").write_text(until.isoformat())
        return len(batch)

    def backfill(self, hours: float) -> int:
        """A wearable back online uploads what it stored: ``hours`` before everything so far, written now."""
        start = self.backfilled_from - timedelta(hours=hours)
        batch = sorted(self.measurements.between(start, self.backfilled_from), key=lambda r: r["effectiveDateTime"])
        self.backfilled_from = start
        (Path(self.args.state) / "backfilled.txt").write_text(start.isoformat())
        if batch:
            self.store.write(batch)
        return len(batch)

    def update(self, count: int) -> int:
        """New versions of ``count`` recent observations: amend a temperature, retract a heart rate, touch."""
        changed: list[dict[str, Any]] = []
        recent = sorted(self.store.current.values(), key=lambda r: int(r["id"]), reverse=True)
        codes = {"8310-5": [], "8867-4": []}  # type: dict[str, list[dict[str, Any]]]
        read = [r for r in recent if (r["id"], r["meta"]["versionId"]) in self.served]
        for resource in read or recent:  # updated after it was first read, as the issue has it
            code = resource["code"]["coding"][0]["code"]
            if code in codes and resource["status"] == "final" and len(codes[code]) < count:
                codes[code].append(resource)
        for i in range(count):
            pool = codes["8310-5"] if i % 3 == 0 else codes["8867-4"]
            if not pool:
                continue
            new = copy.deepcopy(pool.pop(0))
            if i % 3 == 0:
                new["status"] = "amended"
                new["valueQuantity"]["value"] = round(new["valueQuantity"]["value"] + 0.3, 1)
            elif i % 3 == 1:
                new["status"] = "entered-in-error"
            changed.append(new)  # i % 3 == 2: a new version with the same content
        if changed:
            self.store.write(changed, update=True)
        return len(changed)

    # -- responses

    def _fhir(self, request: Any, body: dict[str, Any], status: int = 200, **headers: str) -> Any:
        from aiohttp import web

        self.stats.by_status[str(status)] = self.stats.by_status.get(str(status), 0) + 1
        response = web.Response(body=json.dumps(body).encode(), status=status, headers=headers,
                                content_type="application/fhir+json", charset="utf-8")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression()
            self.stats.gzip_responses += 1
        return response

    def _guard(self, request: Any) -> Any | None:
        """Throttling and authorisation, before any FHIR interaction but metadata."""
        self.stats.requests += 1
        if self.throttle_left > 0:
            self.throttle_left -= 1
            self.stats.throttled += 1
            return self._fhir(request, outcome("throttled", "HAPI-9999: Too many requests, slow down"), 429,
                              **{"Retry-After": self.retry_after})
        if self.jwks is None and not self.args.static_token:
            return None
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        valid = (token == self.args.static_token if self.args.static_token
                 else self.tokens.get(token, 0.0) > time.monotonic())
        if not valid:
            self.stats.unauthorised += 1
            return self._fhir(request, outcome("login" if not token else "expired",
                                               "HAPI-0644: token missing, expired or revoked"), 401,
                              **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None

    async def metadata(self, request: Any) -> Any:
        security: dict[str, Any] = {}
        if self.jwks is not None:
            security = {"security": {"extension": [{
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": "token", "valueUri": f"{self.url}/auth/token"}]}],
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "SMART-on-FHIR"}]}]}}
        body = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01",
                "publisher": "greenwire tests", "kind": "instance", "fhirVersion": "4.0.1",
                "software": {"name": "tests.fhirserver"}, "implementation": {"description": "test", "url": self.url},
                "format": ["application/fhir+xml", "xml", "application/fhir+json", "json"],
                "rest": [{"mode": "server", **security, "resource": [{
                    "type": "Observation", "profile": "http://hl7.org/fhir/StructureDefinition/Observation",
                    "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
                    "versioning": "versioned",
                    "searchParam": [{"name": n, "type": "date" if n in ("_lastUpdated", "date") else
                                     "reference" if n in ("patient", "subject") else "token"}
                                    for n in SEARCH_PARAMS]}]}]}
        return self._fhir(request, body)

    async def smart_configuration(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"token_endpoint": f"{self.url}/auth/token",
                                  "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                                  "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
                                  "grant_types_supported": ["client_credentials"],
                                  "scopes_supported": ["system/Observation.read", "system/Observation.rs"]})

    async def token(self, request: Any) -> Any:
        import jwt
        from aiohttp import web

        form = await request.post()

        def refuse(error: str, status: int = 400) -> Any:
            self.stats.token_refusals += 1
            return web.json_response({"error": error}, status=status)

        if self.jwks is None:
            return refuse("unsupported_grant_type")
        if form.get("grant_type") != "client_credentials":
            return refuse("unsupported_grant_type")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return refuse("invalid_client", 401)
        assertion = str(form.get("client_assertion", ""))
        try:
            header = jwt.get_unverified_header(assertion)
            key = next(k for k in self.jwks["keys"] if k.get("kid") == header.get("kid"))
            claims = jwt.decode(assertion, jwt.PyJWK(key).key, algorithms=["RS384", "ES384"],
                                audience=f"{self.url}/auth/token", issuer=self.args.smart_client_id,
                                options={"require": ["exp", "iss", "sub", "aud", "jti"]})
        except (StopIteration, jwt.PyJWTError, KeyError, ValueError):
            return refuse("invalid_client", 401)
        if claims["sub"] != self.args.smart_client_id or claims["exp"] > time.time() + 310:
            return refuse("invalid_client", 401)
        if claims["jti"] in self.jtis:
            return refuse("invalid_grant")
        self.jtis.add(claims["jti"])
        scope = str(form.get("scope", ""))
        if not any(s.startswith("system/Observation.") or s.startswith("system/*.") for s in scope.split()):
            return refuse("invalid_scope")
        value = secrets.token_urlsafe(24)
        self.tokens[value] = time.monotonic() + self.args.token_lifetime
        self.stats.tokens_issued += 1
        return web.json_response({"access_token": value, "token_type": "bearer",
                                  "expires_in": self.args.token_lifetime, "scope": scope})

    async def observations(self, request: Any) -> Any:
        refused = self._guard(request)
        if refused is not None:
            return refused
        strict = "handling=strict" in request.headers.get("Prefer", "")
        query: dict[str, list[str]] = {}
        for name, value in request.query.items():
            query.setdefault(name, []).append(value)
        used: dict[str, list[str]] = {}
        filters: dict[str, list[str]] = {}
        for name, values in query.items():
            if name in SEARCH_PARAMS:
                filters[name] = values
                used[name] = values
            elif (name == "_sort" and not self.args.no_sort) or name == "_count":
                used[name] = values[:1]
            elif strict and name not in ("_format", "_pretty", "_sort"):
                return self._fhir(request, outcome("not-supported", f"Unknown search parameter {name!r}"), 400)
        try:
            count = max(1, min(int(used.get("_count", [str(DEFAULT_COUNT)])[0]), MAX_COUNT))
            found = [r for r in self.store.current.values() if matches(r, filters)]
        except (BadRequest, ValueError) as exc:
            return self._fhir(request, outcome("invalid", f"HAPI-1882: {exc}"), 400)
        used["_count"] = [str(count)]
        if "_sort" in used:
            sort = used["_sort"][0]
            key = SORTS.get(sort.lstrip("-"))
            if key is None:
                return self._fhir(request, outcome("invalid", f"HAPI-1437: unknown _sort {sort!r}"), 400)
            found.sort(key=key, reverse=sort.startswith("-"))
        else:
            found.sort(key=lambda r: hashlib.sha256(r["id"].encode()).digest())
        key = json.dumps(sorted(used.items()))
        cached = self.cache.get(key)
        if ("no-cache" not in request.headers.get("Cache-Control", "") and cached in self.searches
                and time.monotonic() - self.searches[cached].created < self.args.reuse_cached_s):
            self.stats.cache_hits += 1  # as HAPI: the same search within a minute is the cached one
            return self._page(request, cached, 0, count)
        search_id = str(uuid.uuid4())
        self.searches[search_id] = Search([r["id"] for r in found], used, time.monotonic())
        self.cache[key] = search_id
        self.stats.searches += 1
        return self._page(request, search_id, 0, count)

    async def base(self, request: Any) -> Any:
        """``[base]?_getpages=...``: a page of an earlier search."""
        refused = self._guard(request)
        if refused is not None:
            return refused
        search_id = request.query.get("_getpages")
        if search_id is None:
            return self._fhir(request, outcome("not-supported", "HAPI-0436: no operation at the base"), 400)
        search = self.searches.get(search_id)
        if search is None or time.monotonic() - search.created > self.args.search_ttl:
            self.searches.pop(search_id, None)
            self.stats.gone += 1
            return self._fhir(request, outcome(
                "processing", f'HAPI-0417: Search ID "{search_id}" does not exist and may have expired'), 410)
        try:
            offset = int(request.query.get("_getpagesoffset", "0"))
            count = max(1, min(int(request.query.get("_count", str(DEFAULT_COUNT))), MAX_COUNT))
        except ValueError:
            return self._fhir(request, outcome("invalid", "HAPI-0418: bad paging parameters"), 400)
        return self._page(request, search_id, offset, count)

    def _page(self, request: Any, search_id: str, offset: int, count: int) -> Any:
        search = self.searches[search_id]
        ids = search.ids[offset : offset + count]
        entries = []
        first_time = []
        for rid in ids:
            resource = self.store.current[rid]  # the current version, whatever it was at search time
            version = (rid, resource["meta"]["versionId"])
            if version not in self.served:
                self.served.add(version)
                first_time.append(version)
            entries.append({"fullUrl": f"{self.url}/Observation/{rid}", "resource": resource,
                            "search": {"mode": "match"}})
        if first_time:  # kept across restarts, for the tests' account of what was read
            with (Path(self.args.state) / "served.jsonl").open("a") as handle:
                handle.write("".join(json.dumps(v) + "\n" for v in first_time))
        self.stats.pages += 1
        self.stats.observations_served += len(entries)
        if self.forget_after is not None:
            self.forget_after -= 1
            if self.forget_after <= 0:  # as a restart would: every search (and its links) gone
                self.forget_after = None
                self.searches.clear()
        self_query = urlencode([(k, v) for k, vs in sorted(search.used.items()) for v in vs])
        links = [{"relation": "self", "url": f"{self.url}/Observation?{self_query}"}]

        def paging(at: int) -> str:
            return f"{self.url}?" + urlencode({"_getpages": search_id, "_getpagesoffset": at, "_count": count,
                                               "_pretty": "true", "_bundletype": "searchset"})

        if offset + count < len(search.ids):
            links.append({"relation": "next", "url": paging(offset + count)})
        if offset > 0:
            links.append({"relation": "previous", "url": paging(max(0, offset - count))})
        body = {"resourceType": "Bundle", "id": str(uuid.uuid4()),
                "meta": {"lastUpdated": _instant(datetime.now(UTC))}, "type": "searchset",
                "total": len(search.ids), "link": links, "entry": entries}
        return self._fhir(request, body)

    # -- control (tests only)

    async def control(self, request: Any) -> Any:
        from aiohttp import web

        action = request.match_info["action"]
        q = request.query
        if action == "live":
            return web.json_response({"written": self.generate(datetime.now(UTC))})
        if action == "backfill":
            return web.json_response({"written": self.backfill(float(q.get("hours", "0.1")))})
        if action == "update":
            return web.json_response({"updated": self.update(int(q.get("count", "3")))})
        if action == "throttle":
            self.throttle_left = int(q.get("requests", "1"))
            seconds = q.get("retry_after", "1")
            self.retry_after = (seconds if q.get("date") != "1" else
                                (datetime.now(UTC) + timedelta(seconds=float(seconds) + 1)).strftime(
                                    "%a, %d %b %Y %H:%M:%S GMT"))
            return web.json_response({"throttle": self.throttle_left})
        if action == "forget":
            self.forget_after = int(q.get("after", "1"))
            return web.json_response({"forget_after": self.forget_after})
        if action == "expire-tokens":
            self.tokens.clear()
            return web.json_response({"expired": True})
        if action == "stats":
            return web.json_response({**{k: getattr(self.stats, k) for k in Stats.__slots__},  # type: ignore[attr-defined]
                                      "observations": len(self.store.current),
                                      "versions": len(self.store.versions)})
        if action == "participants":
            return web.json_response([{"index": p.index, "id": p.id, "mrn": p.mrn, "given": p.given,
                                       "family": p.family, "birth_date": p.birth_date, "kind": p.kind,
                                       "secrets": p.secrets()} for p in self.persons])
        if action == "versions":
            return web.json_response(self.store.versions)
        if action == "served":
            return web.json_response(sorted(self.served))
        return web.json_response({"error": "unknown"}, status=404)

    async def serve(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get(f"{BASE_PATH}/metadata", self.metadata)
        app.router.add_get(f"{BASE_PATH}/.well-known/smart-configuration", self.smart_configuration)
        app.router.add_post(f"{BASE_PATH}/auth/token", self.token)
        app.router.add_get(f"{BASE_PATH}/Observation", self.observations)
        app.router.add_get(BASE_PATH, self.base)
        app.router.add_route("*", "/_control/{action}", self.control)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.args.port, reuse_address=True)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}{BASE_PATH}"
        print(json.dumps({"url": self.url, "port": port, "observations": len(self.store.current)}), flush=True)
        while True:
            if self.args.live_interval > 0:
                await asyncio.sleep(self.args.live_interval)
                self.generate(datetime.now(UTC))
            else:
                await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fhirserver", description=__doc__.split("\n")[0])
    parser.add_argument("--state", required=True, help="directory of the stored versions (kept across restarts)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--participants", type=int, default=6)
    parser.add_argument("--hours", type=float, default=1.0, help="backlog written at the first start")
    parser.add_argument("--origin", default=None)
    parser.add_argument("--search-ttl", type=float, default=600.0)
    parser.add_argument("--reuse-cached-s", type=float, default=60.0,
                        help="a search repeated within this time is answered from its cache (HAPI's default "
                        "60 s) unless the request says Cache-Control: no-cache")
    parser.add_argument("--no-sort", action="store_true", help="_sort unsupported: ignored, not echoed")
    parser.add_argument("--smart-client-id", default=None)
    parser.add_argument("--smart-jwks", default=None, help="JWKS file of the registered client's public keys")
    parser.add_argument("--token-lifetime", type=int, default=300)
    parser.add_argument("--static-token", default=None, help="require this bearer token")
    parser.add_argument("--live-interval", type=float, default=0.0, help="write new measurements every S s")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(FhirServer(args).serve())


# --- for tests: the server as a child process -----------------------------------------------------

class FhirServerProcess:
    """``python -m tests.fhirserver`` as a child process on a free loopback port; ``restart()`` keeps
    the port and the data, and loses the searches (their paging links go 410)."""

    def __init__(self, state: Path, *args: str) -> None:
        self.state = state
        self.args = list(args)
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FhirServerProcess:
        command = [sys.executable, "-m", "tests.fhirserver", "--state", str(self.state),
                   "--port", str(self.port), *self.args]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"tests.fhirserver did not start (exit {self.process.wait()})")
        info = json.loads(line)
        self.port, self.url = int(info["port"]), str(info["url"])
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> FhirServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def control(self, action: str, method: str = "POST", **params: object) -> Any:
        import httpx

        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.request(method, f"http://127.0.0.1:{self.port}/_control/{action}",
                                            params={k: str(v) for k, v in params.items()})
            response.raise_for_status()
            return response.json()


def jwks_for(public_pem: bytes, kid: str, alg: str) -> dict[str, Any]:
    """A JWKS with one public key (what a client registers at a SMART server)."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public_pem)
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk = json.loads(algorithm.to_jwk(key))  # type: ignore[arg-type]
    return {"keys": [{**jwk, "kid": kid, "alg": alg, "use": "sig"}]}


if __name__ == "__main__":
    main()
