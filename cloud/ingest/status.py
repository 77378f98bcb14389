"""Gateway status messages to InfluxDB points: the fleet's health, as documented measurements. Pure.

A retained ``greenwire.status.v1`` message (see :mod:`greenwire.shared.status`) becomes::

    gateway_status,gateway=gw-01,site=campus-a online=1i,state="online",buffer_readings=0i,
        buffer_batches=0i,oldest_reading_age_s=0.8,dropped_readings=0i,devices_online=3i,
        devices_total=3i,cpu_pct=1.2,rss_mb=48.0 1795860000000000000
    gateway_device,building=b2,bus=plant-room,device=main-incomer,gateway=gw-01,site=campus-a
        online=1i,reads=120i,errors=0i,poll_latency_ms=12.5 1795860000000000000

- time: the message's ``ts`` (when the gateway measured its health), except for an
  ``offline`` message with reason ``lost``: that is the last will, built when the gateway
  connected, so it is stored at the time the ingestor received it (when the broker
  noticed the loss). A retained will delivered again after an ingestor restart is stored
  again at that time: the gateway is still offline then.
- ``online`` is 1 or 0, so a panel can sum gateways online; ``state`` and ``reason`` are strings.
- ``gateway_device`` carries a ``building`` tag when the site model knows the device.
- An empty buffer has no oldest reading: ``oldest_reading_age_s`` is then 0.
- A device not polled yet (``online`` null) has no ``online`` field in its point.
- ``greenwire.status.v2`` (a gateway with wearable sources) adds, in ``gateway_status``, the
  totals over its sources (``wearables_received``, ``wearables_forwarded``, ``wearables_rejected``,
  ``vitals_buffer_observations``, ``vitals_published``) and one point per source::

    gateway_wearable,gateway=care-gw,site=care-home,source=ward-hub online=1i,polls=40i,errors=0i,
        received=1200i,forwarded=1100i,rejected=100i,rejected_duplicate=10i,rejected_no_consent=90i
        1795860000000000000

  (counters since the agent started; ``rejected_{reason}`` per reason code; ``throttled`` and
  ``search_restarts`` when the source reports them). v1 messages are stored as before.
- ``greenwire.status.v3`` adds the end-to-end commit's figures to ``gateway_status``:
  ``delivery_mode`` (string), ``uncommitted_readings``, ``uncommitted_batches``,
  ``oldest_uncommitted_age_s`` (0 when nothing waits), ``resent_batches``, ``committed_readings``;
  ``buffer_full`` (1 while the disk buffer refuses writes) and ``unbuffered_dropped``.

A message that is not a valid status is an explicit :class:`greenwire.cloud.ingest.validate.Rejected` with the
same reason codes as readings (``malformed_json``, ``unknown_schema``, ``unexpected_field``,
``invalid_id``, ``schema_violation``, ``future_timestamp``, ``gateway_mismatch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pydantic import ValidationError

from greenwire.cloud.adapters import influxql
from greenwire.cloud.ingest.points import BuildingLookup, timestamp_ns
from greenwire.cloud.ingest.validate import Rejected, RejectReason
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.shared.status import (
    STATUS_SCHEMAS,
    StatusMessage,
    StatusMessageV2,
    StatusMessageV3,
    parse_status,
)
from greenwire.shared.topics import TopicKind, site_gateway

STATUS_MEASUREMENT: Final = "gateway_status"
DEVICE_MEASUREMENT: Final = influxql.DEVICE_MEASUREMENT
WEARABLE_MEASUREMENT: Final = "gateway_wearable"


@dataclass(frozen=True, slots=True)
class StatusAccepted:
    """A valid status message and its points."""

    site: str
    gateway: str
    message: StatusMessage
    lines: list[str]


def status_ids(topic: str) -> tuple[str, str] | None:
    """``(site, gateway)`` if ``topic`` is a status topic, else None."""
    return site_gateway(topic, TopicKind.STATUS)


_NOT_A_STATUS: Final = f"schema is not one of {', '.join(STATUS_SCHEMAS)}"


def _classify(exc: ValidationError) -> Rejected:
    error = exc.errors(include_url=False)[0]
    parts = list(error["loc"])
    if parts and parts[0] in STATUS_SCHEMAS:
        parts = parts[1:]  # the union's tag: the schema the message named
    loc = ".".join(str(p) for p in parts)
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return Rejected(RejectReason.UNKNOWN_SCHEMA, _NOT_A_STATUS)
    if kind == "json_invalid":
        return Rejected(RejectReason.MALFORMED_JSON, f"invalid JSON: {error['msg']}")
    if loc == "" and kind in ("model_type", "model_attributes_type", "dict_type"):
        return Rejected(RejectReason.UNKNOWN_SCHEMA, "not a JSON object")
    if loc == "schema":
        return Rejected(RejectReason.UNKNOWN_SCHEMA, _NOT_A_STATUS)
    if kind == "extra_forbidden":
        return Rejected(RejectReason.UNEXPECTED_FIELD, f"{loc}: unexpected field")
    if kind == "string_pattern_mismatch" and loc.endswith(("gateway", "device")):
        return Rejected(RejectReason.INVALID_ID, f"{loc}: invalid id")
    return Rejected(RejectReason.SCHEMA_VIOLATION, f"{loc or 'status'}: {error['msg']}"[:200])


def status_points(
    topic: str,
    payload: bytes,
    *,
    received: datetime,
    max_future_s: float,
    building_of: BuildingLookup | None = None,
) -> StatusAccepted | Rejected:
    """Validate a status message received at ``received`` and encode its points."""
    ids = status_ids(topic)
    if ids is None:
        return Rejected(RejectReason.INVALID_TOPIC, f"not a status topic: {topic!r}")
    site, gateway = ids
    try:
        message = parse_status(payload)
    except ValidationError as exc:
        return _classify(exc)
    if message.gateway != gateway:
        return Rejected(RejectReason.GATEWAY_MISMATCH,
                        f"gateway: payload says {message.gateway!r}, topic says {gateway!r}")
    if message.ts > received + timedelta(seconds=max_future_s):
        return Rejected(RejectReason.FUTURE_TIMESTAMP, f"ts: {message.ts.isoformat()} is ahead of the ingestor's clock")
    at = received if message.state == "offline" and message.reason == "lost" else message.ts
    ns = timestamp_ns(at)
    fields: dict[str, float | int | str | bool] = {"online": int(message.state == "online"), "state": message.state}
    if message.reason:
        fields["reason"] = message.reason
    if message.buffer is not None:
        fields["buffer_readings"] = message.buffer.readings
        fields["buffer_batches"] = message.buffer.batches
        fields["oldest_reading_age_s"] = float(message.buffer.oldest_reading_age_s or 0.0)
        fields["dropped_readings"] = message.buffer.dropped_readings
    if message.devices:
        fields["devices_online"] = sum(d.online is True for d in message.devices)
        fields["devices_total"] = len(message.devices)
    if message.process is not None:
        for name in ("cpu_pct", "rss_mb"):
            value = getattr(message.process, name)
            if value is not None:
                fields[name] = float(value)
    if isinstance(message, StatusMessageV2):
        fields.update(_wearable_totals(message))
    if isinstance(message, StatusMessageV3) and message.delivery is not None:
        d = message.delivery
        fields.update(delivery_mode=d.mode, uncommitted_readings=d.uncommitted_readings,
                      uncommitted_batches=d.uncommitted_batches,
                      oldest_uncommitted_age_s=float(d.oldest_uncommitted_age_s or 0.0),
                      resent_batches=d.resent_batches, committed_readings=d.committed_readings)
    if isinstance(message, StatusMessageV3):
        fields["buffer_full"] = int(message.buffer_error is not None)
        if message.unbuffered_dropped is not None:
            fields["unbuffered_dropped"] = message.unbuffered_dropped
    lines = [SeriesPrefix(STATUS_MEASUREMENT, {"site": site, "gateway": gateway}).line(fields, ns)]
    for device in message.devices:
        tags = {"site": site, "gateway": gateway, "device": device.device, "bus": device.bus}
        building = building_of(site, gateway, device.device) if building_of else None
        if building:
            tags["building"] = building
        device_fields: dict[str, float | int | str | bool] = {"reads": device.reads, "errors": device.errors}
        if device.online is not None:  # not polled yet: neither online nor offline
            device_fields = {"online": int(device.online), **device_fields}
        if device.poll_latency_ms is not None:
            device_fields["poll_latency_ms"] = float(device.poll_latency_ms)
        if device.max_power_kw is not None:
            device_fields["max_power_kw"] = float(device.max_power_kw)
        lines.append(SeriesPrefix(DEVICE_MEASUREMENT, tags).line(device_fields, ns))
    if isinstance(message, StatusMessageV2):
        lines += _wearable_lines(message, site, gateway, ns)
    return StatusAccepted(site, gateway, message, lines)


def _wearable_totals(message: StatusMessageV2) -> dict[str, float | int | str | bool]:
    fields: dict[str, float | int | str | bool] = {}
    if message.wearables:
        fields["wearables_received"] = sum(w.received for w in message.wearables)
        fields["wearables_forwarded"] = sum(w.forwarded for w in message.wearables)
        fields["wearables_rejected"] = sum(sum(w.rejected.values()) for w in message.wearables)
    if message.vitals_buffer is not None:
        fields["vitals_buffer_observations"] = message.vitals_buffer.observations
        fields["vitals_published"] = message.vitals_buffer.published
    return fields


def _wearable_lines(message: StatusMessageV2, site: str, gateway: str, ns: int) -> list[str]:
    """One ``gateway_wearable`` point per wearable source: counts only."""
    lines = []
    for source in message.wearables:
        fields: dict[str, float | int | str | bool] = {}
        if source.online is not None:
            fields["online"] = int(source.online)
        fields.update(polls=source.polls, errors=source.errors, received=source.received,
                      forwarded=source.forwarded, rejected=sum(source.rejected.values()))
        for reason, count in sorted(source.rejected.items()):
            fields[f"rejected_{reason}"] = count
        for name in ("throttled", "search_restarts"):
            value = getattr(source, name)
            if value is not None:
                fields[name] = value
        tags = {"site": site, "gateway": gateway, "source": source.source}
        lines.append(SeriesPrefix(WEARABLE_MEASUREMENT, tags).line(fields, ns))
    return lines
