"""Wire format ``greenwire.carbon.v1``: a building's retained carbon signal, for its BMS.

Published by ``greenwire carbon run`` on ``greenwire/v1/{site}/carbon/{building}`` (retained,
QoS 1) every update::

    {"schema": "greenwire.carbon.v1", "site": "campus", "building": "b2",
     "ts": "2026-11-22T10:01:00Z",                 # end of the live 15-minute window
     "intensity_g_per_kwh": 231.4, "emission_rate_kg_per_h": 12.35,
     "today_kgco2e": 48.1, "today_budget_kgco2e": 100.0,
     "grid_intensity_g_per_kwh": 229.0, "grid_band": "moderate",
     "band_scheme": "NESO carbon intensity index bands",
     "forecast_source": "NESO Carbon Intensity API (CC BY 4.0)", "forecast_load_kw": 53.4,
     "forecast": [{"start": "...Z", "end": "...Z", "g_per_kwh": 224.0,
                   "emission_rate_kg_per_h": 11.96}, ...],
     "best_windows": [{"duration_h": 1, "start": "...Z", "end": "...Z", "g_per_kwh": 152.5,
                       "now_g_per_kwh": 231.0, "saving_g_per_kwh": 78.5,
                       "saving_percent": 34.0}, ...]}

Like the Carbon Aware SDK's ``forecasts`` and ``best`` answers: ``forecast`` is the zone's
stored grid forecast for the next 24 h with the building's emission rate in each period at
its present load (``forecast_load_kw``, the mean power of the live window), and
``best_windows`` the lowest-intensity contiguous window of 1, 2, 4 and 8 h in the next 24 h
with its mean intensity and the saving against starting now (``start`` null and a
``reason`` when none fits; a missing comparison is null, never 0).

Versioning: v1 grows only by optional fields (``today_budget_kgco2e``, then the forecast
fields and ``best_windows`` were added so), so a signal of the first v1 shape still
validates, and a consumer must ignore fields it does not know (the model does; the JSON
Schema leaves ``additionalProperties`` open for that reason). Renaming, retyping or removing
a field takes ``greenwire.carbon.v2``.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from greenwire.shared.wire import Id, UtcDatetime

CARBON_SCHEMA: Final = "greenwire.carbon.v1"

_OPEN = ConfigDict(frozen=True, extra="ignore", strict=False)


class ForecastPeriod(BaseModel):
    """One period of the zone's forecast, and the building's emission rate in it at its present load."""

    model_config = _OPEN

    start: UtcDatetime
    end: UtcDatetime
    g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    emission_rate_kg_per_h: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="g_per_kwh x forecast_load_kw / 1000.")


class BestWindow(BaseModel):
    """The cleanest contiguous window of one duration in the next 24 h (start null: none fits)."""

    model_config = _OPEN

    duration_h: float = Field(gt=0)
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    g_per_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                    description="Mean grid intensity of the window.")
    now_g_per_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                        description="Mean over the same duration from now (null: not covered).")
    saving_g_per_kwh: float | None = Field(default=None, allow_inf_nan=False)
    saving_percent: float | None = Field(default=None, allow_inf_nan=False)
    reason: str | None = Field(default=None, description="Why no window fits (start is then null).")


class CarbonSignalMessage(BaseModel):
    """A building's carbon signal (see the module docstring)."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        title=CARBON_SCHEMA,
        json_schema_extra={
            "$id": "https://greenwire.dev/schemas/greenwire.carbon.v1.json",
            "description": "A building's retained carbon signal on greenwire/v1/{site}/carbon/{building}. "
            "v1 grows only by optional fields: consumers ignore fields they do not know.",
        },
    )

    schema_: Literal["greenwire.carbon.v1"] = Field(alias="schema")
    site: Id
    building: Id
    ts: UtcDatetime = Field(description="End of the live 15-minute window.")
    intensity_g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    emission_rate_kg_per_h: float = Field(ge=0, allow_inf_nan=False)
    today_kgco2e: float = Field(allow_inf_nan=False)
    grid_intensity_g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    grid_band: str
    band_scheme: str
    today_budget_kgco2e: float | None = Field(default=None, allow_inf_nan=False)
    forecast_source: str | None = Field(default=None, description="Who made the forecast (null: none stored).")
    forecast_load_kw: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="The present load the forecast emission rates assume.")
    forecast: tuple[ForecastPeriod, ...] = ()
    best_windows: tuple[BestWindow, ...] = ()


def carbon_json_schema() -> dict[str, object]:
    """JSON Schema of ``greenwire.carbon.v1`` (what ``shared/schemas`` holds)."""
    return CarbonSignalMessage.model_json_schema(by_alias=True, mode="validation")
