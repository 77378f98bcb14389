"""The carbon cost of care: a health-pilot site's building emissions per monitored participant-day.

A participant-day is one participant with at least one valid observation on one local day
at the site. The site's emissions of that day are the carbon engine's own figures for each
of its buildings (``greenwire.cloud.carbon.fetch.account_from_influx``: Scope 2 location-based,
minute-matched to the zone's grid intensity, plus Scope 1 from gas and Scope 2 of district heat
where the building has a heat factor), summed; the factors used, with their sources, travel with
the result.

    kgCO2e per participant-day = sum over the site's buildings (Scope 2 location + Scope 2 heat
                                 + Scope 1) / participant-days

This attributes the whole building to care, which is right for a care home and an upper
bound for a mixed-use site; a pilot with shared buildings lists only the care buildings
under the site in the carbon site model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.carbon.fetch import account_from_influx
from greenwire.cloud.carbon.report import Account
from greenwire.cloud.sites import SiteModel


@dataclass(frozen=True, slots=True)
class SiteEmissions:
    """A site's emissions over a period, with the buildings and factor sources behind them."""

    site: str
    start: datetime
    end: datetime
    kgco2e: float
    buildings: tuple[str, ...]
    sources: str


def site_emissions(site: str, start: datetime, end: datetime, accounts: Sequence[Account]) -> SiteEmissions:
    """The site's emissions in [start, end) from its buildings' accounts of that period (pure)."""
    sources = sorted({source for a in accounts for source in a.factors})
    return SiteEmissions(site, start, end, sum(a.total_kgco2e for a in accounts), tuple(a.building for a in accounts),
                         "; ".join(sources))


def site_day_emissions(energy: InfluxQLClient, sites: SiteModel, site: str, start: datetime,
                       end: datetime) -> SiteEmissions | None:
    """The site's buildings' emissions in [start, end), or None if the site model has no such site."""
    match = next((s for s in sites.sites if s.id == site), None)
    if match is None or end <= start:
        return None
    return site_emissions(site, start, end, [account_from_influx(energy, b, start, end) for b in match.buildings])


def per_participant_day(kgco2e: float, participant_days: float) -> float | None:
    """kgCO2e per participant-day, or None when nobody was monitored (no division by zero)."""
    return kgco2e / participant_days if participant_days > 0 else None
