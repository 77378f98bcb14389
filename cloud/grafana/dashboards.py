"""The dashboards facility managers, operators and pilot staff look at, as code.

``greenwire grafana build`` writes them to ``deploy/grafana/dashboards/*.json``. Every
query is InfluxQL against the measurements documented in the README's "InfluxDB schema"
(answered by InfluxDB 1.x, 2.x through a DBRP mapping, and 3). Every panel states its
unit; colours follow thresholds a facility manager can read (green is fine, orange needs
a look, red needs action).

- ``portfolio``: every building of a site: live carbon intensity, emissions today
  against the day's budget, the year's budget status, kgCO2e/m2 ranking, grid intensity
  and the age of the grid data
- ``building``: one building: power, energy by role, emissions location- and
  market-based and of district heat, intensity, PV self-consumption, meter status, share of estimated data,
  grid import beside its day-ahead forecast (P10/P50/P90) and the anomalies found
- ``fleet``: gateways online, buffers, uncommitted readings and resends, poll errors, ingest lag,
  rejected messages
- ``health``: the health pilot, aggregated (no participant identifiers)
- ``zone``: a park's or county's enterprises (their sites): emissions, metered share, ranking
"""

from __future__ import annotations

from typing import Final

from greenwire.cloud.grafana.model import (
    Annotation,
    Dashboard,
    Panel,
    Query,
    Row,
    ValueText,
    Variable,
    steps,
)

G_PER_KWH: Final = "suffix: gCO2e/kWh"
KG: Final = "suffix: kgCO2e"
KG_PER_H: Final = "suffix: kgCO2e/h"
KG_PER_M2: Final = "suffix: kgCO2e/m²"

SITE = Variable("site", "Site", 'SHOW TAG VALUES FROM "carbon" WITH KEY = "site"')
BUILDINGS = Variable(
    "building", "Building", 'SHOW TAG VALUES FROM "carbon" WITH KEY = "building" WHERE "site" =~ /^$site$/',
    multi=True, include_all=True,
)
BUILDING = Variable(
    "building", "Building", 'SHOW TAG VALUES FROM "carbon" WITH KEY = "building" WHERE "site" =~ /^$site$/',
)
FLEET_SITE = Variable(
    "site", "Site", 'SHOW TAG VALUES FROM "gateway_status" WITH KEY = "site"', multi=True, include_all=True
)
GATEWAY = Variable(
    "gateway", "Gateway", 'SHOW TAG VALUES FROM "gateway_status" WITH KEY = "gateway" WHERE "site" =~ /^$site$/',
    multi=True, include_all=True,
)

# Intensity colours: NESO index bands for 2026 (cloud/carbon/data/sources/neso-bands):
# very low and low green, moderate from 90 yellow, high from 170 orange, very high from 231 red.
INTENSITY = steps("green", (90, "yellow"), (170, "orange"), (231, "red"))
BUDGET_PCT = steps("green", (80, "orange"), (100, "red"))
ONLINE = (ValueText("1", "online", "green"), ValueText("0", "offline", "red"))

_NOT_FORECAST = '"status" != \'forecast\''
"""``grid_intensity`` rows that are not forecasts (``greenwire grid run`` tags those ``status=forecast``)."""
_SITE = '"site" =~ /^$site$/'
_BLDG = f'{_SITE} AND "building" =~ /^$building$/'


