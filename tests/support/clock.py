"""A monotonic clock for code that waits: it only moves when the code under test sleeps."""

from __future__ import annotations


class FakeTime:
    """Pass `.sleep` and `.monotonic` to the adapter; waits become exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now
