"""Chalice wiring: one trigger per Lambda, nothing else (behaviour lives in chalicelib.handlers)."""

from __future__ import annotations

from chalice.app import Chalice, CloudWatchEvent, Rate

from chalicelib import handlers

app = Chalice(app_name="mfa-enforcer")


@app.schedule(Rate(1, unit=Rate.HOURS), name="scheduled_scan")
def scheduled_scan(event: CloudWatchEvent) -> dict[str, object]:
    """Hourly full reconciliation from the IAM credential report."""
    return handlers.scheduled_scan(event.context)
