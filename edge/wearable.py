"""Wearable hubs as an edge source: poll with a cursor, map, deduplicate, buffer.

Per hub, one task::

    GET {url}/Observation?_cursor=C&_count=N --> Bundle --> each "match" entry:
        greenwire.edge.fhir.map_observation (consent, FHIR validation, LOINC, units, pseudonym)
        --> dedup against what this gateway already forwarded (id / identifier)
        --> one vitals batch in the SQLite buffer (the same store-and-forward path as
            meter readings, in a file of its own) --> then the cursor and the keys are
            committed, so a crash in between re-reads the page instead of losing it
    until a page comes back short, then wait ``poll_interval_s``.

Included resources (Patients with names, birth dates, addresses) are never looked at.
A hub that fails (refused, timed out, 5xx, not a Bundle) is retried with capped
exponential backoff; its first error is logged at error level, repeats at debug. Logs and
errors carry counts, reason codes and the hub's URL, never an identifier or a value:
pydantic messages can quote their input, so they are never logged.

Deduplication: a ``final`` Observation already forwarded is a ``duplicate``; ``amended``
and ``corrected`` are forwarded again (same subject, code and time: the cloud overwrites);
``entered-in-error`` is forwarded as a retraction only if the original was forwarded, else
rejected ``entered_in_error``. Keys are remembered for ``dedup_days`` (as SHA-256 digests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson

from greenwire.edge.config import WearablesConfig, WearableSourceConfig
from greenwire.edge.fhir import Mapped, Pseudonymiser, Rejected, RejectReason, map_observation
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import DeviceError
from greenwire.shared.vitals import VitalObservation, VitalStatus
from greenwire.transport.buffer import AsyncBuffer

log = logging.getLogger(__name__)

BACKOFF_START_S: Final = 1.0
BACKOFF_CAP_S: Final = 60.0

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS forwarded (
    key BLOB PRIMARY KEY,
    status TEXT NOT NULL,
    ts_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS forwarded_ts ON forwarded (ts_ms);
"""


def _digest(source: str, key: str) -> bytes:
    return hashlib.sha256(f"{source}\0{key}".encode()).digest()[:16]


