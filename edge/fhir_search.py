"""A FHIR R4 server as a wearable source: standard search, incremental on ``meta.lastUpdated``.

Per source, one task (``protocol: fhir-search``, the default)::

    GET [base]/metadata                      once: fhirVersion 4.0.x, JSON, Observation searchable
    GET [base]/Observation?_lastUpdated=ge{mark - overlap}&_sort=_lastUpdated&_count=N[&search...]
        --> Bundle (searchset) --> each "match" Observation: greenwire.edge.fhir.map_observation
        --> dedup by id and version (meta.versionId, else meta.lastUpdated)
        --> the vitals buffer, then the keys (one SQLite transaction per page)
    GET <Bundle.link[next].url>              exactly as given: opaque (HAPI FHIR's
                                             ?_getpages=...&_getpagesoffset=...), maybe on the base
    ... until a page has no next link; then the high-water mark is stored, and the source
    waits ``poll_interval_s``. The mark is the newest ``meta.lastUpdated`` of the traversal, or
    the server's time of its search (the first page's ``Bundle.meta.lastUpdated``) if later:
    everything updated before the server ran the search was in it, so a quiet server is not
    read again and again over the overlap.

Why so:

- The mark is stored only when a traversal is complete. Servers need not sort (``_sort`` is
  honoured only if the self link says so), and a paged search is a snapshot whose resources are
  served in their current version, so an observation updated mid-traversal can come early with
  a late ``lastUpdated``: a mark stored per page could skip what later pages hold. A traversal
  cut short (stop, crash, error) is read again from the previous mark, deduplicated.
- Each search starts ``overlap_s`` before the mark: ``_lastUpdated`` has the server's clock and
  precision, several resources share an instant, and a transaction committed late can carry an
  older ``lastUpdated``. What the overlap reads again is a ``duplicate`` (id and version known).
- A new version of an Observation (``meta.versionId`` changed) is forwarded again: same subject,
  code and time overwrite in the cloud; ``entered-in-error`` is forwarded only if the
  observation was. Rejected versions are remembered too, so a re-read counts as a duplicate.
- A next link the server no longer knows (410 Gone or 404: the search expired, the server
  restarted) restarts the search from the mark, once per traversal.
- 429 and 503 wait ``Retry-After`` (seconds or an HTTP date, at most ``max_retry_after_s``);
  401 with SMART authentication asks for a new token and tries again once; other 4xx and 5xx
  fail the poll (capped backoff, as every source). An OperationOutcome's issue codes are logged,
  its ``diagnostics`` never: a server may quote a patient there.
- Responses are asked for as ``application/fhir+json``, gzip accepted, ``Cache-Control: no-cache``
  (HAPI FHIR otherwise answers a search repeated within a minute from its cache).

Logs carry counts, codes and the base URL, never an identifier, a value or a paging link.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urljoin, urlsplit

import orjson

from greenwire.edge.fhir import (
    Mapped,
    Pseudonymiser,
    Rejected,
    RejectReason,
    dedup_key,
    map_observation,
)
from greenwire.edge.wearable import (
    BACKOFF_CAP_S,
    BACKOFF_START_S,
    WearableSource,
    encode_observations,
)
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import DeviceError
from greenwire.shared.vitals import VitalObservation, VitalStatus

if TYPE_CHECKING:
    import httpx

    from greenwire.edge.config import WearablesConfig, WearableSourceConfig
    from greenwire.edge.wearable import WearableState
    from greenwire.transport.buffer import AsyncBuffer

log = logging.getLogger(__name__)

FHIR_JSON: Final = "application/fhir+json"
JSON_TYPES: Final = ("application/fhir+json", "application/json", "application/json+fhir")
MARK_PREFIX: Final = "lastUpdated="
MAX_THROTTLES: Final = 8
"""429/503 answers in a row before the poll fails (and backs off like any failure)."""
REJECTED_STATUS: Final = "rejected"


# --- pure: capabilities -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Capabilities:
    """What ``[base]/metadata`` says (None: not said)."""

    fhir_version: str | None
    json: bool
    observation_search: bool | None
    search_params: frozenset[str]

    @property
    def lists_last_updated(self) -> bool | None:
        """Whether ``_lastUpdated`` is among Observation's declared search parameters (None: none declared)."""
        return None if not self.search_params else "_lastUpdated" in self.search_params


UNKNOWN_CAPABILITIES: Final = Capabilities(None, True, None, frozenset())


