"""Powertools Logger and Metrics, shared by every entry point.

Kept in one module so the service name and namespace are written once and the handlers stay
wiring-only. Nothing logged here may carry a secret: findings hold names, ARNs and reasons only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from chalicelib.core.model import Finding

SERVICE = "mfa-enforcer"
NAMESPACE = "MfaEnforcer"
# Metrics the deployment's alarms watch (.chalice/merge-template.yaml); a test holds the alarms to these names.
SCANS_COMPLETED = "ScansCompleted"
HANDLER_ERRORS = "HandlerErrors"
FINDINGS = "Findings"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# botocore logs whole response bodies at DEBUG, which would include SSM's decrypted webhook URL if
# someone turned the function's log level to DEBUG. The SDKs' own loggers never go below WARNING.
for _sdk in ("botocore", "boto3", "urllib3", "slack_sdk"):
    logging.getLogger(_sdk).setLevel(logging.WARNING)


def log_findings(findings: Iterable[Finding]) -> None:
    """One structured line per finding; transitions at WARNING so they stand out in Logs Insights."""
    for finding in findings:
        level = logger.warning if finding.transition else logger.info
        level("finding", extra={"finding": finding.as_dict()})


def count_findings(findings: Iterable[Finding]) -> dict[str, int]:
    """Emit one `Findings` metric per type (dimension `FindingType`) and return the counts."""
    counts = Counter(f.type.value for f in findings)
    for kind, value in sorted(counts.items()):
        dimensioned(FINDINGS, value, FindingType=kind)
    return dict(sorted(counts.items()))


def dimensioned(name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """A metric with its own dimensions, flushed at once (Powertools' single_metric)."""
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)


def add(name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
    """A metric in the invocation's batch, flushed by `flush()` at the end of the handler."""
    metrics.add_metric(name=name, unit=unit, value=value)


def start(context: Any, handler: str) -> None:
    """Tag every log line of this invocation with the handler and the Lambda request id."""
    logger.append_keys(handler=handler, request_id=getattr(context, "aws_request_id", None))


def flush() -> None:
    """Write the invocation's batched metrics (EMF on stdout); no-op when none were added."""
    if metrics.metric_set:
        metrics.flush_metrics()
