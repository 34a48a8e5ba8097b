"""The JSON text StoreSink stores (executor/_record_json.py) holds exactly what
``record.model_dump(mode="json")`` and ``event.as_json()`` hold, for every record shape
the executor's corpus produces and for values that are not plain JSON."""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pydantic_core
import pytest
from pydantic import BaseModel

from planexec.executor import (
    AttemptRecord,
    CompensationRecord,
    CompensationStatus,
    ErrorInfo,
    Event,
    EventType,
    Executor,
    RunErrorCode,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)
from planexec.executor._record_json import (
    FAST_RECORDS,
    event_text,
    events_batch,
    record_document,
    timestamp_text,
)
from planexec.executor._records import format_timestamp
from planexec.store import JsonDocument, JsonEvents

from .replay_corpus import CORPUS
from .support import FakeClock

pytestmark = pytest.mark.anyio


class CapturingSink:
    """Keeps every record and event the executor hands over."""

    def __init__(self) -> None:
        self.records: list[RunRecord] = []
        self.events: list[Event] = []

    async def save_run(self, record: RunRecord) -> None:
        self.records.append(record)

    async def add_events(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def assert_record_encoded(record: RunRecord, extra: dict[str, Any] | None = None) -> None:
    document = record_document(record, extra)
    expected = {**record.model_dump(mode="json"), **(extra or {})}
    assert json.loads(document.text) == expected
    for key, value in document.head.items():
        assert expected[key] == value


def test_records_are_written_field_by_field() -> None:
    # False would mean a record dataclass changed shape and every save goes through pydantic.
    assert FAST_RECORDS


@pytest.mark.parametrize("name", list(CORPUS))
async def test_every_corpus_record_and_event_encodes_as_model_dump_does(name: str) -> None:
    scenario = CORPUS[name]()
    sink = CapturingSink()
    executor = Executor(scenario.tools, sink, clock=FakeClock(), sleep=scenario.sleep)
    async with executor.start(scenario.plan, scenario.inputs) as handle:
        if scenario.drive is not None:
            await scenario.drive(handle)
        await handle.wait()

    assert [r.status for r in sink.records] == [RunStatus.RUNNING, RunStatus(scenario.expect)]
    for record in sink.records:
        assert_record_encoded(record)
    batch = events_batch(sink.events)
    assert batch.seqs == list(range(1, len(sink.events) + 1))
    assert [json.loads(text) for text in batch.texts] == [event.as_json() for event in sink.events]
    assert [dict(document) for document in batch] == [event.as_json() for event in sink.events]


def _when(second: int, micro: int) -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=second, microseconds=micro)


def test_timestamps_read_as_format_timestamp_writes_them() -> None:
    rng = random.Random(4)
    moments = [_when(0, 0), _when(0, 999_999), _when(1, 0), _when(86_400, 1), _when(0, 5)]
    moments += [_when(rng.randrange(3), rng.choice([0, rng.randrange(1_000_000)])) for _ in range(300)]
    moments.append(datetime(2026, 3, 1, 2, 0, 0, 7, tzinfo=timezone(timedelta(hours=2))))  # 00:00 UTC
    moments.append(datetime.fromisoformat("2026-03-01T00:00:00.000007Z"))  # a UTC that is not UTC
    read_back = {"run_id": "r", "plan_id": "p", "status": "running", "started_at": "2026-03-01T00:00:01Z"}
    moments.append(RunRecord.model_validate({**read_back, "tasks": {}}).started_at)  # pydantic's UTC tzinfo
    for moment in moments:
        assert timestamp_text(moment) == format_timestamp(moment), moment


class Point(BaseModel):
    x: int
    label: str = "p"


def _attempt(n: int, **result: Any) -> AttemptRecord:
    return AttemptRecord(n=n, arguments={"n": n}, started_at=_when(n, 0), finished_at=_when(n, 10), **result)