def parse_capabilities(body: Any) -> Capabilities | str:
    """A CapabilityStatement to :class:`Capabilities`, or why this source cannot use the server."""
    if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
        return "its metadata is not a CapabilityStatement"
    version = body.get("fhirVersion")
    version = version if isinstance(version, str) else None
    if version is not None and not version.startswith("4."):
        return f"it speaks FHIR {version[:16]}; this source needs R4 (4.0.x)"
    formats = [f for f in body.get("format") or [] if isinstance(f, str)]
    json = not formats or any("json" in f for f in formats)
    if not json:
        return "its CapabilityStatement offers no JSON format"
    searchable: bool | None = None
    params: set[str] = set()
    for rest in body.get("rest") or []:
        if not isinstance(rest, dict) or rest.get("mode", "server") != "server":
            continue
        for resource in rest.get("resource") or []:
            if not isinstance(resource, dict) or resource.get("type") != "Observation":
                continue
            codes = {i.get("code") for i in resource.get("interaction") or [] if isinstance(i, dict)}
            searchable = "search-type" in codes if codes else None
            params |= {p["name"] for p in resource.get("searchParam") or []
                       if isinstance(p, dict) and isinstance(p.get("name"), str)}
        params |= {p["name"] for p in rest.get("searchParam") or []
                   if isinstance(p, dict) and isinstance(p.get("name"), str)}
    if searchable is False:
        return "its CapabilityStatement does not allow searching Observations"
    return Capabilities(version, json, searchable, frozenset(params))


# --- pure: instants, marks, links ---------------------------------------------------------------

def parse_instant(text: Any) -> datetime | None:
    """A FHIR instant (``meta.lastUpdated``) to an aware UTC datetime, None if it is not one."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo is not None else None


def format_instant(at: datetime) -> str:
    """An instant as a search value, milliseconds and ``Z`` (a ``+00:00`` must be URL-encoded)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def encode_mark(mark: datetime | None) -> str:
    return f"{MARK_PREFIX}{mark.isoformat()}" if mark is not None else f"{MARK_PREFIX}"


def decode_mark(stored: str | None) -> datetime | None:
    """The stored high-water mark; None for none, or for another protocol's cursor."""
    if not stored or not stored.startswith(MARK_PREFIX):
        return None
    return parse_instant(stored[len(MARK_PREFIX):])


def search_params(config: WearableSourceConfig, mark: datetime | None) -> dict[str, str]:
    """The first request's parameters: ``_lastUpdated=ge{mark - overlap}`` once there is a mark."""
    params = {**config.search, "_sort": "_lastUpdated", "_count": str(config.page_size)}
    if mark is not None:
        params["_lastUpdated"] = "ge" + format_instant(mark - timedelta(seconds=config.overlap_s))
    return params


def bundle_link(bundle: dict[str, Any], relation: str, base: str) -> str | None:
    """A link of the Bundle, made absolute against ``base`` (a relative link is allowed), else None."""
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == relation and isinstance(link.get("url"), str):
            return urljoin(base, str(link["url"]))
    return None


def search_time(bundle: dict[str, Any]) -> datetime | None:
    """The server's time of a search: its first page's ``Bundle.meta.lastUpdated``, if given."""
    meta = bundle.get("meta")
    return parse_instant(meta.get("lastUpdated")) if isinstance(meta, dict) else None


def used_params(bundle: dict[str, Any], base: str) -> frozenset[str] | None:
    """The search parameters the server says it used (its self link), None without a self link."""
    url = bundle_link(bundle, "self", base)
    if url is None:
        return None
    return frozenset(name.split(":")[0] for name in parse_qs(urlsplit(url).query, keep_blank_values=True))


def outcome_codes(body: Any) -> list[str]:
    """An OperationOutcome's ``severity:code`` pairs; never its diagnostics or details."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    return [f"{i.get('severity', '?')}:{i.get('code', '?')}"[:48] for i in body.get("issue") or []
            if isinstance(i, dict)][:5]


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date (RFC 9110), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - now).total_seconds())


# --- pure: a page ------------------------------------------------------------------------------

def version_key(resource: dict[str, Any]) -> str:
    """The identity of this version: id and ``meta.versionId``, else id and ``meta.lastUpdated``."""
    meta: dict[str, Any] = resource["meta"] if isinstance(resource.get("meta"), dict) else {}
    version = meta.get("versionId") if isinstance(meta.get("versionId"), str) else None
    if version:
        return f"{dedup_key(resource)}|v:{version}"
    updated = meta.get("lastUpdated") if isinstance(meta.get("lastUpdated"), str) else None
    return f"{dedup_key(resource)}|u:{updated}" if updated else dedup_key(resource)


def observations_of(entries: list[Any]) -> list[dict[str, Any]]:
    """The Bundle's "match" Observations (included Patients, outcomes and the rest are never read)."""
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource, search = entry.get("resource"), entry.get("search")
        if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
            continue
        if isinstance(search, dict) and search.get("mode") not in (None, "match"):
            continue
        out.append(resource)
    return out


