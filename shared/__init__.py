"""The wire contract shared by edge, cloud and simulators.

Pure code, no I/O: message models (``wire``), MQTT topics (``topics``), the
quantity vocabulary (``quantities``), the InfluxDB line-protocol encoder
(``lineprotocol``) and the project's exception tree (``errors``).
"""
