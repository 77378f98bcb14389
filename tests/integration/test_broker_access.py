"""Access control on the real broker: every denial of the generated ACL, against Mosquitto 2.

The broker (``tests/securestack.py``) runs with the password file and ACL that
``greenwire.access`` generated for two sites (campus-a: gw-01, gw-02;
campus-b: gw-01), an ingestor, a grid feed for zone ``gb`` and a
building-management reader of campus-a. Gateways, the feed and the reader log
in on the external listener (client id forced to the username), the ingestor
on the internal one (its own client id); each listener knows only its accounts.

How Mosquitto 2.0 denies, and so what each test looks for:

- a QoS 1 publish that the ACL refuses gets PUBACK 0x87 (not authorised) and
  reaches nobody; a QoS 0 one is dropped without a word;
- a subscription is granted (SUBACK QoS 1) whatever the ACL says, and each
  message is checked against the subscriber's read rights when it would be
  delivered: a refused one is silently not sent (retained messages included);
- a last will is checked when the broker would publish it.

"Reaches nobody" is proven with a sentinel (see ``tests/mqttprobe.py``): the
observer subscribes to everything it may read, the denied message is
published, then a permitted one; once the permitted one has arrived, the
denied one would have arrived before it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenwire.servers import Mosquitto, free_port
from tests.mqttprobe import NO_MATCHING_SUBSCRIBERS, NOT_AUTHORIZED, Probe
from tests.securestack import SecureBroker

pytestmark = pytest.mark.integration

DELIVERED = (0, NO_MATCHING_SUBSCRIBERS)


def probe(
    secure: SecureBroker, username: str | None, *, password: str | None = None, port: int | None = None,
    **kwargs: object,
) -> Probe:
    """A connection as ``username`` (its own password unless one is given) to its listener (unless ``port``)."""
    if username is not None and password is None:
        password = secure.password(username)
    if port is None:
        port = secure.port(username) if username is not None else secure.broker.port
    return Probe(
        secure.broker.host,
        port,
        username=username,
        password=password,
        ca_file=secure.ca_file,
        **{"client_id": f"probe-{uuid.uuid4().hex[:8]}", **kwargs},  # type: ignore[arg-type]
    )


@pytest.fixture
def ingest(secure_broker: SecureBroker) -> Iterator[Probe]:
    """The ingestor, subscribed to everything it may read (also the sentinel's observer)."""
    with probe(secure_broker, "ingest") as client:
        assert client.connected
        for topic_filter in (
            "greenwire/v1/+/+/readings",
            "greenwire/v1/+/+/vitals",
            "greenwire/v1/+/+/status",
            "greenwire/v1/grid/+/intensity",
            "greenwire/v1/#",
        ):
            assert client.subscribe(topic_filter) == [1]
        yield client


@pytest.fixture
def gw01(secure_broker: SecureBroker) -> Iterator[Probe]:
    with probe(secure_broker, "campus-a.gw-01") as client:
        assert client.connected
        yield client


def unique(label: str) -> bytes:
    return f"{label}-{uuid.uuid4().hex}".encode()


def assert_not_delivered(observer: Probe, denied: bytes, sentinel_sender: Probe, sentinel_topic: str) -> None:
    """``denied`` has not reached ``observer``: a later permitted message has, and it came alone."""
    sentinel = unique("sentinel")
    assert sentinel_sender.publish(sentinel_topic, sentinel) in DELIVERED
    observer.wait_for(sentinel)
    assert denied not in observer.payloads(), f"{denied!r} reached a client not allowed to read it"


# -- connecting -------------------------------------------------------------------------------


def test_anonymous_clients_are_refused(secure_broker: SecureBroker) -> None:
    for port in (secure_broker.broker.port, secure_broker.broker.internal_port):
        with probe(secure_broker, None, port=port) as client:
            assert client.connack == NOT_AUTHORIZED


def test_each_listener_knows_only_its_own_accounts(secure_broker: SecureBroker) -> None:
    """Gateways, feeds and readers cannot log in where client ids are free; ingestors not where they are forced."""
    for username in ("campus-a.gw-01", "grid-feed", "bms-a"):
        with probe(secure_broker, username, port=secure_broker.broker.internal_port) as client:
            assert client.connack == NOT_AUTHORIZED, username
    with probe(secure_broker, "ingest", port=secure_broker.broker.port) as client:
        assert client.connack == NOT_AUTHORIZED


def test_a_wrong_password_is_refused(secure_broker: SecureBroker) -> None:
    with probe(secure_broker, "campus-a.gw-01", password="not-the-password") as client:
        assert client.connack == NOT_AUTHORIZED


def test_a_gateway_cannot_log_in_as_another_gateway(secure_broker: SecureBroker) -> None:
    with probe(secure_broker, "campus-a.gw-02", password=secure_broker.password("campus-a.gw-01")) as client:
        assert client.connack == NOT_AUTHORIZED
    # the same gateway id at another site is another account with another password
    with probe(secure_broker, "campus-b.gw-01", password=secure_broker.password("campus-a.gw-01")) as client:
        assert client.connack == NOT_AUTHORIZED


def test_every_generated_account_can_log_in(secure_broker: SecureBroker) -> None:
    """The hashes written by greenwire.access (PBKDF2-SHA512, $7$) are what Mosquitto checks."""
    for account in secure_broker.credentials.accounts:
        with probe(secure_broker, account.username) as client:
            assert client.connected, f"{account.username}: CONNACK {client.connack:#04x}"


# -- what a gateway may publish ---------------------------------------------------------------


def test_a_gateway_publishes_its_own_readings_vitals_and_status(gw01: Probe, ingest: Probe) -> None:
    for kind in ("readings", "vitals", "status"):
        payload = unique(kind)
        assert gw01.publish(f"greenwire/v1/campus-a/gw-01/{kind}", payload) == 0
        assert ingest.wait_for(payload).topic == f"greenwire/v1/campus-a/gw-01/{kind}"


@pytest.mark.parametrize(
    "topic",
    [
        "greenwire/v1/campus-a/gw-02/readings",  # another gateway of its site
        "greenwire/v1/campus-a/gw-02/vitals",
        "greenwire/v1/campus-a/gw-02/status",
        "greenwire/v1/campus-b/gw-01/readings",  # its own gateway id, at another site
        "greenwire/v1/campus-a/carbon/main-building",  # the cloud's carbon signal
        "greenwire/v1/campus-a/alerts/main-building",  # the cloud's alerts
        "greenwire/v1/grid/gb/intensity",  # grid intensity input
        "greenwire/v1/campus-a/gw-01/readings/extra",  # below its own topics
        "greenwire/v1/campus-a/gw-01/commands",  # a topic of its own branch not in the contract
        "elsewhere/entirely",
    ],
)
def test_a_gateway_cannot_publish_outside_its_own_topics(gw01: Probe, ingest: Probe, topic: str) -> None:
    payload = unique("forged")
    assert gw01.publish(topic, payload) == NOT_AUTHORIZED
    assert_not_delivered(ingest, payload, gw01, "greenwire/v1/campus-a/gw-01/status")


def test_a_denied_qos0_publish_is_dropped(gw01: Probe, ingest: Probe) -> None:
    payload = unique("forged-qos0")
    gw01.publish("greenwire/v1/campus-a/gw-02/readings", payload, qos=0)
    assert_not_delivered(ingest, payload, gw01, "greenwire/v1/campus-a/gw-01/status")


def test_a_gateway_cannot_forge_a_retained_status_for_another(
    secure_broker: SecureBroker, gw01: Probe, ingest: Probe
) -> None:
    payload = unique("retained-forgery")
    assert gw01.publish("greenwire/v1/campus-a/gw-02/status", payload, retain=True) == NOT_AUTHORIZED
    # A later subscriber finds no such retained message.
    with probe(secure_broker, "ingest") as fresh, probe(secure_broker, "campus-a.gw-02") as gw02:
        assert fresh.subscribe("greenwire/v1/campus-a/gw-02/status") == [1]
        assert_not_delivered(fresh, payload, gw02, "greenwire/v1/campus-a/gw-02/status")


def test_a_gateway_cannot_forge_another_gateways_last_will(secure_broker: SecureBroker, ingest: Probe) -> None:
    forged = unique("forged-will")
    client = probe(secure_broker, "campus-a.gw-01", will=("greenwire/v1/campus-a/gw-02/status", forged))
    client.__enter__()
    assert client.connected  # Mosquitto 2.0 checks the will when it would publish it
    client.drop()
    # The broker notices the closed socket and would publish the will now; then a permitted message.
    with probe(secure_broker, "campus-a.gw-02") as gw02:
        assert_not_delivered(ingest, forged, gw02, "greenwire/v1/campus-a/gw-02/status")


def test_a_gateways_own_last_will_is_published(secure_broker: SecureBroker, ingest: Probe) -> None:
    will = unique("own-will")
    client = probe(secure_broker, "campus-a.gw-01", will=("greenwire/v1/campus-a/gw-01/status", will))
    client.__enter__()
    assert client.connected
    client.drop()
    assert ingest.wait_for(will).topic == "greenwire/v1/campus-a/gw-01/status"


# -- what a gateway may read: nothing ----------------------------------------------------------


@pytest.mark.parametrize(
    "topic_filter",
    [
        "greenwire/v1/campus-a/gw-02/readings",
        "greenwire/v1/+/+/vitals",
        "greenwire/v1/campus-a/gw-01/vitals",  # not even its own vitals back
        "greenwire/v1/#",
        "#",
        "$share/ingest/greenwire/v1/+/+/readings",  # joining the ingestor's group would steal a share
    ],
)
def test_a_gateway_reads_no_data(secure_broker: SecureBroker, ingest: Probe, topic_filter: str) -> None:
    with probe(secure_broker, "campus-a.gw-01") as spy, probe(secure_broker, "campus-a.gw-02") as gw02:
        codes = spy.subscribe(topic_filter)
        assert codes in ([1], [NOT_AUTHORIZED])  # Mosquitto 2.0 grants it and filters each message
        vitals, readings = unique("vitals"), unique("readings")
        assert gw02.publish("greenwire/v1/campus-a/gw-02/vitals", vitals) == 0
        assert gw02.publish("greenwire/v1/campus-a/gw-02/readings", readings) in DELIVERED
        # what the spy itself publishes comes back to it only if it may read it
        own = unique("own-vitals")
        assert spy.publish("greenwire/v1/campus-a/gw-01/vitals", own) == 0
        ingest.wait_for(vitals)
        ingest.wait_for(own)
        sentinel = unique("sentinel")
        assert gw02.publish("greenwire/v1/campus-a/gw-02/status", sentinel) == 0
        ingest.wait_for(sentinel)
        assert spy.messages == [], f"a gateway read {spy.messages!r}"


def test_a_gateway_gets_no_retained_status_of_others(secure_broker: SecureBroker, ingest: Probe) -> None:
    retained = unique("retained-status")
    with probe(secure_broker, "campus-a.gw-02") as gw02:
        assert gw02.publish("greenwire/v1/campus-a/gw-02/status", retained, retain=True) == 0
    ingest.wait_for(retained)
    with probe(secure_broker, "ingest") as control:
        control.subscribe("greenwire/v1/campus-a/gw-02/status")
        assert control.wait_for(retained).retain  # the retained message is there to be had
    with probe(secure_broker, "campus-a.gw-01") as spy:
        spy.subscribe("greenwire/v1/+/+/status")
        with probe(secure_broker, "campus-a.gw-02") as gw02:
            sentinel = unique("sentinel")
            assert gw02.publish("greenwire/v1/campus-a/gw-02/status", sentinel) == 0
            ingest.wait_for(sentinel)
        assert spy.messages == []


# -- the end-to-end commit: only the ingestor writes it, only its gateway reads it --------------


def test_only_its_gateway_reads_a_commit_and_only_the_ingestor_writes_one(secure_broker: SecureBroker) -> None:
    own = "greenwire/v1/campus-a/gw-01/commit"
    with probe(secure_broker, "campus-a.gw-01") as gw01, probe(secure_broker, "campus-a.gw-02") as gw02, \
            probe(secure_broker, "campus-b.gw-01") as other_site, probe(secure_broker, "ingest") as writer:
        assert gw01.subscribe(own) == [1]
        for spy in (gw02, other_site):
            assert spy.subscribe(own) in ([1], [NOT_AUTHORIZED])
            assert spy.subscribe("greenwire/v1/+/+/commit") in ([1], [NOT_AUTHORIZED])
        assert gw02.subscribe("greenwire/v1/campus-a/gw-02/commit") == [1]
        assert other_site.subscribe("greenwire/v1/campus-b/gw-01/commit") == [1]
        commit = unique("commit-gw01")
        assert writer.publish(own, commit) == 0
        assert gw01.wait_for(commit).topic == own
        # Each spy's own commit comes after: had it been allowed gw-01's, that would be there first.
        for spy, topic in ((gw02, "greenwire/v1/campus-a/gw-02/commit"),
                           (other_site, "greenwire/v1/campus-b/gw-01/commit")):
            sentinel = unique("sentinel-commit")
            assert writer.publish(topic, sentinel) == 0
            spy.wait_for(sentinel)
            assert commit not in spy.payloads(), "a gateway read another gateway's commit"
        # A gateway cannot tell itself, or another, that the cloud stored something.
        for topic in (own, "greenwire/v1/campus-a/gw-02/commit"):
            forged = unique("forged-commit")
            assert gw01.publish(topic, forged) == NOT_AUTHORIZED
            assert gw02.publish(topic, forged) == NOT_AUTHORIZED
        sentinel = unique("sentinel-commit")
        assert writer.publish(own, sentinel) == 0
        gw01.wait_for(sentinel)
        assert not any(p.startswith(b"forged-commit") for p in gw01.payloads() | gw02.payloads())


# -- the ingestor ------------------------------------------------------------------------------


def test_the_ingestor_shares_readings_and_writes_carbon_and_alerts(secure_broker: SecureBroker, ingest: Probe) -> None:
    with probe(secure_broker, "ingest") as member, probe(secure_broker, "bms-a") as bms:
        assert member.subscribe("$share/ingest/greenwire/v1/+/+/readings") == [1]
        assert bms.subscribe("greenwire/v1/campus-a/carbon/#") == [1]
        assert bms.subscribe("greenwire/v1/campus-a/alerts/#") == [1]
        carbon, alert = unique("carbon"), unique("alert")
        assert member.publish("greenwire/v1/campus-a/carbon/main-building", carbon, retain=True) == 0
        assert member.publish("greenwire/v1/campus-a/alerts/main-building", alert) == 0
        assert member.publish("greenwire/v1/campus-b/alerts/lab", unique("alert-b")) in DELIVERED
        assert bms.wait_for(carbon).topic == "greenwire/v1/campus-a/carbon/main-building"
        assert bms.wait_for(alert).topic == "greenwire/v1/campus-a/alerts/main-building"
        with probe(secure_broker, "campus-b.gw-01") as gateway:
            reading = unique("reading")
            assert gateway.publish("greenwire/v1/campus-b/gw-01/readings", reading) == 0
            member.wait_for(reading)


@pytest.mark.parametrize(
    "topic",
    [
        "greenwire/v1/campus-a/gw-01/readings",  # forging a gateway's data
        "greenwire/v1/campus-a/gw-01/vitals",
        "greenwire/v1/campus-a/gw-01/status",
        "greenwire/v1/grid/gb/intensity",
        "greenwire/v1/campus-z/carbon/main-building",  # a site not in the inventory
        "greenwire/v1/campus-z/alerts/main-building",
    ],
)
def test_the_ingestor_writes_only_carbon_and_alerts(
    secure_broker: SecureBroker, ingest: Probe, gw01: Probe, topic: str
) -> None:
    payload = unique("ingest-forged")
    with probe(secure_broker, "ingest") as writer:
        assert writer.publish(topic, payload) == NOT_AUTHORIZED
        assert_not_delivered(ingest, payload, gw01, "greenwire/v1/campus-a/gw-01/status")


# -- grid feeds and readers --------------------------------------------------------------------


def test_a_grid_feed_writes_only_its_zones(secure_broker: SecureBroker, ingest: Probe) -> None:
    with probe(secure_broker, "grid-feed") as feed:
        own = unique("gb")
        assert feed.publish("greenwire/v1/grid/gb/intensity", own) == 0
        ingest.wait_for(own)
        for topic in ("greenwire/v1/grid/fr/intensity", "greenwire/v1/campus-a/gw-01/readings",
                      "greenwire/v1/campus-a/carbon/main-building"):
            forged = unique("feed-forged")
            assert feed.publish(topic, forged) == NOT_AUTHORIZED
            assert_not_delivered(ingest, forged, feed, "greenwire/v1/grid/gb/intensity")


def test_a_reader_reads_only_its_sites_carbon_and_alerts(secure_broker: SecureBroker, ingest: Probe) -> None:
    with probe(secure_broker, "bms-a") as bms, probe(secure_broker, "ingest") as writer, \
            probe(secure_broker, "campus-a.gw-01") as gateway:
        bms.subscribe("greenwire/v1/#")
        other_site, other_alert, reading = unique("carbon-b"), unique("alert-b"), unique("reading")
        assert writer.publish("greenwire/v1/campus-b/carbon/lab", other_site) in DELIVERED
        assert writer.publish("greenwire/v1/campus-b/alerts/lab", other_alert) in DELIVERED
        assert gateway.publish("greenwire/v1/campus-a/gw-01/readings", reading) == 0
        assert bms.publish("greenwire/v1/campus-a/carbon/main-building", unique("bms-forged")) == NOT_AUTHORIZED
        sentinel = unique("sentinel")
        assert writer.publish("greenwire/v1/campus-a/carbon/main-building", sentinel) == 0
        bms.wait_for(sentinel)
        assert not {other_site, other_alert, reading} & bms.payloads()
        assert {m.topic.split("/")[2] for m in bms.messages} == {"campus-a"}


# -- sessions -----------------------------------------------------------------------------------


def test_a_gateway_cannot_take_over_the_ingestors_session(secure_broker: SecureBroker) -> None:
    """A gateway asking for the ingestor's client id gets its own username as id; the ingestor's queue is intact.

    Without per-listener accounts and use_username_as_clientid, any account could connect with the
    ingestor's client id, take over its persistent session, and the messages queued in it would be
    dropped as unreadable for the new owner.
    """
    session = f"ingest-session-{uuid.uuid4().hex[:8]}"
    queued = unique("queued-for-the-ingestor")

    def ingestor(expiry: int) -> Probe:
        return probe(secure_broker, "ingest", client_id=session, clean_start=False, session_expiry_s=expiry)

    with ingestor(300) as persistent:
        assert persistent.subscribe("greenwire/v1/+/+/status") == [1]
    with probe(secure_broker, "campus-a.gw-02") as gw02:
        assert gw02.publish("greenwire/v1/campus-a/gw-02/status", queued) == 0  # queued for the offline ingestor
    with probe(secure_broker, "campus-a.gw-01", client_id=session, clean_start=False, session_expiry_s=300) as thief:
        assert thief.connected  # admitted, but as client id 'campus-a.gw-01', not the ingestor's
        with probe(secure_broker, "campus-a.gw-01") as gw01:
            # the second connection under the same forced id takes over the first: only its own account's
            assert gw01.publish("greenwire/v1/campus-a/gw-01/status", unique("sentinel")) == 0
    with ingestor(0) as back, probe(secure_broker, "campus-a.gw-02") as gw02:
        sentinel = unique("sentinel")
        assert gw02.publish("greenwire/v1/campus-a/gw-02/status", sentinel) == 0
        back.wait_for(sentinel)  # queued messages come first, on reconnect
        assert queued in back.payloads(), "the ingestor's queued message was lost to a takeover"


# -- the shipped broker config -----------------------------------------------------------------


class DeployedMosquitto(Mosquitto):
    """Mosquitto run from deploy/mosquitto/greenwire.conf, its paths and addresses moved into a test directory."""

    def _command(self, binary: str) -> list[str]:
        assert self.security is not None
        if self.internal_port == 0:
            self.internal_port = free_port(self.host)
        text = (Path(__file__).parents[2] / "deploy" / "mosquitto" / "greenwire.conf").read_text()
        text = (
            text.replace("/etc/mosquitto/greenwire/", f"{self.state_dir}/")
            .replace("/var/lib/mosquitto/", f"{self.state_dir}/")
            .replace("log_dest syslog", "log_dest stdout")
            .replace("listener 8883\n", f"listener {self.port} {self.host}\n")
            .replace("listener 8884 10.0.0.2\n", f"listener {self.internal_port} {self.host}\n")
        )
        if os.geteuid() == 0:
            text += "user root\n"
        config = self.state_dir / "deployed.conf"
        config.write_text(text)
        return [binary, "-c", str(config)]


def test_the_shipped_broker_config_enforces_the_same_rules(secure_broker: SecureBroker, tmp_path: Path) -> None:
    state = tmp_path / "deployed"
    state.mkdir()
    security = secure_broker.broker.security
    assert security is not None
    for source, name in ((security.external_password_file, "passwd-external"),
                         (security.internal_password_file, "passwd-internal"), (security.acl_file, "acl"),
                         (security.ca_file, "ca.crt"), (security.cert_file, "server.crt"),
                         (security.key_file, "server.key")):
        shutil.copy(source, state / name)
    with DeployedMosquitto(state, security=security) as broker:
        def connect(username: str | None, port: int, **kwargs: object) -> Probe:
            return Probe(broker.host, port, username=username,
                         password=secure_broker.password(username) if username else None,
                         ca_file=secure_broker.ca_file, **{"client_id": f"d-{uuid.uuid4().hex[:6]}", **kwargs})  # type: ignore[arg-type]

        with connect(None, broker.port) as anonymous:
            assert anonymous.connack == NOT_AUTHORIZED
        with connect("campus-a.gw-01", broker.internal_port) as wrong_listener:
            assert wrong_listener.connack == NOT_AUTHORIZED
        with connect("ingest", broker.internal_port) as ingestor, connect("campus-a.gw-01", broker.port) as gateway:
            assert ingestor.connected and gateway.connected
            assert ingestor.subscribe("greenwire/v1/+/+/readings") == [1]
            assert gateway.publish("greenwire/v1/campus-a/gw-02/readings", b"forged") == NOT_AUTHORIZED
            assert gateway.publish("greenwire/v1/campus-a/gw-01/readings", b"own") == 0
            ingestor.wait_for(b"own")
            assert b"forged" not in ingestor.payloads()
            # No packet beyond twice what the ingestor accepts (1 MiB payloads): max_packet_size.
            oversized = b"x" * (2_200_000)
            gateway.publish("greenwire/v1/campus-a/gw-01/readings", oversized, qos=0)
            with connect("campus-a.gw-01", broker.port) as again:
                assert again.publish("greenwire/v1/campus-a/gw-01/readings", b"after") == 0
                ingestor.wait_for(b"after")
            assert oversized not in ingestor.payloads()


async def test_a_gateway_with_another_gateways_account_keeps_its_readings_and_says_why(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The edge publisher of gw-02 configured with gw-01's account: refused, nothing deleted, a clear warning."""
    import asyncio
    import logging

    import orjson

    from greenwire.transport.buffer import AsyncBuffer, SqliteBuffer
    from greenwire.transport.mqtt import BrokerSettings
    from greenwire.transport.publisher import Publisher
    from tests.helpers import eventually

    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    readings = orjson.dumps([{"ts": "2026-11-22T10:00:00.000Z", "device": "m1", "values": {"active_power_w": 1.0},
                              "quality": "good"}])
    await buffer.append(readings, 1, 0)
    settings = BrokerSettings(secure_broker.broker.host, secure_broker.broker.port, "greenwire-edge-gw-02",
                              username="campus-a.gw-01", password=secure_broker.password("campus-a.gw-01"),
                              tls=True, ca_file=secure_broker.ca_file)
    publisher = Publisher(settings, "campus-a", "gw-02", buffer, announce=False)
    caplog.set_level(logging.WARNING, logger="greenwire.transport.publisher")
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop, drain_timeout_s=0.1))
    try:
        await eventually(lambda: publisher.stats.refused_batches >= 1, 10, "the refused batch")
    finally:
        stop.set()
        await task
    assert buffer.buffer.depth_batches == 1 and publisher.stats.published_batches == 0
    assert any("not authorised to publish on greenwire/v1/campus-a/gw-02/readings" in r.getMessage()
               and "campus-a.gw-01" in r.getMessage() for r in caplog.records)
    await buffer.close()
