"""MQTT topics of ``greenwire/v1``: build, parse, match.

The topic tree is a contract other people build on::

    greenwire/v1/{site}/{gateway}/readings    meter batches (greenwire.readings.v1)
    greenwire/v1/{site}/{gateway}/vitals      health batches (greenwire.vitals.v1)
    greenwire/v1/{site}/{gateway}/status      retained birth message and last will
    greenwire/v1/{site}/{gateway}/commit      what the cloud has stored of that gateway's batches
                                              (greenwire.commit.v1); only that gateway reads it,
                                              only ingestors write it
    greenwire/v1/{site}/carbon/{building}     retained carbon signal from the cloud
    greenwire/v1/{site}/alerts/{gateway}      health alert events from the cloud (greenwire.alert.v1),
                                              for the gateway whose data raised them
    greenwire/v1/grid/{zone}/intensity        grid carbon-intensity input (greenwire.grid.v1)
    greenwire/v1/grid/{zone}/forecast         retained: the zone's forecast, best windows and the
                                              age of its current value (greenwire.grid-forecast.v1)

Ids are lower-case ``[a-z0-9][a-z0-9_-]{0,62}``. ``carbon`` and ``alerts`` cannot
be gateway ids and ``grid`` cannot be a site id, because those words own their
branch of the tree. What the cloud publishes lives outside the gateways' own
``{site}/{gateway}/#`` branches, so a broker ACL that lets a gateway write only
there keeps it from forging carbon signals or alerts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from greenwire.shared.errors import TopicError

PREFIX: Final = "greenwire/v1"
ID_PATTERN: Final = r"[a-z0-9][a-z0-9_-]{0,62}"
_ID_RE: Final = re.compile(ID_PATTERN)
RESERVED_GATEWAY_IDS: Final = frozenset({"carbon", "alerts", "anomalies"})
RESERVED_SITE_IDS: Final = frozenset({"grid"})


class TopicKind(StrEnum):
    """Which branch of the tree a topic belongs to."""

    READINGS = "readings"
    VITALS = "vitals"
    STATUS = "status"
    COMMIT = "commit"
    ALERTS = "alerts"
    CARBON = "carbon"
    GRID_INTENSITY = "intensity"
    GRID_FORECAST = "forecast"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic. Fields that the kind does not use are ``None``."""

    kind: TopicKind
    site: str | None = None
    gateway: str | None = None
    building: str | None = None
    zone: str | None = None


def is_valid_id(value: str) -> bool:
    """True if ``value`` is a valid site, gateway, device, building or zone id."""
    return _ID_RE.fullmatch(value) is not None


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid id, else raise ``TopicError`` naming ``what``."""
    if not isinstance(value, str) or not is_valid_id(value):
        raise TopicError(
            f"invalid {what} {value!r}: use 1-63 characters from a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    return value


def _site_gateway(site: str, gateway: str) -> str:
    check_id(site, "site")
    check_id(gateway, "gateway")
    if site in RESERVED_SITE_IDS:
        raise TopicError(f"site id {site!r} is reserved")
    if gateway in RESERVED_GATEWAY_IDS:
        raise TopicError(f"gateway id {gateway!r} is reserved")
    return f"{PREFIX}/{site}/{gateway}"


def readings_topic(site: str, gateway: str) -> str:
    """Topic a gateway publishes meter batches to."""
    return f"{_site_gateway(site, gateway)}/readings"


def vitals_topic(site: str, gateway: str) -> str:
    """Topic a gateway publishes health batches to."""
    return f"{_site_gateway(site, gateway)}/vitals"


def alerts_topic(site: str, gateway: str) -> str:
    """Topic the cloud publishes health alert events to, for the gateway the data came from."""
    _site_gateway(site, gateway)
    return f"{PREFIX}/{site}/alerts/{gateway}"


def vitals_filter(site: str = "+", gateway: str = "+") -> str:
    """Subscription filter for health batches (wildcards by default)."""
    return f"{PREFIX}/{site}/{gateway}/vitals"


def status_topic(site: str, gateway: str) -> str:
    """Retained topic of a gateway's birth message and last will."""
    return f"{_site_gateway(site, gateway)}/status"


def commit_topic(site: str, gateway: str) -> str:
    """Topic the cloud tells a gateway on which of its batches are stored (``greenwire.commit.v1``)."""
    return f"{_site_gateway(site, gateway)}/commit"


