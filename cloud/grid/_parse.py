"""Reading a provider's JSON into typed values, or a :class:`ResponseError` naming the field.

The connectors parse documented shapes, not arbitrary JSON: a missing key, a
string where a number belongs or an unreadable timestamp is a provider bug (or
the wrong base URL), reported with the path of the field, never a ``KeyError``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from greenwire.cloud.grid.errors import ResponseError


def json_body(response: httpx.Response, provider: str) -> Any:
    """The decoded JSON body of a 2xx answer."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise ResponseError(
            provider,
            f"{response.url.path} answered {response.status_code} with a body that is not JSON",
        ) from exc


def obj(value: Any, provider: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ResponseError(provider, f"{where}: expected an object, got {type(value).__name__}")
    return value


def items(value: Any, provider: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ResponseError(provider, f"{where}: expected a list, got {type(value).__name__}")
    return value


def key(value: dict[str, Any], name: str, provider: str, where: str) -> Any:
    if name not in value:
        raise ResponseError(provider, f"{where}: missing '{name}'")
    return value[name]


def number(value: Any, provider: str, where: str) -> float:
    """A finite JSON number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResponseError(provider, f"{where}: expected a number, got {value!r}")
    return float(value)


def timestamp(value: Any, provider: str, where: str) -> datetime:
    """An ISO 8601 timestamp with a zone (``Z`` or an offset), as UTC."""
    if not isinstance(value, str):
        raise ResponseError(provider, f"{where}: expected a timestamp string, got {value!r}")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ResponseError(provider, f"{where}: unreadable timestamp {value!r}") from exc
    if at.tzinfo is None:
        raise ResponseError(provider, f"{where}: timestamp {value!r} has no time zone")
    return at.astimezone(UTC)


def error_text(response: httpx.Response, *paths: tuple[str, ...]) -> str | None:
    """The first string found at one of ``paths`` in a JSON error body, else None."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    for path in paths:
        node: Any = body
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and node.strip():
            return node.strip()
    return None
