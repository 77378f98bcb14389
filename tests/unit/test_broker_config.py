"""One broker configuration: compose's mosquitto.conf, the deployed greenwire.conf and the local stack's
generated config (which the tests run) carry the same persistence, queue and size settings."""

from __future__ import annotations

from pathlib import Path

from greenwire.servers import Mosquitto

DEPLOY = Path(__file__).parents[2] / "deploy" / "mosquitto"
SHARED = ("persistence", "autosave_interval", "autosave_on_changes", "max_queued_messages", "max_queued_bytes",
          "max_inflight_messages", "max_packet_size", "allow_anonymous")


def _settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            out.setdefault(name, []).append(value)
    return out


def _shared(settings: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: sorted(set(values)) for name, values in settings.items() if name in SHARED}


def test_compose_deploy_and_local_stack_brokers_share_their_settings(tmp_path: Path) -> None:
    compose = _settings((DEPLOY / "mosquitto.conf").read_text())
    deployed = _settings((DEPLOY / "greenwire.conf").read_text())
    local = Mosquitto(tmp_path)
    local._command("mosquitto")  # writes the config it would start with
    generated = _settings((tmp_path / "mosquitto.conf").read_text())
    assert _shared(compose) == _shared(deployed), "deploy/mosquitto/mosquitto.conf and greenwire.conf diverge"
    shared = {k: v for k, v in _shared(deployed).items() if k != "allow_anonymous"}
    assert {k: v for k, v in _shared(generated).items() if k != "allow_anonymous"} == shared, (
        "greenwire/servers.py's broker diverges from deploy/mosquitto/greenwire.conf")
    assert deployed["persistence"] == ["true"] and deployed["autosave_interval"] == ["1"]
    assert compose["allow_anonymous"] == ["false"]


def test_compose_publishes_no_plain_text_listener() -> None:
    from ruamel.yaml import YAML

    compose = YAML(typ="safe").load(DEPLOY.parent / "compose.yaml")
    published = [str(p).split(":")[-1] for s in compose["services"].values() for p in s.get("ports", [])]
    assert "1883" not in published and "8883" in published
    listeners = _settings((DEPLOY / "mosquitto.conf").read_text())
    assert "8883" in listeners["listener"] and listeners["certfile"] and listeners["keyfile"]