def page_keys(resources: list[dict[str, Any]]) -> list[str]:
    """The keys to look up in the state before :func:`process_search_page`."""
    keys: list[str] = []
    for resource in resources:
        keys += [version_key(resource), dedup_key(resource)]
    return keys


@dataclass(frozen=True, slots=True)
class SearchPage:
    """What one page became: vitals to buffer, keys to remember, rejects, and its newest lastUpdated."""

    observations: list[VitalObservation]
    remember: dict[str, tuple[str, int]]
    rejected: Counter[str]
    received: int
    newest: datetime | None


def process_search_page(
    resources: list[dict[str, Any]],
    *,
    already: dict[str, str],
    pseudonymise: Pseudonymiser,
    consented: frozenset[str],
    device: str,
    now_ms: int,
) -> SearchPage:
    """Map and deduplicate a page's Observations by id and version (pure; ``already`` from the state)."""
    observations: list[VitalObservation] = []
    remember: dict[str, tuple[str, int]] = {}
    rejected: Counter[str] = Counter()
    seen = dict(already)
    newest: datetime | None = None
    for resource in resources:
        meta = resource.get("meta")
        updated = parse_instant(meta.get("lastUpdated")) if isinstance(meta, dict) else None
        if updated is not None and (newest is None or updated > newest):
            newest = updated
        vkey = version_key(resource)
        if vkey in seen:
            rejected[RejectReason.DUPLICATE.value] += 1
            continue
        outcome = map_observation(resource, pseudonymise=pseudonymise, consented=consented, device=device)
        reason = outcome.reason if isinstance(outcome, Rejected) else _versioned_dedup(outcome, seen)
        if reason is not None:
            rejected[reason.value] += 1
            remember[vkey] = (REJECTED_STATUS, now_ms)
            seen[vkey] = REJECTED_STATUS
            continue
        assert isinstance(outcome, Mapped)
        if outcome.absent_components:
            rejected[RejectReason.COMPONENT_ABSENT.value] += outcome.absent_components
        observations.extend(outcome.observations)
        ts_ms = int(outcome.observations[0].ts.timestamp() * 1000)
        for key in (vkey, outcome.key):
            remember[key] = (outcome.status.value, ts_ms)
            seen[key] = outcome.status.value
    return SearchPage(observations, remember, rejected, len(resources), newest)


def _versioned_dedup(mapped: Mapped, seen: dict[str, str]) -> RejectReason | None:
    """A version not seen before: forwarded, but a retraction only of what was forwarded."""
    before = seen.get(mapped.key)
    if mapped.status is VitalStatus.ENTERED_IN_ERROR:
        if before is None:
            return RejectReason.ENTERED_IN_ERROR
        if before == VitalStatus.ENTERED_IN_ERROR.value:
            return RejectReason.DUPLICATE
    return None


# --- the I/O shell -----------------------------------------------------------------------------

