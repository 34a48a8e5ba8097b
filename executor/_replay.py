"""Replay of a stored run (DESIGN §5): ``recorded`` and ``live --from TASK``.

::

    result = await replay_run(store, "acme", run_id)                 # recorded: no tool call
    result = await replay_run(store, "acme", run_id, tools=registry,
                              live=True, from_task="summary")        # a new, stored run
    result.identical, result.divergence

Both load the stored run record (``store.get_run``), its plan (``store.get_plan``) and its
inputs (the ``run_started`` event's ``detail.inputs``), run the plan again with the
executor, and compare the new record with the stored one (:func:`first_divergence`).

- **Recorded** calls no tool: every call is answered with the outcome the record holds for
  that task and attempt (:mod:`._replay_tools`), on a made-up clock with no retry waits.
  A run that halted (a failure under ``abort``, a cancel, its deadline) is replayed up to
  the same moment (:mod:`._conductor`), so cancelled and deadline runs replay too.
  Nothing is stored; ``run_id`` is the replay's own id all the same.
- **Live** from task ``T``: ``T``, what depends on it (transitively) and the handlers of
  those call the real ``tools``; the other tasks get their recorded outcomes. It is a
  run of its own, stored through :class:`StoreSink` under the same tenant with
  ``replay_of`` (and ``replay: {mode, from_task}``) in its record; its divergence from the
  original is informative.

Errors: :class:`~planexec.store.NotFound` for a run the tenant has not stored, and
:class:`ReplayError` for a stored run that cannot be replayed (unfinished, plan or inputs
not stored, a bad ``from_task``, live mode without tools).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
from pydantic import ValidationError

from planexec.registry import ToolView
from planexec.schemas import PlanObject
from planexec.store import NotFound, Store

from ._conductor import Conductor
from ._executor import Executor
from ._graph import PlanGraph
from ._recorded import Recording
from ._records import RunRecord
from ._replay_tools import LiveTools, RecordedTools
from ._store_sink import StoreSink

__all__ = ["ReplayError", "ReplayResult", "first_divergence", "replay_run"]

_FINISHED = frozenset({"succeeded", "failed", "cancelled"})


class ReplayError(Exception):
    """A stored run that cannot be replayed; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay found. ``divergence`` is the first difference from the stored run
    (None when ``identical``): ``{task_id, field, attempt, recorded, replayed}``."""

    status: str
    output: Any
    identical: bool
    divergence: dict[str, Any] | None
    run_id: str
    """The replay's own run id (stored only for a live replay)."""
    replay_of: str
    record: RunRecord | None = field(default=None, repr=False, compare=False)
    """The replay's run record (not part of :meth:`as_json`)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "output": self.output,
            "identical": self.identical,
            "divergence": self.divergence,
            "run_id": self.run_id,
            "replay_of": self.replay_of,
        }


async def replay_run(
    store: Store,
    tenant: str,
    run_id: str,
    *,
    tools: ToolView | None = None,
    live: bool = False,
    from_task: str | None = None,
    user: str | None = None,
) -> ReplayResult:
    """Replay the stored run ``run_id`` of ``tenant`` (see the module docstring).

    ``tools`` is required live; in recorded mode it is optional and never called (only its
    per-tool limits are read). ``user`` owns the run a live replay stores."""
    record = await store.get_run(tenant, run_id)
    status = record.get("status")
    if status not in _FINISHED:
        raise ReplayError(
            f"run {run_id!r} has not finished (status {status!r}): its stored record holds no "
            "call results yet; replay it once it has ended"
        )
    plan = await _stored_plan(store, tenant, record, run_id)
    events = await store.list_events(tenant, run_id)
    inputs = _stored_inputs(events, run_id)
    try:
        recording = Recording.of(record, events, plan)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ReplayError(f"run {run_id!r}: the stored record or events are malformed ({error!r})") from error
    if live:
        if tools is None:
            raise ReplayError("a live replay calls tools: pass the tools to call")
        if from_task is None or from_task not in plan.tasks:
            known = ", ".join(plan.tasks)
            raise ReplayError(f"a live replay starts from a task of the plan ({known}); got {from_task!r}")
        replayed = await _replay_live(store, tenant, user, run_id, plan, inputs, recording, tools, from_task)
    else:
        if from_task is not None:
            raise ReplayError("from_task is for a live replay (live=True)")
        replayed = await _replay_recorded(plan, inputs, recording, tools, record.get("started_at"))
    data = replayed.model_dump(mode="json")
    divergence = first_divergence(record, data)
    return ReplayResult(
        status=data["status"],
        output=data["output"],
        identical=divergence is None,
        divergence=divergence,
        run_id=replayed.run_id,
        replay_of=run_id,
        record=replayed,
    )


async def _stored_plan(store: Store, tenant: str, record: Mapping[str, Any], run_id: str) -> PlanObject:
    plan_id = str(record.get("plan_id"))
    try:
        entry = await store.get_plan(tenant, plan_id)
    except NotFound:
        raise ReplayError(
            f"the plan {plan_id!r} of run {run_id!r} was not stored, so the run cannot be "
            "replayed; store plans (store.save_plan) before running them"
        ) from None
    try:
        return PlanObject.model_validate(entry.plan)
    except ValidationError as error:
        message = f"the stored plan {plan_id!r} of run {run_id!r} is not a valid plan: {error}"
        raise ReplayError(message) from None


def _stored_inputs(events: Sequence[Mapping[str, Any]], run_id: str) -> dict[str, Any]:
    for event in events:
        if event.get("type") == "run_started":
            inputs = (event.get("detail") or {}).get("inputs")
            if isinstance(inputs, dict):
                return inputs
            break
    raise ReplayError(
        f"run {run_id!r}: no stored run_started event with the run's inputs, so the run "
        "cannot be replayed (runs stored before inputs were recorded have none)"
    )


class _ReplayClock:
    """Time for a recorded replay: one microsecond per reading from the recorded start."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._ticks = 0

    def now(self) -> datetime:
        self._now += timedelta(microseconds=1)
        return self._now

    def monotonic(self) -> float:
        self._ticks += 1
        return self._ticks / 1e6


