"""Time, injectable: a :class:`Clock` for timestamps and durations, a ``Sleep`` for backoff.

Timeouts (per attempt and per plan) run on anyio's own clock through cancel scopes; the
injected ``Sleep`` is only what retries wait with, so tests can record the waits and skip
them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

__all__ = ["Clock", "Sleep", "SystemClock"]

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds (``anyio.sleep`` by default)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC (timestamps of records and events)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes back (durations)."""
        ...


class SystemClock:
    # Plain callables rather than methods: a run reads the clock several times per task,
    # and this saves a Python frame on each reading.
    now: Callable[[], datetime] = staticmethod(partial(datetime.now, UTC))
    monotonic: Callable[[], float] = staticmethod(time.monotonic)
