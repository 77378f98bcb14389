"""The live grid carbon-intensity feed: ``greenwire/v1/grid/{zone}/intensity``, schema ``greenwire.grid.v1``.

A publisher (a forecast service, a TSO bridge, an operator's script) sends one message per
period; ``greenwire carbon run`` subscribes and stores each value as a ``grid_intensity``
point, where the accounts pick it up for energy used in that period::

    {"schema": "greenwire.grid.v1", "zone": "CN-HI", "start": "2026-11-22T10:00:00Z",
     "period_s": 3600, "g_per_kwh": 351.2, "kind": "average", "basis": "direct",
     "source": "provincial dispatch centre forecast"}

The topic's zone (lower case) must be the payload's. A bad message is rejected with its
reason and counted; it never stops the others.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenwire.cloud.adapters.influxql import GRID_MEASUREMENT, _ns
from greenwire.shared.errors import TopicError
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.shared.topics import TopicKind, parse_topic
from greenwire.shared.wire import UtcDatetime

GRID_SCHEMA = "greenwire.grid.v1"


class GridIntensityMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    schema_: Literal["greenwire.grid.v1"] = Field(alias="schema")
    zone: str = Field(min_length=1, max_length=63)
    start: UtcDatetime
    period_s: int = Field(gt=0, le=86_400)
    g_per_kwh: float = Field(ge=0, le=5000, allow_inf_nan=False)
    kind: Literal["average", "marginal"] = "average"
    basis: Literal["direct", "lifecycle"] = "direct"
    source: str = Field(min_length=1, max_length=200)


def feed_line(topic: str, payload: bytes) -> tuple[str | None, str]:
    """A ``grid_intensity`` line for a feed message, or (None, why it was rejected)."""
    try:
        parsed = parse_topic(topic)
    except TopicError as exc:
        return None, f"invalid topic: {exc}"
    if parsed.kind is not TopicKind.GRID_INTENSITY or parsed.zone is None:
        return None, f"not a grid topic: {topic}"
    try:
        message = GridIntensityMessage.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        return None, f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    if message.zone.lower() != parsed.zone:
        return None, f"payload zone {message.zone!r} is not the topic's {parsed.zone!r}"
    prefix = SeriesPrefix(GRID_MEASUREMENT, {"zone": message.zone, "kind": message.kind, "basis": message.basis,
                                             "source": message.source})
    return prefix.line({"g_per_kwh": message.g_per_kwh, "period_s": message.period_s}, _ns(message.start)), ""
