"""The hostile-payload corpus (``tests/data/hostile/``) for the tests that feed it to the ingestor."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

CORPUS = Path(__file__).parent / "data" / "hostile"


def _build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hostile_build", CORPUS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus() -> list[tuple[dict[str, Any], bytes]]:
    """Every case of the corpus: its manifest entry and its payload."""
    cases: list[tuple[dict[str, Any], bytes]] = _build().load()
    return cases
