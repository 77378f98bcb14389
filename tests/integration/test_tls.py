"""MQTT over TLS between the edge publisher, the broker and the ingestor, with hostname verification.

Configs are parsed exactly as users write them (``mqtts://``, ``ca_file``,
``username``, ``password_file``), against the TLS-only Mosquitto of
``tests/securestack.py``. Refusals are checked for their words, because an
installer on a roof has only the log line to go on.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from greenwire.cloud.adapters.mqtt import Consumer, Delivery, probe
from greenwire.cloud.ingest.commits import CommitBook, CommitPublisher
from greenwire.cloud.ingest.config import parse_config as parse_ingest_config
from greenwire.edge.agent import broker_settings
from greenwire.edge.config import parse_config as parse_edge_config
from greenwire.pki import ensure_ca, issue_client, issue_server
from greenwire.servers import BrokerSecurity, Mosquitto
from greenwire.shared.errors import BrokerError
from greenwire.shared.wire import ReadingsBatch
from greenwire.transport.buffer import AsyncBuffer, SqliteBuffer
from greenwire.transport.commits import DeliveryMode
from greenwire.transport.mqtt import BrokerSettings
from greenwire.transport.publisher import Publisher
from tests.helpers import eventually
from tests.securestack import SecureBroker

pytestmark = pytest.mark.integration


def edge_config(secure: SecureBroker, host: str, *, ca_file: Path | None, username: str = "campus-a.gw-01") -> str:
    ca = f"  ca_file: {ca_file}\n" if ca_file is not None else ""
    return (
        "gateway: gw-01\nsite: campus-a\n"
        f"mqtt:\n  url: mqtts://{host}:{secure.broker.port}\n  username: {username}\n"
        f"  password_file: {secure.password_file(username)}\n{ca}"
        "buses:\n  - {name: b1, host: 127.0.0.1, port: 1502, devices: [{id: m1, unit: 1, profile: eastron-sdm630}]}\n"
    )


def ingest_config(port: int, host: str, *, ca_file: Path | None, password_file: Path, extra: str = "") -> str:
    ca = f"  ca_file: {ca_file}\n" if ca_file is not None else ""
    return (
        f"mqtt:\n  url: mqtts://{host}:{port}\n  client_id: test-ingest-{uuid.uuid4().hex[:8]}\n"
        f"  username: ingest\n  password_file: {password_file}\n{ca}{extra}"
        "influx: {api: v1, url: 'http://127.0.0.1:8086', database: greenwire}\n"
    )


def readings(n: int) -> bytes:
    return orjson.dumps(
        [{"ts": f"2026-11-22T10:00:{i:02d}.000Z", "device": "m1", "values": {"active_power_w": float(i)},
          "quality": "good"} for i in range(n)]
    )


async def test_edge_to_ingestor_over_tls_with_generated_credentials(secure_broker: SecureBroker, tmp_path: Path) -> None:
    """The edge publishes at 'localhost', the ingestor consumes at '127.0.0.1': both names are verified."""
    edge = parse_edge_config(edge_config(secure_broker, "localhost", ca_file=secure_broker.ca_file))
    ingest = parse_ingest_config(
        ingest_config(secure_broker.broker.internal_port, "127.0.0.1", ca_file=secure_broker.ca_file,
                      password_file=secure_broker.password_file("ingest"))
    )
    received: list[Delivery] = []
    consumer = Consumer(ingest.mqtt)
    mqtt = ingest.mqtt
    book = CommitBook("readings")
    commits = CommitPublisher(BrokerSettings.of(mqtt, f"{mqtt.client_id}-commit", username=mqtt.username,
                                                password=mqtt.resolved_password()), book)

    async def deliver(delivery: Delivery) -> None:
        # As the ingestor does once a flush is stored: acknowledge, then commit to the gateway.
        received.append(delivery)
        consumer.ack([delivery])
        book.add(edge.site, edge.gateway, ReadingsBatch.model_validate_json(delivery.payload).seq)
        commits.wake()

    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    seqs = [await buffer.append(readings(3), 3, 0) for _ in range(3)]
    publisher = Publisher(broker_settings(edge), edge.site, edge.gateway, buffer)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(consumer.run(deliver, stop)), asyncio.create_task(commits.run(stop))]
    try:
        await eventually(lambda: consumer.connected, 10, "the ingestor to subscribe over TLS")
        tasks.append(asyncio.create_task(publisher.run(stop)))
        await eventually(lambda: len(received) == 3, 10, "three batches through TLS")
        await eventually(lambda: buffer.buffer.depth_batches == 0, 5, "the edge buffer to empty on the commits")
        assert publisher.tracker.mode is DeliveryMode.COMMIT
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await buffer.close()
    batches = [ReadingsBatch.model_validate_json(d.payload) for d in received]
    assert [b.seq for b in batches] == seqs
    assert {d.topic for d in received} == {"greenwire/v1/campus-a/gw-01/readings"}
    assert publisher.stats.last_error is None and consumer.last_error is None


async def test_the_ingestor_check_passes_over_tls(secure_broker: SecureBroker) -> None:
    config = parse_ingest_config(
        ingest_config(secure_broker.broker.internal_port, "localhost", ca_file=secure_broker.ca_file,
                      password_file=secure_broker.password_file("ingest"))
    )
    await probe(config.mqtt)


async def test_an_unknown_ca_is_refused_with_a_clear_error(secure_broker: SecureBroker, tmp_path: Path) -> None:
    stranger = ensure_ca(tmp_path / "other-ca", name="somebody else's CA")
    config = parse_ingest_config(
        ingest_config(secure_broker.broker.internal_port, "127.0.0.1", ca_file=stranger.cert_file,
                      password_file=secure_broker.password_file("ingest"))
    )
    with pytest.raises(BrokerError) as caught:
        await probe(config.mqtt)
    message = str(caught.value)
    assert f"TLS: the broker's certificate is not signed by the CA in {stranger.cert_file}" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


async def test_without_ca_file_the_private_ca_is_not_trusted(secure_broker: SecureBroker) -> None:
    config = parse_ingest_config(
        ingest_config(secure_broker.broker.internal_port, "127.0.0.1", ca_file=None,
                      password_file=secure_broker.password_file("ingest"))
    )
    with pytest.raises(BrokerError, match="not signed by the system's trusted CAs"):
        await probe(config.mqtt)


@pytest.fixture(scope="module")
def misnamed_broker(tmp_path_factory: pytest.TempPathFactory, _secure_broker: SecureBroker) -> Iterator[Mosquitto]:
    """The secure broker's accounts and CA, but a certificate for broker.example.org only."""
    root = tmp_path_factory.mktemp("misnamed")
    server = issue_server(_secure_broker.ca, root / "pki", ["broker.example.org"])
    security = BrokerSecurity(
        _secure_broker.ca_file, server.cert_file, server.key_file,
        _secure_broker.credentials.external_password_file, _secure_broker.credentials.internal_password_file,
        _secure_broker.credentials.acl_file,
    )
    with Mosquitto(root / "mosquitto", security=security) as broker:
        yield broker


