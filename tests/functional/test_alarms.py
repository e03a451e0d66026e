"""The dead-man's switch: the merge template's alarms watch exactly the metrics the code emits, and page the topic.

The metrics are read from what the handlers really print (Powertools' embedded metric format on
stdout, which CloudWatch turns into metrics), so a renamed metric or dimension in the code fails
here, not silently in an account. The alarms' actions are resolved for both topic set-ups.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import observability
from chalicelib.core import decide
from chalicelib.core.model import FindingType
from tests.conftest import load_fixture
from tests.policy_sim import documents as docs
from tests.support import moto_state as ms

TEMPLATE = docs.load_template(docs.MERGE_TEMPLATE)
ALARMS = {name: r for name, r in TEMPLATE["Resources"].items() if r.get("Type") == "AWS::CloudWatch::Alarm"}
CENTRAL_TOPIC = "arn:aws:sns:us-east-1:999999999999:mfa-enforcer-findings"
TOPIC_OF = {
    "created": (docs.Deployment(), f"arn:aws:sns:{docs.REGION}:{docs.ACCOUNT}:mfa-enforcer-findings"),
    "central": (docs.Deployment(parameters={"CentralTopicArn": CENTRAL_TOPIC}), CENTRAL_TOPIC),
}


def emitted(stdout: str) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(namespace, metric, dimensions) of every EMF document printed, with the dimension values."""
    out = set()
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = tuple(sorted((key, str(document[key])) for key in dimension_set))
                for metric in directive["Metrics"]:
                    out.add((directive["Namespace"], metric["Name"], dims))
    return out


def watched(alarm: dict[str, Any]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, its own or in its metric math."""
    props = alarm["Properties"]
    stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
    if "MetricName" in props:
        stats.append(props)
    return [
        (m["Namespace"], m["MetricName"], tuple(sorted((d["Name"], _plain(d["Value"])) for d in m["Dimensions"])))
        for m in stats
    ]


def _plain(value: Any) -> str:
    """A dimension value: a literal, or `Ref <function>` shown as the function's fixed name."""
    if isinstance(value, dict) and "Ref" in value:
        return str(TEMPLATE["Resources"][value["Ref"]]["Properties"]["FunctionName"])
    return str(value)


def test_three_alarms_ship_with_the_template() -> None:
    assert set(ALARMS) == {"NoCompletedScanAlarm", "HandlerErrorsAlarm", "QuarantinePolicyTamperedAlarm"}


@pytest.mark.parametrize("topics", list(TOPIC_OF))
@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_pages_the_findings_topic_when_it_fires_and_when_it_clears(alarm: str, topics: str) -> None:
    deployment, topic = TOPIC_OF[topics]
    properties = docs.Resolver(TEMPLATE, deployment).resolve(ALARMS[alarm]["Properties"])
    assert properties["AlarmActions"] == [topic]
    assert properties["OKActions"] == [topic]
    assert properties["AlarmName"].startswith("mfa-enforcer-")


def test_no_completed_scan_in_two_hours_counts_silence_as_breaching() -> None:
    props = ALARMS["NoCompletedScanAlarm"]["Properties"]
    assert (props["Period"] * props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (7200, 2)
    assert (props["ComparisonOperator"], props["Threshold"], props["Statistic"]) == ("LessThanThreshold", 1, "Sum")
    assert props["TreatMissingData"] == "breaching"


def test_handler_errors_cover_all_three_functions() -> None:
    props = ALARMS["HandlerErrorsAlarm"]["Properties"]
    lambda_errors = {dims for ns, name, dims in watched(ALARMS["HandlerErrorsAlarm"]) if ns == "AWS/Lambda"}
    assert lambda_errors == {(("FunctionName", f"mfa-enforcer-{f}"),) for f in docs.FUNCTIONS}
    (expression,) = [m for m in props["Metrics"] if m.get("ReturnData")]
    ids = {m["Id"] for m in props["Metrics"] if "MetricStat" in m}
    assert all(f"FILL({i}, 0)" in expression["Expression"] for i in ids)
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_a_tampered_finding_fires_at_once_and_holds_while_the_scan_keeps_finding_it() -> None:
    props = ALARMS["QuarantinePolicyTamperedAlarm"]["Properties"]
    dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
    assert dims == {"service": observability.SERVICE, "FindingType": FindingType.QUARANTINE_POLICY_TAMPERED.value}
    assert props["DatapointsToAlarm"] == 1
    assert props["Period"] * props["EvaluationPeriods"] > 3600 + 900  # longer than the scan's hour (and its jitter)


def test_the_alarms_watch_what_the_handlers_emit(
    iam: Any, enforce: str, lambda_client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A completed scan, a tampered policy, and an unexpected error in each real-time handler, as printed."""
    ms.hollow_quarantine(iam)
    capsys.readouterr()
    lambda_client.lambda_.invoke("scheduled_scan", load_fixture("eventbridge_scheduled.json"))

    def broken(*_: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(decide, "triage_login", broken)
    monkeypatch.setattr(decide, "triage_change", broken)
    lambda_client.lambda_.invoke("on_console_login", load_fixture("eventbridge_console_login_iam_user_no_mfa.json"))
    lambda_client.lambda_.invoke("on_iam_change", load_fixture("eventbridge_iam_enable_mfa_device.json"))
    printed = emitted(capsys.readouterr().out)

    ours = [w for alarm in ALARMS.values() for w in watched(alarm) if w[0] == observability.NAMESPACE]
    assert ours, "the alarms watch none of the bot's own metrics"
    missing = [w for w in ours if w not in printed]
    assert not missing, f"alarms watch metrics the code never emitted: {missing}\nemitted: {sorted(printed)}"
