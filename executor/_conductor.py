"""Pacing a recorded replay so that it halts where the recorded run halted.

A recorded replay answers every call at once from the record. When the recorded run ran
to its end that is all it takes: with every outcome fixed, what runs and what it gets are
decided by the plan alone. When it **halted** (a failure under ``abort``, a cancel, the
deadline), what was running, done, or never started at that moment depended on timing,
so the :class:`Conductor` replays the timing that mattered, in the recorded order of
:attr:`~._recorded.Recording.steps`:

- a launch step waits until the replayed run has launched that task;
- a group of calls that ended together is held until every one of them is waiting, then
  released at once, so the run's loop sees them in one batch, as the recorded run did
  (no launch came between them);
- a cancel or a deadline is delivered right after the calls that preceded it;
- a call the record shows cut short waits until the replayed run cancels it, and so does
  a retry wait the record shows cancelled.

Compensation calls come after all of that, one at a time, and are never held.

If the replay goes its own way (a stored record that was edited, another executor), a
step may never become ready. The conductor notices when the replayed run can go no further
(its loop waits and every call in flight waits on the conductor): it then stops pacing
and releases everything; if only cut-short calls remain, it cancels the replay. A replay
never hangs; the comparison then reports how it diverged.

The batch guarantee rests on asyncio running woken tasks in the order they were woken
(the backend planexec runs on).
"""

from __future__ import annotations

from contextvars import ContextVar

import anyio
from anyio.lowlevel import checkpoint

from ._events import EventType
from ._executor import RunHandle
from ._recorded import Boundary, CallKey, Group, HaltKind, RecordedCall, Recording

__all__ = ["Conductor", "last_call"]

last_call: ContextVar[CallKey | None] = ContextVar("planexec_replay_last_call", default=None)
"""The call a worker made last (a worker makes one call at a time): a retry wait that
follows reads it to know whose retry it is."""


class Conductor:
    """Paces one recorded replay (see the module docstring). Build it inside the replay's
    event loop; hand :meth:`sleep` and :meth:`deadline` to the executor, route every call
    through :meth:`gate`, and run :meth:`run` beside the replayed run."""

    def __init__(self, recording: Recording) -> None:
        self._steps = recording.steps
        self._cursor = 0
        self._in_sleep = recording.cancelled_in_sleep
        self._waiting: dict[CallKey, anyio.Event] = {}
        """Calls held until their group is released."""
        self._held = 0
        """Calls (and retry waits) held until the replayed run cancels them."""
        self._observed: set[tuple[str, str]] = set()
        self._seen = 0
        self._free = not self._steps
        self._cancelled = False
        self._over = False
        self._changed: anyio.Event | None = None
        self.gave_up = False
        """True when the replay went its own way and pacing stopped."""

    # -- what the replayed run calls -----------------------------------------------------

    async def gate(self, key: CallKey, call: RecordedCall) -> None:
        """Return when the call ``key`` may report its recorded outcome."""
        last_call.set(key)
        if call.cut_short:
            await self._hold()
        if self._free or key[1]:
            return
        released = self._waiting[key] = anyio.Event()
        self._poke()
        try:
            await released.wait()
        finally:
            if self._waiting.get(key) is released:  # cancelled before its release
                del self._waiting[key]
                self._poke()

    async def sleep(self, seconds: float) -> None:
        """The replay's retry wait: none, unless the record shows the run cancelled during
        this wait (then it lasts until the replayed run cancels it too)."""
        if last_call.get() in self._in_sleep:
            await self._hold()
        await checkpoint()

    async def deadline(self, seconds: float) -> None:
        """The replay's deadline timer never fires; the recorded deadline is delivered as a
        step instead."""
        await anyio.sleep_forever()

    async def _hold(self) -> None:
        self._held += 1
        self._poke()
        try:
            await anyio.sleep_forever()
        finally:
            self._held -= 1
            self._poke()

    # -- pacing ----------------------------------------------------------------------------

    async def run(self, handle: RunHandle) -> None:
        """Pace the replayed run of ``handle`` until it is over."""
        # The conductor belongs to the executor package and reads the run's own scheduler
        # and log, which the public handle does not expose.
        scheduler, log = handle._scheduler, handle._log
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self._follow, handle)
            while not self._over:
                for event in log.since(self._seen):
                    if event.type is EventType.TASK_RUNNING or (
                        event.type is EventType.TASK_FAILED and event.attempt is None
                    ):
                        self._observed.add((event.type.value, event.task_id or ""))
                    self._seen += 1
                if await self._advance(handle):
                    continue
                in_flight = scheduler.calls_if_idle()
                if in_flight and in_flight == len(self._waiting) + self._held and self._unstick(handle):
                    continue
                self._changed = anyio.Event()
                await self._changed.wait()
            task_group.cancel_scope.cancel()

    async def _advance(self, handle: RunHandle) -> bool:
        """Take the next step if the replayed run is ready for it."""
        if self._free or self._cursor >= len(self._steps):
            return False
        step = self._steps[self._cursor]
        if isinstance(step, Boundary):
            if step.event not in self._observed:
                return False
        elif isinstance(step, Group):
            if not all(key in self._waiting for key in step.keys):
                return False
            for key in step.keys:
                self._waiting.pop(key).set()
        else:
            await checkpoint()  # the calls just released report before the halt arrives
            if step.kind is HaltKind.CANCEL:
                handle.cancel()
            else:
                handle._scheduler.expire()
        self._cursor += 1
        return True

    def _unstick(self, handle: RunHandle) -> bool:
        """Every call in flight waits on the conductor and the run's loop waits on them:
        stop pacing, or if that is done already, cancel the replay. False if neither is left."""
        if not self._free:
            self._free = self.gave_up = True
            waiting, self._waiting = self._waiting, {}
            for released in waiting.values():
                released.set()
            if waiting:
                return True
        if not self._cancelled:  # only cut-short calls are left, and nothing will cancel them
            self._cancelled = self.gave_up = True
            handle.cancel()
            return True
        return False

    async def _follow(self, handle: RunHandle) -> None:
        async for _ in handle._log.follow():
            self._poke()
        self._over = True
        self._poke()

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()
