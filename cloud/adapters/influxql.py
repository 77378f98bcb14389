"""Reading counters and grid intensity from InfluxDB, and storing imported intensity series.

InfluxQL over the 1.x HTTP API (``/query``, ``/write``), which InfluxDB 1.x answers and 2.x
and 3 answer through their v1 compatibility endpoints. Measurement ``grid_intensity``:
tags ``zone``, ``kind``, ``basis``, ``source``; field ``g_per_kwh``; time = start of the
value's period (the period is the step to the next point, or the ``period_s`` field). Forecasts
(``greenwire grid run``) carry the extra tag ``status=forecast`` and are never read as the
intensity of energy used: ``series`` asks for points without it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from greenwire.cloud.adapters.influx import connection_error, query_rows, status_error
from greenwire.shared.errors import StoreRejected
from greenwire.shared.intensity import IntensitySeries
from greenwire.shared.lineprotocol import SeriesPrefix

GRID_MEASUREMENT = "grid_intensity"
DEVICE_MEASUREMENT = "gateway_device"
"""Each device's health as its gateway's status reports it (written by the ingestor, read by the
carbon engine for the device's ``max_power_kw``)."""


def _ns(at: datetime) -> int:
    return int(at.timestamp()) * 10**9 + at.microsecond * 1000


def _from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 10**9, UTC) + timedelta(microseconds=(ns % 10**9) // 1000)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxQLClient(Protocol):
    """What the carbon engine, the health service and the Grafana checks need of InfluxDB.

    :class:`InfluxV1` is the implementation; unit tests pass a small in-memory one. Every method
    raises ``StoreError`` (an outage) or ``StoreRejected`` (a refusal), never a library's error.
    """

    def query(self, q: str) -> list[dict[str, Any]]:
        """The rows of an InfluxQL statement (nanosecond times, tags merged into each row)."""
        ...

    def counter(self, gateway: str, device: str, start: datetime, end: datetime,
                field: str = "energy_import_kwh") -> list[tuple[datetime, float, str]]:
        """A meter's counter readings in [start, end), oldest first, with their quality."""
        ...

    def series(self, zone: str, start: datetime, end: datetime, basis: str = "direct") -> IntensitySeries | None:
        """The zone's stored intensity covering [start, end), or None if there is none."""
        ...

    def write(self, lines: list[str]) -> None:
        """Store line-protocol ``lines``."""
        ...


class InfluxV1:
    """InfluxQL over the v1 HTTP API: the query client of the carbon, health-admin and Grafana code.\n\n    Errors go through :func:`greenwire.cloud.adapters.influx.status_error`, the one mapping.\n    """

    def __init__(self, url: str, database: str, *, timeout_s: float = 30.0, username: str | None = None,
                 password: str | None = None, token: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        """``username``/``password`` for InfluxDB 1.x with authentication; ``token`` for InfluxDB 2.x
        and 3, whose v1-compatible ``/query`` and ``/write`` answer here through a DBRP mapping
        (``database`` is then the mapped database name, usually the bucket's)."""
        self.url = url.rstrip("/")
        self.database = database
        self._client_options: dict[str, Any] = {
            "headers": {"Authorization": f"Token {token}"} if token else {},
            "auth": httpx.BasicAuth(username, password or "") if username else None,
            "timeout": timeout_s,
            "transport": transport,
        }

    def _client(self) -> httpx.Client:
        # One client a call, closed after it, as httpx.get does: the commands make few calls.
        return httpx.Client(**self._client_options)

    def __repr__(self) -> str:  # never the credentials
        return f"InfluxV1({self.url!r}, {self.database!r})"

    @property
    def target(self) -> str:
        """How errors name this database."""
        return f"InfluxDB at {self.url}"

    def query_series(self, q: str, *, epoch: str = "ns") -> list[dict[str, Any]]:
        """The raw ``series`` of an InfluxQL statement's result (``name``, ``tags``, ``columns``, ``values``)."""
        try:
            with self._client() as client:
                response = client.get(f"{self.url}/query", params={"db": self.database, "q": q, "epoch": epoch})
        except httpx.HTTPError as exc:
            raise connection_error(exc, self.target) from exc
        if response.status_code != 200:
            raise status_error(response.status_code, response.text, self.target, data_kept=False)
        series: list[dict[str, Any]] = []
        for result in response.json().get("results", []):
            if "error" in result:
                raise StoreRejected(f"{self.target} refused {q!r}: {result['error']}")
            series += result.get("series", [])
        return series

    def query(self, q: str) -> list[dict[str, Any]]:
        """The rows of an InfluxQL statement (nanosecond times, tags merged into each row)."""
        return query_rows({"results": [{"series": self.query_series(q)}]}, q, self.target)

    def execute(self, q: str) -> list[dict[str, Any]]:
        """Run a statement that changes the server (``CREATE DATABASE``, ``ALTER RETENTION POLICY``,
        ``DROP SERIES``): InfluxDB 1.x takes those only by ``POST /query``. Its rows, if any; a
        refused statement is ``StoreRejected`` with InfluxDB's words, an outage ``StoreError``."""
        try:
            with self._client() as client:
                response = client.post(f"{self.url}/query", params={"db": self.database, "q": q})
        except httpx.HTTPError as exc:
            raise connection_error(exc, self.target) from exc
        if response.status_code != 200:
            raise status_error(response.status_code, response.text, self.target, data_kept=False)
        return query_rows(response.json(), q, self.target)

    def write(self, lines: list[str], *, batch: int = 5000) -> None:
        """Store ``lines`` in batches; a refusal is final (``StoreRejected``), an outage ``StoreError``."""
        for start in range(0, len(lines), batch):
            body = "\n".join(lines[start : start + batch]).encode()
            try:
                with self._client() as client:
                    response = client.post(f"{self.url}/write", params={"db": self.database, "precision": "ns"},
                                           content=body)
            except httpx.HTTPError as exc:
                raise connection_error(exc, self.target) from exc
            if response.status_code != 204:
                raise status_error(response.status_code, response.text, self.target, data_kept=False)

    def counter(self, gateway: str, device: str, start: datetime, end: datetime,
                field: str = "energy_import_kwh") -> list[tuple[datetime, float, str]]:
        """A meter's counter readings in [start, end), oldest first, with their quality."""
        rows = self.query(
            f'SELECT "{field}", "quality" FROM "readings" WHERE "gateway" = {_quote(gateway)} '
            f'AND "device" = {_quote(device)} AND time >= {_ns(start)} AND time < {_ns(end)} ORDER BY time'
        )
        return [
            (_from_ns(r["time"]), float(r[field]), r.get("quality") or "good") for r in rows if r.get(field) is not None
        ]

    def write_series(self, series: IntensitySeries) -> int:
        prefix = SeriesPrefix(GRID_MEASUREMENT, {"zone": series.zone, "kind": series.kind,
                                                 "basis": series.basis, "source": series.source})
        lines = [prefix.line({"g_per_kwh": v}, _ns(s)) for s, v in zip(series.starts, series.values, strict=True)]
        self.write(lines)
        return len(lines)

    def series(self, zone: str, start: datetime, end: datetime, basis: str = "direct") -> IntensitySeries | None:
        """The zone's imported intensity covering [start, end), or None if there is none."""
        rows = self.query(
            f'SELECT "g_per_kwh", "period_s", "source", "kind" FROM "{GRID_MEASUREMENT}" WHERE "zone" = {_quote(zone)} '
            f'AND "basis" = {_quote(basis)} AND "status" != \'forecast\' AND time >= {_ns(start - timedelta(days=1))} '
            f"AND time < {_ns(end)} ORDER BY time"
        )
        if not rows:
            return None
        # Two series of the zone may hold a value for the same period (an imported CSV and the live
        # feed of `greenwire grid run`): one value per start, the live one (it says its period).
        chosen: dict[int, dict[str, Any]] = {}
        for row in rows:
            kept = chosen.get(row["time"])
            if kept is None or (row.get("period_s") and not kept.get("period_s")):
                chosen[row["time"]] = row
        rows = [chosen[t] for t in sorted(chosen)]
        starts = tuple(_from_ns(r["time"]) for r in rows)
        # A live-feed point says its period; an imported one holds until the next point.
        steps = [b - a for a, b in itertools.pairwise(starts)]
        periods = []
        for index, row in enumerate(rows):
            if row.get("period_s"):
                periods.append(timedelta(seconds=float(row["period_s"])))
            elif index < len(steps):
                periods.append(steps[index])
            elif steps:
                periods.append(steps[-1])
            else:
                return None  # a single imported point has no known period
        return IntensitySeries(zone, rows[0]["kind"], basis, rows[0]["source"],  # type: ignore[arg-type]
                               starts, tuple(float(r["g_per_kwh"]) for r in rows), tuple(periods))
