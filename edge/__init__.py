"""The edge agent: runs on a gateway, polls field devices, buffers on disk, publishes over MQTT.

Pure parts (no I/O): ``codec`` (register words to numbers), ``profile``
(meter register maps as YAML data), ``plan`` (fewest read requests with
prebuilt decoders), ``config``. I/O shell: ``modbus`` (bus polling), ``wearable``
(FHIR hubs), ``scan`` and ``bundle`` (installer tools), ``agent``. The buffer and the MQTT
publisher it drains into are :mod:`greenwire.transport`'s, shared with the history import.
"""
