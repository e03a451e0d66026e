"""The IAM documents and templates this repository deploys, loaded the way the tests need them.

Shared by the unit tests (static checks, parliament), the functional tests (recorded calls,
packaging) and the simulator tests, so every tier reads the same files through the same code:

- the policy files (policies/*.json, .chalice/policy-<stage>.json);
- what the code says it needs: the `PERMISSIONS` tuples of every class in chalicelib, found by
  importing every module, so an adapter added later is counted without editing a list here;
- the CloudFormation templates (.chalice/merge-template.yaml, .chalice/signin-forwarder.yaml),
  with a small resolver for the intrinsic functions they use, so a test can read the role policy
  exactly as CloudFormation would create it in a given account and region.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
CHALICE = ROOT / ".chalice"
QUARANTINE_POLICY = POLICIES / "quarantine.json"
REQUIRE_MFA_POLICY = POLICIES / "require-mfa-for-api.json"
STAGES = ("dev", "prod")
MERGE_TEMPLATE = CHALICE / "merge-template.yaml"
FORWARDER_TEMPLATE = CHALICE / "signin-forwarder.yaml"

# Actions the role needs that no adapter calls through boto3: Lambda writes the function's logs with
# the role's credentials, and SSM decrypts the Slack SecureString with KMS on the bot's behalf.
LAMBDA_LOGGING = frozenset({"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"})
SSM_SECURESTRING_DECRYPT = frozenset({"kms:Decrypt"})

# Code under chalicelib that the Lambda functions never run: the operators' CLI, which acts with the
# operator's own credentials (its PERMISSIONS document what an operator needs, not the role).
OPERATOR_PACKAGES = ("chalicelib.cli",)

# Three Lambda functions, per design.md; Chalice names their resources in CamelCase.
FUNCTIONS = ("scheduled_scan", "on_console_login", "on_iam_change")
CHALICE_FUNCTIONS = tuple(name.title().replace("_", "") for name in FUNCTIONS)
CHALICE_ROLES = tuple(f"{logical_id}Role" for logical_id in CHALICE_FUNCTIONS)
# CloudFormation's random suffix of a generated name, fixed for the tests (12 or 13 of A-Z0-9).
EXAMPLE_SUFFIX = "1A2B3C4D5E6F7"

# Test account and region: moto's default account, the region the bot must run in.
ACCOUNT = "123456789012"
REGION = "us-east-1"


def role_policy_file(stage: str) -> Path:
    """The hand-written execution-role policy Chalice uses for a stage (config.json `iam_policy_file`)."""
    return CHALICE / f"policy-{stage}.json"


def policy_files() -> list[Path]:
    """Every IAM policy file this repository ships: policies/ and the role policies in .chalice/."""
    return sorted(POLICIES.glob("*.json")) + sorted(CHALICE.glob("policy-*.json"))


def load_json(path: Path) -> Any:
    """A JSON document from disk."""
    return json.loads(path.read_text())


def as_list(value: Any) -> list[Any]:
    """IAM lets Action/Resource/Statement be one value or a list; always a list here."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document."""
    return as_list(document["Statement"])


def allowed_actions(document: Mapping[str, Any]) -> set[str]:
    """Every action an Allow statement names."""
    return {a for s in statements(document) if s["Effect"] == "Allow" for a in as_list(s.get("Action"))}


def statement(document: Mapping[str, Any], sid: str) -> dict[str, Any]:
    """One statement by Sid."""
    matches = [s for s in statements(document) if s.get("Sid") == sid]
    assert len(matches) == 1, f"expected one statement {sid!r}, found {len(matches)}"
    return matches[0]


# ----------------------------------------------------------------------------- what the code needs


def declared_permissions() -> dict[str, set[str]]:
    """Action -> the classes whose `PERMISSIONS` declare it, over every Lambda module under chalicelib.

    Every module is imported, so a new adapter (in a new module or an old one) is found without
    editing this function; an import error fails the calling test loudly. `__main__` modules are
    scripts (importing one runs it) and declare no adapters; OPERATOR_PACKAGES are not the Lambda's.
    """
    import chalicelib

    declared: dict[str, set[str]] = {}
    modules = pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")
    names = ["chalicelib"] + [
        m.name
        for m in modules
        if not m.name.endswith(".__main__")
        and not any(m.name == p or m.name.startswith(p + ".") for p in OPERATOR_PACKAGES)
    ]
    for name in names:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or "PERMISSIONS" not in vars(cls):
                continue
            permissions = vars(cls)["PERMISSIONS"]
            assert isinstance(permissions, tuple), f"{name}.{cls.__qualname__}.PERMISSIONS must be a tuple"
            for action in permissions:
                declared.setdefault(action, set()).add(f"{name}.{cls.__qualname__}")
    return declared


