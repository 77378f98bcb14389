"""The cloud side of greenwire: the ingestor that takes meter batches from MQTT into InfluxDB.

Data flow of ``greenwire ingest run``, one direction::

    Mosquitto ──QoS 1, shared subscription $share/ingest/greenwire/v1/+/+/readings──▶ mqtt.Consumer
        │ Delivery(topic, payload, mid)            manual acknowledgement, persistent session
        ▼
    validate.validate_message ──▶ Accepted(site, gateway, batch) | Rejected(reason, detail)
        │                                   (pure: no I/O, no clock of its own)
        ▼
    points.PointEncoder ──▶ line protocol ``readings,site=..,gateway=..,device=..[,building=..]``
        │                   rejects become ``ingest_rejected,reason=..`` points and JSONL records
        ▼
    ingest.Ingestor: a flush of ≤ max_lines lines or ≤ max_delay_s of messages
        │ writers.InfluxV1Writer (/write) | writers.InfluxV2Writer (influxdb-client)
        │ rejects.RejectStore (rejected-YYYYMMDD.jsonl, fsync per flush)
        ▼
    PUBACK for every message of the flush, in arrival order, only after InfluxDB accepted it

Delivery is at least once (a message is acknowledged only after its points
are stored, so a crash or an InfluxDB outage leads to redelivery) and
effectively once in InfluxDB, because a point with the same series and
timestamp overwrites the earlier one.

Modules: ``config`` (YAML → frozen ``IngestConfig``), ``validate`` and
``points`` (pure), ``writers`` (InfluxDB v1 and v2), ``rejects`` (the
rejected-message store), ``mqtt`` (the consumer), ``ingest`` (the pipeline)
and ``cli`` (``greenwire ingest``). Errors are those of :mod:`greenwire.shared.errors`.
"""
