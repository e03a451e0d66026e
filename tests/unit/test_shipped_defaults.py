"""Safe defaults: everything the project ships starts in report mode; enforce is a deliberate step.

A team that deploys a stage or a template as it comes must get a bot that decides and says what it
would do, and writes nothing to IAM. Turning enforce on is documented in one place
(docs/deploy.md, "Switch to enforce").
"""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.core import config
from chalicelib.core.model import Mode
from tests.policy_sim import documents as docs

ROOT = Path(__file__).resolve().parents[2]
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"


def test_every_chalice_stage_ships_in_report_mode() -> None:
    stages = json.loads(CHALICE_CONFIG.read_text())["stages"]
    assert {"dev", "prod"} <= set(stages)
    for name, stage in stages.items():
        variables = stage.get("environment_variables", {})
        settings = config.from_env(variables)
        assert settings.mode is Mode.REPORT, f"stage {name} ships with {config.MODE}={variables.get(config.MODE)!r}"


def test_the_template_defaults_to_report_and_offers_enforce() -> None:
    template = docs.load_template(docs.MERGE_TEMPLATE)
    mode = template["Parameters"]["Mode"]
    assert mode["Default"] == "report"
    assert sorted(mode["AllowedValues"]) == ["enforce", "report"]


def test_no_shipped_template_sets_enforce_by_itself() -> None:
    for path in (docs.MERGE_TEMPLATE, docs.FORWARDER_TEMPLATE):
        text = path.read_text()
        assert f"{config.MODE}: enforce" not in text, path
        assert "Default: enforce" not in text, path


def test_an_empty_environment_is_report_mode() -> None:
    assert config.from_env({}).mode is Mode.REPORT


def test_switching_to_enforce_is_documented_in_one_place() -> None:
    pages = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}
    assert "## Switch to enforce" in pages["deploy.md"]
    elsewhere = [name for name, text in pages.items() if "## Switch to enforce" in text and name != "deploy.md"]
    assert not elsewhere, f"the enforce step is described again in {elsewhere}"
