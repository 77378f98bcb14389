"""The ingestor: meter batches from MQTT into InfluxDB, acknowledged only once stored.

Data flow of ``greenwire ingest run``, one direction::

    Mosquitto ──QoS 1, shared subscription $share/ingest/greenwire/v1/+/+/readings──▶ adapters.mqtt.Consumer
        │ Delivery(topic, payload, mid)            manual acknowledgement, persistent session
        ▼
    fastpath.FastPath.encode ──▶ Encoded(site, gateway, data, count) | Rejected(reason, detail)
        │   msgspec decode + whole-batch line protocol; anything it does not accept goes to
        │   the reference, whose outcome is the answer (pure: no I/O, no clock of its own):
        │     validate.validate_message ──▶ Accepted(site, gateway, batch) | Rejected(...)
        │     points.PointEncoder ──▶ line protocol ``readings,site=..,gateway=..,device=..``
        │   rejects become ``ingest_rejected,reason=..`` points and JSONL records
        ▼
    pipeline.Ingestor: a flush of ≤ max_lines lines or ≤ max_delay_s of messages; a request
        │ body is its messages' line buffers (``data``, newline-joined bytes) joined once
        │ adapters.influx.InfluxV1Writer (/write) | .InfluxV2Writer (influxdb-client)
        │ rejects.RejectStore (rejected-YYYYMMDD.jsonl, fsync per flush)
        ▼
    PUBACK for every message of the flush, in arrival order, only after InfluxDB accepted it

Delivery is at least once (a message is acknowledged only after its points
are stored, so a crash or an InfluxDB outage leads to redelivery) and
effectively once in InfluxDB, because a point with the same series and
timestamp overwrites the earlier one.

Modules: ``config`` (YAML → frozen ``IngestConfig``), ``validate`` and ``points`` (pure, the
contract), ``fastpath`` (pure, the same outcome faster; ``validation: reference`` turns it off),
``rejects`` (the rejected-message store), ``fleet`` and ``status`` (gateway status messages),
``selfmetrics``, ``buildings`` (the building tag from the site model) and ``pipeline``. The
broker and the database are reached through :mod:`greenwire.cloud.adapters`; the command is
``greenwire ingest`` (:mod:`greenwire.commands.ingest`).
"""
