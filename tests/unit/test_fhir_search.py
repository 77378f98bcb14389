"""The FHIR search source's pure parts, its config, and SMART Backend Services' assertion and tokens."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenwire.edge.config import WearableSourceConfig, parse_config
from greenwire.edge.fhir import Pseudonymiser
from greenwire.edge.fhir_search import (
    bundle_link,
    decode_mark,
    encode_mark,
    format_instant,
    observations_of,
    outcome_codes,
    page_keys,
    parse_capabilities,
    parse_instant,
    process_search_page,
    retry_after_s,
    search_params,
    used_params,
    version_key,
)
from greenwire.edge.smart_auth import (
    AccessToken,
    TokenRefused,
    assertion_claims,
    key_problem,
    parse_token_response,
)
from greenwire.shared.errors import ConfigError

EXAMPLES = Path(__file__).parents[1] / "data" / "fhir-r4-vital-signs"
PSEUDO = Pseudonymiser(b"k" * 32, "pilot2026")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _obs(id_: str, version: str, *, status: str = "final", value: float = 72, subject: str = "Patient/p1",
         updated: str = "2026-12-02T09:59:00.000+00:00") -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((EXAMPLES / "observation-example-heart-rate.json").read_text())
    resource.update(id=id_, status=status, subject={"reference": subject},
                    effectiveDateTime="2026-12-02T17:58:00+08:00",
                    meta={"versionId": version, "lastUpdated": updated})
    resource["valueQuantity"]["value"] = value
    return resource


def _page(resources: list[dict[str, Any]], already: dict[str, str] | None = None) -> Any:
    return process_search_page(resources, already=already or {}, pseudonymise=PSEUDO,
                               consented=frozenset({"Patient/p1"}), device="ward", now_ms=0)


def test_versions_are_forwarded_once_each_and_retractions_only_of_what_was_forwarded() -> None:
    first = _page([_obs("1", "1"), _obs("2", "1", subject="Patient/p2"), _obs("3", "1", status="entered-in-error")])
    assert len(first.observations) == 1 and first.received == 3
    assert dict(first.rejected) == {"no_consent": 1, "entered_in_error": 1}
    known = {k: s for k, (s, _) in first.remember.items()}
    assert known == {"id:1|v:1": "final", "id:1": "final", "id:2|v:1": "rejected", "id:3|v:1": "rejected"}
    # The overlap reads the same versions again: duplicates, whatever they were rejected for before.
    again = _page([_obs("1", "1"), _obs("2", "1", subject="Patient/p2")], known)
    assert again.observations == [] and dict(again.rejected) == {"duplicate": 2}
    # New versions: an amended value is forwarded (the cloud overwrites), then a retraction of it.
    amended = _page([_obs("1", "2", status="amended", value=75)], known)
    assert [(o.value, o.status.value) for o in amended.observations] == [(75.0, "amended")]
    known |= {k: s for k, (s, _) in amended.remember.items()}
    retracted = _page([_obs("1", "3", status="entered-in-error")], known)
    assert [o.status.value for o in retracted.observations] == ["entered-in-error"]
    known |= {k: s for k, (s, _) in retracted.remember.items()}
    assert _page([_obs("1", "4", status="entered-in-error")], known).rejected["duplicate"] == 1


def test_without_version_id_the_last_updated_tells_versions_apart() -> None:
    resource = _obs("9", "1")
    del resource["meta"]["versionId"]
    assert version_key(resource) == "id:9|u:2026-12-02T09:59:00.000+00:00"
    assert page_keys([resource]) == ["id:9|u:2026-12-02T09:59:00.000+00:00", "id:9"]
    page = _page([resource, _obs("10", "1", updated="2026-12-02T09:59:30.5+01:00")])
    assert page.newest == datetime(2026, 12, 2, 9, 59, tzinfo=UTC)


def test_only_match_observations_are_read() -> None:
    entries = [{"resource": _obs("1", "1"), "search": {"mode": "match"}},
               {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Secret"}]},
                "search": {"mode": "include"}},
               {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}},
               {"resource": _obs("2", "1")}, "junk"]
    assert [r["id"] for r in observations_of(entries)] == ["1", "2"]


def test_capabilities() -> None:
    statement = {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1",
                 "format": ["application/fhir+xml", "application/fhir+json"],
                 "rest": [{"mode": "server", "resource": [
                     {"type": "Patient", "interaction": [{"code": "read"}]},
                     {"type": "Observation", "interaction": [{"code": "read"}, {"code": "search-type"}],
                      "searchParam": [{"name": "_lastUpdated", "type": "date"}, {"name": "code"}]}]}]}
    caps = parse_capabilities(statement)
    assert not isinstance(caps, str)
    assert caps.fhir_version == "4.0.1" and caps.observation_search and caps.lists_last_updated
    assert parse_capabilities({**statement, "fhirVersion": "3.0.2"}) == \
        "it speaks FHIR 3.0.2; this source needs R4 (4.0.x)"
    assert parse_capabilities({**statement, "format": ["xml"]}) == "its CapabilityStatement offers no JSON format"
    no_search = json.loads(json.dumps(statement))
    no_search["rest"][0]["resource"][1]["interaction"] = [{"code": "read"}]
    assert "does not allow searching" in str(parse_capabilities(no_search))
    assert parse_capabilities({"resourceType": "Bundle"}) == "its metadata is not a CapabilityStatement"
    bare = parse_capabilities({"resourceType": "CapabilityStatement"})
    assert not isinstance(bare, str) and bare.lists_last_updated is None


def test_search_parameters_marks_and_links() -> None:
    config = WearableSourceConfig(id="ward", url="http://h/baseR4", page_size=100, overlap_s=5,
                                  search={"category": "vital-signs"})
    assert search_params(config, None) == {"category": "vital-signs", "_sort": "_lastUpdated", "_count": "100"}
    mark = datetime(2026, 12, 2, 9, 0, 0, 123456, tzinfo=UTC)
    assert search_params(config, mark)["_lastUpdated"] == "ge2026-12-02T08:59:55.123Z"
    assert format_instant(datetime(2026, 12, 2, 17, 0, tzinfo=datetime.now().astimezone().tzinfo or UTC)) \
        .endswith("Z")
    assert decode_mark(encode_mark(mark)) == mark
    assert decode_mark("1234") is None and decode_mark(None) is None and decode_mark(encode_mark(None)) is None
    bundle = {"link": [{"relation": "self", "url": "Observation?_count=100&_sort=_lastUpdated&_lastUpdated=ge2026"},
                       {"relation": "next", "url": "?_getpages=abc&_getpagesoffset=100&_count=100"}]}
    base = "http://h/baseR4/Observation"
    assert bundle_link(bundle, "next", base) == "http://h/baseR4/Observation?_getpages=abc&_getpagesoffset=100&_count=100"
    hapi = {"link": [{"relation": "next", "url": "http://h/baseR4?_getpages=abc&_getpagesoffset=100"}]}
    assert bundle_link(hapi, "next", base) == "http://h/baseR4?_getpages=abc&_getpagesoffset=100", "as given"
    assert used_params(bundle, base) == frozenset({"_count", "_sort", "_lastUpdated"})
    assert used_params({"link": []}, base) is None


def test_instants_outcomes_and_retry_after() -> None:
    assert parse_instant("2026-12-02T10:00:00.5+08:00") == datetime(2026, 12, 2, 2, 0, 0, 500000, tzinfo=UTC)
    assert parse_instant("2026-12-02") is None and parse_instant("2026-12-02T10:00:00") is None
    body = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "throttled", "diagnostics": "Patient/pat-123 asked too often"}]}
    assert outcome_codes(body) == ["error:throttled"]
    assert outcome_codes({"resourceType": "Bundle"}) == []
    assert retry_after_s("7", NOW) == 7.0
    assert retry_after_s("Wed, 02 Dec 2026 10:00:30 GMT", NOW) == 30.0
    assert retry_after_s("Wed, 02 Dec 2026 09:00:00 GMT", NOW) == 0.0
    assert retry_after_s("soon", NOW) is None and retry_after_s(None, NOW) is None


def _source_yaml(extra: str, protocol: str = "") -> str:
    return ("gateway: care-gw\nsite: care-home\nwearables:\n  key_file: pilot.key\n  key_id: pilot2026\n"
            "  consent: [pat-1]\n  sources:\n    - id: ward-fhir\n      url: https://fhir.example.org/baseR4\n"
            + protocol + extra)


def _key(tmp_path: Path) -> None:
    key = tmp_path / "pilot.key"
    key.write_text("a" * 64)
    os.chmod(key, 0o600)


def _pem(tmp_path: Path, kind: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
           else rsa.generate_private_key(public_exponent=65537, key_size=1024) if kind == "rsa1024"
           else ec.generate_private_key(ec.SECP256R1() if kind == "p256" else ec.SECP384R1()))
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return path


def test_a_source_with_just_id_and_url_is_a_fhir_search(tmp_path: Path) -> None:
    _key(tmp_path)
    config = parse_config(_source_yaml(""), base_dir=tmp_path)
    assert config.wearables is not None
    source = config.wearables.sources[0]
    assert (source.protocol, source.overlap_s, source.smart, source.search) == ("fhir-search", 5.0, None, {})
    cursor = parse_config(_source_yaml("", "      protocol: greenwire-cursor\n"), base_dir=tmp_path)
    assert cursor.wearables is not None and cursor.wearables.sources[0].protocol == "greenwire-cursor"


def test_smart_config(tmp_path: Path) -> None:
    _key(tmp_path)
    _pem(tmp_path, "rsa")
    _pem(tmp_path, "p384")
    for pem, alg in (("rsa.pem", "RS384"), ("p384.pem", "ES384")):
        text = _source_yaml(f"      smart:\n        client_id: care-gw\n        key_file: {pem}\n"
                            f"        kid: k1\n        alg: {alg}\n")
        config = parse_config(text, base_dir=tmp_path)
        assert config.wearables is not None and config.wearables.sources[0].smart is not None
    assert key_problem(tmp_path / "rsa.pem", "ES384") is not None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("      protocol: hl7v2\n", "edge.yaml:10:7: wearables.sources[0].protocol: Input should be 'fhir-search' or 'greenwire-cursor'"),
        ("      protocol: greenwire-cursor\n      overlap_s: 2\n",
         "wearables.sources[0].overlap_s: overlap_s applies to protocol fhir-search only"),
        ("      search: {_count: '5'}\n", "search parameter _count is set by the source itself"),
        ("      search: {'a b': x}\n", "is not a FHIR search parameter name"),
        ("      overlap_s: -1\n", "edge.yaml:10:7: wearables.sources[0].overlap_s"),
        ("      token_file: token.txt\n      smart: {client_id: c, key_file: rsa.pem, kid: k}\n",
         "token_file and smart are two ways to authenticate"),
        ("      smart: {client_id: c, key_file: rsa.pem, kid: k, alg: ES384}\n",
         "is not an EC P-384 key, which ES384 needs"),
        ("      smart: {client_id: c, key_file: p256.pem, kid: k, alg: ES384}\n", "is not an EC P-384 key"),
        ("      smart: {client_id: c, key_file: rsa1024.pem, kid: k}\n", "RS384 needs 2048 or more"),
        ("      smart: {client_id: c, key_file: open.pem, kid: k}\n", "can be read by every user"),
        ("      smart: {client_id: c, key_file: missing.pem, kid: k}\n", "does not exist"),
        ("      smart: {client_id: c, key_file: rsa.pem, kid: k, token_url: 'ftp://x'}\n", "expected https://"),
        ("      smart: {client_id: c, key_file: rsa.pem, kid: k, scope: ''}\n", "wearables.sources[0].smart.scope"),
    ],
)
def test_source_config_errors_name_the_line(tmp_path: Path, extra: str, message: str) -> None:
    _key(tmp_path)
    for kind in ("rsa", "rsa1024", "p256"):
        _pem(tmp_path, kind)
    (tmp_path / "token.txt").write_text("t")
    open_pem = _pem(tmp_path, "p384")
    open_pem.rename(tmp_path / "open.pem")
    os.chmod(tmp_path / "open.pem", 0o644)
    with pytest.raises(ConfigError) as info:
        parse_config(_source_yaml(extra), source="edge.yaml", base_dir=tmp_path)
    assert message in str(info.value)


def test_assertion_claims_and_token_responses() -> None:
    claims = assertion_claims("care-gw", "https://auth/token", 1000.5, "j1")
    assert claims == {"iss": "care-gw", "sub": "care-gw", "aud": "https://auth/token", "exp": 1300,
                      "iat": 1000, "jti": "j1"}
    token = parse_token_response(200, {"access_token": "t", "token_type": "Bearer", "expires_in": 300}, 50.0)
    assert isinstance(token, AccessToken) and token.expires_at == 350.0 and "t" not in repr(token).replace("at", "")
    assert token.fresh(319.9) and not token.fresh(320.0), "refreshed 30 s before it expires"
    short = parse_token_response(200, {"access_token": "t", "token_type": "bearer", "expires_in": 5}, 0.0)
    assert isinstance(short, AccessToken) and short.fresh(3.9) and not short.fresh(4.0), "a fifth of a short life"
    assert parse_token_response(401, {"error": "invalid_client", "error_description": "x"}, 0) == \
        TokenRefused(401, "invalid_client")
    assert parse_token_response(200, {"token_type": "bearer"}, 0) == TokenRefused(200, "no_access_token")
    assert parse_token_response(200, {"access_token": "t", "token_type": "mac"}, 0) == \
        TokenRefused(200, "not_a_bearer_token")
    default = parse_token_response(200, {"access_token": "t", "token_type": "bearer"}, 0)
    assert isinstance(default, AccessToken) and default.expires_at == 300


def test_the_assertion_verifies_with_the_public_key(tmp_path: Path) -> None:
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from greenwire.edge.config import SmartBackendAuthConfig
    from greenwire.edge.smart_auth import sign_assertion

    for kind, alg in (("rsa", "RS384"), ("p384", "ES384")):
        pem = _pem(tmp_path, kind)
        config = SmartBackendAuthConfig(client_id="care-gw", key_file=pem, kid="k1", alg=alg)  # type: ignore[arg-type]
        now = datetime.now(UTC).timestamp()
        token = sign_assertion(config, "https://auth/token", now, "jti-1")
        assert jwt.get_unverified_header(token) == {"alg": alg, "kid": "k1", "typ": "JWT"}
        public = load_pem_private_key(pem.read_bytes(), None).public_key()
        claims = jwt.decode(token, public, algorithms=[alg], audience="https://auth/token")  # type: ignore[arg-type]
        assert claims["iss"] == claims["sub"] == "care-gw" and claims["exp"] - now <= 300
        assert claims["jti"] == "jti-1" and timedelta(seconds=claims["exp"] - claims["iat"]) == timedelta(minutes=5)


def test_the_documented_edge_config_validates(tmp_path: Path) -> None:
    """docs/health-pilot.md's example, its files made here, its SMART section switched on."""
    doc = (Path(__file__).parents[2] / "docs" / "health-pilot.md").read_text()
    text = doc.split("## At the gateway", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    _pem(tmp_path, "rsa").rename(tmp_path / "smart-client.pem")
    (tmp_path / "consent.txt").write_text("pat-3\n")
    (tmp_path / "hub-token").write_text("t0ken\n")
    _key(tmp_path)
    text = text.replace("buses: [...]", "buses: []").replace("/etc/greenwire/pseudonym.key", "pilot.key")
    text = text.replace("/etc/greenwire/", "").replace("/var/lib/greenwire/", f"{tmp_path}/")
    assert "token_file: hub-token" in text
    config = parse_config(text, source="health-pilot.md", base_dir=tmp_path)
    assert config.wearables is not None
    search, cursor = config.wearables.sources
    assert (search.protocol, search.search, cursor.protocol) == ("fhir-search", {"category": "vital-signs"},
                                                                 "greenwire-cursor")
    smart = text.replace("      token_file: hub-token  # optional bearer token, or:\n", "")
    smart = "\n".join(line.replace("      # ", "      ", 1) if line.startswith("      #   ") or
                      line.startswith("      # smart:") else line for line in smart.splitlines())
    config = parse_config(smart, source="health-pilot.md", base_dir=tmp_path)
    assert config.wearables is not None and config.wearables.sources[0].smart is not None
    assert config.wearables.sources[0].smart.alg == "RS384"
