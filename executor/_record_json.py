"""Run records and events written straight to JSON text, for the store.

:func:`record_document` and :func:`events_batch` give the JSON of
``record.model_dump(mode="json")`` and ``event.as_json()`` (the same values; the tests
compare them on every record shape of the executor's corpus) as a
:class:`~planexec.store.JsonDocument` and a :class:`~planexec.store.JsonEvents`, several
times faster than building those dicts and encoding them: a stored run costs the event
loop a few µs per task instead of ~40 (``benchmarks.store``). What makes the difference:

- no intermediate dicts and no per-field Python callbacks (pydantic calls back into
  Python for every timestamp and attempt of the record);
- JSON values of unknown shape (arguments, outputs, event details) go through
  ``pydantic_core.to_json``, the serializer ``model_dump(mode="json")`` itself uses for
  ``Any`` (so a non-finite float is ``null`` and a datetime an ISO string, as there);
- a timestamp in a second formatted recently is that second's text and its microseconds
  (a run stamps thousands of times a second).

The record's task, attempt and compensation dataclasses are written field by field; if
their fields change, the whole record goes through pydantic until this module is taught
the new shape (``FAST_RECORDS`` says which; a test keeps it True). Top-level record
fields this module does not know are written by pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring
from typing import Any

from pydantic_core import to_json

from planexec.store import JsonDocument, JsonEvents

from ._errors import ErrorInfo
from ._events import Event
from ._records import (
    UNTOUCHED_TASK,
    AttemptRecord,
    CompensationRecord,
    RunRecord,
    TaskRecord,
    TaskStatus,
    format_timestamp,
)

__all__ = ["FAST_RECORDS", "event_text", "events_batch", "record_document", "timestamp_text"]

_RUN_FIELDS = ("run_id", "plan_id", "status", "output", "error", "started_at", "finished_at", "tasks")
_OTHER_RUN_FIELDS = frozenset(RunRecord.model_fields) - set(_RUN_FIELDS)
FAST_RECORDS = (
    tuple(f.name for f in fields(TaskRecord))
    == ("status", "attempts", "output", "error", "handled_by", "compensation")
    and tuple(f.name for f in fields(AttemptRecord))
    == ("n", "arguments", "output", "error", "started_at", "finished_at", "cache")
    and tuple(f.name for f in fields(CompensationRecord))
    == ("status", "attempts", "started_at", "finished_at", "error")
)
"""Whether records are written field by field (False: pydantic writes them)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_second: tuple[datetime, str] = (_EPOCH, "1970-01-01T00:00:00.")
"""The last second formatted (its start) and its text up to the decimal point; replaced
whole, so a reader in another thread sees a matching pair."""
_prefixes: dict[int, str] = {}
"""The same text for every second formatted recently, by seconds since the epoch: a run
that straddles a second boundary stamps its tasks in no order around it (and a record
lists them in plan order), so the last second alone would be missed often there."""
_MAX_PREFIXES = 64
_DIGITS = [f"{n:03d}" for n in range(1000)]


def timestamp_text(value: datetime) -> str:
    """:func:`~._records.format_timestamp`, about three times faster for a UTC time in a
    second formatted recently (subtractions and lookups instead of ``isoformat``)."""
    global _second
    if value.tzinfo is not UTC:
        return format_timestamp(value)
    start, prefix = _second
    since = value - start
    if since.days or since.seconds:  # not in [start, start + 1 s)
        since = value - _EPOCH
        second = since.days * 86_400 + since.seconds
        known = _prefixes.get(second)
        if known is None:
            if len(_prefixes) >= _MAX_PREFIXES:
                _prefixes.clear()  # another thread may find it empty: it formats again
            known = _prefixes[second] = value.isoformat(timespec="seconds")[:-6] + "."
        prefix = known
        since = timedelta(microseconds=since.microseconds)
        _second = (value - since, prefix)
    micro = since.microseconds
    return f"{prefix}{_DIGITS[micro // 1000]}{_DIGITS[micro % 1000]}Z"


def _value(value: Any) -> str:
    """Any JSON-ready value, as ``model_dump(mode="json")`` writes a field typed ``Any``."""
    if value is None:
        return "null"
    return to_json(value, by_alias=False, inf_nan_mode="null").decode()


def _error(error: ErrorInfo | None) -> str:
    return "null" if error is None else error.model_dump_json()


def _time(value: datetime | None) -> str:
    return "null" if value is None else f'"{timestamp_text(value)}"'


def _attempts(attempts: list[AttemptRecord], last_output: str | None = None) -> str:
    """``last_output``: the last attempt's output, already encoded."""
    parts = []
    last = len(attempts) - 1
    for i, a in enumerate(attempts):
        if a.error is not None:
            result = f'"error":{a.error.model_dump_json()}'
        elif i == last and last_output is not None:
            result = f'"output":{last_output}'
        else:
            result = f'"output":{_value(a.output)}'
        cache = "" if a.cache is None else f',"cache":{encode_basestring(a.cache)}'
        parts.append(
            f'{{"n":{a.n},"arguments":{_value(a.arguments)},{result},'
            f'"started_at":"{timestamp_text(a.started_at)}","finished_at":"{timestamp_text(a.finished_at)}"'
            f"{cache}}}"
        )
    return f"[{','.join(parts)}]"


