"""A plain paho-mqtt v5 client for access tests: it reports every reason code the broker sends.

It records CONNACK, SUBACK and PUBACK reason codes and received messages, and
waits on them with a deadline (no sleeps). Proving that a message did *not*
arrive uses a sentinel: Mosquitto handles messages one at a time, so once a
later, permitted message has reached the observer, an earlier one that was
going to reach it would have arrived first.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

WAIT_S = 10.0
NOT_AUTHORIZED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Probe:
    """One MQTT v5 connection over TLS (``ca_file``) or plain TCP."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    client_id: str = ""
    ca_file: Path | None = None
    will: tuple[str, bytes] | None = None
    clean_start: bool = True
    session_expiry_s: int = 0
    connack: int | None = None
    subacks: dict[int, list[int]] = field(default_factory=dict)
    pubacks: dict[int, int] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _client: Any = None

    def __enter__(self) -> Probe:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if self.ca_file is not None:
            client.tls_set_context(ssl.create_default_context(cafile=str(self.ca_file)))
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.will is not None:
            client.will_set(self.will[0], self.will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_s
        client.connect(self.host, self.port, clean_start=self.clean_start, properties=properties)
        client.loop_start()
        self._wait(lambda: self.connack is not None, "CONNACK")
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def drop(self) -> None:
        """Close the socket without DISCONNECT (the broker publishes the will)."""
        self._client.loop_stop()
        self._client.socket().close()
        self._client = None

    # -- callbacks (paho's thread) -------------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._cond:
            self.connack = int(reason.value)
            self._cond.notify_all()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        with self._cond:
            self.subacks[mid] = [int(r.value) for r in reasons]
            self._cond.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._cond:
            self.pubacks[mid] = int(reason.value)
            self._cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._cond:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))
            self._cond.notify_all()

    # -- what tests call ------------------------------------------------------------------------

    def _wait(self, predicate: Any, what: str, within_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + within_s
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {within_s} s waiting for {what}")
                self._cond.wait(left)

    @property
    def connected(self) -> bool:
        return self.connack == 0

    def subscribe(self, topic_filter: str) -> list[int]:
        """Subscribe at QoS 1; the SUBACK's reason codes."""
        _, mid = self._client.subscribe(topic_filter, qos=1)
        self._wait(lambda: mid in self.subacks, f"SUBACK for {topic_filter}")
        return self.subacks[mid]

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int | None:
        """Publish; at QoS 1 the PUBACK's reason code (0 success, 0x10 no subscribers, 0x87 not authorised)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0:
            return None
        self._wait(lambda: info.mid in self.pubacks, f"PUBACK for {topic}")
        return self.pubacks[info.mid]

    def wait_until(self, predicate: Any, what: str) -> None:
        """Wait until ``predicate()`` holds (it may look at ``messages``)."""
        self._wait(predicate, what)

    def wait_for(self, payload: bytes) -> Received:
        """The received message with this payload (waits for it)."""
        self._wait(lambda: any(m.payload == payload for m in self.messages), f"message {payload!r}")
        return next(m for m in self.messages if m.payload == payload)

    def payloads(self) -> set[bytes]:
        with self._cond:
            return {m.payload for m in self.messages}
