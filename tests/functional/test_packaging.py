"""`chalice package` with the merge template, for both stages, offline, and cfn-lint on what it makes.

This is the template `aws cloudformation deploy` gets (docs/deploy.md), so the checks are on
Chalice's real output: it packages without AWS credentials (only a region), cfn-lint finds
nothing in it or in the sign-in forwarder, every resource the merge template touches exists
with a type, the three functions get the bot's settings and the three roles the bot's policy.

Packaging runs once per session, in a copy of the project (so nothing is written into the work
tree), and reuses Chalice's dependency cache between the two stages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint_file

from chalicelib.core import config
from tests.policy_sim import documents as docs

PACKAGE_TIMEOUT_S = 600
PROJECT_FILES = (
    "app.py",
    "requirements.txt",
    "chalicelib",
    ".chalice/config.json",
    *(f".chalice/policy-{stage}.json" for stage in docs.STAGES),
)
LINT = ManualArgs(regions=[docs.REGION], include_checks=["I"])


@dataclass(frozen=True)
class Packaged:
    """One stage's `chalice package` run."""

    stage: str
    returncode: int
    output: str
    directory: Path

    @property
    def template_path(self) -> Path:
        return self.directory / "sam.yaml"

    def template(self) -> dict[str, Any]:
        """Chalice writes long-form intrinsics, so plain YAML reads it."""
        assert self.returncode == 0, self.output
        return dict(yaml.safe_load(self.template_path.read_text()))


def offline_environment() -> dict[str, str]:
    """The shell's environment without any AWS or bot setting, plus the one thing Chalice needs: a region."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MFA_ENFORCER_"))}
    env["AWS_DEFAULT_REGION"] = docs.REGION
    return env


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Packaged]:
    project = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source, target = docs.ROOT / name, project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    chalice = Path(sys.executable).with_name("chalice")
    results = {}
    for stage in docs.STAGES:
        out = tmp_path_factory.mktemp(f"package-{stage}")
        shutil.rmtree(out)
        done = subprocess.run(
            [str(chalice), "package", "--stage", stage, "--merge-template", str(docs.MERGE_TEMPLATE), str(out)],
            cwd=project,
            env=offline_environment(),
            capture_output=True,
            text=True,
            timeout=PACKAGE_TIMEOUT_S,
            check=False,
        )
        results[stage] = Packaged(stage, done.returncode, done.stdout + done.stderr, out)
    return results


@pytest.mark.parametrize("stage", docs.STAGES)
def test_chalice_packages_the_stage_without_aws_credentials(packaged: dict[str, Packaged], stage: str) -> None:
    result = packaged[stage]
    assert result.returncode == 0, result.output
    with zipfile.ZipFile(result.directory / "deployment.zip") as bundle:
        names = set(bundle.namelist())
    assert {"app.py", "chalicelib/__init__.py", "chalicelib/bootstrap.py"} <= names
    assert "chalicelib/policies/quarantine.json" in names, "the Lambda must carry the document it restores"
    assert not [n for n in names if n.startswith(("tests/", "policies/", ".chalice/"))]


@pytest.mark.parametrize("stage", docs.STAGES)
def test_cfn_lint_finds_nothing_in_the_packaged_template(packaged: dict[str, Packaged], stage: str) -> None:
    result = packaged[stage]
    assert result.returncode == 0, result.output
    matches = lint_file(result.template_path, config=LINT)
    assert not matches, "\n".join(str(m) for m in matches)


def test_cfn_lint_finds_nothing_in_the_signin_forwarder() -> None:
    """Linted for the bot's region and two others, as a StackSet deploys it everywhere."""
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    matches = lint_file(docs.FORWARDER_TEMPLATE, config=ManualArgs(regions=regions, include_checks=["I"]))
    assert not matches, "\n".join(str(m) for m in matches)


@pytest.mark.parametrize("stage", docs.STAGES)
def test_every_resource_the_merge_template_touches_exists(packaged: dict[str, Packaged], stage: str) -> None:
    """A function or role renamed in app.py would leave a typeless fragment behind, which CloudFormation rejects."""
    resources = packaged[stage].template()["Resources"]
    untyped = sorted(name for name, resource in resources.items() if "Type" not in resource)
    assert not untyped, f"merge template configures resources Chalice no longer generates: {untyped}"
    merged = set(docs.load_template(docs.MERGE_TEMPLATE)["Resources"])
    assert merged <= set(resources)


@pytest.mark.parametrize("stage", docs.STAGES)
def test_functions_get_the_bots_settings_and_roles_the_bots_policy(packaged: dict[str, Packaged], stage: str) -> None:
    template = packaged[stage].template()
    resources = template["Resources"]
    merge = docs.load_template(docs.MERGE_TEMPLATE)
    expected_policy = merge["Resources"]["ScheduledScanRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    names = {v for k, v in vars(config).items() if k.isupper() and isinstance(v, str) and v.startswith("MFA_ENFORCER_")}
    for function in docs.FUNCTIONS:
        logical_id = function.title().replace("_", "")
        properties = resources[logical_id]["Properties"]
        assert resources[logical_id]["Type"] == "AWS::Serverless::Function"
        assert properties["Handler"] == f"app.{function}"
        assert properties["FunctionName"] == f"mfa-enforcer-{function}"
        variables = properties["Environment"]["Variables"]
        assert set(variables) == names | {"POWERTOOLS_SERVICE_NAME"}
        assert variables[config.MODE] == {"Ref": "Mode"}, "the stack parameter decides report or enforce"
        assert properties["Role"] == {"Fn::GetAtt": [f"{logical_id}Role", "Arn"]}
        (policy,) = resources[f"{logical_id}Role"]["Properties"]["Policies"]
        assert policy["PolicyDocument"] == expected_policy
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert resources["QuarantineGroup"]["Type"] == "AWS::IAM::Group"
    assert resources["QuarantinePolicy"]["Properties"]["PolicyDocument"] == docs.load_json(docs.QUARANTINE_POLICY)
