"""Dashboards to JSON files, byte for byte reproducible, so a check can tell when they drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from cloud.grafana.dashboards import all_dashboards

DEFAULT_DIR: Final = Path("deploy") / "grafana" / "dashboards"


def render(document: dict[str, Any]) -> str:
    """Stable JSON text: two-space indent, UTF-8 as is, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{name}.json": render(board.to_json()) for name, board in all_dashboards().items()}


def write(directory: Path) -> list[Path]:
    """Write every dashboard's JSON into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in generated().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


def stale(directory: Path) -> list[str]:
    """Files in ``directory`` that differ from what the code generates (or are missing or extra)."""
    wanted = generated()
    problems = [name for name, text in wanted.items()
                if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text]
    problems += [p.name for p in sorted(directory.glob("*.json")) if p.name not in wanted]
    return problems
