"""Indoor environment of a care site's rooms: air temperature, relative humidity and CO2.

Generated, not recorded (no open indoor series of this kind was at hand), from two simple,
documented mechanisms so that the alert rules and exposure figures meet realistic shapes:

- temperature follows the day: coolest at 05:00, warmest at 16:00 local time, with a
  ``heatwave`` room (a south-facing lounge without cooling) peaking above 33 degC while
  humidity stays near 50 %, which puts the heat index above 32 degC in the afternoon;
- CO2 is a well-mixed room's mass balance, C = outdoor + G * n / Q, with occupants n by the
  hour (more in the lounge at meals and activities), G = 0.0052 L/s CO2 per seated adult
  (ASHRAE 62.1 user's manual) and ventilation Q in L/s; the ``crowded`` room is ventilated
  too little, so CO2 passes 1200 ppm at busy hours.

Values are a pure function of the room's local time, so two reads at one instant agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

OUTDOOR_CO2_PPM: Final = 420.0
CO2_PER_PERSON_L_S: Final = 0.0052
_OCCUPANCY: Final = (2, 2, 2, 2, 2, 2, 3, 6, 12, 14, 10, 8, 14, 12, 9, 10, 12, 8, 14, 10, 6, 4, 3, 2)
"""People in a lounge for each local hour (meals at 8, 12 and 18)."""


@dataclass(frozen=True, slots=True)
class Room:
    """One room's climate: its kind, ventilation and timezone; ``values`` gives its state now."""

    kind: str = "normal"
    """``normal``, ``heatwave`` (hot afternoons) or ``crowded`` (poorly ventilated)."""
    ventilation_l_s: float = 120.0
    timezone: str = "Europe/London"
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def values(self, at: datetime | None = None) -> dict[str, float]:
        """``temperature_c``, ``relative_humidity_pct`` and ``co2_ppm`` at ``at`` (default: now)."""
        local = (at or self.now()).astimezone(ZoneInfo(self.timezone))
        hour = local.hour + local.minute / 60 + local.second / 3600
        swing = -math.cos(2 * math.pi * (hour - 4.0) / 24)  # -1 at 04:00, +1 at 16:00
        if self.kind == "heatwave":
            temperature = 28.5 + 5.0 * swing
            humidity = 52.0 - 6.0 * swing
        else:
            temperature = 21.5 + 1.5 * swing
            humidity = 45.0 - 5.0 * swing
        ventilation = self.ventilation_l_s / (3.0 if self.kind == "crowded" else 1.0)
        people = _OCCUPANCY[local.hour] + (_OCCUPANCY[(local.hour + 1) % 24] - _OCCUPANCY[local.hour]) * (hour % 1)
        co2 = OUTDOOR_CO2_PPM + CO2_PER_PERSON_L_S * people / ventilation * 1e6
        return {
            "temperature_c": round(temperature, 2),
            "relative_humidity_pct": round(humidity, 1),
            "co2_ppm": round(co2, 0),
        }
