"""The edge agent: runs on a gateway, polls field devices, buffers on disk, publishes over MQTT.

Pure parts (no I/O): ``codec`` (register words to numbers), ``profile``
(meter register maps as YAML data), ``plan`` (fewest read requests with
prebuilt decoders), ``config``. I/O shell: ``modbus`` (bus polling),
``buffer`` (SQLite store-and-forward), ``publisher`` (MQTT QoS 1), ``agent``.
"""
