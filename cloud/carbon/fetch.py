"""What the carbon engine reads from InfluxDB, and the accounts that read before they compute.

Every function here takes the client (``greenwire.cloud.adapters.influxql.InfluxQLClient``, so a
test can pass a small in-memory store) and leaves the arithmetic to the pure modules:
``fetch_readings`` and ``fetch_stored_days`` only read; ``account_from_influx``,
``year_totals`` and ``carbon_account_from_influx`` read a period's readings and hand them to
``report.account_of`` and ``budget.carbon_account``. Errors are the client's (``StoreError``,
``StoreRejected``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from greenwire.cloud.adapters.influxql import (
    DEVICE_MEASUREMENT,
    GRID_MEASUREMENT,
    InfluxQLClient,
    _ns,
    _quote,
)
from greenwire.cloud.carbon.budget import (
    Ahead,
    CarbonAccount,
    YearTotals,
    YearWindows,
    carbon_account,
    is_seasonal,
    year_windows,
)
from greenwire.cloud.carbon.meters import NEIGHBOURS, READ_MARGIN, Counter, local_days
from greenwire.cloud.carbon.report import (
    FIELD_OF_ROLE,
    Account,
    Readings,
    account_of,
)
from greenwire.cloud.carbon.results import MEASUREMENT, MONTH_SUMS, StoredDays, month_end
from greenwire.cloud.carbon.signal import Forecast
from greenwire.cloud.carbon.statement import Note
from greenwire.cloud.carbon.windows import Step
from greenwire.cloud.sites import Building, MeterRef, Role


def fetch_counters(influx: InfluxQLClient, building: Building, start: datetime,
                   end: datetime) -> tuple[dict[str, Counter], dict[str, tuple[str, Counter]]]:
    """The counter readings of every meter of the building that [start, end) needs, by device:
    electricity and heat counters, and gas counters with the field they count.

    Whole local days with ``READ_MARGIN`` either side, since each day is classified on its own
    readings (``greenwire.cloud.carbon.meters``): a period that starts or ends mid-day gets the
    same minutes as the stored day."""
    days = local_days(start, end, building.timezone)
    lo, hi = days[0][0] - READ_MARGIN, days[-1][1] + READ_MARGIN

    def read(meter: MeterRef, field_name: str) -> Counter:
        inside = influx.counter(meter.gateway, meter.device, lo, hi, field_name)
        return _neighbours(influx, meter, field_name, lo, hi, before=True) + inside + \
            _neighbours(influx, meter, field_name, lo, hi, before=False)

    counters = {m.device: read(m, FIELD_OF_ROLE[m.role]) for m in building.meters if m.role in FIELD_OF_ROLE}
    gas: dict[str, tuple[str, Counter]] = {}
    for meter in building.meters_with("gas"):
        for field_name in ("gas_volume_m3", "gas_energy_kwh"):
            readings = read(meter, field_name)
            if readings:
                gas[meter.device] = (field_name, readings)
                break
    return counters, gas


def _neighbours(influx: InfluxQLClient, meter: MeterRef, field_name: str, lo: datetime, hi: datetime, *,
                before: bool) -> Counter:
    """The ``NEIGHBOURS`` readings of a counter just before ``lo`` or from ``hi`` on, oldest first: a
    meter read hourly or daily has none within the margin, and its day needs them."""
    where = (f'"gateway" = {_quote(meter.gateway)} AND "device" = {_quote(meter.device)} AND '
             + (f"time < {_ns(lo)} ORDER BY time DESC" if before else f"time >= {_ns(hi)} ORDER BY time ASC"))
    rows = influx.query(f'SELECT "{field_name}", "quality" FROM "readings" WHERE {where} LIMIT {NEIGHBOURS}')
    readings = [(datetime.fromtimestamp(int(r["time"]) / 1e9, UTC), float(r[field_name]), str(r.get("quality") or "good"))
                for r in rows if r.get(field_name) is not None]
    return sorted(readings)


def device_limits(influx: InfluxQLClient, building: Building) -> dict[str, float]:
    """The maximum power each of the building's devices last reported through its gateway's status
    (the profile's or the device's own edge setting), by device; devices that sent none are absent."""
    out: dict[str, float] = {}
    for meter in building.meters:
        rows = influx.query(f'SELECT last("max_power_kw") AS "kw" FROM "{DEVICE_MEASUREMENT}" WHERE '
                            f'"gateway" = {_quote(meter.gateway)} AND "device" = {_quote(meter.device)}')
        value = rows[0].get("kw") if rows else None
        if isinstance(value, int | float) and value > 0:
            out[meter.device] = float(value)
    return out


def fetch_readings(influx: InfluxQLClient, building: Building, start: datetime, end: datetime) -> Readings:
    """Everything accounting ``building`` over [start, end) needs: counters, the zone's series and
    the devices' own limits."""
    counters, gas = fetch_counters(influx, building, start, end)
    return Readings(counters, gas, influx.series(building.zone, start, end), device_limits(influx, building))


