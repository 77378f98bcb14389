"""The proactive-health pilot in the cloud: vitals and indoor environment to their own InfluxDB
database, proactive alerts with hysteresis, and the carbon cost of care per participant-day.

- ``heat``: heat index and exposure hours (pure)
- ``alerts``: alert rules with cited defaults and the hysteresis engine (pure)
- ``validate``: greenwire.vitals.v1 messages to Accepted/Rejected, quoting no values (pure)
- ``points``: line protocol of the documented layout, docs/health-schema.md (pure)
- ``aggregate``: hourly and daily site figures from InfluxDB, and kgCO2e per participant-day
- ``service``: MQTT -> validate -> InfluxDB -> alerts -> acknowledge (``greenwire health run``)
"""
