"""paho's PUBLISH properties decoded with shared tables (``share_property_tables``) as paho decodes them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.exception import MQTTException
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from greenwire.cloud.adapters.mqtt import share_property_tables

share_property_tables()
SHARED = _packet.Properties

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
PUBLISH_PROPERTIES = st.fixed_dictionaries({}, optional={
    "PayloadFormatIndicator": st.integers(0, 1),
    "MessageExpiryInterval": st.integers(0, 2**32 - 1),
    "ContentType": _text,
    "ResponseTopic": _text.filter(bool),
    "CorrelationData": st.binary(max_size=20),
    "SubscriptionIdentifier": st.lists(st.integers(1, 268_435_455), min_size=1, max_size=3),
    "TopicAlias": st.integers(1, 65535),
    "UserProperty": st.lists(st.tuples(_text, _text), min_size=1, max_size=3),
})


def _packed(values: dict[str, object]) -> bytes:
    properties = Properties(PacketTypes.PUBLISH)
    for name, value in values.items():
        setattr(properties, name, value)
    return bytes(properties.pack())


def test_the_decoder_uses_the_shared_tables_and_still_is_a_paho_properties() -> None:
    assert SHARED is not Properties and issubclass(SHARED, Properties)
    share_property_tables()  # a second call changes nothing
    assert _packet.Properties is SHARED
    one, two = SHARED(PacketTypes.PUBLISH), SHARED(PacketTypes.PUBLISH)
    assert one.names is two.names and one.names == Properties(PacketTypes.PUBLISH).names


@settings(max_examples=300, deadline=None)
@given(PUBLISH_PROPERTIES, st.binary(max_size=40))
def test_shared_tables_decode_every_publish_property_block_as_paho_does(values: dict[str, object],
                                                                        payload: bytes) -> None:
    block = _packed(values)
    reference, reference_length = Properties(PacketTypes.PUBLISH).unpack(block + payload)
    shared, shared_length = SHARED(PacketTypes.PUBLISH).unpack(block + payload)
    assert shared_length == reference_length == len(block)
    assert shared.json() == reference.json() and str(shared) == str(reference)
    assert shared.pack() == reference.pack() == block
    # Decoding into an instance that held properties starts from nothing, as paho's clear() does.
    reused = SHARED(PacketTypes.PUBLISH)
    reused.unpack(_packed({"ContentType": "text/plain", "UserProperty": [("a", "b")]}))
    reused.unpack(block)
    assert reused.json() == reference.json()


def test_a_whole_publish_decodes_to_the_same_packet() -> None:
    topic = b"greenwire/v1/campus-a/gw-01/readings"
    body = (len(topic).to_bytes(2, "big") + topic + (7).to_bytes(2, "big")
            + _packed({"UserProperty": [("k", "v")], "MessageExpiryInterval": 60}) + b'{"seq": 1}')
    _packet.Properties = Properties
    try:
        reference = _packet.decode_publish(0x32, body, MQTTProtocolVersion.MQTTv5)
    finally:
        _packet.Properties = SHARED
    shared = _packet.decode_publish(0x32, body, MQTTProtocolVersion.MQTTv5)
    assert isinstance(shared.properties, SHARED)
    assert (shared.topic, shared.mid, shared.qos, shared.payload) == (reference.topic, 7, 1, b'{"seq": 1}')
    assert shared.properties.json() == reference.properties.json() == {
        "MessageExpiryInterval": 60, "UserProperty": [("k", "v")]}


def test_a_duplicate_single_property_is_refused_as_paho_refuses_it() -> None:
    block = _packed({"ContentType": "a"})
    twice = bytes([2 * (len(block) - 1)]) + block[1:] + block[1:]
    for cls in (Properties, SHARED):
        with pytest.raises(MQTTException):
            cls(PacketTypes.PUBLISH).unpack(twice)
