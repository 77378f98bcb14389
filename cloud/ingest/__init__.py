"""The ingestor: meter batches from MQTT into InfluxDB, acknowledged only once stored.

Data flow of ``greenwire ingest run``, one direction::

    Mosquitto ──QoS 1, shared subscription $share/ingest/greenwire/v1/+/+/readings──▶ adapters.mqtt.Consumer
        │ Delivery(topic, payload, mid)            manual acknowledgement, persistent session
        ▼
    validate.validate_message ──▶ Accepted(site, gateway, batch) | Rejected(reason, detail)
        │                                   (pure: no I/O, no clock of its own)
        ▼
    points.PointEncoder ──▶ line protocol ``readings,site=..,gateway=..,device=..[,building=..]``
        │                   rejects become ``ingest_rejected,reason=..`` points and JSONL records
        ▼
    pipeline.Ingestor: a flush of ≤ max_lines lines or ≤ max_delay_s of messages
        │ adapters.influx.InfluxV1Writer (/write) | .InfluxV2Writer (influxdb-client)
        │ rejects.RejectStore (rejected-YYYYMMDD.jsonl, fsync per flush)
        ▼
    PUBACK for every message of the flush, in arrival order, only after InfluxDB accepted it

Delivery is at least once (a message is acknowledged only after its points
are stored, so a crash or an InfluxDB outage leads to redelivery) and
effectively once in InfluxDB, because a point with the same series and
timestamp overwrites the earlier one.

Modules: ``config`` (YAML → frozen ``IngestConfig``), ``validate`` and ``points`` (pure),
``rejects`` (the rejected-message store), ``fleet`` and ``status`` (gateway status messages),
``selfmetrics``, ``buildings`` (the building tag from the site model) and ``pipeline``. The
broker and the database are reached through :mod:`greenwire.cloud.adapters`; the command is
``greenwire ingest`` (:mod:`greenwire.commands.ingest`).
"""
