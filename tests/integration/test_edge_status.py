"""The gateway's retained status: birth with version and config hash, health every interval, will."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire import __version__
from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import EdgeConfig
from greenwire.servers import Mosquitto
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually
from tests.integration.test_edge_publish import Subscriber

pytestmark = pytest.mark.integration


async def test_status_reports_health_of_devices_buffer_and_process(mosquitto: Mosquitto, tmp_path: Path) -> None:
    replay = Replay(builtin_series("b85"), start=datetime(2022, 4, 1, tzinfo=UTC), speed=60)
    subscriber = Subscriber(mosquitto.host, mosquitto.port, "greenwire/v1/campus-s/gw-status/status")
    try:
        async with MeterServer(meters=[SimMeter(1, replay)]) as server:
            config = EdgeConfig.model_validate(
                {
                    "gateway": "gw-status",
                    "site": "campus-s",
                    "mqtt": {"url": mosquitto.url},
                    "buffer": {"path": str(tmp_path / "buffer.sqlite")},
                    "publish": {"status_interval_s": 1},
                    "buses": [
                        {
                            "name": "plant-room", "host": "127.0.0.1", "port": server.port, "timeout_s": 0.2,
                            "devices": [
                                {"id": "main", "unit": 1, "profile": "eastron-sdm630", "poll_interval_s": 0.5},
                                {"id": "absent", "unit": 9, "profile": "eastron-sdm630", "poll_interval_s": 0.5},
                            ],
                        }
                    ],
                }
            )
            agent = EdgeAgent(config, broker_settings(config))
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            await eventually(
                lambda: any(s.get("devices") and s["devices"][0]["reads"] >= 2 for s in subscriber.statuses()),
                30, "a status with the device's reads",
            )
            stop.set()
            await task
        await eventually(lambda: subscriber.statuses()[-1]["state"] == "offline", 30, "the offline status")
    finally:
        subscriber.close()

    statuses = subscriber.statuses()
    birth = statuses[0]
    assert birth["state"] == "online" and birth["version"] == __version__
    assert birth["config_hash"] == config.config_hash and len(birth["config_hash"]) == 16
    health = next(s for s in statuses if s.get("devices") and s["devices"][0]["reads"] >= 2)
    devices = {d["device"]: d for d in health["devices"]}
    assert devices["main"]["online"] is True and devices["main"]["poll_latency_ms"] > 0
    assert devices["absent"]["online"] is False and devices["absent"]["errors"] >= 1
    assert set(health["buffer"]) == {"readings", "batches", "oldest_reading_age_s", "dropped_readings"}
    assert health["buffer"]["dropped_readings"] == 0
    assert 0 < health["process"]["rss_mb"] < 1024 and health["process"]["cpu_pct"] >= 0
    assert statuses[-1] == {**statuses[-1], "state": "offline", "reason": "shutdown"}
