"""Chalice wiring: one trigger per Lambda, nothing else (behaviour lives in chalicelib.handlers)."""

from __future__ import annotations

from chalice.app import Chalice, CloudWatchEvent, Rate

from chalicelib import handlers
from chalicelib.core import events

app = Chalice(app_name="mfa-enforcer")


@app.schedule(Rate(1, unit=Rate.HOURS), name="scheduled_scan")
def scheduled_scan(event: CloudWatchEvent) -> dict[str, object]:
    """Hourly full reconciliation from the IAM credential report."""
    return handlers.scheduled_scan(event.context)


@handlers.lenient_envelope
@app.on_cw_event(events.CONSOLE_LOGIN_PATTERN, name="on_console_login")
def on_console_login(event: CloudWatchEvent) -> dict[str, object]:
    """A console sign-in (source aws.signin, ConsoleLogin): quarantine an IAM user who signed in without MFA."""
    return handlers.on_console_login(event.to_dict(), event.context)


@handlers.lenient_envelope
@app.on_cw_event(events.IAM_CHANGE_PATTERN, name="on_iam_change")
def on_iam_change(event: CloudWatchEvent) -> dict[str, object]:
    """An IAM change (source aws.iam): release on MFA enrolment, re-check on MFA removal, tamper alert."""
    return handlers.on_iam_change(event.to_dict(), event.context)
