"""Reading a building's hourly energy from InfluxDB and storing forecasts and findings there.

Measurement ``carbon_forecast`` (one point per building, role and forecast hour; time = the hour's
start): tags ``site``, ``building``, ``role``, ``model`` (the model version); fields
``kwh_p10``/``kwh_p50``/``kwh_p90``, ``kgco2e_p10``/``_p50``/``_p90``, ``g_per_kwh`` (the intensity
used) and ``intensity_source``, ``issued_at``, ``trained_from``, ``trained_to`` (RFC 3339). A new
forecast for the same hours overwrites the older one (same series and time).
(The anomaly findings' measurement is :mod:`greenwire.cloud.anomalies.store`'s.)

A building's outdoor temperature (``outdoor_temperature`` in the site model) is read from the
``readings`` measurement as the hourly mean of its device's good readings.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from greenwire.cloud.adapters.influxql import InfluxQLClient, _from_ns, _ns, _quote
from greenwire.cloud.carbon.factor_choice import building_factors, static_grid
from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.fetch import FORECAST_MEASUREMENT
from greenwire.cloud.carbon.report import FIELD_OF_ROLE
from greenwire.cloud.forecast.series import HOUR, Floats, HourlySeries, floor_hour, from_counter
from greenwire.cloud.sites import Building, Role
from greenwire.shared.lineprotocol import SeriesPrefix

ROLES: tuple[Role, ...] = ("grid_import", "gas", "pv_generation")
"""The roles forecast, where the building has meters of them."""


def meter_series(influx: InfluxQLClient, building: Building, role: Role, start: datetime,
                 end: datetime) -> dict[str, HourlySeries]:
    """Each meter of ``role``'s hourly energy in [start, end), by device (gas in kWh: a volume
    counter is converted with the calorific value the account uses)."""
    out: dict[str, HourlySeries] = {}
    for meter in building.meters_with(role):
        if role == "gas":
            readings = influx.counter(meter.gateway, meter.device, start, end, "gas_energy_kwh")
            scale = 1.0
            if not readings:
                readings = influx.counter(meter.gateway, meter.device, start, end, "gas_volume_m3")
                gas = building_factors(building, start).gas
                scale = gas.calorific_kwh_per_m3 if gas is not None and gas.calorific_kwh_per_m3 else 1.0
            series = from_counter(readings, start, end)
            out[meter.device] = HourlySeries(series.start, series.values * scale)
        else:
            out[meter.device] = from_counter(influx.counter(meter.gateway, meter.device, start, end,
                                                            FIELD_OF_ROLE[role]), start, end)
    return out


def role_series(influx: InfluxQLClient, building: Building, role: Role, start: datetime,
                end: datetime) -> HourlySeries | None:
    """The building's hourly energy of ``role`` (its meters summed; unknown where any is), or None."""
    meters = meter_series(influx, building, role, start, end)
    if not meters:
        return None
    first = next(iter(meters.values()))
    return HourlySeries(first.start, np.sum(np.stack([m.values for m in meters.values()]), axis=0))


def outdoor_temperature(influx: InfluxQLClient, building: Building, start: datetime,
                        end: datetime) -> HourlySeries | None:
    """The building's outdoor temperature per hour of [start, end) (the mean of the hour's good
    readings, NaN where there is none), or None where the site model configures no series."""
    ref = building.outdoor_temperature
    if ref is None:
        return None
    start, hours = floor_hour(start), math.ceil((end - floor_hour(start)) / HOUR)
    rows = influx.query(f'SELECT mean("{ref.quantity}") AS "c" FROM "readings" WHERE "gateway" = {_quote(ref.gateway)} '
                        f'AND "device" = {_quote(ref.device)} AND "quality" = \'good\' AND time >= {_ns(start)} '
                        f"AND time < {_ns(start + hours * HOUR)} GROUP BY time(1h) fill(none)")
    values = np.full(hours, np.nan)
    for row in rows:
        i = int((_from_ns(int(row["time"])) - start) // HOUR)
        if 0 <= i < hours and isinstance(row.get("c"), int | float):
            values[i] = float(row["c"])
    return HourlySeries(start, values)


def intensity(influx: InfluxQLClient, building: Building, role: str, start: datetime,
              hours: int) -> tuple[Floats, str]:
    """gCO2e per kWh for each forecast hour and where it comes from: the zone's stored grid
    forecast (``status=forecast``) where it covers the hour, else the factor in force (the static
    grid factor, or the building's natural-gas factor for gas; PV counts zero)."""
    if role == "pv_generation":
        return np.zeros(hours), "on-site generation, no emissions"
    factors = building_factors(building, start)
    if role == "gas":
        gas = factors.gas
        return np.full(hours, gas.g_per_kwh if gas else np.nan), gas.source if gas else "no gas factor"
    static = static_grid(building, factors, load_factors())
    values = np.full(hours, static.value if static else np.nan)
    source = f"{static.source} ({static.year})" if static else "no grid factor"
    rows = influx.query(f'SELECT "g_per_kwh" FROM "grid_intensity" WHERE "zone" = {_quote(building.zone)} '
                        f"AND \"status\" = 'forecast' AND time >= {_ns(start - HOUR)} "
                        f"AND time < {_ns(start + hours * HOUR)} ORDER BY time")
    used = 0
    for row in rows:
        i = int((_from_ns(int(row["time"])) - start) // HOUR)
        if row.get("g_per_kwh") is not None:
            for j in range(max(i, 0), hours):  # a forecast point holds until the next one
                values[j] = float(row["g_per_kwh"])
            used += 1
    if used:
        source = f"grid forecast for {building.zone} (else {source})"
    return values, source


def forecast_lines(site: str, building: str, role: str, start: datetime, bands: Floats, g_per_kwh: Floats,
                   source: str, model: str, issued_at: datetime, trained: tuple[datetime, datetime]) -> list[str]:
    """The ``carbon_forecast`` points of one forecast: ``bands`` is (hours, 3) kWh P10/P50/P90."""
    prefix = SeriesPrefix(FORECAST_MEASUREMENT, {"site": site, "building": building, "role": role, "model": model})
    lines = []
    for h, row in enumerate(bands):
        p10, p50, p90 = (float(x) for x in row)
        g = float(g_per_kwh[h])
        fields: dict[str, float | str] = {"kwh_p10": p10, "kwh_p50": p50, "kwh_p90": p90,
                                          "intensity_source": source, "issued_at": issued_at.isoformat(),
                                          "trained_from": trained[0].isoformat(), "trained_to": trained[1].isoformat()}
        if np.isfinite(g):
            fields |= {"g_per_kwh": g, "kgco2e_p10": p10 * g / 1000, "kgco2e_p50": p50 * g / 1000,
                       "kgco2e_p90": p90 * g / 1000}
        lines.append(prefix.line(fields, _ns(start + h * HOUR)))
    return lines


def latest_forecast(influx: InfluxQLClient, site: str, building: str, start: datetime,
                    end: datetime) -> list[dict[str, Any]]:
    """The stored forecast hours of a building in [start, end), every role, oldest first."""
    return influx.query(f'SELECT * FROM "{FORECAST_MEASUREMENT}" WHERE "site" = {_quote(site)} '
                        f'AND "building" = {_quote(building)} AND time >= {_ns(floor_hour(start))} '
                        f"AND time < {_ns(end)} ORDER BY time")
