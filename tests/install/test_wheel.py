"""`pip install mfa-enforcer` from a built wheel gives a working CLI, as a team would install it.

The wheel is built from a copy of the sources (so the checkout gets no build/ or egg-info), then
installed with the `cli` extra into a fresh virtualenv that has never seen the project's .venv;
pip resolves the declared dependencies from the package index. The CLI then runs from outside the
checkout, so nothing on the path but the installed package can answer. Select with `-m install`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "ssm_exemptions.json"
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "chalicelib")
PIP_TIMEOUT_S = 600
BUILD_WARNINGS = ("SetuptoolsDeprecationWarning", "BuildBackendWarning", "is deprecated", "did not match any files")


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command with an environment that points at no project virtualenv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


class Installed:
    """A fresh virtualenv with the built wheel installed, and what the build printed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = root / "source"
        self.dist = root / "dist"
        self.env = root / "venv"
        self.build_output = ""
        self.wheel: Path | None = None

    def bin(self, name: str) -> str:
        return str(self.env / "bin" / name)

    def build_and_install(self) -> None:
        self.source.mkdir()
        for name in SOURCES:
            origin = ROOT / name
            if origin.is_dir():
                shutil.copytree(origin, self.source / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, self.source / name)
        venv.EnvBuilder(with_pip=True, clear=True).create(self.env)
        built = run(
            [self.bin("python"), "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(self.dist), str(self.source)],
            cwd=self.root,
            timeout=PIP_TIMEOUT_S,
        )
        self.build_output = built.stdout + built.stderr
        assert built.returncode == 0, f"pip wheel failed:\n{self.build_output[-4000:]}"
        wheels = list(self.dist.glob("mfa_enforcer-*.whl"))
        assert len(wheels) == 1, wheels
        self.wheel = wheels[0]
        command = [self.bin("python"), "-m", "pip", "install", "-q", f"{self.wheel}[cli]"]
        installed = run(command, cwd=self.root, timeout=PIP_TIMEOUT_S)
        assert installed.returncode == 0, f"pip install failed:\n{installed.stdout}\n{installed.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if sys.prefix == sys.base_prefix:
        pytest.fail("run the install test from the project's virtualenv (make test)")
    target = Installed(tmp_path_factory.mktemp("wheel"))
    target.build_and_install()
    return target


def test_the_wheel_builds_without_setuptools_warnings(installed: Installed) -> None:
    for warning in BUILD_WARNINGS:
        assert warning not in installed.build_output, f"the build printed {warning!r}"


def test_the_wheel_carries_the_licence_and_declares_its_dependencies(installed: Installed) -> None:
    assert installed.wheel is not None
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "License-Expression: Apache-2.0" in metadata
    for package in ("boto3", "botocore", "aws-lambda-powertools", "slack-sdk"):
        assert f"Requires-Dist: {package}" in metadata
    assert 'Requires-Dist: rich<16,>=13; extra == "cli"' in metadata
    assert not any(n.startswith(("tests/", "bench/", "app.py")) for n in names), "only chalicelib is packaged"


def test_mfa_enforcer_help_runs_from_the_installed_wheel(installed: Installed) -> None:
    done = run([installed.bin("mfa-enforcer"), "--help"], cwd=installed.root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: mfa-enforcer")
    for command in ("scan", "exemptions", "release", "report"):
        assert command in done.stdout
    assert "Traceback" not in done.stderr


def test_the_installed_cli_runs_the_bots_own_validator(installed: Installed) -> None:
    done = run([installed.bin("mfa-enforcer"), "exemptions", "validate", str(FIXTURE)], cwd=installed.root)
    assert done.returncode == 0, done.stderr
    assert "valid, 3 entries" in done.stdout


def test_the_installed_package_needs_neither_moto_nor_chalice(installed: Installed) -> None:
    for module in ("moto", "chalice", "pytest"):
        done = run([installed.bin("python"), "-c", f"import {module}"], cwd=installed.root)
        assert done.returncode != 0, f"{module} is installed with the CLI; it is a development dependency"
    done = run([installed.bin("python"), "-c", "import chalicelib.cli.main, rich"], cwd=installed.root)
    assert done.returncode == 0, done.stderr
