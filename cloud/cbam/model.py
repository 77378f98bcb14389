"""The industrial part of the site model: installations, production processes, products, precursors.

An installation (EU CBAM: Regulation (EU) 2023/956, Art. 3(31)) belongs to a site of the site
model (:mod:`greenwire.cloud.sites`) and names the buildings whose meters it owns::

    sites:
      - id: plant
        buildings:
          - id: hall
            ...
            meters:
              - {gateway: gw-plant, device: main, role: grid_import}
              - {gateway: gw-plant, device: line-a, role: sub_meter}
              - {gateway: gw-plant, device: bolts-count, role: production}
        installations:
          - id: works
            address: "12 Industrial Road, Wujin, Changzhou"
            country: CN
            buildings: [hall]
            on_site_generation:                 # PV behind the grid meter: its own factor, with evidence
              - {meter: pv, g_per_kwh: 0, evidence: "direct technical link: the hall's roof array"}
            grid_factor: {value: 537, source: "...", year: 2025}   # optional: else the factor library's
            ppas:                               # optional: grid import a PPA covers, at its factor
              - {kwh: 120000, from: 2026-01-01, to: 2027-01-01, g_per_kwh: 12, evidence: "contract W-17"}
            shared:                             # consumption no process meters alone
              - {meter: compressors, by: mass}  # or by: sub_meter, or by: declared, shares: {a: 0.6, b: 0.4}
            processes:
              - id: bolts
                meters: [line-a, furnace]       # its own sub-meters and fuel meters
                products:
                  - {product: "Screws and bolts", cn_code: "7318 15", meter: bolts-count,
                     unit: pieces, kg_per_piece: 0.05}
                precursors:
                  - {name: "Semi-finished steel", cn_code: "7207 19 19", t_per_t: 1.05, country: CN,
                     values: eu_default}        # or {see_direct, see_indirect, source, year} from the supplier

Meters are named by device id; each must be a meter of one of the installation's buildings with a
role that fits (electricity ``sub_meter`` or ``grid_import``, fuel ``gas``, product ``production``).
The checks that need the buildings' meters run in :meth:`Installation.check`, called by the site
model, so every error names the file and line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from greenwire.cloud.cbam.defaults import load_cbam_data
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import LocatedValueError

_FROZEN = ConfigDict(frozen=True, extra="forbid")

ELECTRICITY_ROLES = frozenset({"sub_meter", "grid_import"})
FUEL_ROLES = frozenset({"gas"})
HEAT_ROLES = frozenset({"heat"})
"""Measurable heat bought in (district heat): its emissions count as the process's direct emissions."""
CnCode = Annotated[str, Field(pattern=r"^\d{4}( ?\d{2}){0,3}$", description="CN code, e.g. '7318 15' or '72071919'.")]


class Product(BaseModel):
    """A good a process makes, counted by a production meter."""

    model_config = _FROZEN

    product: str = Field(min_length=1)
    cn_code: CnCode
    meter: Id = Field(description="The production counter (a meter with role 'production').")
    unit: Literal["t", "pieces"]
    kg_per_piece: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _mass(self) -> Self:
        if self.unit == "pieces" and self.kg_per_piece is None:
            raise LocatedValueError("a product counted in pieces needs kg_per_piece", loc=("unit",))
        if self.unit == "t" and self.kg_per_piece is not None:
            raise LocatedValueError("kg_per_piece is only for products counted in pieces", loc=("kg_per_piece",))
        return self


class SupplierValues(BaseModel):
    """A precursor's specific embedded emissions as its supplier communicated them."""

    model_config = _FROZEN

    see_direct: float = Field(ge=0, allow_inf_nan=False, description="tCO2e per tonne.")
    see_indirect: float = Field(default=0.0, ge=0, allow_inf_nan=False, description="tCO2e per tonne.")
    source: str = Field(min_length=1, description="The supplier's communication (installation, report id).")
    year: int = Field(ge=2023, le=2100)


PrecursorValues = Annotated[
    Annotated[Literal["eu_default"], Tag("default")] | Annotated[SupplierValues, Tag("supplier")],
    Discriminator(lambda value: "default" if isinstance(value, str) else "supplier"),
]