class _NoQueryInLogs(logging.Filter):
    """httpx logs every request's URL at INFO: keep its path, drop its query (a paging link or a
    search may carry anything a server puts there, a patient's id included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_without_query(a) for a in record.args)
        return True


def _without_query(value: object) -> object:
    text = str(value) if type(value).__name__ == "URL" else value
    if isinstance(text, str) and text.startswith(("http://", "https://")) and "?" in text:
        return text.split("?", 1)[0] + "?..."
    return value


_HTTPX_FILTER: Final = _NoQueryInLogs()


def _quiet_httpx() -> None:
    logger = logging.getLogger("httpx")
    if _HTTPX_FILTER not in logger.filters:
        logger.addFilter(_HTTPX_FILTER)


class SearchGone(Exception):
    """A paging link the server no longer knows (410, or 404): start the search again."""


class FhirSearchSource(WearableSource):
    """Searches one FHIR R4 server until stopped; everything it forwards goes into the vitals buffer first."""

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
        super().__init__(config, wearables, buffer, state, pseudonymise=pseudonymise, max_batch=max_batch)
        self.capabilities: Capabilities | None = None
        self.incremental: bool | None = None
        """Whether the server honours ``_lastUpdated`` (its self link says so); None until known."""
        self.sorted: bool | None = None
        self._smart: Any = None
        if config.smart is not None:
            from greenwire.edge.smart_auth import SmartTokens

            self._smart = SmartTokens(config.smart, config.url, config.id)
        self._stop = asyncio.Event()
        self._warned: set[str] = set()
        _quiet_httpx()

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning(message, *args)

    async def run(self, stop: asyncio.Event) -> None:
        """Search until ``stop``; a failing server is retried with backoff, never stopping the gateway."""
        import httpx

        self._stop = stop
        # no-cache: HAPI FHIR answers a search repeated within a minute from its cache of the first
        # one (reuseCachedSearchResultsForMillis), which would hide what arrived since.
        headers = {"Accept": FHIR_JSON, "Accept-Encoding": "gzip", "Cache-Control": "no-cache"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        failures = 0
        last_prune = 0.0
        async with httpx.AsyncClient(timeout=self.config.timeout_s, headers=headers) as client:
            while not stop.is_set():
                try:
                    await self._sync(client)
                except DeviceError as exc:
                    if stop.is_set():
                        break  # a wait for Retry-After cut short by the stop: not a failure
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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.config.poll_interval_s)

    def _fail(self, what: str) -> DeviceError:
        return DeviceError(f"wearable hub {self.config.id} at {self.config.url}: {what}")

    async def _discover(self, client: httpx.AsyncClient) -> Capabilities:
        """``GET [base]/metadata``; a server without one is searched all the same (and said so, once)."""
        try:
            body = await self._get(client, f"{self.config.url}/metadata", None)
        except (DeviceError, SearchGone) as exc:
            self._warn_once("metadata", "wearable hub %s: no CapabilityStatement (%s); searching all the same",
                            self.config.id, exc)
            return UNKNOWN_CAPABILITIES
        caps = parse_capabilities(body)
        if isinstance(caps, str):
            raise self._fail(caps)
        log.info("wearable hub %s: FHIR %s, Observation search %s, %d search parameters declared",
                 self.config.id, caps.fhir_version or "?", {True: "yes", False: "no", None: "?"}
                 [caps.observation_search], len(caps.search_params))
        if caps.lists_last_updated is False:
            self._warn_once("lastUpdated", "wearable hub %s does not declare _lastUpdated for Observation: "
                            "asking for it all the same", self.config.id)
        return caps

    async def _sync(self, client: httpx.AsyncClient) -> None:
        """One complete traversal of the search from the stored mark; then the mark moves on."""
        self.refresh_consent()
        if self.capabilities is None:
            self.capabilities = await self._discover(client)
        mark = decode_mark(await asyncio.to_thread(self._state.cursor, self.config.id))
        first = f"{self.config.url}/Observation"
        url: str = first
        params: dict[str, str] | None = search_params(self.config, mark)
        newest = mark
        restarted = False
        followed: set[str] = set()
        stats = self.stats
        stats.polls += 1
        stats.last_poll = datetime.now(UTC)
        stats.last_page = 0
        while True:
            try:
                bundle = await self._get(client, url, params)
            except SearchGone:
                if restarted or params is not None:
                    raise self._fail("the search's paging links keep expiring") from None
                restarted = True
                stats.search_restarts += 1
                log.info("wearable hub %s: its paging link expired (restart?); searching again from the mark",
                         self.config.id)
                url, params = first, search_params(self.config, mark)
                continue
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                raise self._fail("answered something that is not a FHIR Bundle")
            if bundle.get("type", "searchset") != "searchset":
                raise self._fail("answered a Bundle that is not a searchset")
            if params is not None:
                self._check_self_link(bundle, url, params)
                total = bundle.get("total")
                stats.server_total = total if isinstance(total, int) and not isinstance(total, bool) else None
                searched = search_time(bundle)
                if searched is not None and (newest is None or searched > newest):
                    newest = searched
            warnings = [c for e in bundle.get("entry") or [] if isinstance(e, dict)
                        and isinstance(e.get("search"), dict) and e["search"].get("mode") == "outcome"
                        for c in outcome_codes(e.get("resource"))]
            if warnings:
                self._warn_once("outcome", "wearable hub %s: search outcome %s", self.config.id, warnings)
            page = await self._page(observations_of(bundle.get("entry") or []))
            if page.newest is not None and (newest is None or page.newest > newest):
                newest = page.newest
            following = bundle_link(bundle, "next", url)
            if following is None:
                break
            if following in followed:
                raise self._fail("its paging links go round in a loop")
            followed.add(following)
            if self._stop.is_set():
                return  # the mark stays: the next start reads this traversal again, deduplicated
            url, params = following, None
        if newest is not None and newest != mark:
            await asyncio.to_thread(self._state.commit, self.config.id, encode_mark(newest), {})

    def _check_self_link(self, bundle: dict[str, Any], url: str, params: dict[str, str]) -> None:
        used = used_params(bundle, url)
        if used is None:
            return
        self.sorted = "_sort" in used
        if "_lastUpdated" in params:
            self.incremental = "_lastUpdated" in used
            if not self.incremental:
                self._warn_once("ignored", "wearable hub %s ignores _lastUpdated: every poll reads its whole "
                                "history (deduplicated)", self.config.id)

    async def _page(self, resources: list[dict[str, Any]]) -> SearchPage:
        keys = page_keys(resources)
        already = await asyncio.to_thread(self._state.forwarded, self.config.id, keys) if keys else {}
        page = process_search_page(resources, already=already, pseudonymise=self._pseudonymise,
                                   consented=self._consented, device=self.config.id,
                                   now_ms=int(time.time() * 1000))
        for start in range(0, len(page.observations), self._max_batch):
            chunk = page.observations[start : start + self._max_batch]
            first_ms = int(min(o.ts for o in chunk).timestamp() * 1000)
            await self._buffer.append(encode_observations(chunk), len(chunk), first_ms)
        stored = await asyncio.to_thread(self._state.cursor, self.config.id)
        await asyncio.to_thread(self._state.commit, self.config.id, stored or encode_mark(None), page.remember)
        stats = self.stats
        stats.received += page.received
        stats.forwarded_observations += len(page.observations)
        stats.rejected.update(page.rejected)
        stats.last_page = page.received
        stats.max_page = max(stats.max_page, page.received)
        return page

    async def _get(self, client: httpx.AsyncClient, url: str, params: dict[str, str] | None) -> Any:
        """One GET, with waits for 429/503 and one token refresh on 401; the body parsed, or why not."""
        import httpx

        throttles = 0
        refreshed = False
        while True:
            headers = {}
            if self._smart is not None:
                headers["Authorization"] = f"Bearer {await self._smart.bearer(client)}"
            try:
                response = await client.get(url, params=params, headers=headers)
            except httpx.HTTPError as exc:
                raise self._fail(type(exc).__name__) from exc
            status = response.status_code
            if status == 200:
                break
            body = _json_or_none(response)
            codes = outcome_codes(body)
            if status in (429, 503) and throttles < MAX_THROTTLES:
                throttles += 1
                self.stats.throttled += 1
                wait = retry_after_s(response.headers.get("Retry-After"), datetime.now(UTC))
                wait = min(self.config.max_retry_after_s, wait if wait is not None else 2.0 ** throttles)
                log.debug("wearable hub %s: %d, waiting %.1f s", self.config.id, status, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=wait)
                if self._stop.is_set():
                    raise self._fail(f"{status} while stopping")
                continue
            if status == 401 and self._smart is not None and not refreshed:
                refreshed = True
                self.stats.token_refreshes += 1
                self._smart.invalidate()
                continue
            if status == 410 or (status == 404 and params is None):
                raise SearchGone()
            raise self._fail(f"answered {status}" + (f" ({', '.join(codes)})" if codes else ""))
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind not in JSON_TYPES:
            raise self._fail(f"answered {kind or 'no content type'}, not {FHIR_JSON}")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise self._fail("answered something that is not JSON") from None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def wearable_source(
    config: WearableSourceConfig,
    wearables: WearablesConfig,
    buffer: AsyncBuffer,
    state: WearableState,
    *,
    pseudonymise: Pseudonymiser | None = None,
) -> WearableSource:
    """The source for a config's ``protocol``: a FHIR search, or the project's own cursor hub."""
    kind = FhirSearchSource if config.protocol == "fhir-search" else WearableSource
    return kind(config, wearables, buffer, state, pseudonymise=pseudonymise)
