"""The deterministic executor (DESIGN §5): runs a validated PlanObject against a tool view,
persists runs through a sink (:class:`StoreSink` on a store) and replays stored runs.

May import ``schemas``, ``registry`` and ``store`` only.
"""

from ._clock import Clock, Sleep, SystemClock
from ._errors import ErrorInfo, RunErrorCode
from ._events import Event, EventType, RunSink
from ._executor import Executor, RunHandle
from ._limits import Limits
from ._mermaid import render_mermaid
from ._records import (
    AttemptRecord,
    CompensationRecord,
    CompensationStatus,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)
from ._replay import ReplayError, ReplayResult, replay_run
from ._store_sink import StoreSink

__all__ = [
    "AttemptRecord",
    "Clock",
    "CompensationRecord",
    "CompensationStatus",
    "ErrorInfo",
    "Event",
    "EventType",
    "Executor",
    "Limits",
    "ReplayError",
    "ReplayResult",
    "RunErrorCode",
    "RunHandle",
    "RunRecord",
    "RunSink",
    "RunStatus",
    "Sleep",
    "StoreSink",
    "SystemClock",
    "TaskRecord",
    "TaskStatus",
    "render_mermaid",
    "replay_run",
]
