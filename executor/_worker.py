"""Workers: they make the tool calls the scheduler hands out and report back.

Workers take jobs (:class:`Job`) from one memory object stream and send :class:`Retrying`
and :class:`Finished` messages to the scheduler's inbox; they change no run state
themselves. The scheduler adds workers only while jobs wait for one (see
``Scheduler._staff``), so there are never more workers than calls in flight. Every job
runs inside its own ``CancelScope``, created by the scheduler so that it can cancel one
task; a job cancelled before it starts never calls its tool.

Messages are NamedTuples: immutable, and several times cheaper to build than frozen
dataclasses on this per-call path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from anyio import CancelScope, EndOfStream, WouldBlock
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from planexec.registry import ToolView

from ._clock import Clock, Sleep
from ._errors import ErrorInfo
from ._records import AttemptRecord
from ._retry import Attempts, Call

__all__ = ["CancelRequested", "DeadlineReached", "Finished", "Job", "Message", "Retrying", "Worker"]


class Job(NamedTuple):
    call: Call
    scope: CancelScope
    compensation: bool = False


class Retrying(NamedTuple):
    """An attempt failed and the call will be retried after ``delay_s``."""

    task_id: str
    compensation: bool
    attempt: AttemptRecord
    delay_s: float


class Finished(NamedTuple):
    """A job is over. ``last`` is its final attempt (None if cancelled before any)."""

    task_id: str
    compensation: bool
    last: AttemptRecord | None
    cancelled: bool


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """Someone asked the run to stop (cooperatively: compensations still run). ``error``
    says why, when it is not a plain cancel (e.g. the run's sink failed)."""

    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class DeadlineReached:
    """The plan's ``timeout_s`` has passed."""


Message = Retrying | Finished | CancelRequested | DeadlineReached


class Worker:
    """Runs jobs until the scheduler closes the job stream (start :meth:`run` in the run's
    task group).

    A queued job is taken at once, without a checkpoint (the call itself yields), so one
    worker runs a burst of quick calls without a wake-up per call.
    """

    def __init__(
        self,
        jobs: MemoryObjectReceiveStream[Job],
        inbox: MemoryObjectSendStream[Message],
        tools: ToolView,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._jobs = jobs
        self._inbox = inbox
        self._attempts = Attempts(tools, clock, sleep, self._retrying)
        self._job: Job | None = None

    async def run(self) -> None:
        jobs, inbox, attempts = self._jobs, self._inbox, self._attempts
        while True:
            try:
                try:
                    job = jobs.receive_nowait()
                except WouldBlock:
                    job = await jobs.receive()
            except EndOfStream:
                return
            call, scope = job.call, job.scope
            if scope.cancel_called:  # cancelled while queued: the tool is never called
                inbox.send_nowait(Finished(call.task_id, job.compensation, None, True))
                continue
            self._job = job
            last: AttemptRecord | None = None
            with scope:
                last = await attempts.run(call)
            if last is None:
                inbox.send_nowait(Finished(call.task_id, job.compensation, attempts.interrupted(call), True))
            else:
                inbox.send_nowait(Finished(call.task_id, job.compensation, last, False))

    def _retrying(self, attempt: AttemptRecord, delay_s: float) -> None:
        job = self._job
        assert job is not None
        self._inbox.send_nowait(Retrying(job.call.task_id, job.compensation, attempt, delay_s))
