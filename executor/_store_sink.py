"""The executor's :class:`~._events.RunSink` on a :class:`~planexec.store.Store`.

``Executor(tools, StoreSink(store, tenant, user))`` persists every run as it goes: the
record when the run starts and once more at its end (``store.save_run``; the store
reads the run's attempts from the record), and the events in the batches the executor hands
over, one ``store.add_events`` call per batch (one transaction on SQLite): at most one
batch per ``SINK_BATCH_INTERVAL_S`` (10 ms) while the run goes on, and what is left as
soon as it ends, so a busy run writes a few large batches, not one per write's latency.

Records and events go to the store already encoded (:mod:`._record_json`: the JSON of
``record.model_dump(mode="json")`` and ``event.as_json()``, as a
:class:`~planexec.store.JsonDocument` and :class:`~planexec.store.JsonEvents`), so
persisting costs the run's event loop a few µs per task.

A store error (``StoreUnavailable`` when the backend is gone) propagates: the executor
then stops the run and raises it as itself (see :mod:`._executor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planexec.store import Store

from ._events import Event
from ._record_json import events_batch, record_document
from ._records import RunRecord

__all__ = ["StoreSink"]


class StoreSink:
    """Saves runs and their events to ``store`` under ``tenant`` (and ``user``, for
    export and erasure). ``extra`` holds top-level fields stored with every record of the
    run besides the DESIGN §5 ones (a replay notes ``replay_of``)."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        user: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.user = user
        self._extra = dict(extra or {})

    async def save_run(self, record: RunRecord) -> None:
        await self.store.save_run(self.tenant, record_document(record, self._extra), user=self.user)

    async def add_events(self, events: Sequence[Event]) -> None:
        if events:
            await self.store.add_events(self.tenant, events[0].run_id, events_batch(events))