def portfolio() -> Dashboard:
    return Dashboard(
        uid="greenwire-portfolio",
        title="greenwire / Portfolio",
        description="Every building of a site: live carbon intensity, today's emissions against budget, "
        "the year's budget status, ranking by kgCO2e/m², and the grid's intensity per zone.",
        variables=(SITE, BUILDINGS),
        time_from="now-24h",
        panels=(
            Panel("bargauge", "Live carbon intensity", G_PER_KWH, (Query(
                f'SELECT last("intensity_g_per_kwh") FROM "carbon_live" WHERE {_BLDG} AND $timeFilter '
                'GROUP BY "building"', alias="$tag_building"),),
                description="Carbon intensity of each building's grid electricity over the last 15 measured "
                "minutes (measurement carbon_live, written every minute by `greenwire carbon run`).",
                thresholds=INTENSITY, width=8, decimals=0, min=0),
            Panel("bargauge", "Emissions today against the day's budget", "percent", (Query(
                f'SELECT last("today_budget_used_pct") FROM "carbon_account" WHERE {_BLDG} AND $timeFilter '
                'GROUP BY "building"', alias="$tag_building"),),
                description="Location-based Scope 2, Scope 2 of district heat and Scope 1 emitted since "
                "local midnight, as a share "
                "of the day's part of the annual budget. Over 100 % means today used more than its share.",
                thresholds=BUDGET_PCT, width=8, decimals=0, min=0, max=150),
            Panel("stat", "Budget status (year)", "none", (Query(
                f'SELECT last("status_code") FROM "carbon_account" WHERE {_BLDG} AND $timeFilter '
                'GROUP BY "building"', alias="$tag_building"),),
                description="The year's carbon account: on track, at risk (projected over budget) or over "
                "(emitted more than the budget already). Projection as in `greenwire carbon account`.",
                thresholds=steps("green", (1, "orange"), (2, "red")), width=8,
                mappings=(ValueText("0", "on track", "green"), ValueText("1", "at risk", "orange"),
                          ValueText("2", "over", "red"), ValueText("-1", "no budget", "blue"))),
            Panel("timeseries", "Emissions per hour", KG, (Query(
                f'SELECT sum("scope2_location_kgco2e") FROM "carbon" WHERE "resolution" = \'1h\' AND {_BLDG} '
                'AND $timeFilter GROUP BY time($__interval), "building" fill(null)', alias="$tag_building"),),
                description="Scope 2 location-based emissions of each building, time-matched to the grid's "
                "intensity minute by minute.", width=12, bars=True, stacked=True, interval="1h", decimals=1),
            Panel("table", "Ranking: kgCO2e per m² in the period", KG_PER_M2, (Query(
                f'SELECT sum("kgco2e_per_m2") AS "kgCO2e/m²" '
                f'FROM "carbon_daily" WHERE {_BLDG} AND $timeFilter GROUP BY "building"', format="table"),),
                description="Emissions (Scope 1, location-based Scope 2 and Scope 2 of district heat) per "
                "floor area over the chosen "
                "days, worst first. Choose at least a day: the figures are per local day.",
                width=12, decimals=2, sort_by="kgCO2e/m²", time_from="now-30d",
                thresholds=steps("green", (5, "orange"), (10, "red"))),
            Row("Grid"),
            Panel("timeseries", "Grid carbon intensity per zone", G_PER_KWH, (Query(
                f'SELECT mean("g_per_kwh") FROM "grid_intensity" WHERE {_NOT_FORECAST} AND $timeFilter '
                'GROUP BY time($__interval), "zone" fill(previous)', alias="$tag_zone"),),
                description="The grid's carbon intensity (imported series, live feed or `greenwire grid run`), "
                "per zone; forecasts are left out.",
                thresholds=INTENSITY, color_by_thresholds=True, width=12, interval="30m", min=0),
            Panel("stat", "Grid intensity now", G_PER_KWH, (Query(
                f'SELECT last("g_per_kwh") FROM "grid_intensity" WHERE {_NOT_FORECAST} AND $timeFilter '
                'GROUP BY "zone"', alias="$tag_zone"),),
                description="The latest grid intensity per zone (NESO index band colours).",
                thresholds=INTENSITY, width=6, decimals=0),
            Panel("stat", "Grid data age", "s", (Query(
                'SELECT last("age_s") FROM "grid_status" WHERE $timeFilter GROUP BY "zone"',
                alias="$tag_zone"),),
                description="How old each zone's current grid intensity is (`greenwire grid run`: now minus the "
                "start of the value's period). Through a provider outage the last value is held and this "
                "grows: orange after an hour, red after six, when the value is no longer used.",
                thresholds=steps("green", (3600, "orange"), (21600, "red")), width=6, decimals=0),
        ),
    )


