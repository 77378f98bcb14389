"""Grid carbon-intensity series: each value holds for its period, and energy takes the value of its time.

A series keeps what kind of number it is (average or marginal; direct or
lifecycle) and where it came from, because a carbon account must say which
factor it used. ``value_at(t)`` returns the value whose period contains
``t``, never a later one: energy used at 10:59 is matched to the 10:00 value,
even after the 11:00 value has arrived.

CSV formats read by ``load_csv`` (the header tells which):

- NESO, as in the Cambridge archive: ``datetime,Carbon Intensity [kg_CO2/kWh]``
- Electricity Maps export: ``Datetime (UTC),...,Carbon Intensity gCO₂eq/kWh (direct),
  Carbon Intensity gCO₂eq/kWh (LCA),...`` (``basis`` chooses the column)
- plain: ``timestamp,gco2_per_kwh`` (ISO 8601 timestamps; naive ones are UTC)

The period of each value is the step to the next timestamp (the last value
keeps the step before it).
"""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from greenwire.shared.intensity import IntensitySeries

__all__ = ["IntensitySeries", "load_csv"]


def _parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def load_csv(path: Path, *, zone: str, basis: Literal["direct", "lifecycle"] = "direct") -> IntensitySeries:
    """Read a NESO, Electricity Maps or plain ``timestamp,gco2_per_kwh`` CSV (see the module docstring)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if header[:2] == ["datetime", "Carbon Intensity [kg_CO2/kWh]"]:
            column, scale, source = 1, 1000.0, f"NESO carbon intensity ({path.name})"
        elif header and header[0] == "Datetime (UTC)":
            wanted = "(direct)" if basis == "direct" else "(LCA)"
            matches = [i for i, h in enumerate(header) if h.startswith("Carbon Intensity") and h.endswith(wanted)]
            if not matches:
                raise ValueError(f"{path}: no 'Carbon Intensity ... {wanted}' column")
            column, scale, source = matches[0], 1.0, f"Electricity Maps ({path.name}, {basis})"
        elif header[:2] == ["timestamp", "gco2_per_kwh"]:
            column, scale, source = 1, 1.0, path.name
        else:
            raise ValueError(
                f"{path}: unknown format (header {header[:3]}); expected NESO, Electricity Maps, "
                "or 'timestamp,gco2_per_kwh'"
            )
        starts: list[datetime] = []
        values: list[float] = []
        for line, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            try:
                starts.append(_parse_time(row[0]))
                values.append(float(row[column]) * scale)
            except (IndexError, ValueError) as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
    if len(starts) < 2:
        raise ValueError(f"{path}: need at least two rows to know the period")
    steps = [b - a for a, b in itertools.pairwise(starts)]
    return IntensitySeries(zone, "average", basis, source, tuple(starts), tuple(values), (*steps, steps[-1]))
