"""The wearable edge source's pure parts: a page of a hub to vitals, deduplicated; its config."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenwire.edge.config import parse_config
from greenwire.edge.fhir import Pseudonymiser
from greenwire.edge.wearable import WearableState, encode_observations, next_cursor, process_page
from greenwire.shared.errors import ConfigError
from greenwire.shared.vitals import VitalsBatch
from greenwire.simulators.wearable import WearableHub, make_participants

START = datetime(2026, 11, 2, tzinfo=UTC)
PSEUDO = Pseudonymiser(b"k" * 32, "pilot2026")


def _hub(hours: float = 2) -> WearableHub:
    wall = START + timedelta(days=1)
    hub = WearableHub(make_participants(6), start=START, speed=1e9, clock=lambda: wall)
    hub.advance(START + timedelta(hours=hours))
    return hub


def _entries(hub: WearableHub) -> list[dict[str, Any]]:
    return hub.page(0, len(hub.log))["entry"]


def test_a_page_maps_dedups_and_counts_every_reason() -> None:
    hub = _hub()
    consented = frozenset(f"Patient/{p.id}" for p in hub.participants[:5])  # the sixth did not consent
    outcome = process_page(_entries(hub), already={}, pseudonymise=PSEUDO, consented=consented, device="hub-1")
    assert outcome.received == len(hub.log)
    rejected = outcome.rejected
    statuses = Counter(r["status"] for r in hub.log)
    sixth = f"Patient/{hub.participants[5].id}"
    assert rejected["no_consent"] == sum(1 for r in hub.log if r["subject"]["reference"] == sixth)
    assert rejected["cancelled"] == sum(1 for r in hub.log if r["status"] == "cancelled"
                                        and r["subject"]["reference"] != sixth)
    assert rejected["duplicate"] >= hub.stats.resent - rejected["no_consent"]  # resent blocks
    assert rejected["unsupported_code"] > 0 and rejected["component_absent"] > 0
    assert statuses["entered-in-error"] > 0
    retractions = [o for o in outcome.observations if o.status.value == "entered-in-error"]
    assert 0 < len(retractions) <= statuses["entered-in-error"]
    # Everything forwarded is a valid wire batch, and carries nothing of the hub's identities.
    text = encode_observations(outcome.observations).decode()
    batch = VitalsBatch.model_validate_json('{"schema":"greenwire.vitals.v1","gateway":"gw","seq":1,'
                                            f'"sent_at":"2026-11-02T00:00:00Z","observations":{text}}}')
    assert len(batch.observations) == len(outcome.observations)
    for p in hub.participants:
        for secret in (p.id, p.mrn, p.given, p.family, p.birth_date.isoformat(), p.address.split(",")[0]):
            assert secret not in text
    assert {o.subject for o in outcome.observations} == {PSEUDO(ref) for ref in consented}
    keys = [o for o in outcome.observations if o.code == "8867-4"]
    assert len({(o.subject, o.ts) for o in keys}) == len(keys), "no heart-rate sample twice"


def test_dedup_across_polls_through_the_state(tmp_path: Path) -> None:
    hub = _hub(hours=1)
    consented = frozenset(f"Patient/{p.id}" for p in hub.participants)
    state = WearableState(tmp_path / "state.sqlite")
    entries = _entries(hub)
    first = process_page(entries, already={}, pseudonymise=PSEUDO, consented=consented, device="hub-1")
    state.commit("hub-1", "42", first.forwarded)
    keys = list(first.forwarded)
    already = state.forwarded("hub-1", keys)
    assert len(already) == len(keys) and state.cursor("hub-1") == "42"
    again = process_page(entries, already=already, pseudonymise=PSEUDO, consented=consented, device="hub-1")
    assert again.observations == [] and again.rejected["duplicate"] >= len(first.forwarded)
    assert state.forwarded("other-hub", keys) == {}, "keys are per hub"
    assert state.prune(int((START + timedelta(days=2)).timestamp() * 1000)) == len(keys)
    state.close()


def test_next_cursor() -> None:
    assert next_cursor({"link": [{"relation": "self", "url": "/x?_cursor=1"},
                                 {"relation": "next", "url": "http://h/fhir/Observation?_cursor=17&_count=5"}]}) == "17"
    assert next_cursor({"link": []}) is None


CONFIG = """\
gateway: care-gw
site: care-home
wearables:
  key_file: pilot.key
  key_id: pilot2026
  consent: [Patient/pat-1, pat-2]
  sources:
    - id: ward-hub
      url: http://127.0.0.1:8090/fhir