class Precursor(BaseModel):
    """A bought-in input whose embedded emissions count into the product (CBAM complex goods)."""

    model_config = _FROZEN

    name: str = Field(min_length=1)
    cn_code: CnCode
    t_per_t: float = Field(gt=0, allow_inf_nan=False, description="Tonnes of precursor per tonne of product.")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="Country of origin (ISO 3166), for EU default values.")
    values: PrecursorValues

    @model_validator(mode="after")
    def _default_known(self) -> Self:
        if self.values == "eu_default":
            try:
                load_cbam_data().default(self.cn_code, self.country)
            except KeyError as exc:
                raise LocatedValueError(exc.args[0], loc=("values",)) from None
        return self


class Process(BaseModel):
    """A production process: the meters that feed it, what it makes, what it takes in."""

    model_config = _FROZEN

    id: Id
    name: str = ""
    meters: tuple[Id, ...] = Field(default=(), description="Its own electricity sub-meters and fuel meters.")
    products: tuple[Product, ...] = Field(min_length=1)
    precursors: tuple[Precursor, ...] = ()


class GridFactor(BaseModel):
    """The electricity factor of the installation's grid, where the site model gives it: the
    Commission's default for the country, or another published factor of the country's grid."""

    model_config = _FROZEN

    value: float = Field(ge=0, allow_inf_nan=False, description="gCO2(e) per kWh consumed.")
    source: str = Field(min_length=1, description="Who publishes it, and where.")
    year: int = Field(ge=1990, le=2100)


class Ppa(BaseModel):
    """Electricity bought under a power purchase agreement, at the generator's own factor."""

    model_config = _FROZEN

    kwh: float = Field(gt=0, allow_inf_nan=False, description="Energy over the contract's period (spread evenly).")
    start: date = Field(alias="from")
    end: date = Field(alias="to", description="Exclusive.")
    g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    evidence: str = Field(min_length=1, description="The contract, and the generator's emission data.")

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.end <= self.start:
            raise LocatedValueError("'to' must be after 'from'", loc=("to",))
        return self


class OnSiteGeneration(BaseModel):
    """Electricity generated on site (or bought under a PPA) with its own factor and the evidence for it."""

    model_config = _FROZEN

    meter: Id = Field(description="Its generation meter (role pv_generation).")
    g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    evidence: str = Field(min_length=1, description="Direct technical link or PPA, and where it is documented.")


class SharedMeter(BaseModel):
    """A meter several processes share, and how its energy is split between them."""

    model_config = _FROZEN

    meter: Id
    by: Literal["sub_meter", "mass", "declared"] = Field(
        description="sub_meter: in proportion to each process's own metered electricity; mass: to the tonnes "
                    "each produced; declared: the shares given.")
    shares: dict[Id, float] | None = Field(default=None, description="declared: process id -> share, summing to 1.")

    @model_validator(mode="after")
    def _shares(self) -> Self:
        if self.by == "declared":
            if not self.shares or any(v < 0 for v in self.shares.values()) or abs(sum(self.shares.values()) - 1) > 1e-6:
                got = sum((self.shares or {}).values())
                raise LocatedValueError(f"declared shares must be non-negative and sum to 1 (they sum to {got:g})",
                                        loc=("shares",))
        elif self.shares is not None:
            raise LocatedValueError(f"shares are only for by: declared (this meter is split by {self.by})",
                                    loc=("shares",))
        return self