async def test_a_wrong_hostname_is_refused_with_a_clear_error(
    misnamed_broker: Mosquitto, secure_broker: SecureBroker
) -> None:
    config = parse_ingest_config(
        ingest_config(misnamed_broker.internal_port, "127.0.0.1", ca_file=secure_broker.ca_file,
                      password_file=secure_broker.password_file("ingest"))
    )
    with pytest.raises(BrokerError) as caught:
        await probe(config.mqtt)
    assert "TLS: the broker's certificate is not valid for '127.0.0.1' (hostname verification failed" in str(
        caught.value
    )


async def test_the_edge_refuses_a_wrong_hostname_and_keeps_its_readings(
    misnamed_broker: Mosquitto, secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = edge_config(secure_broker, "localhost", ca_file=secure_broker.ca_file).replace(
        f":{secure_broker.broker.port}", f":{misnamed_broker.port}"
    )
    edge = parse_edge_config(text)
    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    await buffer.append(readings(2), 2, 0)
    publisher = Publisher(broker_settings(edge), edge.site, edge.gateway, buffer)
    stop = asyncio.Event()
    caplog.set_level(logging.ERROR, logger="greenwire.transport.publisher")
    task = asyncio.create_task(publisher.run(stop))
    try:
        await eventually(lambda: publisher.stats.last_error is not None, 10, "the refused connection")
    finally:
        stop.set()
        await task
    assert "not valid for 'localhost' (hostname verification failed" in (publisher.stats.last_error or "")
    assert any("hostname verification failed" in r.getMessage() for r in caplog.records)
    assert buffer.buffer.depth_batches == 1, "nothing is lost while the broker cannot be trusted"
    await buffer.close()


@pytest.fixture(scope="module")
def cert_broker(tmp_path_factory: pytest.TempPathFactory, _secure_broker: SecureBroker) -> Iterator[Mosquitto]:
    """The secure broker's accounts and CA, requiring a client certificate signed by that CA."""
    root = tmp_path_factory.mktemp("client-certs")
    server = issue_server(_secure_broker.ca, root / "pki", ["localhost", "127.0.0.1"])
    security = BrokerSecurity(
        _secure_broker.ca_file, server.cert_file, server.key_file,
        _secure_broker.credentials.external_password_file, _secure_broker.credentials.internal_password_file,
        _secure_broker.credentials.acl_file,
        require_certificate=True,
    )
    with Mosquitto(root / "mosquitto", security=security) as broker:
        yield broker


async def test_client_certificates_when_the_broker_requires_them(
    cert_broker: Mosquitto, secure_broker: SecureBroker, tmp_path: Path
) -> None:
    password_file = secure_broker.password_file("ingest")
    without = parse_ingest_config(
        ingest_config(cert_broker.internal_port, "127.0.0.1", ca_file=secure_broker.ca_file, password_file=password_file)
    )
    # aiomqtt sees the broker's TLS 1.3 "certificate required" alert only as a missing CONNACK
    with pytest.raises(BrokerError, match="it may require a client certificate signed by its CA"):
        await probe(without.mqtt, timeout_s=2)
    issued = issue_client(secure_broker.ca, tmp_path / "client", "ingest")
    with_cert = parse_ingest_config(
        ingest_config(cert_broker.internal_port, "127.0.0.1", ca_file=secure_broker.ca_file, password_file=password_file,
                      extra=f"  cert_file: {issued.cert_file}\n  key_file: {issued.key_file}\n")
    )
    await probe(with_cert.mqtt)
    # a certificate from another CA is no better than none
    stranger = ensure_ca(tmp_path / "other-ca", name="somebody else's CA")
    forged = issue_client(stranger, tmp_path / "forged", "ingest")
    with_forged = parse_ingest_config(
        ingest_config(cert_broker.internal_port, "127.0.0.1", ca_file=secure_broker.ca_file, password_file=password_file,
                      extra=f"  cert_file: {forged.cert_file}\n  key_file: {forged.key_file}\n")
    )
    with pytest.raises(BrokerError, match="it may require a client certificate signed by its CA"):
        await probe(with_forged.mqtt, timeout_s=2)
