"""The benchmark's counting middleware and seed plan (bench/): pure, no moto server, no c7n."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest

from bench import c7n_policy, report, seed
from bench.server import CallCounter, CountingMiddleware, operation_of

SCOPE = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/{region}/{service}/aws4_request, SignedHeaders=host"


def environ(service: str, *, body: bytes = b"", query: str = "", target: str | None = None) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": query,
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": SCOPE.format(region="us-east-1", service=service),
        "wsgi.input": io.BytesIO(body),
    }
    if target is not None:
        env["HTTP_X_AMZ_TARGET"] = target
        env["CONTENT_TYPE"] = "application/x-amz-json-1.1"
    return env


@pytest.mark.parametrize(
    ("env", "body", "expected"),
    [
        (environ("iam"), b"Action=GetCredentialReport&Version=2010-05-08", "iam:GetCredentialReport"),
        (environ("sts", query="Action=GetCallerIdentity&Version=2011-06-15"), b"", "sts:GetCallerIdentity"),
        (environ("ssm", target="AmazonSSM.GetParameter"), b'{"Name": "/x"}', "ssm:GetParameter"),
    ],
)
def test_operation_is_named_from_the_signature_scope_and_the_protocol(
    env: dict[str, Any], body: bytes, expected: str
) -> None:
    assert operation_of(env, body) == expected


def test_middleware_counts_calls_and_bytes_passes_the_body_on_and_adds_latency() -> None:
    seen: list[bytes] = []
    slept: list[float] = []

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(env["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"<ok/>", b"!"]

    counter = CallCounter()
    middleware = CountingMiddleware(app, counter, latency_ms=50, sleep=slept.append)
    body = b"Action=ListMFADevices&UserName=bob"
    answer = middleware(environ("iam", body=body), lambda *a: None)

    assert b"".join(answer) == b"<ok/>!"
    assert seen == [body]
    assert slept == [0.05]
    assert counter.snapshot() == {"calls": {"iam:ListMFADevices": 1}, "bytes": {"iam:ListMFADevices": 6}, "total": 1}


def test_control_endpoints_are_answered_by_the_middleware_and_never_counted() -> None:
    counter = CallCounter()
    counter.add("iam:GetUser", 10)
    middleware = CountingMiddleware(lambda e, s: [], counter)
    statuses: list[str] = []
    env = {"PATH_INFO": "/_bench/calls", "QUERY_STRING": "", "wsgi.input": io.BytesIO()}

    body = b"".join(middleware(env, lambda status, headers: statuses.append(status)))

    assert statuses == ["200 OK"]
    assert b'"total": 1' in body
    middleware({**env, "PATH_INFO": "/_bench/reset"}, lambda *a: None)
    assert counter.snapshot()["total"] == 0


def test_seed_plan_is_deterministic_and_has_the_issue_mix() -> None:
    users = seed.plan_users(1000, seed=7)

    assert users == seed.plan_users(1000, seed=7)
    kinds = Counter(u.kind for u in users)
    assert kinds == {"mfa": 600, "no-mfa": 250, "key-only": 150}
    assert 0.75 < sum(u.old for u in users) / 1000 < 0.85
    assert Counter(u.exempt_by for u in users if u.exempt_by) == {"user": 2, "path": 2, "group": 2}
    assert all(u.kind == "no-mfa" and u.old and not u.must_quarantine for u in users if u.exempt_by)


def test_seed_plan_can_place_an_exact_number_of_violators() -> None:
    users = seed.plan_users(5000, seed=7, violators=1250)

    assert sum(u.must_quarantine for u in users) == 1250
    assert len(users) == 5000


def test_exemptions_document_names_every_selector_once_per_entry() -> None:
    document = seed.exemptions_document(seed.plan_users(100, seed=1))

    assert document["version"] == 1
    assert {next(k for k in ("user", "path", "group") if k in e) for e in document["exemptions"]} == {
        "user",
        "path",
        "group",
    }
    assert all(e["reason"] for e in document["exemptions"])


def test_c7n_login_policy_reads_the_event_before_any_api_filter() -> None:
    manifest = {
        "grace_hours": 24,
        "exempt_users": ["a"],
        "exempt_path": "/break-glass/",
        "exempt_group": "vendors-sso",
        "policy_arn": "arn:aws:iam::123456789012:policy/q",
    }

    policy = c7n_policy.login_policy(manifest)["policies"][0]

    assert policy["mode"]["type"] == "cloudtrail"
    assert policy["filters"][0]["type"] == "event"
    assert policy["actions"] == [{"type": "set-policy", "state": "attached", "arn": manifest["policy_arn"]}]


def test_importtime_lines_are_parsed_with_their_depth() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |     botocore.compat\n"
        "import time:       300 |        420 |   boto3\n"
        "import time:      1000 |       1420 | app\n"
    )

    table = report.parse_importtime(stderr)

    assert table["app"] == {"self_us": 1000, "cumulative_us": 1420, "depth": 0}
    assert table["botocore.compat"]["depth"] == 2
    assert report.top_imports(table)["by_package_ms"] == {"app": 1.0, "boto3": 0.3, "botocore": 0.1}


def _pass(calls: dict[str, int], expected: int = 0) -> dict[str, Any]:
    total = sum(calls.values())
    return {"calls_range": [total, total], "by_operation": calls, "expected": expected, "maxrss_max_mb": 60.0}


STEADY_OPS = {
    "iam:GenerateCredentialReport": 1,
    "iam:GetCredentialReport": 1,
    "iam:ListEntitiesForPolicy": 1,
    "iam:GetGroup": 2,
    "ssm:GetParameter": 1,
    "iam:GetPolicy": 1,
    "iam:GetPolicyVersion": 1,
}


@pytest.mark.parametrize(("extra_read", "met"), [(0, True), (1, True), (2, False)])
def test_the_cost_targets_are_steady_8_plus_g_3_per_quarantine_and_2_more_per_release(
    extra_read: int, met: bool
) -> None:
    steady = dict(STEADY_OPS, **{"iam:GetUser": extra_read} if extra_read else {})
    first = dict(STEADY_OPS, **{"iam:ListMFADevices": 4, "iam:TagUser": 4, "iam:AttachUserPolicy": 4})
    release = dict(
        steady,
        **{"iam:ListMFADevices": 2, "iam:UntagUser": 2, "iam:DetachUserPolicy": 2, "iam:GetUser": 2 + extra_read},
    )
    summary = {
        "sizes": {
            "100": {
                "exempt_groups": 1,
                "ours_scan_steady": _pass(steady),
                "ours_scan_first": _pass(first, expected=4),
                "ours_scan_release": _pass(release),
            }
        }
    }

    rows = {row["target"].split(" ")[0]: row for row in report.targets(summary, {})}

    assert rows["steady-state"]["met"] is met
    assert rows["steady-state"]["measured"] == f"N=100: {8 + extra_read} (g=1)"
    assert rows["first"]["met"] is True
    assert rows["each"]["met"] is True
    assert rows["each"]["measured"].startswith(f"N=100: {sum(release.values())} ≤ {sum(steady.values()) + 8} (r=2")