def role_needs() -> set[str]:
    """Everything the execution role must allow: the adapters' PERMISSIONS, logging, SSM's decrypt."""
    return set(declared_permissions()) | LAMBDA_LOGGING | SSM_SECURESTRING_DECRYPT


# ----------------------------------------------------------------------------- CloudFormation


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt...) read as their long form."""


def _intrinsic(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """A CloudFormation template (JSON or YAML, short-form tags allowed) as plain data."""
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects


class _NoValue:
    """AWS::NoValue: the element is dropped from its list or mapping."""


NO_VALUE = _NoValue()


@dataclass
class Deployment:
    """Where and how a template is deployed: the values CloudFormation would substitute."""

    parameters: dict[str, str] = field(default_factory=dict)
    account: str = ACCOUNT
    region: str = REGION
    partition: str = "aws"
    stack_name: str = "mfa-enforcer"


class Resolver:
    """Resolves the intrinsic functions our templates use, for one Deployment.

    Handles Ref (parameters, pseudo parameters, resources), Fn::Sub, Fn::GetAtt, Fn::If, Fn::Equals,
    Fn::Not, Fn::And, Fn::Or, Condition, Fn::Join and AWS::NoValue. Resource references resolve to
    the physical id AWS would give the resource, built from the template's own name properties,
    so a renamed resource shows up in the resolved policy. Anything else raises, so the resolver
    never guesses.
    """

    def __init__(self, template: Mapping[str, Any], deployment: Deployment | None = None) -> None:
        self.template = template
        self.deployment = deployment or Deployment()
        declared = template.get("Parameters", {})
        unknown = set(self.deployment.parameters) - set(declared)
        assert not unknown, f"the template has no parameter(s) {sorted(unknown)}"
        self.parameters = {name: spec.get("Default") for name, spec in declared.items()}
        self.parameters.update(self.deployment.parameters)
        missing = sorted(name for name, value in self.parameters.items() if value is None)
        assert not missing, f"no value for parameter(s) {missing}"
        for name, spec in declared.items():
            value = str(self.parameters[name])
            if "AllowedValues" in spec:
                assert value in spec["AllowedValues"], f"CloudFormation would refuse {name}={value!r}"
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), f"CloudFormation would refuse {name}={value!r}"
        self._conditions: dict[str, bool] = {}

    # -- public

    def resolve(self, node: Any) -> Any:
        """The value of a template fragment in this deployment."""
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def condition(self, name: str) -> bool:
        """A named condition of the template."""
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def resource_exists(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false in this deployment."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # -- intrinsic functions

    def _ref(self, name: str) -> Any:
        d = self.deployment
        pseudo = {
            "AWS::AccountId": d.account,
            "AWS::Region": d.region,
            "AWS::Partition": d.partition,
            "AWS::StackName": d.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._physical(name, None)

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        out, rest = [], text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            out.append(before)
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name:
                out.append(str(self._physical(*name.split(".", 1))))
            else:
                out.append(str(self._ref(name)))
        return "".join(out) + rest

    def _get_att(self, arg: Any) -> Any:
        logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        return self._physical(logical_id, attribute)

    def _if(self, arg: list[Any]) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)

    def _equals(self, arg: list[Any]) -> bool:
        left, right = (self.resolve(v) for v in arg)
        return bool(left == right)

    def _join(self, arg: list[Any]) -> str:
        separator, values = arg
        return str(separator).join(str(v) for v in self.resolve(values))

    _FUNCTIONS: ClassVar[dict[str, Any]] = {
        "Ref": _ref,
        "Fn::Sub": _sub,
        "Fn::GetAtt": _get_att,
        "Fn::If": _if,
        "Fn::Equals": _equals,
        "Fn::Not": lambda self, arg: not self.resolve(arg[0]),
        "Fn::And": lambda self, arg: all(self.resolve(v) for v in arg),
        "Fn::Or": lambda self, arg: any(self.resolve(v) for v in arg),
        "Condition": lambda self, arg: self.condition(arg),
        "Fn::Join": _join,
    }

    # -- resources

    def _physical(self, logical_id: str, attribute: str | None) -> str:
        """What Ref (attribute None) or Fn::GetAtt returns for one of the template's resources."""
        resources = self.template.get("Resources", {})
        assert logical_id in resources, f"reference to unknown resource or parameter {logical_id!r}"
        assert self.resource_exists(logical_id), f"reference to {logical_id}, which is not created here"
        resource = resources[logical_id]
        kind, props = resource.get("Type"), self.resolve(resource.get("Properties", {}))
        if kind is None and logical_id in CHALICE_ROLES:
            kind = "AWS::IAM::Role"  # the merge template only adds properties to the roles Chalice generates
        if kind is None and logical_id in CHALICE_FUNCTIONS:
            kind = "AWS::Serverless::Function"  # ... and to its functions
        d = self.deployment
        iam = f"arn:{d.partition}:iam::{d.account}"
        regional = f"{d.region}:{d.account}"
        role_name = props.get("RoleName") or generated_role_name(d.stack_name, logical_id)
        answers: dict[tuple[str | None, str | None], Any] = {
            ("AWS::IAM::ManagedPolicy", None): f"{iam}:policy{props.get('Path', '/')}{props.get('ManagedPolicyName')}",
            ("AWS::IAM::Group", None): props.get("GroupName"),
            ("AWS::IAM::Group", "Arn"): f"{iam}:group{props.get('Path', '/')}{props.get('GroupName')}",
            ("AWS::IAM::Role", None): role_name,
            ("AWS::Serverless::Function", None): props.get("FunctionName"),
            ("AWS::IAM::Role", "Arn"): f"{iam}:role/{role_name}",
            ("AWS::SNS::Topic", None): f"arn:{d.partition}:sns:{regional}:{props.get('TopicName')}",
            ("AWS::SSM::Parameter", None): props.get("Name"),
            ("AWS::Events::Rule", "Arn"): f"arn:{d.partition}:events:{regional}:rule/{logical_id}",
        }
        key = (kind, attribute)
        assert key in answers, f"the resolver does not know {kind} {attribute or 'Ref'} ({logical_id})"
        value = answers[key]
        assert value is not None and "None" not in str(value), f"{logical_id} lacks the name property"
        return str(value)


