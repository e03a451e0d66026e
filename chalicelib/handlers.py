"""The body of each Lambda: settings, ports, the service call, and the invocation's logs and metrics.

app.py only routes triggers here, so the Chalice decorators and the behaviour can be read apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalice.app import CloudWatchEvent

from chalicelib import bootstrap, observability, realtime, service
from chalicelib.core.config import ConfigurationError

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


# --- Real-time paths: on_console_login and on_iam_change -----------------------------------------


class LenientCloudWatchEvent(CloudWatchEvent):
    """Chalice's CloudWatchEvent, minus the KeyError on a missing envelope key.

    EventBridge always sends the full envelope, but a hand-made, truncated or non-object event
    (a manual `chalice invoke`, a test) would otherwise fail inside Chalice before the handler
    runs. Here it reaches events.py, which names the problem in one log line; these attributes
    are only defaults for a wrong shape (the handlers read `to_dict()`).
    """

    def _extract_attributes(self, event_dict: Any) -> None:
        fields: Mapping[str, Any] = event_dict if isinstance(event_dict, Mapping) else {}

        def text(key: str) -> str:
            value = fields.get(key)
            return value if isinstance(value, str) else ""

        detail, resources = fields.get("detail"), fields.get("resources")
        self.version, self.account, self.region = text("version"), text("account"), text("region")
        self.detail_type, self.source, self.time = text("detail-type"), text("source"), text("time")
        self.event_id = text("id")
        self.detail = detail if isinstance(detail, dict) else {}
        self.resources = resources if isinstance(resources, list) else []


def lenient_envelope(handler: Any) -> Any:
    """Make a Chalice `on_cw_event` handler accept any payload (see LenientCloudWatchEvent).

    Chalice wraps the function in an EventSourceHandler whose `event_class` builds the event
    object; the same object is both `app.<name>` (what Lambda calls) and `app.handler_map[name]`
    (what chalice.test.Client calls), so swapping the class covers both.
    """
    handler.event_class = LenientCloudWatchEvent
    return handler


def on_console_login(event: object, context: Any) -> dict[str, object]:
    """One console sign-in; never raises for the event's sake (see realtime.on_console_login)."""
    return _on_event("on_console_login", realtime.on_console_login, event, context)


def on_iam_change(event: object, context: Any) -> dict[str, object]:
    """One IAM change; never raises for the event's sake (see realtime.on_iam_change)."""
    return _on_event("on_iam_change", realtime.on_iam_change, event, context)


def _on_event(
    name: str,
    handle: Callable[[service.Ports, object, realtime.CallerIdentity], realtime.EventOutcome],
    event: object,
    context: Any,
) -> dict[str, object]:
    """Settings first (a bad deployment fails loudly, as for the scan); then the event, which must not.

    The broad `except` is the Lambda boundary on purpose: a raising event handler is retried by
    Lambda and then dropped, which helps nobody; the hourly scan is the backstop, and the
    `HandlerErrors` metric and the logged traceback make the bug visible.
    """
    observability.start(context, name)
    try:
        settings = _settings()
        identity = realtime.CallerIdentity(lambda: bootstrap.client("sts"), context, settings.account_id)
        try:
            return handle(bootstrap.ports(settings), event, identity).summary()
        except Exception as exc:
            logger.exception("unexpected error while handling the event; nothing more was done")
            observability.dimensioned(observability.HANDLER_ERRORS, 1, Handler=name)
            return {"trigger": name, "error": type(exc).__name__}
    finally:
        observability.flush()
