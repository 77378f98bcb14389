"""The standard FHIR R4 search source against an independent FHIR server (``tests/fhirserver.py``).

The server runs as a process of its own, written from the specification and HAPI FHIR's
behaviour, not from our simulator: opaque ``_getpages`` links on the base, a capped ``_count``,
``Bundle.total``, ``_lastUpdated`` ranges by precision, unknown parameters ignored, 429 with
``Retry-After``, 410 for a search it no longer knows, new versions of observations already read,
SMART Backend Services tokens that expire.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from greenwire.edge.agent import EdgeAgent
from greenwire.edge.config import (
    BufferConfig,
    EdgeConfig,
    MqttConfig,
    PublishConfig,
    SmartBackendAuthConfig,
    WearablesConfig,
    WearableSourceConfig,
)
from greenwire.edge.fhir import Mapped, Pseudonymiser, map_observation
from greenwire.edge.fhir_search import FhirSearchSource
from greenwire.edge.wearable import WearableState
from greenwire.shared.vitals import VitalObservation, VitalsBatch, VitalStatus
from greenwire.transport.buffer import AsyncBuffer, MemoryBuffer
from greenwire.transport.publisher import BrokerSettings
from tests.fhirserver import FhirServerProcess, jwks_for
from tests.helpers import eventually
from tests.integration.test_edge_wearables import Capture

pytestmark = pytest.mark.integration

SITE, GATEWAY = "care-home", "care-gw"
NO_CONSENT = 2
"""The index of the participant who has not consented."""


def _key(tmp_path: Path) -> Path:
    key = tmp_path / "pilot.key"
    if not key.exists():
        key.write_text("7a" * 32)
        os.chmod(key, 0o600)
    return key


def _wearables(tmp_path: Path, consent: list[str], source: WearableSourceConfig) -> WearablesConfig:
    return WearablesConfig(key_file=_key(tmp_path), key_id="pilot2026", consent=tuple(consent),
                           buffer_path=tmp_path / "vitals.sqlite", state_path=tmp_path / "wearables.sqlite",
                           sources=(source,))


def expected_vitals(versions: list[dict[str, Any]], served: set[tuple[str, str]], consented: frozenset[str],
                    pseudonymise: Pseudonymiser, device: str) -> Counter[tuple[Any, ...]]:
    """What exactly-once forwarding gives: every version the server served or holds now, mapped once,
    a retraction only of what was forwarded (the rule of docs/health-pilot.md), in write order."""
    current = {r["id"]: r["meta"]["versionId"] for r in versions}
    forwarded: dict[str, str] = {}
    out: Counter[tuple[Any, ...]] = Counter()
    for resource in versions:
        version = (resource["id"], resource["meta"]["versionId"])
        if version not in served and current[resource["id"]] != version[1]:
            continue  # replaced before anyone read it
        mapped = map_observation(resource, pseudonymise=pseudonymise, consented=consented, device=device)
        if not isinstance(mapped, Mapped):
            continue
        before = forwarded.get(resource["id"])
        if mapped.status is VitalStatus.ENTERED_IN_ERROR and before in (None, VitalStatus.ENTERED_IN_ERROR.value):
            continue
        forwarded[resource["id"]] = mapped.status.value
        out.update((o.subject, o.code, o.ts, o.status, o.value) for o in mapped.observations)
    return out


async def test_exactly_once_from_an_independent_fhir_server_while_data_arrives(
    tmp_path: Path, mosquitto: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's done-when: new observations while the gateway runs, throttling, new versions, an
    expired search and a server restart; every consenting observation once, nobody else's, and the
    server's history not read again on each poll."""
    caplog.set_level(logging.DEBUG)
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "6", "--hours", "0.5").start()
    sub = Capture(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/#")
    try:
        persons = await server.control("participants", "GET")
        consent = [f"Patient/{p['id']}" for p in persons if p["index"] != NO_CONSENT]
        source = WearableSourceConfig(id="ward-fhir", url=server.url, poll_interval_s=0.5, overlap_s=0.5)
        config = EdgeConfig(gateway=GATEWAY, site=SITE, mqtt=MqttConfig(url=mosquitto.url),
                            buffer=BufferConfig(path=tmp_path / "buffer.sqlite"),
                            publish=PublishConfig(interval_s=0.2, status_interval_s=1.0),
                            wearables=_wearables(tmp_path, consent, source))
        assert config.wearables is not None
        pseudonymise = config.wearables.pseudonymiser()
        agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id))
        hub = agent.wearables[0]
        assert isinstance(hub, FhirSearchSource)
        backlog = (await server.control("stats", "GET"))["observations"]
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        earlier: dict[str, Any] = {}
        try:
            await eventually(lambda: hub.stats.received >= backlog, 120, "the server's backlog")
            # The backlog was written in one transaction, at one instant: the next poll's overlap reads
            # it again if the first search came within overlap_s of it. Then it is never read again.
            polls = hub.stats.polls
            await eventually(lambda: hub.stats.polls >= polls + 2, 30, "two polls after the backlog")
            backlog_served = (await server.control("stats", "GET"))["observations_served"]
            assert hub.capabilities is not None and hub.capabilities.fhir_version == "4.0.1"
            assert hub.sorted and hub.stats.server_total is not None, "Bundle.total read"
            assert hub.stats.max_page == 200, "the server caps _count at 200; the source follows its links"
            # Live: the wearables go on measuring while the gateway runs; the server misbehaves meanwhile.
            for round_ in range(12):
                await server.control("live")
                if round_ == 2:
                    await server.control("throttle", requests=2, retry_after=1)
                if round_ == 4:
                    await server.control("update", count=9)  # amended, retracted, touched: new versions
                if round_ == 6:
                    await server.control("backfill", hours=0.2)  # a wearable uploads its offline hours
                    await server.control("forget", after=1)  # and the search's links go 410 mid-traversal
                    await server.control("update", count=3)
                if round_ == 8:
                    polls = hub.stats.polls
                    await eventually(lambda p=polls: hub.stats.polls > p + 1, 30, "polls before the restart")
                    earlier = await server.control("stats", "GET")  # a restart starts its counters again
                    await asyncio.to_thread(server.restart)  # same port and data, new paging ids
                await asyncio.sleep(0.7)
            await server.control("live")
            final = (await server.control("stats", "GET"))["versions"]
            polls = hub.stats.polls
            await eventually(lambda: hub.stats.polls > polls + 2 and hub.stats.online, 60, "catch-up polls")
            vp = agent.vitals_publisher
            assert vp is not None
            await eventually(lambda: vp.stats.published_readings == hub.stats.forwarded_observations, 60,
                             "every forwarded observation published")
        finally:
            stop.set()
            await task

        def vitals() -> list[VitalsBatch]:
            return [VitalsBatch.model_validate_json(p) for t, p, _ in list(sub.messages) if t.endswith("/vitals")]

        await eventually(lambda: sum(len(b.observations) for b in vitals()) >= hub.stats.forwarded_observations,
                         30, "every vitals batch at the subscriber")
        now = await server.control("stats", "GET")
        stats = {k: now[k] + earlier[k] if isinstance(now[k], int) and k not in ("observations", "versions")
                 else now[k] for k in now}
        versions = await server.control("versions", "GET")
        served = {tuple(v) for v in await server.control("served", "GET")}
    finally:
        sub.close()
        server.stop()

    got = Counter((o.subject, o.code, o.ts, o.status, o.value) for b in vitals() for o in b.observations)
    want = expected_vitals(versions, served, config.wearables.consented(), pseudonymise, "ward-fhir")
    assert len(versions) == final
    assert got == want, f"{sum((got - want).values())} extra, {sum((want - got).values())} missing"
    assert {s for s, *_ in got} == {pseudonymise(c) for c in consent}, "nobody else's observations"
    updated = len(versions) - len({r["id"] for r in versions})
    # A key twice only for a version that changed nothing but meta (the cloud overwrites it: same point).
    assert sum(got.values()) - len(got) <= updated // 3 + 1
    assert updated >= 9 and any(k[3] is VitalStatus.AMENDED for k in got)
    assert any(k[3] is VitalStatus.ENTERED_IN_ERROR for k in got)
    s = hub.stats
    assert hub.incremental, "the server honoured _lastUpdated"
    assert s.throttled >= 2 and s.search_restarts >= 1, s
    assert stats["throttled"] == 2 and stats["gzip_responses"] > 0
    assert stats["cache_hits"] == 0, "Cache-Control: no-cache: no search answered from a stale snapshot"
    # Not the whole history on each poll: after the backlog, each poll reads what is new and the overlap.
    live_served = stats["observations_served"] - backlog_served
    live_versions = len(versions) - backlog
    assert live_served < 4 * live_versions + 200 * s.search_restarts, (live_served, live_versions)
    forwarded_versions = len({(r["id"], r["meta"]["versionId"]) for r in versions} & served)
    print(f"\nfhir server: {len(versions)} versions of {len({r['id'] for r in versions})} observations "
          f"({backlog} backlog, {live_versions} while the gateway ran, {updated} new versions); "
          f"served {stats['observations_served']} entries in {stats['pages']} pages of {stats['searches']} searches; "
          f"{stats['throttled']} throttled, {stats['gone']} gone"
          f"\nedge: {s.polls} polls, {s.received} received, {s.forwarded_observations} vitals forwarded, "
          f"restarts {s.search_restarts}, throttled {s.throttled}, errors {s.errors}; "
          f"rejects {dict(sorted(s.rejected.items()))}"
          f"\nserved per version: {stats['observations_served'] / max(1, forwarded_versions):.3f} overall, "
          f"{live_served / max(1, live_versions):.3f} live; served per vitals observation forwarded: "
          f"{stats['observations_served'] / max(1, sum(got.values())):.3f}")
    # Nothing identifying on the broker or in the logs.
    everything = b"".join(p for _, p, _ in sub.messages).decode() + caplog.text
    for person in persons:
        for secret in person["secrets"]:
            assert secret not in everything, "an identifier left the gateway"
    for resource in versions[::40]:
        assert f"Observation/{resource['id']}" not in everything
        assert resource["identifier"][0]["value"] not in everything


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_smart_backend_services_tokens_are_refreshed_and_renewed_after_a_401(
    tmp_path: Path, alg: str, caplog: pytest.LogCaptureFixture
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    caplog.set_level(logging.DEBUG)
    private = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg == "RS384"
               else ec.generate_private_key(ec.SECP384R1()))
    key_file = tmp_path / "client.pem"
    key_file.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    os.chmod(key_file, 0o600)
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    jwks = tmp_path / "jwks.json"
    import json

    jwks.write_text(json.dumps(jwks_for(public, "gw-key-1", alg)))
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "3", "--hours", "0.1",
                               "--smart-client-id", "care-gw", "--smart-jwks", str(jwks),
                               "--token-lifetime", "3").start()
    buffer = AsyncBuffer(MemoryBuffer())
    state = WearableState(tmp_path / "state.sqlite")
    try:
        persons = await server.control("participants", "GET")
        smart = SmartBackendAuthConfig(client_id="care-gw", key_file=key_file, kid="gw-key-1", alg=alg)
        source_config = WearableSourceConfig(id="ward-fhir", url=server.url, poll_interval_s=0.3, smart=smart)
        wearables = _wearables(tmp_path, [f"Patient/{p['id']}" for p in persons], source_config)
        source = FhirSearchSource(source_config, wearables, buffer, state)
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        try:
            total = (await server.control("stats", "GET"))["observations"]
            await eventually(lambda: source.stats.received >= total, 60, "the backlog, authenticated")
            await asyncio.sleep(3.5)  # past the first token's life: refreshed before it expires
            await server.control("live")
            await server.control("expire-tokens")  # revoked early: a 401, a new token, the same request again
            polls = source.stats.polls
            await eventually(lambda: source.stats.polls > polls + 2, 30, "polls after the revocation")
        finally:
            stop.set()
            await task
        stats = await server.control("stats", "GET")
    finally:
        server.stop()
        state.close()
        await buffer.close()
    assert source.stats.errors == 0, source.stats.last_error
    assert source.stats.token_refreshes >= 1 and stats["unauthorised"] >= 1
    assert stats["tokens_issued"] >= 3 and stats["token_refusals"] == 0
    assert source.stats.forwarded_observations > 0
    # Neither a token nor an assertion (a JWT starts "eyJ") in the logs, nor a search's query string.
    assert "eyJ" not in caplog.text and "access_token" not in caplog.text
    assert "_lastUpdated=" not in caplog.text and "_getpages=" not in caplog.text


