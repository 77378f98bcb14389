"""The import contract of greenwire's layout, checked from the source files (no import needed).

Layers, from the bottom; a part may import only the parts beneath it (and itself)::

    greenwire (composition root: cli, commands, stack, servers, access, pki, demo)
        │
        ├── greenwire.cloud ───────┐
        ├── greenwire.simulators ──│──▶ greenwire.edge (profiles and codec, to lay out registers)
        ├── greenwire.edge ────────┤
        │                          ▼
        │                 greenwire.transport
        ▼                          │
    greenwire.shared ◀─────────────┘

Inside ``greenwire.cloud``: ``adapters`` and ``sites`` serve every service; ``ingest``,
``carbon``, ``health`` and ``grafana`` may use them and ``carbon`` (the engine), but ``ingest``
uses none of the other services, ``grid`` uses the carbon engine's feed model and window maths, ``bms`` only
the adapters' config sections, ``forecast`` reads the carbon engine's counters and factors,
``anomalies`` also the forecast's hourly series, and nothing imports ``ingest``, ``health``,
``grafana``, ``grid``, ``bms``, ``forecast`` or ``anomalies`` except the composition root.
``TYPE_CHECKING`` and function-level imports count like any other.

Run ``python -m tests.importcontract [ROOT]`` to print the violations of a tree.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

# folder -> installed name
PARTS = {"shared": "greenwire.shared", "transport": "greenwire.transport", "edge": "greenwire.edge",
         "cloud": "greenwire.cloud", "simulators": "greenwire.simulators", "greenwire": "greenwire"}

ALLOWED = {
    "greenwire.shared": {"greenwire.shared"},
    "greenwire.transport": {"greenwire.shared", "greenwire.transport"},
    "greenwire.edge": {"greenwire.shared", "greenwire.transport", "greenwire.edge"},
    "greenwire.simulators": {"greenwire.shared", "greenwire.edge", "greenwire.simulators"},
    "greenwire.cloud": {"greenwire.shared", "greenwire.transport", "greenwire.cloud"},
}
"""Which parts each part may import (the composition root may import everything)."""

CLOUD_SERVICES = {"ingest", "carbon", "health", "grafana", "grid", "bms", "cbam", "forecast", "anomalies"}
CLOUD_ALLOWED = {
    "adapters": {"adapters"},
    "sites": {"adapters", "carbon", "cbam"},
    "history": {"adapters"},
    "ingest": {"adapters", "sites", "ingest"},
    "carbon": {"adapters", "sites", "history", "carbon"},
    "health": {"adapters", "sites", "carbon", "health", "ingest"},
    "grafana": {"adapters", "sites", "grafana"},
    "grid": {"adapters", "carbon", "grid"},
    "bms": {"adapters", "bms"},
    "cbam": {"adapters", "sites", "carbon", "cbam"},
    "forecast": {"adapters", "sites", "carbon", "forecast"},
    "anomalies": {"adapters", "sites", "carbon", "forecast", "anomalies"},
}
"""Inside the cloud: which of its packages each may import (top-level module name -> allowed)."""


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported}: {self.rule}"


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PARTS[parts[0]], *parts[1:]]) if parts[0] != "greenwire" else ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{a.name}") for a in node.names if name == "greenwire"]
    return found


def _part(name: str) -> str | None:
    """The part an imported name belongs to, or None for the standard library and third parties."""
    if name != "greenwire" and not name.startswith("greenwire."):
        return None
    pieces = name.split(".")
    if len(pieces) >= 2 and f"greenwire.{pieces[1]}" in ALLOWED:
        return f"greenwire.{pieces[1]}"
    return "greenwire"


def check(root: Path) -> list[Violation]:
    """Every import in the parts' source files under ``root`` that the contract forbids."""
    violations: list[Violation] = []
    bare = {folder for folder in PARTS if folder != "greenwire"}
    for folder in PARTS:
        for path in sorted((root / folder).rglob("*.py")):
            module = _module_name(root, path)
            source = _part(module) or "greenwire"
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            rel = str(path.relative_to(root))
            for line, name in _imports(tree, module, path.name == "__init__.py"):
                top = name.split(".")[0]
                if top in bare:
                    violations.append(Violation(rel, line, name, f"import it as greenwire.{name}"))
                    continue
                target = _part(name)
                if target is None or source == "greenwire":
                    continue
                if target not in ALLOWED[source]:
                    rule = ("the parts never import the composition root" if target == "greenwire"
                            else f"{source} may import only {', '.join(sorted(ALLOWED[source]))}")
                    violations.append(Violation(rel, line, name, rule))
                    continue
                if source == target == "greenwire.cloud":
                    own = module.split(".")[2] if module.count(".") >= 2 else ""
                    other = name.split(".")[2] if name.count(".") >= 2 else ""
                    if own in CLOUD_ALLOWED and other and other != own and other not in CLOUD_ALLOWED[own]:
                        violations.append(Violation(
                            rel, line, name, f"cloud.{own} may import only cloud."
                            + ", cloud.".join(sorted(CLOUD_ALLOWED[own] - {own}))))
    return violations


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    violations = check(root)
    for v in violations:
        print(v)
    print(f"{len(violations)} import(s) break the layout contract" if violations else "import contract kept")
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
