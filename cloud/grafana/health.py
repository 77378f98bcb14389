"""The health-pilot dashboard (aggregates only: no participant identifiers on shared screens)."""

from __future__ import annotations

from cloud.grafana.model import Dashboard, Panel, Query


def health() -> Dashboard:
    return Dashboard(
        uid="greenwire-health",
        title="greenwire / Health pilot",
        description="The proactive-health pilot, aggregated per site.",
        time_from="now-7d",
        panels=(
            Panel("stat", "Participants monitored", "none", (Query(
                'SELECT count(distinct("subject")) FROM "vitals" WHERE $timeFilter'),)),
        ),
    )
