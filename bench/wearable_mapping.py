"""Wearable observations mapped per second at the gateway (FHIR validation, consent, pseudonym, dedup).

``.venv/bin/python -m bench.wearable_mapping``: two hours of the simulated hub's 12 participants
(one without consent) through ``greenwire.edge.wearable.process_page`` on one core. A care site with 50
participants and heart rate every 5 s needs 10 observations/s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from greenwire.edge.fhir import Pseudonymiser
from greenwire.edge.wearable import process_page
from greenwire.simulators.wearable import WearableHub, make_participants


def run() -> dict[str, float]:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    hub = WearableHub(make_participants(12), start=start, speed=1e9, clock=lambda: start + timedelta(days=1))
    hub.advance(start + timedelta(hours=2))
    entries = hub.page(0, len(hub.log))["entry"]
    consented = frozenset(f"Patient/{p.id}" for p in hub.participants[:11])
    best = float("inf")
    outcome = None
    for _ in range(3):
        began = time.perf_counter()
        outcome = process_page(entries, already={}, pseudonymise=Pseudonymiser(b"k" * 32, "bench"),
                               consented=consented, device="hub")
        best = min(best, time.perf_counter() - began)
    assert outcome is not None
    rate = outcome.received / best
    print(f"  wearable observations mapped (fhir.resources validation)  {rate:>12,.0f} /s"
          f"   ({outcome.received} received, {len(outcome.observations)} forwarded, "
          f"rejects {dict(sorted(outcome.rejected.items()))})")
    return {"observations_per_s": rate, "received": outcome.received, "forwarded": len(outcome.observations)}


if __name__ == "__main__":
    run()