def building() -> Dashboard:
    return Dashboard(
        uid="greenwire-building",
        title="greenwire / Building",
        description="One building: power, energy by role, emissions location- and market-based, "
        "intensity, PV self-consumption, meter status and data quality.",
        variables=(SITE, BUILDING),
        annotations=(Annotation(
            "Anomalies", 'SELECT "detail", "end_ms", "kind", "meter" FROM "anomalies" WHERE '
            f"{_BLDG} AND $timeFilter", text="detail", tags="kind,meter", time_end="end_ms"),),
        time_from="now-7d",
        panels=(
            Panel("timeseries", "Grid power", "kwatt", (Query(
                f'SELECT mean("grid_import_kwh") * 60 FROM "carbon" WHERE "resolution" = \'1m\' AND {_BLDG} '
                'AND $timeFilter GROUP BY time($__interval) fill(null)', alias="grid import"),),
                description="Average grid-import power from the building's grid meters' energy counters, "
                "minute by minute (kWh per minute x 60).", width=16, interval="1m", min=0),
            Panel("stat", "Live intensity", G_PER_KWH, (Query(
                f'SELECT last("intensity_g_per_kwh") FROM "carbon_live" WHERE {_BLDG} AND $timeFilter'),),
                description="Intensity of the building's grid electricity over the last 15 measured minutes.",
                thresholds=INTENSITY, width=4, decimals=0),
            Panel("stat", "Emission rate now", KG_PER_H, (Query(
                f'SELECT last("emission_rate_kg_per_h") FROM "carbon_live" WHERE {_BLDG} AND $timeFilter'),),
                description="kgCO2e per hour over the last 15 measured minutes.",
                thresholds=steps("green"), width=4, decimals=1),
            Panel("timeseries", "Energy by role per day", "kwatth", (Query(
                'SELECT last("grid_import_kwh") AS "grid import", last("grid_export_kwh") AS "grid export", '
                'last("pv_generation_kwh") AS "PV generation", last("gas_kwh") AS "gas", '
                'last("heat_kwh") AS "district heat" '
                f'FROM "carbon_daily" WHERE {_BLDG} AND $timeFilter GROUP BY time(1d) fill(none)'),),
                description="Energy per local day, by the meter's role in the site model. Sub-meters "
                "allocate and are never added. District heat shows for a building with a heat factor.",
                width=12, bars=True, interval="1d", min=0, decimals=0),
            Panel("timeseries", "Emissions per day: location- and market-based", KG, (Query(
                'SELECT last("scope2_location_kgco2e") AS "Scope 2 location-based", '
                'last("scope2_market_kgco2e") AS "Scope 2 market-based", '
                'last("scope2_heat_kgco2e") AS "Scope 2 district heat", last("scope1_kgco2e") AS "Scope 1" '
                f'FROM "carbon_daily" WHERE {_BLDG} AND $timeFilter GROUP BY time(1d) fill(none)'),),
                description="GHG Protocol Scope 2 of electricity both ways (market-based needs the building's "
                "instruments and residual mix in the site model), Scope 2 of purchased district heat (heat x "
                "the building's heat factor; none without one) and Scope 1 from gas.",
                width=12, bars=True, interval="1d", min=0, decimals=1),
            Panel("timeseries", "Carbon intensity per hour", G_PER_KWH, (Query(
                f'SELECT mean("intensity_g_per_kwh") FROM "carbon" WHERE "resolution" = \'1h\' AND {_BLDG} '
                'AND $timeFilter GROUP BY time($__interval) fill(null)', alias="building"),),
                description="kgCO2e per kWh of each hour's grid import, x 1000.",
                thresholds=INTENSITY, color_by_thresholds=True, width=12, interval="1h", min=0),
            Panel("timeseries", "PV self-consumption per day", "kwatth", (Query(
                'SELECT last("pv_self_consumption_kwh") AS "self-consumed", last("grid_export_kwh") AS "exported" '
                f'FROM "carbon_daily" WHERE {_BLDG} AND $timeFilter GROUP BY time(1d) fill(none)'),),
                description="PV generation used in the building (generation minus export, both measured) "
                "and what went to the grid. Empty for a building without PV.",
                width=12, bars=True, stacked=True, interval="1d", min=0, decimals=0),
            Panel("stat", "Meter status", "none", (Query(
                'SELECT last("online") FROM "gateway_device" '
                f'WHERE {_BLDG} AND $timeFilter GROUP BY "gateway", "device"', alias="$tag_device"),),
                description="Each meter of the building as its gateway last reported it (poll errors and "
                "latency per meter are on the Fleet dashboard).",
                width=12, thresholds=steps("red", (1, "green")), mappings=ONLINE),
            Panel("stat", "Share of estimated data", "percent", (Query(
                'SELECT sum("estimated_kwh") / sum("grid_import_kwh") * 100 FROM "carbon" '
                f'WHERE "resolution" = \'1d\' AND {_BLDG} AND $timeFilter'),),
                description="Energy in the period that was interpolated across gaps or flagged, as a share "
                "of the grid import. Above 5 % the figures need a look.",
                thresholds=steps("green", (5, "orange"), (20, "red")), width=6, decimals=1, min=0),
            Panel("stat", "Budget used today", "percent", (Query(
                f'SELECT last("today_budget_used_pct") FROM "carbon_account" WHERE {_BLDG} AND $timeFilter'),),
                description="Emitted since local midnight against the day's share of the annual budget.",
                thresholds=BUDGET_PCT, width=6, decimals=0),
            Panel("timeseries", "Grid import per hour: actual and day-ahead forecast", "kwatth", (
                Query(f'SELECT sum("grid_import_kwh") FROM "carbon" WHERE "resolution" = \'1h\' AND {_BLDG} '
                      'AND $timeFilter GROUP BY time(1h) fill(none)', alias="actual"),
                Query('SELECT last("kwh_p10") AS "forecast P10", last("kwh_p50") AS "forecast P50", '
                      'last("kwh_p90") AS "forecast P90" FROM "carbon_forecast" WHERE "role" = \'grid_import\' '
                      f'AND {_BLDG} AND $timeFilter GROUP BY time(1h) fill(none)')),
                description="Each hour's grid import beside the day-ahead forecast made at local midnight "
                "(greenwire forecast run): P50 the central figure, P10-P90 the band that holds 8 hours in 10. "
                "Set the range's end to now+2d to see the hours ahead.",
                width=16, interval="1h", min=0, decimals=1),
            Panel("bargauge", "Anomalies found: kgCO2e by kind", KG, (Query(
                f'SELECT sum("kgco2e") FROM "anomalies" WHERE {_BLDG} AND $timeFilter GROUP BY "kind"',
                alias="$tag_kind"),),
                description="What greenwire anomalies run found in the building's meters over the range, by "
                "kind (baseload drift, out-of-hours running, step change, frozen counter, stopped reporting, "
                "sub-meters that no longer add up): the kgCO2e of the energy each cost above the expected "
                "load, or left unmeasured, at the factor in force. The findings, with their periods and "
                "confidence, are in measurement anomalies and on MQTT.",
                width=8, min=0, decimals=1, thresholds=steps("green", (1, "orange"))),
            Panel("timeseries", "Emissions per hour: actual and day-ahead forecast", KG, (
                Query(f'SELECT sum("total_kgco2e") FROM "carbon" WHERE "resolution" = \'1h\' AND {_BLDG} '
                      'AND $timeFilter GROUP BY time(1h) fill(none)', alias="actual"),
                Query('SELECT sum("p10") AS "forecast P10", sum("p50") AS "forecast P50", sum("p90") AS "forecast P90" '
                      'FROM (SELECT last("kgco2e_p10") AS "p10", last("kgco2e_p50") AS "p50", last("kgco2e_p90") AS "p90" '
                      f'FROM "carbon_forecast" WHERE {_BLDG} AND $timeFilter GROUP BY time(1h), "role") '
                      'GROUP BY time(1h) fill(none)')),
                description="Each hour's emissions (Scope 1 + Scope 2 location-based + district heat) beside the "
                "day-ahead forecast's: forecast energy of grid import and gas x the zone's forecast intensity where "
                "one is stored, else the factor in force. Set the range's end to now+2d to see the hours ahead.",
                width=12, interval="1h", min=0, decimals=1),
            Panel("timeseries", "Energy estimated or left out, per day", "kwatth", (Query(
                'SELECT last("estimated_kwh") AS "estimated (counted: spread over a gap or since a reset)", '
                'last("excluded_kwh") AS "excluded (replaced or re-based counter: recent rate, not counted)" '
                f'FROM "carbon" WHERE "resolution" = \'1d\' AND {_BLDG} AND $timeFilter GROUP BY time(1d) fill(none)'),),
                description="What the counters could not tell exactly. Estimated energy is counted, its timing "
                "spread; excluded energy (a meter replaced or re-based, an implausible rise rejected) is the "
                "meter's recent rate over those intervals and is never counted. Single bad reads are ignored.",
                width=12, bars=True, interval="1d", min=0, decimals=1),
            Panel("stat", "The year: emitted, projected (P10-P90) and budget", KG, (Query(
                'SELECT last("emitted_kgco2e") AS "emitted", last("projected_p10_kgco2e") AS "projected P10", '
                'last("projected_kgco2e") AS "projected", last("projected_p90_kgco2e") AS "projected P90", '
                f'last("year_budget_kgco2e") AS "budget" FROM "carbon_account" WHERE {_BLDG} AND $timeFilter'),),
                description="The year's carbon account as greenwire carbon account gives it: emitted so far, the "
                "projection for the year (the day-ahead forecast for the hours it covers, P10-P90 its band; "
                "the seasonal or recent-rate method for the rest) and the budget. At risk once the P90 "
                "projection exceeds the budget.", width=12, decimals=0),
        ),
    )


