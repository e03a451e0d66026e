"""The body of each Lambda: settings, ports, the service call, and the invocation's logs and metrics.

app.py only routes triggers here, so the Chalice decorators and the behaviour can be read apart.
"""

from __future__ import annotations

from typing import Any

from chalicelib import bootstrap, observability, service
from chalicelib.config import ConfigurationError

logger = observability.logger


def scheduled_scan(context: Any) -> dict[str, object]:
    """Run one full reconciliation; a bad configuration fails the invocation before any work."""
    observability.start(context, "scheduled_scan")
    try:
        settings = _settings()
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return service.run_scan(bootstrap.ports(settings), remaining).summary()
    finally:
        observability.flush()


def _settings() -> Any:
    try:
        return bootstrap.settings()
    except ConfigurationError as exc:
        logger.error("configuration error, nothing done", extra={"problem": str(exc)})
        observability.dimensioned("ConfigurationErrors", 1)
        raise
