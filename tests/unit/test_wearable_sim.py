"""The simulated wearable hub: what it records, how the cursor pages, and the awkward cases."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from greenwire.simulators.wearable import WearableHub, load_heart_rate, make_participants

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def _hub(hours: float = 3, participants: int = 6) -> WearableHub:
    wall = START + timedelta(days=30)
    hub = WearableHub(make_participants(participants), start=START, speed=1e9, clock=lambda: wall)
    hub.advance(START + timedelta(hours=hours))
    return hub


def test_heart_rate_replays_the_recorded_series() -> None:
    series = load_heart_rate()
    assert len(series.bpm) == 8418 and min(series.bpm) == 49 and max(series.bpm) == 182
    hub = _hub(hours=1, participants=1)
    recorded = [r["valueQuantity"]["value"] for r in hub.log if r["code"]["coding"][0]["code"] == "8867-4"]
    # Participant 0 starts at the series' first sample: the hub's values are the file's, in order.
    assert recorded[:50] == list(series.bpm[1:51])


def test_cursor_pages_through_everything_once() -> None:
    hub = _hub()
    seen, cursor = [], 0
    while True:
        page = hub.page(cursor, 700)
        matches = [e["resource"] for e in page["entry"] if e["search"]["mode"] == "match"]
        includes = [e["resource"] for e in page["entry"] if e["search"]["mode"] == "include"]
        assert {f"Patient/{p['id']}" for p in includes} == {m["subject"]["reference"] for m in matches}
        seen += matches
        nxt = int(next(link["url"] for link in page["link"] if link["relation"] == "next").split("_cursor=")[1]
                  .split("&")[0])
        if nxt == cursor:
            break
        cursor = nxt
    assert seen == hub.log


def test_awkward_cases_are_there() -> None:
    hub = _hub(hours=6)
    statuses = Counter(r["status"] for r in hub.log)
    assert statuses["cancelled"] > 0 and statuses["entered-in-error"] == hub.stats.retracted > 0
    absent = [r for r in hub.log if r["code"]["coding"][0]["code"] == "85354-9" and r["status"] == "final"
              and any("dataAbsentReason" in c for c in r["component"])]
    assert absent
    ids = Counter(r["id"] for r in hub.log if r["status"] == "final")
    assert hub.stats.resent > 0 and max(ids.values()) >= 2, "old observations are sent again"
    temps = [r["valueQuantity"]["value"] for r in hub.log if r["code"]["coding"][0]["code"] == "8310-5"]
    assert any(len(repr(v)) > 8 for v in temps), "float artefacts such as 36.900000000000006"
    assert any(r["valueQuantity"]["code"] == "[degF]" for r in hub.log if "valueQuantity" in r)
    assert any(r["code"]["coding"][0]["code"] == "29463-7" for r in hub.log)


def test_never_records_the_future() -> None:
    wall = [START + timedelta(minutes=10)]
    hub = WearableHub(make_participants(2), start=START, speed=1000, clock=lambda: wall[0])
    wall[0] += timedelta(seconds=30)  # x1000 would be 8 hours on: the hub stops at the wall clock
    hub.advance()
    latest = max(datetime.fromisoformat(r["effectiveDateTime"]) for r in hub.log)
    assert wall[0] - timedelta(minutes=1) < latest <= wall[0]