def _start_of(stamp: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(stamp))
    except ValueError:
        return datetime.fromisoformat("2000-01-01T00:00:00+00:00")


def _without_timeouts(plan: PlanObject) -> PlanObject:
    """Recorded timeouts come back as recorded errors; a held call must not time out."""
    tasks = {}
    for task_id, task in plan.tasks.items():
        undo = task.compensation
        tasks[task_id] = task.model_copy(
            update={
                "timeout_s": None,
                "compensation": undo.model_copy(update={"timeout_s": None}) if undo else None,
            }
        )
    return plan.model_copy(update={"tasks": tasks})


async def _replay_recorded(
    plan: PlanObject,
    inputs: dict[str, Any],
    recording: Recording,
    tools: ToolView | None,
    started_at: Any,
) -> RunRecord:
    conductor = Conductor(recording)
    view = RecordedTools(recording, plan, conductor, tools)
    executor = Executor(view, clock=_ReplayClock(_start_of(started_at)), sleep=conductor.sleep)
    executor._deadline = conductor.deadline
    async with executor.start(_without_timeouts(plan), inputs) as handle:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(conductor.run, handle)
            record = await handle.wait()
            task_group.cancel_scope.cancel()
    return record


def live_tasks(plan: PlanObject, from_task: str) -> set[str]:
    """``from_task``, every task that depends on it, and the handlers of those."""
    dependents = PlanGraph.of(plan).dependents
    live: set[str] = set()
    stack = [from_task]
    while stack:
        task_id = stack.pop()
        if task_id in live:
            continue
        live.add(task_id)
        stack.extend(dependents[task_id])
        handler = plan.tasks[task_id].on_error
        if handler is not None:
            stack.append(handler)
    return live


async def _replay_live(
    store: Store,
    tenant: str,
    user: str | None,
    run_id: str,
    plan: PlanObject,
    inputs: dict[str, Any],
    recording: Recording,
    tools: ToolView,
    from_task: str,
) -> RunRecord:
    view = LiveTools(recording, tools, live_tasks(plan, from_task))
    extra = {"replay_of": run_id, "replay": {"mode": "live", "from_task": from_task}}
    executor = Executor(view, StoreSink(store, tenant, user, extra=extra), sleep=view.sleep)
    return await executor.run(plan, inputs, run_id=str(uuid.uuid4()))


