"""A gateway with a Bluetooth LE heart-rate strap and blood-pressure cuff, read through a fake client
of bleak's interface (no adapter here), publishes the participant's vitals through the real broker,
pseudonymised, and nothing of a device bound to nobody."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from greenwire.edge.agent import EdgeAgent
from greenwire.edge.config import (
    BleDeviceConfig,
    BufferConfig,
    EdgeConfig,
    MqttConfig,
    PublishConfig,
    WearablesConfig,
)
from greenwire.shared.vitals import VitalsBatch
from greenwire.transport.mqtt import BrokerSettings
from tests.helpers import eventually
from tests.integration.test_edge_wearables import Capture
from tests.unit.test_ble import BP, HR, FakeClient, sf

SITE, GATEWAY = "care-home", "care-gw"
STRAP, CUFF, SPARE = "C4:7C:8D:6A:12:3F", "D0:11:22:33:44:55", "11:22:33:44:55:66"


def _config(tmp_path: Path, mosquitto: Any) -> EdgeConfig:
    key = tmp_path / "pilot.key"
    key.write_text("5f" * 32)
    os.chmod(key, 0o600)
    consent = tmp_path / "consent.txt"
    consent.write_text(f"Patient/pat-1 ble={STRAP.lower()}\nPatient/pat-1 ble={CUFF}\nPatient/pat-2\n")
    return EdgeConfig(
        gateway=GATEWAY, site=SITE, mqtt=MqttConfig(url=mosquitto.url),
        buffer=BufferConfig(path=tmp_path / "buffer.sqlite"),
        publish=PublishConfig(interval_s=0.2, status_interval_s=1.0),
        wearables=WearablesConfig(
            key_file=key, key_id="pilot2026", consent_file=consent,
            buffer_path=tmp_path / "vitals.sqlite", state_path=tmp_path / "wearables.sqlite",
            ble=(BleDeviceConfig(id="strap-1", address=STRAP, services=("heart_rate",)),
                 BleDeviceConfig(id="cuff-1", address=CUFF, services=("blood_pressure",)),
                 BleDeviceConfig(id="spare", address=SPARE)),
        ),
    )


async def test_ble_devices_to_the_broker_pseudonymised(tmp_path: Path, mosquitto: Any) -> None:
    FakeClient.made.clear()
    FakeClient.fail_first = set()
    config = _config(tmp_path, mosquitto)
    sub = Capture(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/#")
    try:
        agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id),
                          ble_client=FakeClient)
        assert agent.ble is not None and agent.ble.unbound == ["spare"]
        agent.ble._flush_s = 0.1
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await eventually(lambda: all(FakeClient.made.get(a) and FakeClient.made[a][-1].callbacks
                                         for a in (STRAP, CUFF)), 20, "both bound devices subscribed")
            strap, cuff = FakeClient.made[STRAP][-1], FakeClient.made[CUFF][-1]
            for bpm in (71, 72, 74):
                strap.notify(HR, bytes([0x06, bpm]))
            cuff.notify(BP, b"\x00" + sf(128, 0) + sf(82, 0) + sf(97, 0))

            def vitals() -> list[VitalsBatch]:
                return [VitalsBatch.model_validate_json(p) for t, p, _ in list(sub.messages) if t.endswith("/vitals")]

            await eventually(lambda: sum(len(b.observations) for b in vitals()) >= 5, 30, "the vitals at the broker")
        finally:
            stop.set()
            await task
        observations = [o for b in vitals() for o in b.observations]
        assert sorted((o.device, o.code, o.value) for o in observations) == [
            ("cuff-1", "8462-4", 82.0), ("cuff-1", "8480-6", 128.0),
            ("strap-1", "8867-4", 71.0), ("strap-1", "8867-4", 72.0), ("strap-1", "8867-4", 74.0)]
        assert {o.subject for o in observations} == {config.wearables.pseudonymiser()("Patient/pat-1")}
        assert SPARE not in FakeClient.made
        raw = b"".join(p for _, p, _ in list(sub.messages))
        assert b"pat-1" not in raw and STRAP.encode() not in raw and STRAP.lower().encode() not in raw
    finally:
        sub.close()
