"""The Zone dashboard: a park's or county's enterprises side by side, from the stored results.

An enterprise is shown as its site (the site model's default zone: every site an enterprise; a
zone's enterprises are groups of sites, ``greenwire zone report``). The site variable picks the
zone's sites. Figures come from the measurements ``carbon`` (daily rows) and ``carbon_daily``
that ``greenwire carbon run`` and ``carbon backfill`` keep, so the zone's total is the sum of its
buildings' stored days, the same figures as their statements.
"""

from __future__ import annotations

from greenwire.cloud.grafana.model import Dashboard, Panel, Query, Row, Variable, steps

KG = "suffix: kgCO2e"
KWH = "suffix: kWh"
KG_PER_M2 = "suffix: kgCO2e/m²"

ZONE_SITES = Variable("site", "Sites of the zone", 'SHOW TAG VALUES FROM "carbon" WITH KEY = "site"',
                      multi=True, include_all=True)
_DAYS = '"resolution" = \'1d\' AND "site" =~ /^$site$/'


def zone() -> Dashboard:
    return Dashboard(
        uid="greenwire-zone",
        title="greenwire / Zone",
        description="A park's or county's enterprises (their sites) side by side: the zone's emissions, each "
        "enterprise's emissions per day, the buildings ranked by kgCO2e/m², and how much of each "
        "enterprise's grid electricity was metered rather than estimated.",
        tags=("greenwire", "zone"),
        variables=(ZONE_SITES,),
        time_from="now-30d",
        panels=(
            Panel("stat", "Zone emissions in the period", KG, (Query(
                f'SELECT sum("total_kgco2e") FROM "carbon" WHERE {_DAYS} AND $timeFilter'),),
                description="Scope 1 + Scope 2 location-based + Scope 2 of district heat of every building of "
                "the chosen sites, summed over their stored local days (the figures of their statements).",
                thresholds=steps("blue"), width=6, decimals=0),
            Panel("bargauge", "Emissions by enterprise", KG, (Query(
                f'SELECT sum("total_kgco2e") FROM "carbon" WHERE {_DAYS} AND $timeFilter GROUP BY "site"',
                alias="$tag_site"),),
                description="Each enterprise's (site's) emissions over the period, its buildings summed.",
                thresholds=steps("blue"), width=9, decimals=0, min=0),
            Panel("bargauge", "Metered share of grid electricity", "percent", (Query(
                'SELECT 100 * (sum("grid_import_kwh") - sum("estimated_kwh")) / '
                f'(sum("grid_import_kwh") + sum("excluded_kwh")) FROM "carbon" WHERE {_DAYS} AND $timeFilter '
                'GROUP BY "site"', alias="$tag_site"),),
                description="(grid import - estimated) / (grid import + excluded): the part of each enterprise's "
                "grid electricity that was metered, not spread over a gap or left out for a replaced or "
                "re-based counter.", thresholds=steps("red", (90, "orange"), (98, "green")), width=9,
                decimals=1, min=0, max=100),
            Row("Per day"),
            Panel("timeseries", "Emissions per day by enterprise", KG, (Query(
                f'SELECT sum("total_kgco2e") FROM "carbon" WHERE {_DAYS} AND $timeFilter '
                'GROUP BY time(1d), "site" fill(null)', alias="$tag_site"),),
                description="Each enterprise's emissions per local day, stacked: the zone's daily total.",
                width=12, bars=True, stacked=True, interval="1d", decimals=1),
            Panel("timeseries", "Grid electricity per day by enterprise", KWH, (Query(
                f'SELECT sum("grid_import_kwh") FROM "carbon" WHERE {_DAYS} AND $timeFilter '
                'GROUP BY time(1d), "site" fill(null)', alias="$tag_site"),),
                description="Grid import of each enterprise's buildings per local day.",
                width=12, bars=True, stacked=True, interval="1d", decimals=0),
            Row("Ranking"),
            Panel("table", "Ranking: buildings of the zone by kgCO2e per m²", KG_PER_M2, (Query(
                'SELECT sum("kgco2e_per_m2") AS "kgCO2e/m²" FROM "carbon_daily" WHERE "site" =~ /^$site$/ '
                'AND $timeFilter GROUP BY "site", "building"', format="table"),),
                description="Emissions per floor area of each building of the zone over the chosen days, worst "
                "first (`greenwire zone report` gives the same per enterprise, and per tonne of output).",
                width=24, decimals=2, sort_by="kgCO2e/m²", thresholds=steps("green", (5, "orange"), (10, "red"))),
        ),
    )
