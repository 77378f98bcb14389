"""Day-ahead forecast skill on the real buildings, and what training costs.

For every building of :mod:`bench.buildings` and role: a rolling-origin backtest over its scored
year (a forecast at every local midnight for the next 24 h, the model retrained every
``BENCH_FORECAST_REFIT`` days, 7; 28 with ``BENCH_QUICK=1``) against the seasonal-naive forecast
(the same hour a week earlier): MAE of each, their ratio (target <= 0.8) and the share of hours
inside the P10-P90 band (target 75-85 %). A building with an outdoor temperature series (the
Cambridge buildings: Met Office observations at Bedford) is backtested twice, without and with the
temperature features (temperatures before each origin only: no weather forecast is read), so the
figures without stay comparable with earlier runs and the feature's effect is measured on its
own; the same targets hold for both. Then the cost: CPU seconds to train on a year of one
building's hourly data, the trained model's pickled size, and the process's peak RSS after
training ``BENCH_FORECAST_FLEET`` (100) buildings' models one after another (the service keeps
none of them: each building's forecast is stored, its model discarded).

``python -m bench.forecast`` runs this section alone and prints the table.
"""

from __future__ import annotations

import os
import pickle
import resource
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench.buildings import BUILDINGS, building
from bench.common import QUICK, env_int

RATIO_TARGET = 0.8
COVERAGE_TARGET = (0.75, 0.85)


def skill_table(progress: Any = None) -> list[dict[str, Any]]:
    from greenwire.cloud.forecast.backtest import evaluate

    refit = env_int("BENCH_FORECAST_REFIT", 7, 28)
    only = {n for n in os.environ.get("BENCH_FORECAST_BUILDINGS", "").split(",") if n}
    rows = []
    for b in BUILDINGS:
        if only and b.name not in only:
            continue
        if progress:
            progress(f"rolling-origin backtest: {b.name} {b.role}")
        series = b.series()
        t0 = time.monotonic()
        skill = evaluate(b.name, series, b.calendar(series), b.score_from, b.score_to, refit_days=refit)
        row = {"role": b.role, **skill.as_dict(), "wall_s": round(time.monotonic() - t0, 1), "refit_days": refit}
        temperature = b.temperature(series)
        if temperature is not None:
            if progress:
                progress(f"rolling-origin backtest: {b.name} {b.role} with outdoor temperature")
            t0 = time.monotonic()
            warm = evaluate(b.name, series, b.calendar(series), b.score_from, b.score_to, refit_days=refit,
                            temperature=temperature)
            row["with_temperature"] = {**warm.as_dict(), "wall_s": round(time.monotonic() - t0, 1)}
        rows.append(row)
    return rows


def cost() -> dict[str, Any]:
    """CPU to train on a year, the model's size, and peak RSS over a fleet of trainings."""
    from greenwire.cloud.forecast.model import train

    b = building("cambridge-b2")
    series = b.series()
    cal = b.calendar(series)
    origins = cal.origins(series.start, series.end)
    year = origins[origins + 48 <= len(series)]
    t0 = time.process_time()
    model = train(series.values, cal, year, horizon=48)
    fit_cpu = time.process_time() - t0
    size = len(pickle.dumps(model))
    fleet = env_int("BENCH_FORECAST_FLEET", 100, 20)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = np.random.default_rng(0)
    t1 = time.monotonic()
    for _ in range(fleet):  # every building a real year, scaled: same work, different values
        scaled = series.values * rng.uniform(0.2, 5.0)
        train(scaled, cal, year, horizon=48)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"train_rows": model.rows, "train_cpu_s_one_year": round(fit_cpu, 2), "model_bytes": size,
            "fleet_buildings": fleet, "fleet_wall_s": round(time.monotonic() - t1, 1),
            "peak_rss_mb_before_fleet": round(rss0, 1), "peak_rss_mb_after_fleet": round(rss1, 1)}


def run(progress: Any = None) -> dict[str, Any]:
    rows = skill_table(progress)
    if progress:
        progress("training cost: one year, then a fleet")
    return {"buildings": rows, "cost": cost(), "quick": QUICK,
            "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def table_rows(result: dict[str, Any], row: Any) -> list[list[str]]:
    """The bench table's rows (``row`` is bench.__main__._row)."""
    out = []
    lo, hi = COVERAGE_TARGET
    for r in result["buildings"]:
        out.append(row(f"forecast {r['building']} {r['role']}: day-ahead MAE kWh ({r['days']} days, "
                       f"refit {r['refit_days']} d)", f"{r['model_mae_kwh']:.3f}",
                       f"{r['baseline_mae_kwh']:.3f} (seasonal naive, week before)", f"{r['ratio']:.3f}",
                       "<= 0.8", r["ratio"] <= RATIO_TARGET))
        out.append(row(f"forecast {r['building']} {r['role']}: hours inside P10-P90", f"{100 * r['p90_coverage']:.1f} %",
                       "-", "-", "75-85 %", lo <= r["p90_coverage"] <= hi))
        t = r.get("with_temperature")
        if t:
            out.append(row(f"forecast {r['building']} {r['role']} with outdoor temperature: day-ahead MAE kWh "
                           f"({t['days']} days)", f"{t['model_mae_kwh']:.3f}",
                           f"{t['baseline_mae_kwh']:.3f} (seasonal naive, week before)", f"{t['ratio']:.3f}",
                           "<= 0.8", t["ratio"] <= RATIO_TARGET))
            out.append(row(f"forecast {r['building']} {r['role']} with outdoor temperature: hours inside P10-P90",
                           f"{100 * t['p90_coverage']:.1f} %", "-", "-", "75-85 %", lo <= t["p90_coverage"] <= hi))
    c = result["cost"]
    out.append(row(f"forecast: CPU s to train a year ({c['train_rows']:,} rows, 3 quantiles)",
                   f"{c['train_cpu_s_one_year']:.2f}", "-", "-", "seconds", c["train_cpu_s_one_year"] < 10))
    out.append(row(f"forecast: peak RSS MB after training {c['fleet_buildings']} buildings (model {c['model_bytes'] // 1024} KiB)",
                   f"{c['peak_rss_mb_after_fleet']:.0f}", f"{c['peak_rss_mb_before_fleet']:.0f} (before the fleet)",
                   f"{c['peak_rss_mb_after_fleet'] / max(c['peak_rss_mb_before_fleet'], 1):.2f}", "bounded", None))
    return out


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from bench.__main__ import HEADER, _row

    result = run(lambda text: print(text, flush=True))
    table = Table(*HEADER, title="greenwire bench: forecast")
    for r in table_rows(result, _row):
        table.add_row(*r)
    Console().print(table)


if __name__ == "__main__":
    main()