class WearableState:
    """Cursors and forwarded-observation keys, in SQLite (thread-safe by a lock; called off the loop)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_STATE_SCHEMA)
        self._lock = threading.Lock()

    def cursor(self, source: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT cursor FROM cursors WHERE source = ?", (source,)).fetchone()
        return None if row is None else str(row[0])

    def forwarded(self, source: str, keys: list[str]) -> dict[str, str]:
        """The status each of ``keys`` was forwarded with, for those that were."""
        digests = {_digest(source, k): k for k in keys}
        found: dict[str, str] = {}
        with self._lock:
            items = list(digests)
            for start in range(0, len(items), 500):
                chunk = items[start : start + 500]
                rows = self._db.execute(
                    f"SELECT key, status FROM forwarded WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                found.update({digests[bytes(k)]: str(s) for k, s in rows})
        return found

    def commit(self, source: str, cursor: str, forwarded: dict[str, tuple[str, int]]) -> None:
        """Store the new cursor and the keys just forwarded (``key -> (status, ts_ms)``), atomically."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO cursors (source, cursor) VALUES (?, ?) "
                    "ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor",
                    (source, cursor),
                )
                self._db.executemany(
                    "INSERT INTO forwarded (key, status, ts_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET status = excluded.status",
                    [(_digest(source, k), s, t) for k, (s, t) in forwarded.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def prune(self, older_than_ms: int) -> int:
        """Forget keys of observations older than this; returns how many."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM forwarded WHERE ts_ms < ?", (older_than_ms,))
        return int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(slots=True)
class SourceStats:
    """One hub's counters: what it served, what was forwarded, what was rejected and why."""

    source: str
    online: bool | None = None
    polls: int = 0
    errors: int = 0
    received: int = 0
    forwarded_observations: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_poll: datetime | None = None
    last_page: int = 0
    max_page: int = 0
    last_error: str | None = None
    throttled: int = 0
    """429 and 503 answers waited out (``fhir-search``)."""
    search_restarts: int = 0
    """Searches started again because a paging link had expired (``fhir-search``)."""
    token_refreshes: int = 0
    """401 answers that made the source ask for a new SMART token (``fhir-search``)."""
    server_total: int | None = None
    """``Bundle.total`` of the last search, when the server gives it."""


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """What one page became: the observations to buffer, the keys to remember, the rejects."""

    observations: list[VitalObservation]
    forwarded: dict[str, tuple[str, int]]
    rejected: Counter[str]
    received: int


def process_page(
    entries: list[dict[str, Any]],
    *,
    already: dict[str, str],
    pseudonymise: Pseudonymiser,
    consented: frozenset[str],
    device: str,
) -> PageOutcome:
    """Map a page's "match" entries and deduplicate them (pure; ``already`` from the state)."""
    observations: list[VitalObservation] = []
    forwarded: dict[str, tuple[str, int]] = {}
    rejected: Counter[str] = Counter()
    received = 0
    seen = dict(already)
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        search = entry.get("search")
        resource = entry.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
            continue  # included Patients and others: never read
        if isinstance(search, dict) and search.get("mode") not in (None, "match"):
            continue
        received += 1
        outcome = map_observation(resource, pseudonymise=pseudonymise, consented=consented, device=device)
        if isinstance(outcome, Rejected):
            rejected[outcome.reason.value] += 1
            continue
        decision = _dedup(outcome, seen.get(outcome.key))
        if decision is not None:
            rejected[decision.value] += 1
            continue
        if outcome.absent_components:
            rejected[RejectReason.COMPONENT_ABSENT.value] += outcome.absent_components
        observations.extend(outcome.observations)
        ts_ms = int(outcome.observations[0].ts.timestamp() * 1000)
        forwarded[outcome.key] = (outcome.status.value, ts_ms)
        seen[outcome.key] = outcome.status.value
    return PageOutcome(observations, forwarded, rejected, received)


def _dedup(mapped: Mapped, before: str | None) -> RejectReason | None:
    """None to forward, else why not (see the module docstring)."""
    if mapped.status is VitalStatus.ENTERED_IN_ERROR:
        if before is None:
            return RejectReason.ENTERED_IN_ERROR
        return RejectReason.DUPLICATE if before == VitalStatus.ENTERED_IN_ERROR.value else None
    if before is None:
        return None
    if mapped.status in (VitalStatus.AMENDED, VitalStatus.CORRECTED) and before != mapped.status.value:
        return None
    return RejectReason.DUPLICATE


def encode_observations(observations: list[VitalObservation]) -> bytes:
    """A JSON array of wire observations, ready to be embedded in a batch."""
    return orjson.dumps([o.model_dump(mode="json") for o in observations])


def next_cursor(bundle: dict[str, Any]) -> str | None:
    """The ``_cursor`` of the Bundle's next link, or None if it has none."""
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            values = parse_qs(urlsplit(link["url"]).query).get("_cursor")
            if values:
                return values[0]
    return None


class WearableSource:
    """Polls one hub until stopped; everything it forwards goes into the vitals buffer first."""

    def __init__(
        self,
        config: WearableSourceConfig,
        wearables: WearablesConfig,
        buffer: AsyncBuffer,
        state: WearableState,
        *,
        pseudonymise: Pseudonymiser | None = None,
        max_batch: int = 5000,
    ) -> None:
        self.config = config
        self._buffer = buffer
        self._state = state
        self._pseudonymise = pseudonymise or wearables.pseudonymiser()
        self._wearables = wearables
        self._consented = wearables.consented()
        self._consent_mtime = self._consent_file_mtime()
        self._dedup_ms = int(wearables.dedup_days * 86_400_000)
        self._max_batch = max_batch
        self.stats = SourceStats(config.id)
        self._token = config.token_file.read_text(encoding="utf-8").strip() if config.token_file else None

    def _consent_file_mtime(self) -> float | None:
        path = self._wearables.consent_file
        try:
            return path.stat().st_mtime if path is not None else None
        except OSError:
            return None

    def refresh_consent(self) -> bool:
        """Re-read the consent file if it changed (a withdrawal takes effect at the next poll).

        An unreadable file keeps the previous list and is logged; returns True if the list changed.
        """
        mtime = self._consent_file_mtime()
        if mtime == self._consent_mtime:
            return False
        try:
            consented = self._wearables.consented()
        except (OSError, UnicodeDecodeError) as exc:
            log.error("wearable hub %s: cannot read the consent file (%s); keeping the previous list",
                      self.config.id, type(exc).__name__)
            return False
        self._consent_mtime = mtime
        if consented == self._consented:
            return False
        log.info("wearable hub %s: consent list now has %d participants (was %d)", self.config.id,
                 len(consented), len(self._consented))  # counts only
        self._consented = consented
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; a failing hub is retried with backoff, never stopping the gateway."""
        import httpx

        headers = {"Accept": "application/fhir+json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        cursor = await asyncio.to_thread(self._state.cursor, self.config.id) or "0"
        failures = 0
        last_prune = 0.0
        async with httpx.AsyncClient(timeout=self.config.timeout_s, headers=headers) as client:
            while not stop.is_set():
                try:
                    cursor, full = await self._poll(client, cursor)
                except DeviceError as exc:
                    failures += 1
                    self.stats.errors += 1
                    self.stats.online = False
                    self.stats.last_error = str(exc)
                    log.log(logging.ERROR if failures == 1 else logging.DEBUG, "%s (attempt %d)", exc, failures)
                    delay = backoff_delay(failures, start=BACKOFF_START_S, cap=BACKOFF_CAP_S)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    continue
                if failures:
                    log.info("wearable hub %s answers again after %d failed polls", self.config.id, failures)
                failures = 0
                self.stats.online = True
                if time.monotonic() - last_prune > 3600:
                    older = int(time.time() * 1000) - self._dedup_ms
                    await asyncio.to_thread(self._state.prune, older)
                    last_prune = time.monotonic()
                if full:
                    await asyncio.sleep(0)  # more is waiting: ask again at once
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.config.poll_interval_s)

    async def _poll(self, client: Any, cursor: str) -> tuple[str, bool]:
        """One request; returns the next cursor and whether the page was full."""
        import httpx

        self.refresh_consent()
        url = f"{self.config.url}/Observation"
        try:
            response = await client.get(url, params={"_cursor": cursor, "_count": str(self.config.page_size)})
        except httpx.HTTPError as exc:
            raise DeviceError(f"wearable hub {self.config.id} at {self.config.url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise DeviceError(f"wearable hub {self.config.id} at {self.config.url} answered {response.status_code}")
        try:
            bundle = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise DeviceError(f"wearable hub {self.config.id} answered something that is not JSON") from None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise DeviceError(f"wearable hub {self.config.id} answered something that is not a FHIR Bundle")
        new_cursor = next_cursor(bundle)
        if new_cursor is None:
            raise DeviceError(f"wearable hub {self.config.id}: the Bundle has no next link with a _cursor")
        entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
        keys = [key for key in (_key_of(e) for e in entries) if key is not None]
        already = await asyncio.to_thread(self._state.forwarded, self.config.id, keys) if keys else {}
        outcome = process_page(entries, already=already, pseudonymise=self._pseudonymise,
                               consented=self._consented, device=self.config.id)
        for start in range(0, len(outcome.observations), self._max_batch):
            chunk = outcome.observations[start : start + self._max_batch]
            first_ms = int(min(o.ts for o in chunk).timestamp() * 1000)
            await self._buffer.append(encode_observations(chunk), len(chunk), first_ms)
        await asyncio.to_thread(self._state.commit, self.config.id, new_cursor, outcome.forwarded)
        stats = self.stats
        stats.polls += 1
        stats.received += outcome.received
        stats.forwarded_observations += len(outcome.observations)
        stats.rejected.update(outcome.rejected)
        stats.last_poll = datetime.now(UTC)
        stats.last_page = outcome.received
        stats.max_page = max(stats.max_page, outcome.received)
        matches = sum(1 for e in entries if isinstance(e.get("resource"), dict)
                      and e["resource"].get("resourceType") == "Observation")
        return new_cursor, matches >= self.config.page_size and new_cursor != cursor


def _key_of(entry: dict[str, Any]) -> str | None:
    from greenwire.edge.fhir import dedup_key

    resource = entry.get("resource")
    if isinstance(resource, dict) and resource.get("resourceType") == "Observation":
        return dedup_key(resource)
    return None