class Installation(BaseModel):
    """An installation of a site: where it is, which buildings' meters are its own, its processes."""

    model_config = _FROZEN

    id: Id
    name: str = ""
    address: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 country code, e.g. CN.")
    buildings: tuple[Id, ...] = Field(min_length=1)
    processes: tuple[Process, ...] = Field(min_length=1)
    shared: tuple[SharedMeter, ...] = ()
    on_site_generation: tuple[OnSiteGeneration, ...] = ()
    grid_factor: GridFactor | None = Field(
        default=None, description="The grid's factor; default: the factor library's for the buildings' zone.")
    ppas: tuple[Ppa, ...] = Field(default=(), description="Grid import covered by power purchase agreements.")

    def check(self, meters: Mapping[str, tuple[str, str]], buildings: set[str],
              heat_priced: Collection[str] = ()) -> None:
        """Check every reference against the site: ``meters`` maps device -> (building, role) for the
        site's meters, ``buildings`` its building ids, ``heat_priced`` those with a heat factor.
        Raises ``LocatedValueError`` (loc relative here)."""
        for b, building in enumerate(self.buildings):
            if building not in buildings:
                raise LocatedValueError(f"no building {building!r} in this site ({', '.join(sorted(buildings))})",
                                        loc=("buildings", b))
        own = {d: role for d, (b, role) in meters.items() if b in self.buildings}
        used: dict[str, str] = {}

        def need(device: str, roles: frozenset[str], what: str, loc: tuple[int | str, ...]) -> None:
            if device not in own:
                raise LocatedValueError(f"meter {device!r} is not a meter of the installation's buildings "
                                        f"({', '.join(self.buildings)})", loc=loc)
            if own[device] not in roles:
                raise LocatedValueError(f"meter {device!r} has role {own[device]!r}; {what} needs role "
                                        + " or ".join(repr(r) for r in sorted(roles)), loc=loc)
            if device in used:
                raise LocatedValueError(f"meter {device!r} is already used by {used[device]}", loc=loc)
            if own[device] in HEAT_ROLES and meters[device][0] not in heat_priced:
                raise LocatedValueError(f"meter {device!r} measures district heat but building "
                                        f"{meters[device][0]!r} has no heat_factor: CBAM counts the heat's "
                                        "emissions as the process's direct emissions", loc=loc)

        process_ids = [p.id for p in self.processes]
        for p, process in enumerate(self.processes):
            if process.id in process_ids[:p]:
                raise LocatedValueError(f"process id {process.id!r} is used twice", loc=("processes", p, "id"))
            for m, device in enumerate(process.meters):
                need(device, ELECTRICITY_ROLES | FUEL_ROLES | HEAT_ROLES, "a process's meter",
                     ("processes", p, "meters", m))
                used[device] = f"process {process.id}"
            for q, product in enumerate(process.products):
                need(product.meter, frozenset({"production"}), "a product's counter",
                     ("processes", p, "products", q, "meter"))
                used[product.meter] = f"product {product.product!r}"
        for s, shared in enumerate(self.shared):
            need(shared.meter, ELECTRICITY_ROLES | FUEL_ROLES | HEAT_ROLES, "a shared meter", ("shared", s, "meter"))
            used[shared.meter] = "the shared meters"
            unknown = sorted(set(shared.shares or {}) - set(process_ids))
            if unknown:
                raise LocatedValueError(f"no process {unknown[0]!r} in this installation ({', '.join(process_ids)})",
                                        loc=("shared", s, "shares"))
            if shared.by == "sub_meter" and own[shared.meter] in FUEL_ROLES | HEAT_ROLES:
                raise LocatedValueError("a fuel or heat meter cannot be split by sub_meter (electricity): use mass "
                                        "or declared",
                                        loc=("shared", s, "by"))
        for g, generation in enumerate(self.on_site_generation):
            need(generation.meter, frozenset({"pv_generation"}), "on-site generation",
                 ("on_site_generation", g, "meter"))
            used[generation.meter] = "on-site generation"


class Enterprise(BaseModel):
    """An enterprise of a zone: the sites of the site model that are its own."""

    model_config = _FROZEN

    id: Id
    name: str = ""
    sites: tuple[Id, ...] = Field(min_length=1)


class Zone(BaseModel):
    """A park or county: the enterprises it rolls up (``greenwire zone report``)."""

    model_config = _FROZEN

    id: Id
    name: str = ""
    kind: Literal["park", "county"] = "park"
    enterprises: tuple[Enterprise, ...] = Field(min_length=1)

    def check(self, sites: set[str]) -> None:
        """Every enterprise's sites exist and belong to one enterprise only (``loc`` relative here)."""
        owner: dict[str, str] = {}
        for e, enterprise in enumerate(self.enterprises):
            if any(other.id == enterprise.id for other in self.enterprises[:e]):
                raise LocatedValueError(f"enterprise id {enterprise.id!r} is used twice", loc=("enterprises", e, "id"))
            for s, site in enumerate(enterprise.sites):
                loc = ("enterprises", e, "sites", s)
                if site not in sites:
                    raise LocatedValueError(f"no site {site!r} in the site model ({', '.join(sorted(sites))})", loc=loc)
                if site in owner:
                    raise LocatedValueError(f"site {site!r} already belongs to enterprise {owner[site]}", loc=loc)
                owner[site] = enterprise.id
