"""The rings of chalicelib, checked on the source: core is pure, adapters never reach into the shells.

ruff's banned-api rule keeps boto3, botocore and os.environ out of chalicelib/core/; these tests keep
the import graph pointing inwards, so vocabulary (a run's result, error text) cannot drift back into a
shell module that the pure code or an adapter then has to import.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
SHELLS = ("chalicelib.service", "chalicelib.realtime", "chalicelib.handlers", "chalicelib.bootstrap", "chalicelib.cli")


def chalicelib_imports(path: Path) -> set[str]:
    """Every chalicelib module a file imports, as dotted names (`from chalicelib.core import x` -> core.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("chalicelib"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chalicelib"):
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def modules(ring: str) -> list[Path]:
    return sorted((CHALICELIB / ring).glob("*.py"))


@pytest.mark.parametrize("path", modules("core"), ids=lambda p: p.name)
def test_core_imports_only_core(path: Path) -> None:
    outside = {name for name in chalicelib_imports(path) if not name.startswith("chalicelib.core")}
    assert outside == set(), f"{path.name} is pure but imports {sorted(outside)}"


@pytest.mark.parametrize("path", modules("adapters"), ids=lambda p: p.name)
def test_adapters_never_import_a_shell(path: Path) -> None:
    shells = {name for name in chalicelib_imports(path) if name.startswith(SHELLS)}
    assert shells == set(), f"{path.name} is an adapter but imports {sorted(shells)}"


def test_lambda_code_never_imports_the_cli() -> None:
    lambda_side = [p for p in CHALICELIB.rglob("*.py") if "cli" not in p.relative_to(CHALICELIB).parts]
    offenders = {p.name for p in lambda_side if any(n.startswith("chalicelib.cli") for n in chalicelib_imports(p))}
    assert offenders == set()


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import boto3\n", "TID251"),
        ("import botocore.exceptions\n", "TID251"),
        ("import os\n\nX = os.environ.get('A')\n", "TID251"),
    ],
)
def test_ruff_refuses_aws_and_environment_in_core(source: str, rule: str) -> None:
    """A deliberate violation, as ruff sees it at a path inside core/ (attribute access included)."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff is not None, "ruff is part of requirements-dev.txt"
    probe = subprocess.run(
        [ruff, "check", "--select", "TID251", "--stdin-filename", "chalicelib/core/probe.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert probe.returncode == 1, probe.stdout + probe.stderr
    assert rule in probe.stdout