def fleet() -> Dashboard:
    return Dashboard(
        uid="greenwire-fleet",
        title="greenwire / Fleet",
        description="Gateways and the ingestor: who is online, what the buffers hold, which meters fail, "
        "how late data arrives and what is rejected.",
        variables=(FLEET_SITE, GATEWAY),
        time_from="now-6h",
        refresh="30s",
        panels=(
            Panel("stat", "Gateways online", "none", (Query(
                'SELECT sum("online") FROM (SELECT last("online") AS "online" FROM "gateway_status" '
                'WHERE "site" =~ /^$site$/ AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY "gateway")'),),
                description="Gateways whose last status in the range is online (birth or heartbeat).",
                thresholds=steps("red", (1, "green")), width=6),
            Panel("stat", "Gateways offline", "none", (Query(
                'SELECT count("online") - sum("online") FROM (SELECT last("online") AS "online" '
                'FROM "gateway_status" WHERE "site" =~ /^$site$/ AND "gateway" =~ /^$gateway$/ AND $timeFilter '
                'GROUP BY "gateway")'),),
                description="Gateways whose last status is offline: shut down, or their last will (connection lost).",
                thresholds=steps("green", (1, "red")), width=6),
            Panel("state-timeline", "Gateway state", "none", (Query(
                'SELECT last("online") FROM "gateway_status" WHERE "site" =~ /^$site$/ AND "gateway" =~ /^$gateway$/ '
                'AND $timeFilter GROUP BY time($__interval), "gateway" fill(previous)', alias="$tag_gateway"),),
                description="Online and offline over time, per gateway.",
                thresholds=steps("red", (1, "green")), mappings=ONLINE, width=12, interval="1m"),
            Panel("timeseries", "Buffer depth", "suffix: readings", (Query(
                'SELECT max("buffer_readings") FROM "gateway_status" WHERE "site" =~ /^$site$/ '
                'AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY time($__interval), "gateway" fill(null)',
                alias="$tag_gateway"),),
                description="Readings waiting in each gateway's disk buffer. Growing means the uplink or the "
                "broker is not keeping up.", thresholds=steps("green", (10000, "orange"), (100000, "red")),
                color_by_thresholds=True, width=12, interval="1m", min=0),
            Panel("timeseries", "Oldest buffered reading", "s", (Query(
                'SELECT max("oldest_reading_age_s") FROM "gateway_status" WHERE "site" =~ /^$site$/ '
                'AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY time($__interval), "gateway" fill(null)',
                alias="$tag_gateway"),),
                description="Age of the oldest reading still in the buffer: how far behind a gateway is.",
                thresholds=steps("green", (300, "orange"), (3600, "red")), color_by_thresholds=True,
                width=12, interval="1m", min=0),
            Panel("timeseries", "Uncommitted readings", "suffix: readings", (Query(
                'SELECT max("uncommitted_readings") FROM "gateway_status" WHERE "site" =~ /^$site$/ '
                'AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY time($__interval), "gateway" fill(null)',
                alias="$tag_gateway"),),
                description="Readings each gateway has published and the cloud has not yet said are stored "
                "(greenwire.commit.v1): the gateway keeps them and sends them again. Growing means the "
                "ingestor or InfluxDB is away, or commits do not reach the gateway.",
                thresholds=steps("green", (10000, "orange"), (100000, "red")), color_by_thresholds=True,
                width=12, interval="1m", min=0),
            Panel("timeseries", "Oldest uncommitted reading, resends", "s", (Query(
                'SELECT max("oldest_uncommitted_age_s") AS "oldest uncommitted, s", '
                'non_negative_difference(last("resent_batches")) AS "batches sent again" FROM "gateway_status" '
                'WHERE "site" =~ /^$site$/ AND "gateway" =~ /^$gateway$/ AND $timeFilter '
                'GROUP BY time($__interval), "gateway" fill(null)', alias="$tag_gateway $col"),),
                description="How long the oldest published batch has waited for its commit, and the batches "
                "sent again because none came in time. A gateway whose status says delivery mode "
                "puback (a cloud that sends no commits) shows neither.",
                thresholds=steps("green", (120, "orange"), (900, "red")), width=12, interval="1m", min=0),
            Panel("timeseries", "Poll errors per device", "suffix: errors", (Query(
                'SELECT non_negative_difference("errors") FROM "gateway_device" WHERE "site" =~ /^$site$/ '
                'AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY "gateway", "device"',
                alias="$tag_gateway/$tag_device"),),
                description="Failed Modbus requests between two status messages of the gateway, per meter "
                "(the counter's increase; a restart of the agent starts it again from 0).",
                thresholds=steps("green", (1, "orange"), (10, "red")), width=12, bars=True, min=0),
            Panel("timeseries", "Poll latency", "ms", (Query(
                'SELECT mean("poll_latency_ms") FROM "gateway_device" WHERE "site" =~ /^$site$/ '
                'AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY time($__interval), "gateway", "device" '
                'fill(null)', alias="$tag_gateway/$tag_device"),),
                description="Time of the last read of each meter.", width=12, interval="1m", min=0),
            Row("Wearable sources"),
            Panel("timeseries", "Wearable observations per source", "suffix: observations", (Query(
                'SELECT last("received") AS "read", last("forwarded") AS "forwarded", last("rejected") AS "rejected" '
                'FROM "gateway_wearable" WHERE "site" =~ /^$site$/ AND "gateway" =~ /^$gateway$/ AND $timeFilter '
                'GROUP BY time($__interval), "gateway", "source" fill(none)', alias="$tag_source $col"),),
                description="Per wearable source (FHIR server or hub) of each gateway: observations it served, "
                "vitals forwarded to the cloud, observations kept at the gateway. Counters since the agent "
                "started; counts only, never a participant.", width=12, interval="1m", min=0),
            Panel("table", "Wearable rejects by reason", "none", (Query(
                'SELECT last(/^rejected_/) FROM "gateway_wearable" WHERE "site" =~ /^$site$/ '
                'AND "gateway" =~ /^$gateway$/ AND $timeFilter GROUP BY "gateway", "source"'),),
                description="Why observations stayed at the gateway, per source (no_consent, duplicate, "
                "unsupported_code...): the reason codes of docs/health-pilot.md, as last reported.",
                width=12),
            Row("Ingestor"),
            Panel("timeseries", "Ingest lag", "s", (Query(
                'SELECT max("lag_max_s") AS "oldest reading", min("lag_newest_s") AS "newest reading" FROM "ingest_lag" '
                'WHERE "site" =~ /^$site$/ AND "gateway" =~ /^$gateway$/ AND $timeFilter '
                'GROUP BY time($__interval), "gateway" fill(null)', alias="$tag_gateway $col"),),
                description="Time from a meter read to the ingestor receiving it. Seconds normally; a "
                "buffered backlog after an outage shows as hours.",
                thresholds=steps("green", (60, "orange"), (900, "red")), color_by_thresholds=True,
                width=12, interval="10s", min=0),
            Panel("timeseries", "Readings written per second", "suffix: readings/s", (Query(
                'SELECT non_negative_derivative("readings_written", 1s) FROM "ingest_stats" '
                'WHERE $timeFilter GROUP BY "instance"', alias="$tag_instance"),),
                description="Throughput of each ingestor into InfluxDB, between two of its self-metric points.",
                width=12, min=0),
            Panel("timeseries", "Rejected messages by reason", "suffix: messages", (Query(
                'SELECT count("bytes") FROM "ingest_rejected" WHERE $timeFilter '
                'GROUP BY time($__interval), "reason" fill(none)', alias="$tag_reason"),),
                description="Messages the ingestor would not store, by stable reason code; each one is kept "
                "with its payload in the ingestor's rejected-*.jsonl files.",
                thresholds=steps("green", (1, "red")), width=12, bars=True, stacked=True, interval="1m", min=0),
            Panel("stat", "Messages pending", "suffix: messages", (Query(
                'SELECT last("pending_messages") FROM "ingest_stats" WHERE $timeFilter GROUP BY "instance"',
                alias="$tag_instance"),),
                description="Received but not yet stored and acknowledged (InfluxDB slow or down).",
                thresholds=steps("green", (1000, "orange"), (10000, "red")), width=6),
            Panel("stat", "Write retries", "none", (Query(
                'SELECT last("write_retries") FROM "ingest_stats" WHERE $timeFilter GROUP BY "instance"',
                alias="$tag_instance"),),
                description="InfluxDB write attempts that failed and were retried since the ingestor started.",
                thresholds=steps("green", (1, "orange")), width=6),
        ),
    )


def all_dashboards() -> dict[str, Dashboard]:
    """File stem -> dashboard."""
    from greenwire.cloud.grafana.health_pilot import health
    from greenwire.cloud.grafana.zone import zone

    return {"portfolio": portfolio(), "building": building(), "fleet": fleet(), "health": health(), "zone": zone()}
