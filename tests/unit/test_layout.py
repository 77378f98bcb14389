"""The layout's rules (issue: one composition root, no upward imports), checked on every test run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.importcontract import check

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("greenwire", "shared", "transport", "edge", "cloud", "simulators")


def test_the_tree_keeps_the_import_contract() -> None:
    violations = check(ROOT)
    assert not violations, "\n".join(map(str, violations))


def _copy_parts(tmp_path: Path) -> Path:
    for part in PARTS:
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "data", "*.json"))
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "rule"),
    [
        ("edge/agent.py", "from greenwire.stack import discover", "never import the composition root"),
        ("cloud/ingest/pipeline.py", "import greenwire.edge.modbus", "greenwire.cloud may import only"),
        ("shared/wire.py", "from greenwire.transport import buffer", "greenwire.shared may import only"),
        ("cloud/ingest/points.py", "from greenwire.cloud.carbon import results", "cloud.ingest may import only"),
        ("cloud/carbon/report.py", "from shared.wire import ReadingsBatch", "import it as greenwire.shared"),
    ],
)
def test_a_forbidden_import_fails_the_check(tmp_path: Path, module: str, line: str, rule: str) -> None:
    root = _copy_parts(tmp_path)
    target = root / module
    target.write_text(target.read_text() + f"\n\ndef _late() -> None:\n    {line}\n")
    violations = check(root)
    assert [v.path for v in violations] == [module]
    assert rule in str(violations[0])
    run = subprocess.run([sys.executable, "-m", "tests.importcontract", str(root)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1 and module in run.stdout


def test_every_package_folder_is_installed_under_greenwire() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name: Path(folder) for name, folder in setuptools["package-dir"].items()}
    found = set()
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            sub = ".".join(init.parent.relative_to(ROOT / folder).parts)
            found.add(f"{name}.{sub}" if sub else name)
    assert found == set(setuptools["packages"])
    assert all(name == "greenwire" or name.startswith("greenwire.") for name in setuptools["packages"])