# -- comparison ------------------------------------------------------------------------------


def first_divergence(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first difference between two run records (JSON form), or None.

    Tasks are visited in the recorded run's order of first attempt start (tasks that made
    no call after, in record order). Per task: each attempt's arguments, error code and
    output (an attempt the replay made and the record has not is field ``call``; one the
    replay did not make, ``attempts``), then the task's status and output, then its
    compensation's attempts and status (fields ``compensation.*``). Then the run's status
    and output (``task_id`` null)."""
    tasks: Mapping[str, Any] = recorded.get("tasks") or {}
    replayed_tasks: Mapping[str, Any] = replayed.get("tasks") or {}
    order = _task_order(tasks) + [task_id for task_id in replayed_tasks if task_id not in tasks]
    for task_id in order:
        found = _task_divergence(task_id, tasks.get(task_id) or {}, replayed_tasks.get(task_id) or {})
        if found is not None:
            return found
    for name in ("status", "output"):
        if recorded.get(name) != replayed.get(name):
            return _divergence(None, name, None, recorded.get(name), replayed.get(name))
    return None


def _task_order(tasks: Mapping[str, Any]) -> list[str]:
    def first_start(item: tuple[int, str]) -> tuple[int, str, int]:
        index, task_id = item
        attempts = tasks[task_id].get("attempts") or ()
        return (0, str(attempts[0].get("started_at")), index) if attempts else (1, "", index)

    return [task_id for _, task_id in sorted(enumerate(tasks), key=first_start)]


def _divergence(
    task_id: str | None, name: str, attempt: int | None, recorded: Any, replayed: Any
) -> dict[str, Any]:
    return {"task_id": task_id, "field": name, "attempt": attempt, "recorded": recorded, "replayed": replayed}


def _task_divergence(
    task_id: str, recorded: Mapping[str, Any], replayed: Mapping[str, Any]
) -> dict[str, Any] | None:
    found = _attempts_divergence(task_id, "", recorded.get("attempts") or [], replayed.get("attempts") or [])
    if found is not None:
        return found
    for name in ("status", "output"):
        if recorded.get(name) != replayed.get(name):
            return _divergence(task_id, name, None, recorded.get(name), replayed.get(name))
    undo, replayed_undo = recorded.get("compensation"), replayed.get("compensation")
    if undo is None or replayed_undo is None:
        if undo != replayed_undo:
            status, replayed_status = (u.get("status") if u else None for u in (undo, replayed_undo))
            return _divergence(task_id, "compensation", None, status, replayed_status)
        return None
    attempts, replayed_attempts = undo.get("attempts") or [], replayed_undo.get("attempts") or []
    found = _attempts_divergence(task_id, "compensation.", attempts, replayed_attempts)
    if found is None and undo.get("status") != replayed_undo.get("status"):
        found = _divergence(
            task_id, "compensation.status", None, undo.get("status"), replayed_undo.get("status")
        )
    return found


def _attempts_divergence(
    task_id: str, prefix: str, recorded: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    for index in range(max(len(recorded), len(replayed))):
        if index >= len(recorded):
            extra = replayed[index]
            call = {"arguments": extra.get("arguments")}
            return _divergence(task_id, f"{prefix}call", extra.get("n", index + 1), None, call)
        attempt = recorded[index]
        n = attempt.get("n", index + 1)
        if index >= len(replayed):
            return _divergence(task_id, f"{prefix}attempts", n, len(recorded), len(replayed))
        other = replayed[index]
        if attempt.get("arguments") != other.get("arguments"):
            return _divergence(
                task_id, f"{prefix}arguments", n, attempt.get("arguments"), other.get("arguments")
            )
        code, other_code = _code(attempt.get("error")), _code(other.get("error"))
        if code != other_code:
            return _divergence(task_id, f"{prefix}error", n, code, other_code)
        if attempt.get("output") != other.get("output"):
            return _divergence(task_id, f"{prefix}output", n, attempt.get("output"), other.get("output"))
    return None


def _code(error: Any) -> Any:
    return error.get("code") if isinstance(error, Mapping) else None
