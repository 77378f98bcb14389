"""The day-ahead forecaster with an outdoor temperature series, and without one.

There is no real weather series in the repository, so the gain is shown on a synthetic building
whose heating follows the outdoor temperature through its thermal mass (a first-order lag of
12 h) and whose weather changes slowly (an hourly AR(1) anomaly around a seasonal cycle). The
model only reads temperatures before each origin, as it would in service.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from greenwire.cloud.forecast.backtest import evaluate
from greenwire.cloud.forecast.features import (
    FEATURES,
    TEMPERATURE_FEATURES,
    calendar_for,
    design,
    enough_temperature,
)
from greenwire.cloud.forecast.model import MODEL_VERSION, TEMPERATURE_VERSION, train
from greenwire.cloud.forecast.series import Floats, HourlySeries
from greenwire.cloud.sites import load_sites
from greenwire.shared.errors import ConfigError

DAYS = 270


def _heated_building(seed: int) -> tuple[HourlySeries, Floats]:
    """(hourly kWh, outdoor degC) of a building heated below 16 degC of the air its walls feel."""
    rng = np.random.default_rng(seed)
    n = 24 * DAYS
    h = np.arange(n)
    phi = 0.985
    shocks = rng.normal(0.0, 4.0 * np.sqrt(1 - phi**2), n)
    anomaly = np.zeros(n)
    felt = np.zeros(n)
    season = 9 - 7 * np.cos(2 * np.pi * h / (24 * 365)) + 3 * np.sin(2 * np.pi * ((h % 24) - 9) / 24)
    for i in range(1, n):
        anomaly[i] = phi * anomaly[i - 1] + shocks[i]
    temp = season + anomaly
    felt[0] = temp[0]
    for i in range(1, n):
        felt[i] = felt[i - 1] + (temp[i] - felt[i - 1]) / 12
    occupied = ((h % 24 >= 8) & (h % 24 < 18)).astype(float)
    load = 10 + 6 * occupied + 1.5 * np.maximum(0.0, 16 - felt) + rng.normal(0.0, 1.0, n)
    return HourlySeries(datetime(2022, 1, 1, tzinfo=UTC), load), temp


def test_outdoor_temperature_improves_a_temperature_driven_load() -> None:
    ratios = []
    for seed in (1, 2, 3):  # three weathers: the gain varies with how the weather turned
        series, temp = _heated_building(seed)
        cal = calendar_for(series, "UTC", "GB")
        start = series.start + timedelta(days=210)
        without = evaluate("heated", series, cal, start, series.end, refit_days=30)
        with_t = evaluate("heated", series, cal, start, series.end, refit_days=30, temperature=temp)
        assert with_t.days == without.days == 60
        assert 0.7 <= with_t.p90_coverage <= 0.9, with_t.as_dict()
        ratios.append(with_t.model_mae_kwh / without.model_mae_kwh)
    assert max(ratios) < 0.97 and float(np.mean(ratios)) < 0.93, ratios


def test_the_temperature_features_are_read_and_only_before_the_origin() -> None:
    series, temp = _heated_building(1)
    cal = calendar_for(series, "UTC", "GB")
    origins = cal.origins(series.start, series.end)
    o = int(origins[200])
    model = train(series.values[:o], cal, origins[origins < o], horizon=24, temperature=temp)
    assert model.temperature and model.version == TEMPERATURE_VERSION
    at = np.array([o])
    bands, _ = model.predict(series.values, cal, at, temp)
    future = temp.copy()
    future[o:] += 15.0  # tomorrow's weather is not known at the origin
    assert np.array_equal(bands, model.predict(series.values, cal, at, future)[0])
    colder = temp.copy()
    colder[o - 24: o] -= 10.0  # the day before the origin colder: another forecast
    assert not np.allclose(model.predict(series.values, cal, at, colder)[0], bands)
    with pytest.raises(ValueError, match="trained with outdoor temperature"):
        model.predict(series.values, cal, at)


def test_without_a_series_nothing_changes() -> None:
    series, temp = _heated_building(1)
    cal = calendar_for(series, "UTC", "GB")
    origins = cal.origins(series.start, series.end)[100:110]
    x, *_ = design(series.values, cal, origins, 24)
    xt, *_ = design(series.values, cal, origins, 24, temp)
    assert x.shape[1] == len(FEATURES) and xt.shape[1] == len(FEATURES) + len(TEMPERATURE_FEATURES)
    np.testing.assert_array_equal(xt[:, : len(FEATURES)], x)
    o = int(origins[-1])
    history = cal.origins(series.start, series.end)
    model = train(series.values[:o], cal, history[history < o], horizon=24)
    assert not model.temperature and model.version == MODEL_VERSION
    at = np.array([o])
    # a model trained without the series ignores one passed to it
    np.testing.assert_array_equal(model.predict(series.values, cal, at)[0],
                                  model.predict(series.values, cal, at, temp)[0])


def test_a_sensor_that_knows_too_few_hours_is_not_used() -> None:
    load = np.full(2000, np.nan)
    load[1000:] = 1.0  # a meter installed half-way through the window
    temp = np.full(2000, np.nan)
    temp[:1499] = 5.0  # a sensor that knows half of the window, but not half of the metered hours
    assert not enough_temperature(temp, load) and not enough_temperature(None, load)
    temp[1499] = 5.0
    assert enough_temperature(temp, load)
    assert enough_temperature(temp[:1600], load)  # a shorter series: the hours beyond it are unknown


SITES = """sites:
  - id: s
    buildings:
      - id: b
        floor_area_m2: 100
        zone: GB
        outdoor_temperature: {gateway: gw, device: roof%s}
        meters:
          - {gateway: gw, device: main, role: grid_import}
"""


def test_the_site_model_declares_an_outdoor_temperature_series(tmp_path: Path) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text(SITES % "")
    ref = load_sites(path).building("s", "b").outdoor_temperature
    assert ref is not None and (ref.gateway, ref.device, ref.quantity) == ("gw", "roof", "temperature_c")
    path.write_text(SITES % ", quantity: energy_import_kwh")
    with pytest.raises(ConfigError) as info:
        load_sites(path)
    assert "'energy_import_kwh' is not a temperature quantity" in str(info.value) and "temperature_c" in str(info.value)
    assert info.value.line == 7
    path.write_text((SITES % "").replace("roof}", "roof, unit: F}"))
    with pytest.raises(ConfigError, match="unit"):
        load_sites(path)
