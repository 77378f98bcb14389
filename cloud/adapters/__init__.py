"""The servers every cloud service talks to, one adapter each.

- ``settings``: the ``mqtt`` and ``influx`` config sections every cloud service's config uses.
- ``mqtt``: the MQTT consumer (persistent session, manual acknowledgement, shared subscription).
- ``influx``: InfluxDB writes (v1 ``/write``, v2 through influxdb-client).
- ``influxql``: InfluxQL queries and synchronous writes for the carbon, health and Grafana code.

Errors from httpx, aiomqtt and influxdb-client are translated here, and only here, into
:mod:`greenwire.shared.errors`.
"""