async def test_a_server_that_does_not_sort_still_gives_everything_once(tmp_path: Path) -> None:
    """Without _sort the server's order is unspecified: the mark moves only after a whole traversal. An
    unknown search parameter is ignored (and left out of the self link), as the specification says."""
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "4", "--hours", "0.2", "--no-sort").start()
    buffer = AsyncBuffer(MemoryBuffer())
    state = WearableState(tmp_path / "state.sqlite")
    try:
        persons = await server.control("participants", "GET")
        consent = [f"Patient/{p['id']}" for p in persons if p["index"] != 1]
        source_config = WearableSourceConfig(id="ward-fhir", url=server.url, poll_interval_s=0.3, page_size=50,
                                             overlap_s=0.3, search={"category": "vital-signs", "vendor-flag": "on"})
        wearables = _wearables(tmp_path, consent, source_config)
        source = FhirSearchSource(source_config, wearables, buffer, state)
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        try:
            for _ in range(5):
                await server.control("live")
                await asyncio.sleep(0.5)
            await server.control("update", count=6)
            polls = source.stats.polls
            await eventually(lambda: source.stats.polls > polls + 2, 30, "catch-up polls")
        finally:
            stop.set()
            await task
        versions = await server.control("versions", "GET")
        served = {tuple(v) for v in await server.control("served", "GET")}
        pseudonymise = wearables.pseudonymiser()
        batches = buffer.buffer.peek(100_000)
    finally:
        server.stop()
        state.close()
        await buffer.close()
    assert source.sorted is False and source.incremental is True
    got: Counter[tuple[Any, ...]] = Counter()
    for batch in batches:
        for o in TypeAdapter(list[VitalObservation]).validate_json(batch.readings_json):
            got[(o.subject, o.code, o.ts, o.status, o.value)] += 1
    want = expected_vitals(versions, served, wearables.consented(), pseudonymise, "ward-fhir")
    assert sum(got.values()) == source.stats.forwarded_observations
    assert got == want, f"{sum((got - want).values())} extra, {sum((want - got).values())} missing"
    assert len(versions) > len({r["id"] for r in versions}), "new versions were written and read"


