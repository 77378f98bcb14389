"""The proactive-health pilot in the cloud: vitals and indoor environment to their own InfluxDB
database, proactive alerts with hysteresis, and the carbon cost of care per participant-day.

- ``heat``: heat index and exposure hours (pure)
- ``alerts``: alert rules with cited defaults and the hysteresis engine (pure)
- ``intake``: greenwire.vitals.v1 messages to Accepted/Rejected, quoting no values (pure)
- ``lines``: line protocol of the documented layout, docs/health-schema.md (pure)
- ``config``: the service's YAML to one frozen ``HealthConfig``
- ``aggregate``: hourly and daily site figures from InfluxDB, and kgCO2e per participant-day
- ``admin``: the database's retention policies, erasing a participant (``greenwire health erase``),
  and the InfluxDB clients of the health code (all through ``greenwire.cloud.adapters``)
- ``service``: MQTT -> validate -> InfluxDB -> alerts -> acknowledge (``greenwire health run``);
  alerts leave through ``greenwire.transport.mqtt.MessagePublisher``
"""
