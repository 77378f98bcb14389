"""Which building a device meters, from the site model: the ``building`` tag of readings and meters."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenwire.cloud.ingest.points import BuildingLookup
    from greenwire.cloud.sites import SiteModel


def building_lookup(model: SiteModel) -> BuildingLookup:
    """``building_of(site, gateway, device)`` for the ingestor: the building id, or None if unknown."""
    table = {
        (site.id, meter.gateway, meter.device): building.id
        for site in model.sites
        for building in site.buildings
        for meter in building.meters
    }

    def building_of(site: str, gateway: str, device: str) -> str | None:
        return table.get((site, gateway, device))

    return building_of