def fetch_forecast(influx: InfluxQLClient, zone: str, start: datetime, end: datetime,
                   basis: str = "direct") -> Forecast | None:
    """The zone's stored forecast (``status=forecast``, from ``greenwire grid run``) of periods that
    end after ``start`` and start before ``end``; None when none is stored.

    Each point says its period (``period_s``). Where two sources forecast the zone, the one whose
    forecast reaches furthest is taken, so periods never overlap; a period that runs into the
    next one's start is cut there.
    """
    rows = influx.query(
        f'SELECT "g_per_kwh", "period_s", "source" FROM "{GRID_MEASUREMENT}" WHERE "zone" = {_quote(zone)} '
        f"AND \"basis\" = {_quote(basis)} AND \"status\" = 'forecast' AND time >= {_ns(start - timedelta(days=1))} "
        f"AND time < {_ns(end)} ORDER BY time")
    rows = [r for r in rows if r.get("g_per_kwh") is not None and r.get("period_s")]
    if not rows:
        return None
    source = max(rows, key=lambda r: int(r["time"]))["source"]
    mine = [r for r in rows if r["source"] == source]
    steps: list[Step] = []
    for index, row in enumerate(mine):
        begin = datetime.fromtimestamp(int(row["time"]) // 10**9, UTC)
        until = begin + timedelta(seconds=float(row["period_s"]))
        if index + 1 < len(mine):
            until = min(until, datetime.fromtimestamp(int(mine[index + 1]["time"]) // 10**9, UTC))
        if until > start:
            steps.append(Step(begin, until, float(row["g_per_kwh"])))
    return Forecast(str(source), tuple(steps)) if steps else None


@dataclass(frozen=True, slots=True)
class Coverage:
    """Whether a building's meters have readings in a period, and when their newest one is."""

    readings: int
    newest: datetime | None

    def warning(self, building: str, start: datetime, end: datetime) -> str | None:
        """A sentence for a person when the period holds no reading at all, else None."""
        if self.readings:
            return None
        newest = (f"the newest reading of its meters is at {self.newest:%Y-%m-%d %H:%M} UTC" if self.newest
                  else "its meters have no readings at all")
        return (f"no readings of building {building}'s meters from {start:%Y-%m-%d %H:%M} to "
                f"{end:%Y-%m-%d %H:%M} UTC, so every figure is zero: {newest}")


def coverage(influx: InfluxQLClient, building: Building, start: datetime, end: datetime) -> Coverage:
    """How many readings the building's meters have in [start, end), and the newest one overall."""
    count, newest = 0, None
    for meter in building.meters:
        where = f'"gateway" = {_quote(meter.gateway)} AND "device" = {_quote(meter.device)}'
        rows = influx.query(f'SELECT count("quality") FROM "readings" WHERE {where} '
                            f"AND time >= {_ns(start)} AND time < {_ns(end)}")
        count += sum(int(r.get("count") or 0) for r in rows)
        last = influx.query(f'SELECT last("quality") FROM "readings" WHERE {where}')
        for row in last:
            at = datetime.fromtimestamp(int(row["time"]) / 1e9, UTC)
            newest = at if newest is None or at > newest else newest
    return Coverage(count, newest)


def fetch_stored_days(influx: InfluxQLClient, site: str, building: Building, month_start: datetime) -> StoredDays:
    """The stored ``1d`` rows of the local month starting ``month_start``, summed, with their sources."""
    following = month_end(month_start, building.timezone)
    where = (f'WHERE "resolution" = \'1d\' AND "site" = {_quote(site)} AND "building" = {_quote(building.id)} '
             f"AND time >= {_ns(month_start)} AND time < {_ns(following)}")
    sums = ", ".join(f'sum("{name}") AS "{name}"' for name in MONTH_SUMS)
    rows = influx.query(f'SELECT {sums} FROM "{MEASUREMENT}" {where}')
    row = rows[0] if rows else {}
    if row.get("grid_import_kwh") is None:
        return StoredDays({name: None for name in MONTH_SUMS})
    distinct = influx.query(f'SELECT DISTINCT("factor_sources") AS s FROM "{MEASUREMENT}" {where}')
    sources = frozenset(part for r in distinct for part in str(r.get("s") or "").split("; ") if part)
    return StoredDays({name: None if row.get(name) is None else float(row[name]) for name in MONTH_SUMS}, sources)


def account_from_influx(influx: InfluxQLClient, building: Building, start: datetime, end: datetime) -> Account:
    """Fetch the building's counters and its zone's series, then account (``report.account_of``)."""
    return account_of(building, fetch_readings(influx, building, start, end), start, end)


def _kg(influx: InfluxQLClient, building: Building, window: tuple[datetime, datetime]) -> float:
    start, end = window
    return account_from_influx(influx, building, start, end).total_kgco2e if end > start else 0.0


def year_totals(influx: InfluxQLClient, building: Building, windows: YearWindows) -> YearTotals:
    """The emissions of each period the year's account needs (the recent window only when the
    projection cannot be seasonal); one period's readings at a time, so memory stays at one year."""
    so_far, rest = _kg(influx, building, windows.last_year_so_far), _kg(influx, building, windows.last_year_rest)
    recent = None if is_seasonal(so_far, rest) else _kg(influx, building, windows.recent)
    return YearTotals(_kg(influx, building, windows.emitted), so_far, rest, recent)


FINDINGS_MEASUREMENT = "anomalies"
"""Written by ``greenwire anomalies run`` (``greenwire.cloud.anomalies.store``): one point per finding,
time = its start, tags ``kind`` and ``meter``, fields ``end``, ``kwh``, ``kgco2e``, ``confidence``, ``detail``."""
FINDINGS_LOOKBACK = timedelta(days=92)
"""How far before a period a finding that overlaps it may start (the detectors' longest window)."""


def fetch_notes(influx: InfluxQLClient, site: str, building: Building, start: datetime,
                end: datetime) -> list[Note]:
    """The stored anomaly findings of the building that overlap [start, end), oldest first; where
    runs over different windows stored overlapping findings of one kind on one meter, the longest."""
    rows = influx.query(
        f'SELECT * FROM "{FINDINGS_MEASUREMENT}" WHERE "site" = {_quote(site)} AND "building" = {_quote(building.id)} '
        f"AND time >= {_ns(start - FINDINGS_LOOKBACK)} AND time < {_ns(end)} ORDER BY time")
    notes: list[Note] = []
    for row in rows:
        try:
            note = Note(str(row["kind"]), datetime.fromtimestamp(int(row["time"]) / 1e9, UTC),
                        datetime.fromisoformat(str(row["end"])), str(row.get("meter") or "building"),
                        float(row["kwh"]), float(row["kgco2e"]), float(row["confidence"]), str(row.get("detail") or ""))
        except (KeyError, TypeError, ValueError):
            continue
        if note.end <= start:
            continue
        same = [n for n in notes if (n.kind, n.meter) == (note.kind, note.meter)
                and n.start < note.end and note.start < n.end]
        if any(n.end - n.start >= note.end - note.start for n in same):
            continue
        notes = [n for n in notes if n not in same] + [note]
    return sorted(notes, key=lambda n: (n.start, n.kind, n.meter))


FORECAST_MEASUREMENT = "carbon_forecast"
"""Written by ``greenwire forecast run`` (``greenwire.cloud.forecast.store``): one point per site,
building, role, model and forecast hour, with fields ``kgco2e_p10``/``_p50``/``_p90`` and ``issued_at``."""
FORECAST_ROLES: tuple[Role, ...] = ("grid_import", "gas")
"""The roles that emit and are forecast; a building that also has district heat is projected
without the forecast (its heat is not forecast)."""
FORECAST_REACH = timedelta(hours=48)


def forecast_ahead(influx: InfluxQLClient, site: str, building: Building, as_of: datetime,
                   year_end: datetime) -> Ahead | None:
    """The stored day-ahead forecast's kgCO2e from the first full hour after ``as_of``, over the
    hours every emitting role of the building has a forecast for, without a gap, issued at or
    before ``as_of`` (the newest issue of each hour wins) and within the year; None without one."""
    roles = [r for r in FORECAST_ROLES if building.meters_with(r)]
    if not roles or building.meters_with("heat"):
        return None
    start = as_of.replace(minute=0, second=0, microsecond=0)
    start = start if start == as_of else start + timedelta(hours=1)
    end = min(start + FORECAST_REACH, year_end)
    if end <= start:
        return None
    rows = influx.query(
        f'SELECT "kgco2e_p10", "kgco2e_p50", "kgco2e_p90", "issued_at" FROM "{FORECAST_MEASUREMENT}" '
        f'WHERE "site" = {_quote(site)} AND "building" = {_quote(building.id)} '
        f'AND time >= {_ns(start)} AND time < {_ns(end)} GROUP BY "role"')
    best: dict[tuple[str, int], tuple[datetime, tuple[float, float, float]]] = {}
    for row in rows:
        try:
            issued = datetime.fromisoformat(str(row["issued_at"]))
            bands = (float(row["kgco2e_p10"]), float(row["kgco2e_p50"]), float(row["kgco2e_p90"]))
        except (KeyError, TypeError, ValueError):
            continue  # an hour without an intensity has no kgCO2e: it ends the usable forecast
        key = (str(row.get("role")), int(row["time"]))
        if issued <= as_of and (key not in best or issued > best[key][0]):
            best[key] = (issued, bands)
    totals = [0.0, 0.0, 0.0]
    hour = start
    while hour < end:
        found = [best.get((role, _ns(hour))) for role in roles]
        if any(f is None for f in found):
            break
        for f in found:
            assert f is not None
            for q, kg in enumerate(f[1]):
                totals[q] += kg
        hour += timedelta(hours=1)
    if hour == start:
        return None
    return Ahead(start, hour, *totals)


def carbon_account_from_influx(influx: InfluxQLClient, building: Building, year_start: datetime,
                               as_of: datetime, site: str | None = None) -> CarbonAccount:
    """The account of the year starting ``year_start`` as it stands at ``as_of``; with ``site``,
    the hours the building's stored day-ahead forecast covers are projected from it."""
    windows = year_windows(year_start, as_of)
    totals = year_totals(influx, building, windows)
    ahead = forecast_ahead(influx, site, building, as_of, windows.year_end) if site else None
    if ahead is not None and is_seasonal(totals.last_year_so_far, totals.last_year_rest):
        ahead = replace(ahead, last_year_kg=_kg(influx, building, ahead.last_year()))
    return carbon_account(building, windows, totals, ahead)
