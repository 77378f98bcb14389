"""The health-pilot dashboard: a shared screen, so aggregates only and no participant identifiers.

Built against the health service's layout (``docs/health-schema.md``): the pilot's own
database ``greenwire_health`` (datasource ``greenwire-influxdb-health``), retention policies
named in every query. Following that document's privacy rules, it reads only the site-level
measurements, ``aggregates.health_site``, the sensors' ``raw.environment`` and counts of
``raw.health_alerts`` grouped by site and rule; never ``vitals``, ``vitals_1h`` or the
``subject`` tag (a pseudonym is still personal data). A unit test enforces this.
"""

from __future__ import annotations

from typing import Final

from greenwire.cloud.grafana.model import (
    HEALTH_DATASOURCE_UID,
    Dashboard,
    Panel,
    Query,
    Row,
    Variable,
    steps,
)

ALLOWED_MEASUREMENTS: Final = frozenset({
    '"aggregates"."health_site"', '"raw"."environment"', '"aggregates"."environment_1h"', '"raw"."health_alerts"',
})
"""What a shared screen may read (docs/health-schema.md, "Privacy rules for dashboards")."""

SITE = Variable("site", "Site", 'SHOW TAG VALUES FROM "aggregates"."health_site" WITH KEY = "site"',
                multi=True, include_all=True, datasource=HEALTH_DATASOURCE_UID)
_SITE = '"site" =~ /^$site$/'
PER_DAY: Final = "suffix: kgCO2e/participant-day"


def _q(sql: str, alias: str | None = None) -> Query:
    return Query(sql, alias=alias, datasource=HEALTH_DATASOURCE_UID)