def _compensation(undo: CompensationRecord | None) -> str:
    if undo is None:
        return "null"
    return (
        f'{{"status":"{undo.status}","attempts":{_attempts(undo.attempts)},'
        f'"started_at":{_time(undo.started_at)},"finished_at":{_time(undo.finished_at)},'
        f'"error":{_error(undo.error)}}}'
    )


_UNTOUCHED = (
    '{"status":"pending","attempts":[],"output":null,"error":null,"handled_by":null,"compensation":null}'
)


def _task(task: TaskRecord) -> str:
    if task is UNTOUCHED_TASK:
        return _UNTOUCHED  # every task of the record saved when the run starts
    attempts, output = task.attempts, task.output
    plain = task.error is None and task.handled_by is None and task.compensation is None
    if not attempts and task.status is TaskStatus.PENDING:
        if output is None and plain:
            return _UNTOUCHED
    elif plain and len(attempts) == 1 and attempts[0].error is None and attempts[0].output is output and (
        attempts[0].cache is None
    ):
        # Most tasks of a final record: one call, its output the task's.
        a, output_text = attempts[0], _value(output)
        return (
            f'{{"status":"{task.status._value_}","attempts":[{{"n":{a.n},"arguments":{_value(a.arguments)},'
            f'"output":{output_text},"started_at":"{timestamp_text(a.started_at)}",'
            f'"finished_at":"{timestamp_text(a.finished_at)}"}}],"output":{output_text},'
            '"error":null,"handled_by":null,"compensation":null}'
        )
    output_text = _value(output)
    # A task's output is usually its last attempt's: encoded once for both.
    reused = bool(attempts) and attempts[-1].error is None and attempts[-1].output is output
    attempts_text = _attempts(attempts, output_text if reused else None) if attempts else "[]"
    handled_by = task.handled_by
    return (
        f'{{"status":"{task.status}","attempts":{attempts_text},"output":{output_text},'
        f'"error":{_error(task.error)},'
        f'"handled_by":{"null" if handled_by is None else encode_basestring(handled_by)},'
        f'"compensation":{_compensation(task.compensation)}}}'
    )


def record_document(record: RunRecord, extra: dict[str, Any] | None = None) -> JsonDocument:
    """The record as ``record.model_dump(mode="json")`` plus the ``extra`` fields (which
    must not name a record field), encoded."""
    status = record.status.value
    started = timestamp_text(record.started_at)
    finished = None if record.finished_at is None else timestamp_text(record.finished_at)
    head: dict[str, str | None] = {"run_id": record.run_id, "plan_id": record.plan_id, "status": status}
    head |= {"started_at": started, "finished_at": finished}
    if not FAST_RECORDS:
        document = record.model_dump(mode="json")
        document.update(extra or {})
        return JsonDocument(_value(document), head)
    tasks = ",".join([f"{encode_basestring(tid)}:{_task(task)}" for tid, task in record.tasks.items()])
    finished_text = "null" if finished is None else f'"{finished}"'
    text = (
        f'{{"run_id":{encode_basestring(record.run_id)},"plan_id":{encode_basestring(record.plan_id)},'
        f'"status":"{status}","output":{_value(record.output)},"error":{_error(record.error)},'
        f'"started_at":"{started}","finished_at":{finished_text},'
        f'"tasks":{{{tasks}}}'
    )
    more: dict[str, Any] = {}
    if _OTHER_RUN_FIELDS:
        more.update(record.model_dump(mode="json", include=set(_OTHER_RUN_FIELDS)))
    if extra:
        more.update(extra)
    if more:
        text += "," + _value(more)[1:-1]
    return JsonDocument(text + "}", head)


def event_text(event: Event, run_id_text: str) -> str:
    """``event.as_json()`` encoded; ``run_id_text`` is the run id already encoded."""
    task_id, attempt, detail = event.task_id, event.attempt, event.detail
    return (
        f'{{"seq":{event.seq},"at":"{timestamp_text(event.at)}","run_id":{run_id_text},'
        f'"task_id":{"null" if task_id is None else encode_basestring(task_id)},'
        f'"type":"{event.type._value_}",'
        f'"attempt":{"null" if attempt is None else attempt},'
        f'"detail":{_value(detail if type(detail) is dict else dict(detail)) if detail else "{}"}}}'
    )


def events_batch(events: Sequence[Event]) -> JsonEvents:
    """A batch of one run's events (in ``seq`` order, as the log hands them over), encoded."""
    run_id_text = encode_basestring(events[0].run_id) if events else ""
    return JsonEvents([event.seq for event in events], [event_text(event, run_id_text) for event in events])
