"""Notification channels (SNS, Slack). Placeholder until the notifications issue lands."""

from __future__ import annotations

from typing import Any

from chalicelib import service
from chalicelib.config import Settings


def build(settings: Settings, client: Any, parameters: Any) -> service.Notifier:
    """The notifier for these settings; no channel configured means findings are only logged."""
    return service.NullNotifier()