def generated_role_name(stack: str, logical_id: str) -> str:
    """The name CloudFormation gives a role without RoleName: `<stack>-<LogicalId>-<suffix>` (suffix fixed here)."""
    return f"{stack}-{logical_id}-{EXAMPLE_SUFFIX}"


def packaged_role_policy(deployment: Deployment | None = None, role: str = "ScheduledScanRole") -> dict[str, Any]:
    """The execution-role policy the merge template gives a role, resolved for one deployment."""
    template = load_template(MERGE_TEMPLATE)
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    return Resolver(template, deployment).resolve(policy["PolicyDocument"])


def forwarder_role_policy(deployment: Deployment | None = None) -> dict[str, Any]:
    """The inline policy of the sign-in forwarder's role, resolved (deployed in a region other than the bot's)."""
    template = load_template(FORWARDER_TEMPLATE)
    (policy,) = template["Resources"]["ForwarderRole"]["Properties"]["Policies"]
    deployment = deployment or Deployment(region="eu-west-1")
    return Resolver(template, deployment).resolve(policy["PolicyDocument"])


# ----------------------------------------------------------------------------- ARN patterns


def arn_matches(value: str, pattern: str) -> bool:
    """IAM-style match of an ARN against a pattern with * and ?, one colon-separated field at a time.

    The first five fields (arn, partition, service, region, account) are matched separately, so a
    wildcard cannot reach across them; the resource part is matched as a whole.
    """
    if pattern == "*":
        return True
    values, patterns = value.split(":", 5), pattern.split(":", 5)
    if len(values) != len(patterns):
        return False
    return all(fnmatch.fnmatchcase(v, p) for v, p in zip(values, patterns, strict=True))


def uncovered(values: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The values that no pattern matches (empty: every value is covered)."""
    patterns = list(patterns)
    return [v for v in values if not any(arn_matches(v, p) or fnmatch.fnmatchcase(v, p) for p in patterns)]
