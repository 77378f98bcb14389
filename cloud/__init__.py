"""The cloud side of greenwire: every service that runs beside the broker and the database.

- ``adapters``: the broker and InfluxDB, one adapter each, and their config sections; the only
  place their errors are translated.
- ``sites``: the site model (sites, buildings, meters and their roles, budgets), which every
  service reads.
- ``ingest``: the ingestor (MQTT -> validate -> InfluxDB -> acknowledge).
- ``carbon``: the carbon engine (pure maths over fetched data) and its services (live figures,
  backfill, the carbon signal).
- ``health``: the proactive-health pilot's service (vitals, alerts, per-participant figures).
- ``grafana``: dashboards and alert rules as code, and the panels' queries run without Grafana.
- ``history``: past counter readings from a file, published through :mod:`greenwire.transport`
  exactly as a gateway's backlog.

The services depend on ``adapters`` and ``sites``, never on one another's command modules
(those live in :mod:`greenwire.commands`); ``tests/importcontract.py`` draws the allowed directions.
"""
