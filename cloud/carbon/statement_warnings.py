"""The warnings a carbon statement opens with: over budget, and data quality (pure).

Data quality is the share of the period's grid energy that was not measured as it was used: the
account's :data:`QUALITY_FIELDS`, summed, against the grid energy counted plus the energy of
those fields that is not counted. Above the threshold the statement says so before any figure.
"""

from __future__ import annotations

from typing import Final

from greenwire.cloud.carbon.report import Account

QUALITY_THRESHOLD_PCT: Final = 5.0
"""Above this share of unmeasured grid energy the statement opens with a data-quality warning.
The default follows the 5 % materiality level that verifiers apply to reported emissions
(Commission Implementing Regulation (EU) 2018/2067, Article 23(1), category A and B
installations); ``greenwire carbon statement --quality-threshold`` changes it."""

QUALITY_FIELDS: Final = (
    ("estimated_kwh", True, "estimated (timing spread over a gap or since a counter reset)"),
    ("excluded_kwh", False, "excluded (replaced or re-based counters, at the meter's recent rate)"),
)
"""The account's fields of grid energy not measured as it was used: (field in kWh, whether it is
counted in ``grid_import_kwh``, what it is). The data-quality warning sums them; a new field of
the account is one more row here."""


def unmeasured_share_pct(account: Account) -> tuple[float, float, list[tuple[str, float]]]:
    """The share (percent) of the period's grid energy (counted plus not counted) that was not
    measured as it was used, that grid energy in kWh, and each nonzero field's kWh with its words."""
    uncounted = sum(getattr(account, name) for name, counted, _ in QUALITY_FIELDS if not counted)
    whole = account.grid_import_kwh + uncounted
    parts = [(words, float(getattr(account, name))) for name, _, words in QUALITY_FIELDS]
    parts = [(w, kwh) for w, kwh in parts if kwh > 0]
    if whole <= 0:
        return 0.0, 0.0, parts
    return 100 * sum(kwh for _, kwh in parts) / whole, whole, parts


def warnings(account: Account, threshold_pct: float = QUALITY_THRESHOLD_PCT) -> list[tuple[str, str]]:
    """(what, sentence) for each warning: over budget, and data quality above ``threshold_pct``."""
    out = []
    used = account.budget_used_pct
    if used is not None and used > 100 and account.budget_kgco2e is not None:
        out.append(("over budget",
                    f"{used:,.2f} % of the period's budget used: {account.total_kgco2e:,.1f} kgCO2e emitted "
                    f"against a budget of {account.budget_kgco2e:,.1f} kgCO2e."))
    share, whole, parts = unmeasured_share_pct(account)
    if share > threshold_pct:
        each = " and ".join(f"{kwh:,.1f} kWh {words}" for words, kwh in parts)
        out.append(("data quality",
                    f"{share:,.2f} % of the period's {whole:,.1f} kWh of grid energy was not measured as it "
                    f"was used, above the {threshold_pct:g} % threshold: {each}. Treat the figures as estimates."))
    return out