"""


def _key(tmp_path: Path, mode: int = 0o600, size: int = 64) -> None:
    key = tmp_path / "pilot.key"
    key.write_text("a" * size)
    os.chmod(key, mode)


def test_config_with_wearables_only(tmp_path: Path) -> None:
    _key(tmp_path)
    config = parse_config(CONFIG, base_dir=tmp_path)
    assert config.buses == () and config.wearables is not None
    assert config.wearables.consented() == frozenset({"Patient/pat-1", "Patient/pat-2"})
    assert config.vitals_buffer_path != config.buffer_path
    assert config.wearables.pseudonymiser()("Patient/pat-1").startswith("pilot2026.")
    assert "pat-1" not in repr(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ((0o644, 64), r"edge.yaml:4:\d+: wearables.key_file: key file .* can be read by every user"),
        ((0o600, 8), "fewer than 32 bytes"),
    ],
)
def test_key_file_must_be_private_and_long(tmp_path: Path, change: tuple[int, int], message: str) -> None:
    _key(tmp_path, *change)
    with pytest.raises(ConfigError, match=message):
        parse_config(CONFIG, source="edge.yaml", base_dir=tmp_path)


def test_missing_key_is_made_on_the_gateway(tmp_path: Path) -> None:
    config = parse_config(CONFIG, base_dir=tmp_path)
    assert config.wearables is not None
    with pytest.raises(ConfigError, match="greenwire edge keygen"):
        config.wearables.pseudonymiser()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("consent: [Patient/pat-1, pat-2]", "consent: []", "the consent list is empty"),
        ("consent: [Patient/pat-1, pat-2]", "consent: [Patient/pat-1, ' ']", "edge.yaml:6:28: wearables.consent[1]: consent entry 1 is empty"),
        ("key_id: pilot2026", "key_id: Pilot 2026", "edge.yaml:5:3: wearables.key_id"),
        ("      url: http://127.0.0.1:8090/fhir", "      url: ftp://x", "edge.yaml:9:7: wearables.sources[0].url: expected http"),
    ],
)
def test_config_errors_name_the_line_never_a_participant(tmp_path: Path, old: str, new: str, message: str) -> None:
    _key(tmp_path)
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG.replace(old, new), source="edge.yaml", base_dir=tmp_path)
    assert message in str(info.value)
    assert "pat-1" not in str(info.value)


def test_gateway_needs_something_to_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs buses"):
        parse_config("gateway: g\nsite: s\n", source="edge.yaml")


async def test_a_withdrawal_in_the_consent_file_takes_effect_without_a_restart(tmp_path: Path) -> None:
    from greenwire.edge.wearable import WearableSource
    from greenwire.transport.buffer import AsyncBuffer, MemoryBuffer

    _key(tmp_path)
    consent = tmp_path / "consent.txt"
    consent.write_text("Patient/pat-1\npat-2  # ward 3\n")
    config = parse_config(CONFIG.replace("consent: [Patient/pat-1, pat-2]", "consent_file: consent.txt"),
                          base_dir=tmp_path)
    assert config.wearables is not None
    buffer = AsyncBuffer(MemoryBuffer())
    state = WearableState(tmp_path / "state.sqlite")
    try:
        source = WearableSource(config.wearables.sources[0], config.wearables, buffer, state)
        assert source._consented == frozenset({"Patient/pat-1", "Patient/pat-2"})
        assert not source.refresh_consent(), "unchanged file"
        consent.write_text("Patient/pat-1\n")
        os.utime(consent, (1e9, 1e9))  # a new modification time, whatever the clock's resolution
        assert source.refresh_consent() and source._consented == frozenset({"Patient/pat-1"})
    finally:
        state.close()
        await buffer.close()


def _pages_of(kind: str, tmp_path: Path) -> tuple[Any, list[dict[str, Any]], frozenset[str], str, list[str]]:
    """A page's outcome from our simulator or from the independent FHIR server's data, the resources,
    the consent list, the non-consenting subject, and every identifying string."""
    if kind == "simulator":
        hub = _hub()
        consented = frozenset(f"Patient/{p.id}" for p in hub.participants[:5])
        resources = [e["resource"] for e in _entries(hub) if e["resource"]["resourceType"] == "Observation"]
        outcome = process_page(_entries(hub), already={}, pseudonymise=PSEUDO, consented=consented, device="hub-1")
        secrets = [s for p in hub.participants
                   for s in (p.id, p.mrn, p.given, p.family, p.birth_date.isoformat(), p.address.split(",")[0])]
        return outcome, resources, consented, f"Patient/{hub.participants[5].id}", secrets
    from greenwire.edge.fhir_search import process_search_page
    from tests.fhirserver import Measurements, Store, people

    persons = people(6)
    store = Store(tmp_path / "fhir")
    store.write(list(Measurements(persons, START).between(START, START + timedelta(hours=2))))
    resources = list(store.current.values())
    consented = frozenset(f"Patient/{p.id}" for p in persons[:5])
    outcome = process_search_page(resources, already={}, pseudonymise=PSEUDO, consented=consented,
                                  device="hub-1", now_ms=0)
    return outcome, resources, consented, f"Patient/{persons[5].id}", [s for p in persons for s in p.secrets()]


@pytest.mark.parametrize("kind", ["simulator", "fhir-server"])
def test_either_servers_observations_map_privately(kind: str, tmp_path: Path) -> None:
    outcome, resources, consented, refused, secrets = _pages_of(kind, tmp_path)
    assert outcome.received == len(resources)
    rejected = outcome.rejected
    assert rejected["no_consent"] == sum(1 for r in resources if r["subject"]["reference"] == refused)
    assert rejected["cancelled"] > 0, "a cancelled panel (observation-example-bloodpressure-cancel)"
    assert rejected["component_absent"] > 0, "a panel without its diastolic (-bloodpressure-dar)"
    assert rejected["unsupported_code"] > 0, "body height, a code the pilot does not carry"
    codes = Counter(o.code for o in outcome.observations)
    assert {"8867-4", "59408-5", "9279-1", "8310-5", "8480-6", "8462-4"} <= set(codes)
    text = encode_observations(outcome.observations).decode()
    batch = VitalsBatch.model_validate_json('{"schema":"greenwire.vitals.v1","gateway":"gw","seq":1,'
                                            f'"sent_at":"2026-11-02T00:00:00Z","observations":{text}}}')
    assert len(batch.observations) == len(outcome.observations)
    for secret in secrets:
        assert secret not in text
    for resource in resources[::25]:
        assert f"Observation/{resource['id']}" not in text and resource["identifier"][0]["value"] not in text
    assert {o.subject for o in outcome.observations} == {PSEUDO(ref) for ref in consented}
    heart = [o for o in outcome.observations if o.code == "8867-4"]
    assert len({(o.subject, o.ts) for o in heart}) == len(heart), "no heart-rate sample twice"
