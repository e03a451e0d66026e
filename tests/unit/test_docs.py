"""The documentation is held to the code: the variables, the tests it cites, the README's promises.

`mkdocs build --strict` (make docs, part of make test) catches broken links and anchors; these
tests catch what a link checker cannot: a variable documented with the wrong default or not at all,
a threat-model line whose test was renamed away, a README that grew back into a manual.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from pathlib import Path

import pytest

from chalicelib.core import config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CONFIGURATION = DOCS / "configuration.md"
THREAT_MODEL = DOCS / "threat-model.md"
README_MAX_LINES = 200
FIRST_SCREEN_LINES = 25

_VARIABLE = re.compile(r"\bMFA_ENFORCER_[A-Z0-9_]+\b")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
_MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Written in pieces so that this file does not match itself.
_TRACKER_REFERENCE = re.compile(
    r"\b" + "iss" + r"ues?\s+#?\d+|\(" + "iss" + r"ue\b|\b" + "iss" + r"ues\s+#",
    re.IGNORECASE,
)
_SKIPPED_DIRS = {".git", ".venv", "node_modules", "site", "build", "dist", ".hypothesis", ".mypy_cache"}
_SKIPPED_DIRS |= {".ruff_cache", ".pytest_cache", "__pycache__", ".scratch", "tmp", "out", "mutants"}
_TEXT_SUFFIXES = {".py", ".md", ".json", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".mjs", ".csv", ""}


def documented_variables() -> dict[str, str]:
    """Variable -> its default cell, from the rows of the configuration page's tables."""
    rows: dict[str, str] = {}
    for line in CONFIGURATION.read_text().splitlines():
        cells = [c.strip() for c in _CELL_SPLIT.split(line.strip())[1:-1]]
        if len(cells) >= 3 and (name := re.fullmatch(r"`(MFA_ENFORCER_[A-Z0-9_]+)`", cells[0])):
            assert name.group(1) not in rows, f"{name.group(1)} is documented twice"
            rows[name.group(1)] = cells[-1]
    return rows


def code_variables() -> dict[str, str]:
    """Constant name in config.py -> the variable it names."""
    return {k: v for k, v in vars(config).items() if isinstance(v, str) and v.startswith("MFA_ENFORCER_")}


def test_every_variable_in_config_py_is_documented_and_nothing_else() -> None:
    documented = set(documented_variables())
    in_code = set(code_variables().values())
    assert documented == in_code, (
        f"docs/configuration.md and chalicelib/core/config.py differ: only documented {sorted(documented - in_code)}, "
        f"only in code {sorted(in_code - documented)}"
    )


def _default_text(value: object) -> str | None:
    if value is None or value == ():  # an empty list of names is unset too
        return None
    if isinstance(value, bool):  # switches are written on/off
        return "on" if value else "off"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_documented_defaults_are_the_settings_defaults() -> None:
    """Where a variable's constant names a Settings field (MODE -> mode), its default is the documented one."""
    fields = {f.name: f.default for f in dataclasses.fields(config.Settings)}
    documented = documented_variables()
    checked = 0
    for constant, variable in code_variables().items():
        if constant.lower() not in fields:
            continue
        expected = _default_text(fields[constant.lower()])
        cell = documented[variable]
        if expected is None:
            assert "unset" in cell, f"{variable} has no default, but the docs say {cell!r}"
        else:
            assert f"`{expected}`" in cell, f"{variable} defaults to {expected!r}, the docs say {cell!r}"
        checked += 1
    assert checked >= 6


def _doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md")), ROOT / "CONTRIBUTING.md", ROOT / "SECURITY.md"]


def test_no_page_names_a_variable_that_does_not_exist() -> None:
    known = set(code_variables().values())
    for page in _doc_files():
        unknown = set(_VARIABLE.findall(page.read_text())) - known
        assert not unknown, f"{page.relative_to(ROOT)} names variables config.py does not read: {sorted(unknown)}"


def _threat_model_references() -> list[tuple[str, str]]:
    return _TEST_REFERENCE.findall(THREAT_MODEL.read_text())


def test_threat_model_ties_every_line_to_a_test() -> None:
    rows = [line for line in THREAT_MODEL.read_text().splitlines() if line.startswith("| ") and "---" not in line]
    body = [row for row in rows if not row.startswith(("| who |", "| case |"))]
    assert len(body) >= 20
    for row in body:
        assert _TEST_REFERENCE.search(row), f"a threat-model line names no test: {row[:100]}"


@pytest.mark.parametrize(("path", "name"), _threat_model_references())
def test_threat_model_tests_exist(path: str, name: str) -> None:
    source = ROOT / path
    assert source.is_file(), f"docs/threat-model.md cites {path}, which does not exist"
    assert re.search(rf"^def {name}\(", source.read_text(), re.MULTILINE), f"{path} has no test named {name}"


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; the manual belongs in docs/"
    first_screen = "\n".join(lines[:FIRST_SCREEN_LINES])
    assert "make demo" in first_screen
    assert "make test" in first_screen


def test_readme_links_point_at_files_that_exist() -> None:
    for target in _MARKDOWN_LINK.findall(README.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def _project_text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        folders = relative.parts[:-1]
        if any(part in _SKIPPED_DIRS or part.endswith(".egg-info") for part in folders) or not path.is_file():
            continue
        if path.suffix in _TEXT_SUFFIXES and path.name not in {"package-lock.json"}:
            files.append(path)
    return files


def test_no_internal_tracker_references_anywhere() -> None:
    """The product explains itself: no "see item N of the tracker" in code, docs or tests."""
    files = _project_text_files()
    assert len(files) > 100
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if _TRACKER_REFERENCE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, "internal references:\n" + "\n".join(found)
