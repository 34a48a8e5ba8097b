"""The deterministic executor (DESIGN §5): runs a validated PlanObject against a tool view.

May import ``schemas`` and ``registry`` only.
"""

from ._clock import Clock, Sleep, SystemClock
from ._errors import ErrorInfo, RunErrorCode
from ._events import Event, EventType, RunSink
from ._executor import Executor, RunHandle
from ._limits import Limits
from ._records import (
    AttemptRecord,
    CompensationRecord,
    CompensationStatus,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)

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
    "RunErrorCode",
    "RunHandle",
    "RunRecord",
    "RunSink",
    "RunStatus",
    "Sleep",
    "SystemClock",
    "TaskRecord",
    "TaskStatus",
]