@pytest.mark.parametrize("overlap_s", [0.5, 5.0])
async def test_served_per_forwarded_in_steady_state(tmp_path: Path, overlap_s: float) -> None:
    """The figure of the issue, without faults: a server writing new measurements every 0.5 s, the
    source polling every second; what it serves per version it holds, once the backlog is read."""
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "24", "--hours", "0.05",
                               "--live-interval", "0.5").start()
    buffer = AsyncBuffer(MemoryBuffer())
    state = WearableState(tmp_path / "state.sqlite")
    try:
        persons = await server.control("participants", "GET")
        consent = [f"Patient/{p['id']}" for p in persons if p["index"] != NO_CONSENT]
        source_config = WearableSourceConfig(id="ward-fhir", url=server.url, poll_interval_s=1.0,
                                             overlap_s=overlap_s)
        wearables = _wearables(tmp_path, consent, source_config)
        source = FhirSearchSource(source_config, wearables, buffer, state)
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        try:
            backlog = (await server.control("stats", "GET"))["observations"]
            await eventually(lambda: source.stats.received >= backlog, 60, "the backlog")
            await asyncio.sleep(overlap_s + 2.5)  # the overlap of the backlog's one transaction has passed
            before = await server.control("stats", "GET")
            forwarded_before = source.stats.forwarded_observations
            await asyncio.sleep(20)
            after = await server.control("stats", "GET")
            polls = source.stats.polls
            await eventually(lambda: source.stats.polls > polls + 1, 30, "the last writes read")
            forwarded = source.stats.forwarded_observations - forwarded_before
        finally:
            stop.set()
            await task
    finally:
        server.stop()
        state.close()
        await buffer.close()
    written = after["versions"] - before["versions"]
    served = after["observations_served"] - before["observations_served"]
    searches = after["searches"] - before["searches"]
    print(f"\noverlap {overlap_s} s, poll 1 s, writes every 0.5 s: {written} versions written in 20 s, "
          f"{served} served in {searches} searches: {served / max(1, written):.2f} served per version; "
          f"{forwarded} vitals forwarded ({served / max(1, forwarded):.2f} served per vitals observation)")
    assert written > 50 and searches >= 15
    assert served <= written * (2 + overlap_s * 1.5) + 20, "a poll reads what is new and the overlap only"
