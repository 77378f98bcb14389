"""Summaries of py-spy's raw (collapsed-stack) profiles: the functions that take the time.

``py-spy record --format raw`` writes one line per distinct stack,
``frame;frame;...;frame COUNT``, each frame ``function (file:line)``.
This turns one into the top functions by own time (the frame at the top of
the stack) and by inclusive time (anywhere on the stack), as shares of all
samples. ``python -m bench.profiles FILE`` prints them.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_OURS = ("cloud/", "shared/", "edge/", "pydantic/", "httpx/", "httpcore/", "paho/", "aiomqtt/")
"""Inclusive time is listed for these only: the frames above them (runpy, typer, asyncio) hold ~100 %."""
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>[^ ]+) \((?P<file>[^:)]+)(?::\d+)?\)$")


def _name(frame: str) -> str:
    """``function (package/module.py)`` without the line number and the site-packages prefix."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3", "wt-perf/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


def summarize(path: Path, top: int = 12) -> dict[str, Any]:
    """Top functions by own and inclusive share of the samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        count = int(match["count"])
        frames = [_name(f) for f in match["stack"].split(";") if f.strip()]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            if name.split(" (", 1)[-1].startswith(_OURS):
                inclusive[name] += count
    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)] if total else []

    return {"samples": total, "own_pct": share(own), "inclusive_pct": share(inclusive)}


def render(summary: dict[str, Any]) -> str:
    """Plain text for a terminal or a Markdown code block."""
    out = [f"{summary['samples']} samples", "own time:"]
    out += [f"  {pct:5.1f} %  {name}" for name, pct in summary["own_pct"]]
    out.append("inclusive:")
    out += [f"  {pct:5.1f} %  {name}" for name, pct in summary["inclusive_pct"]]
    return "\n".join(out)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"== {arg}")
        print(render(summarize(Path(arg), top=int(__import__("os").environ.get("TOP", "15")))))