def carbon_topic(site: str, building: str) -> str:
    """Retained topic of a building's carbon signal."""
    check_id(site, "site")
    check_id(building, "building")
    if site in RESERVED_SITE_IDS:
        raise TopicError(f"site id {site!r} is reserved")
    return f"{PREFIX}/{site}/carbon/{building}"


def grid_topic(zone: str) -> str:
    """Topic of a grid zone's carbon-intensity feed."""
    check_id(zone, "zone")
    return f"{PREFIX}/grid/{zone}/intensity"


def grid_forecast_topic(zone: str) -> str:
    """Retained topic of a grid zone's forecast, best windows and the age of its current value."""
    check_id(zone, "zone")
    return f"{PREFIX}/grid/{zone}/forecast"


def readings_filter(site: str = "+", gateway: str = "+") -> str:
    """Subscription filter for meter batches (wildcards by default)."""
    return f"{PREFIX}/{site}/{gateway}/readings"


def status_filter(site: str = "+", gateway: str = "+") -> str:
    """Subscription filter for gateways' retained status (wildcards by default)."""
    return f"{PREFIX}/{site}/{gateway}/status"


def shared_filter(group: str, topic_filter: str) -> str:
    """An MQTT v5 shared subscription: members of ``group`` share the messages."""
    check_id(group, "shared-subscription group")
    return f"$share/{group}/{topic_filter}"


def parse_topic(topic: str) -> Topic:
    """Parse a concrete ``greenwire/v1`` topic, or raise ``TopicError`` saying why."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise TopicError(f"not a greenwire/v1 topic: {topic!r}")
    _, _, a, b, c = parts
    if a == "grid":
        if c not in (TopicKind.GRID_INTENSITY, TopicKind.GRID_FORECAST):
            raise TopicError(f"unknown grid topic: {topic!r}")
        return Topic(TopicKind(c), zone=check_id(b, "zone"))
    check_id(a, "site")
    if b == "carbon":
        return Topic(TopicKind.CARBON, site=a, building=check_id(c, "building"))
    if b == "alerts":
        return Topic(TopicKind.ALERTS, site=a, gateway=check_id(c, "gateway"))
    check_id(b, "gateway")
    try:
        kind = TopicKind(c)
    except ValueError:
        raise TopicError(f"unknown topic leaf {c!r} in {topic!r}") from None
    if kind not in (TopicKind.READINGS, TopicKind.VITALS, TopicKind.STATUS, TopicKind.COMMIT):
        raise TopicError(f"unknown topic leaf {c!r} in {topic!r}")
    return Topic(kind, site=a, gateway=b)


def site_gateway(topic: str, kind: TopicKind) -> tuple[str, str] | None:
    """``(site, gateway)`` if ``topic`` is a valid topic of ``kind``, else None (no reason needed)."""
    try:
        parsed = parse_topic(topic)
    except TopicError:
        return None
    if parsed.kind is not kind or parsed.site is None or parsed.gateway is None:
        return None
    return parsed.site, parsed.gateway


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching (``+`` one level, ``#`` the rest), as brokers do it.

    Topics starting with ``$`` are not matched by a filter starting with a
    wildcard (MQTT 3.1.1 section 4.7.2). Raises ``TopicError`` for an invalid
    filter or topic.
    """
    if not topic_filter or not topic:
        raise TopicError("empty topic or filter")
    if "+" in topic or "#" in topic:
        raise TopicError(f"wildcards are not allowed in a topic: {topic!r}")
    f_parts = topic_filter.split("/")
    for i, part in enumerate(f_parts):
        if "#" in part and (part != "#" or i != len(f_parts) - 1):
            raise TopicError(f"'#' must be a whole last level: {topic_filter!r}")
        if "+" in part and part != "+":
            raise TopicError(f"'+' must be a whole level: {topic_filter!r}")
    t_parts = topic.split("/")
    if topic.startswith("$") and f_parts[0] in ("+", "#"):
        return False
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts):
            return False
        if part != "+" and part != t_parts[i]:
            return False
    if len(t_parts) == len(f_parts):
        return True
    # "a/#" also matches "a" itself: handled above only when a level follows.
    return len(t_parts) == len(f_parts) - 1 and f_parts[-1] == "#"


def anomalies_topic(site: str, building: str) -> str:
    """Retained topic of a building's anomaly findings (``greenwire.anomalies.v1``)."""
    check_id(site, "site")
    check_id(building, "building")
    if site in RESERVED_SITE_IDS:
        raise TopicError(f"site id {site!r} is reserved")
    return f"{PREFIX}/{site}/anomalies/{building}"
