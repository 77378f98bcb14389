"""What a CBAM report reads from InfluxDB: the counters of an installation's meters (with the
carbon engine's read margin), through the InfluxQL client, then :func:`cbam_report`."""

from __future__ import annotations

from datetime import datetime

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.carbon.fetch import device_limits
from greenwire.cloud.carbon.meters import READ_MARGIN, Counter, local_days
from greenwire.cloud.carbon.report import FIELD_OF_ROLE
from greenwire.cloud.cbam.model import Installation
from greenwire.cloud.cbam.report import CbamReport, cbam_report
from greenwire.cloud.sites import Site

PRODUCTION_FIELD = {"t": "production_mass_t", "pieces": "production_count_pcs"}
ELECTRICITY_FIELD = {**FIELD_OF_ROLE, "sub_meter": "energy_import_kwh"}


def fetch_installation(influx: InfluxQLClient, site: Site, installation: Installation, start: datetime,
                       end: datetime) -> tuple[dict[str, Counter], dict[str, tuple[str, Counter]]]:
    """Every counter of the installation's buildings the report needs, by device; gas with its field
    (the whole local days the period touches, with the carbon engine's margin)."""
    unit_of = {p.meter: p.unit for process in installation.processes for p in process.products}
    counters: dict[str, Counter] = {}
    gas: dict[str, tuple[str, Counter]] = {}
    for building in site.buildings:
        if building.id not in installation.buildings:
            continue
        # whole local days, as the carbon engine reads them: each day is classified on its own readings
        days = local_days(start, end, building.timezone)
        since, until = days[0][0] - READ_MARGIN, days[-1][1] + READ_MARGIN
        for meter in building.meters:
            if meter.role == "production":
                field = PRODUCTION_FIELD[unit_of[meter.device]] if meter.device in unit_of else None
            elif meter.role == "gas":
                for field_name in ("gas_volume_m3", "gas_energy_kwh"):
                    readings = influx.counter(meter.gateway, meter.device, since, until, field_name)
                    if readings:
                        gas[meter.device] = (field_name, readings)
                        break
                continue
            else:
                field = ELECTRICITY_FIELD.get(meter.role)
            if field is not None:
                counters[meter.device] = influx.counter(meter.gateway, meter.device, since, until, field)
    return counters, gas


def report_from_influx(influx: InfluxQLClient, site: Site, installation: Installation, start: datetime,
                       end: datetime) -> CbamReport:
    counters, gas = fetch_installation(influx, site, installation, start, end)
    limits = {device: kw for b in site.buildings if b.id in installation.buildings
              for device, kw in device_limits(influx, b).items()}
    return cbam_report(site, installation, counters, gas, start, end, limits)