def health() -> Dashboard:
    return Dashboard(
        uid="greenwire-health",
        title="greenwire / Health pilot",
        description="The proactive-health pilot per site: participants monitored, the carbon cost of care "
        "per participant-day, the indoor environment they live in, and alerts, counted by rule. "
        "No participant identifiers: aggregates and sensors only.",
        tags=("greenwire", "health"),
        variables=(SITE,),
        time_from="now-7d",
        refresh="5m",
        panels=(
            Panel("stat", "Participants monitored today", "none", (_q(
                f'SELECT last("participants") FROM "aggregates"."health_site" WHERE "resolution" = \'1d\' '
                f'AND {_SITE} AND $timeFilter GROUP BY "site"', alias="$tag_site"),),
                description="Participants with at least one valid observation today (local day of the site).",
                # Not "now/d": Grafana rounds that in the viewer's timezone, and a site's local day starts
                # earlier (Europe/London in summer, any site east of the viewer), so its daily point fell
                # outside. The last 24 h always hold the start of the site's current day and no earlier one.
                thresholds=steps("blue"), width=6, time_from="now-24h"),
            Panel("stat", "Alerts active", "none", (_q(
                f'SELECT last("alerts_active") FROM "aggregates"."health_site" WHERE "resolution" = \'1h\' '
                f'AND {_SITE} AND $timeFilter GROUP BY "site"', alias="$tag_site"),),
                description="Alerts raised and not yet cleared, all rules (participant and environment).",
                thresholds=steps("green", (1, "orange"), (3, "red")), width=6, time_from="now-2h"),
            Panel("stat", "kgCO2e per participant-day (period)", PER_DAY, (_q(
                f'SELECT sum("kgco2e") / sum("participant_days") FROM "aggregates"."health_site" '
                f'WHERE "resolution" = \'1d\' AND {_SITE} AND $timeFilter GROUP BY "site"', alias="$tag_site"),),
                description="The site buildings' emissions (Scope 2 location-based + Scope 1, carbon engine) "
                "divided by the participant-days monitored in the period.",
                thresholds=steps("green", (15, "orange"), (30, "red")), width=12, decimals=1),
            Panel("timeseries", "Participants monitored per day", "none", (_q(
                f'SELECT last("participants") FROM "aggregates"."health_site" WHERE "resolution" = \'1d\' '
                f'AND {_SITE} AND $timeFilter GROUP BY time(1d), "site" fill(none)', alias="$tag_site"),),
                description="Distinct participants with valid observations each local day.",
                width=12, bars=True, interval="1d", min=0, decimals=0),
            Panel("timeseries", "kgCO2e per participant-day", PER_DAY, (_q(
                f'SELECT last("kgco2e_per_participant_day") FROM "aggregates"."health_site" '
                f'WHERE "resolution" = \'1d\' AND {_SITE} AND $timeFilter GROUP BY time(1d), "site" fill(none)',
                alias="$tag_site"),),
                description="Each day's emissions of the site's buildings per participant monitored that day.",
                thresholds=steps("green", (15, "orange"), (30, "red")), width=12, bars=True, interval="1d",
                min=0, decimals=1),
            Row("Environment"),
            Panel("timeseries", "Hours above the heat and CO2 thresholds per day", "h", (_q(
                'SELECT sum("heat_exposure_h") AS "heat index above threshold", '
                'sum("co2_exposure_h") AS "CO2 above threshold" FROM "aggregates"."health_site" '
                f'WHERE "resolution" = \'1h\' AND {_SITE} AND $timeFilter GROUP BY time(1d) fill(0)'),),
                description="Hours in which at least one sensor of the site read a heat index above 32 °C or "
                "CO2 above 1200 ppm (the pilot's indoor alert thresholds).",
                thresholds=steps("green", (1, "orange"), (4, "red")), width=12, bars=True, interval="1d", min=0),
            Panel("timeseries", "Indoor CO2 per sensor", "ppm", (_q(
                f'SELECT mean("co2_ppm") FROM "raw"."environment" WHERE {_SITE} AND $timeFilter '
                'GROUP BY time($__interval), "site", "device" fill(null)', alias="$tag_site $tag_device"),),
                description="Rooms, not persons: the site's indoor-environment sensors.",
                thresholds=steps("green", (1000, "orange"), (1200, "red")), color_by_thresholds=True,
                width=12, interval="1m", min=0),
            Panel("timeseries", "Indoor heat index per sensor", "celsius", (_q(
                f'SELECT max("heat_index_c") FROM "raw"."environment" WHERE {_SITE} AND $timeFilter '
                'GROUP BY time($__interval), "site", "device" fill(null)', alias="$tag_site $tag_device"),),
                description="NOAA/NWS heat index from temperature and humidity; caution from 27 °C, extreme "
                "caution from 32 °C, danger from 41 °C.",
                thresholds=steps("green", (27, "yellow"), (32, "orange"), (41, "red")), color_by_thresholds=True,
                width=12, interval="1m"),
            Row("Alerts"),
            Panel("timeseries", "Alerts raised per rule", "suffix: alerts", (_q(
                f'SELECT count("value") FROM "raw"."health_alerts" WHERE "state" = \'raised\' AND {_SITE} '
                'AND $timeFilter GROUP BY time(1h), "rule" fill(none)', alias="$tag_rule"),),
                description="Alert events raised per hour, by rule (participant and environment rules); "
                "counted, never listed by participant.",
                thresholds=steps("green", (1, "orange")), width=12, bars=True, stacked=True, interval="1h", min=0),
            Panel("timeseries", "Alerts raised per day", "suffix: alerts", (_q(
                'SELECT sum("alerts_participant") AS "participant rules", '
                'sum("alerts_environment") AS "environment rules" FROM "aggregates"."health_site" '
                f'WHERE "resolution" = \'1d\' AND {_SITE} AND $timeFilter GROUP BY time(1d) fill(none)'),),
                description="Alerts raised per local day, participant rules against environment rules.",
                width=12, bars=True, stacked=True, interval="1d", min=0, decimals=0),
        ),
    )