def test_values_that_are_not_plain_json_encode_as_model_dump_does() -> None:
    odd = {
        "inf": math.inf,
        "nan": math.nan,
        "tuple": (1, 2),
        "when": _when(3, 0),
        "uuid": uuid.UUID(int=7),
        "model": Point(x=1),
        3: "int key",
        "text": 'quote " backslash \\ newline \n ünïcode',
        "big": 2**70,
    }
    error = ErrorInfo(code=RunErrorCode.TOOL_ERROR, message="no", detail={"why": odd})
    task = TaskRecord(
        status=TaskStatus.COMPENSATED,
        attempts=[_attempt(1, error=error), _attempt(2, output=odd)],
        output=odd,
        handled_by="h\u00e9",
        compensation=CompensationRecord(
            status=CompensationStatus.FAILED,
            attempts=[_attempt(1, error=error)],
            started_at=_when(9, 1),
            finished_at=None,
            error=error,
        ),
    )
    record = RunRecord(
        run_id='r"1',
        plan_id="p\u00e9",
        status=RunStatus.FAILED,
        output={"t": odd},
        error=error,
        started_at=_when(0, 0),
        finished_at=_when(99, 999_999),
        tasks={
            "t\u00e9": task,
            "copy": replace(task, output={"other": 1}),
            "plain": replace(task, attempts=[]),
        },
    )
    assert_record_encoded(record)
    assert_record_encoded(record, {"replay_of": "r-0", "note": [1, None]})
    detail = {"error": error.as_json(), "retry_in_s": 0.25, "inputs": odd}
    event = Event(7, _when(5, 5), 'r"1', "t\u00e9", EventType.ATTEMPT_FAILED, 2, detail)
    assert json.loads(event_text(event, json.dumps('r"1'))) == json.loads(
        pydantic_core.to_json(event.as_json(), inf_nan_mode="null")
    )


def test_a_pending_task_record_is_the_untouched_text_only_when_it_is_untouched() -> None:
    pending = TaskRecord(status=TaskStatus.PENDING, attempts=[])
    start = _when(0, 0)
    for task in [
        pending,
        replace(pending, output={"x": 1}),
        replace(pending, handled_by="h"),
        replace(pending, error=ErrorInfo(code=RunErrorCode.CANCELLED, message="c")),
        replace(pending, status=TaskStatus.SKIPPED),
    ]:
        assert_record_encoded(
            RunRecord(run_id="r", plan_id="p", status=RunStatus.RUNNING, started_at=start, tasks={"a": task})
        )


def test_a_json_document_serves_its_head_without_decoding_and_the_rest_by_decoding() -> None:
    broken = JsonDocument("{not json", {"run_id": "r", "status": "running"})
    assert (broken["run_id"], broken.get("status")) == ("r", "running")
    with pytest.raises(ValueError):
        broken["tasks"]
    whole = JsonDocument('{"seq": 3, "type": "x", "detail": {}}', {"seq": 3})
    assert dict(whole) == {"seq": 3, "type": "x", "detail": {}}
    assert whole["type"] == "x" and len(whole) == 3
    with pytest.raises(ValueError):
        len(JsonDocument("[1, 2]", {}))


def test_a_json_events_batch_takes_ascending_seqs_only_and_reads_as_documents() -> None:
    batch = JsonEvents([1, 3], ['{"seq": 1}', '{"seq": 3, "x": [1]}'])
    assert (len(batch), batch[1]["x"], batch[-1]["seq"]) == (2, [1], 3)
    assert [dict(document) for document in batch[:1]] == [{"seq": 1}]
    assert batch.array() == '[{"seq": 1},{"seq": 3, "x": [1]}]'
    for seqs in ([2, 1], [1, 1], [True], ["1"]):
        with pytest.raises(ValueError):
            JsonEvents(seqs, ["{}"] * len(seqs))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        JsonEvents([1], [])
