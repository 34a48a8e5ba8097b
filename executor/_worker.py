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
from ._records import AttemptRecord
from ._retry import Attempts, Call

__all__ = ["CancelRequested", "DeadlineReached", "Finished", "Job", "Message", "Retrying", "work"]


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
    """Someone asked the run to stop (cooperatively: compensations still run)."""


@dataclass(frozen=True, slots=True)
class DeadlineReached:
    """The plan's ``timeout_s`` has passed."""


Message = Retrying | Finished | CancelRequested | DeadlineReached


async def _perform(
    job: Job, inbox: MemoryObjectSendStream[Message], tools: ToolView, clock: Clock, sleep: Sleep
) -> Finished:
    call = job.call
    if job.scope.cancel_called:
        return Finished(call.task_id, job.compensation, None, True)

    def on_retry(attempt: AttemptRecord, delay_s: float) -> None:
        inbox.send_nowait(Retrying(call.task_id, job.compensation, attempt, delay_s))

    attempts = Attempts(call, tools, clock, sleep, on_retry)
    last: AttemptRecord | None = None
    with job.scope:
        last = await attempts.run()
    if last is None:
        return Finished(call.task_id, job.compensation, attempts.interrupted(), True)
    return Finished(call.task_id, job.compensation, last, False)


async def work(
    jobs: MemoryObjectReceiveStream[Job],
    inbox: MemoryObjectSendStream[Message],
    tools: ToolView,
    clock: Clock,
    sleep: Sleep,
) -> None:
    """Run jobs until the scheduler closes the job stream.

    A queued job is taken at once, without a checkpoint (the call itself yields), so one
    worker runs a burst of quick calls without a wake-up per call.
    """
    while True:
        try:
            try:
                job = jobs.receive_nowait()
            except WouldBlock:
                job = await jobs.receive()
        except EndOfStream:
            return
        inbox.send_nowait(await _perform(job, inbox, tools, clock, sleep))
