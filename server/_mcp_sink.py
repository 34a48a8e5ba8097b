"""Where the server's runs are recorded: the store, in the caller's tenant.

Stands in for ``planexec.executor.StoreSink`` until that lands; one function, so the
switch is one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from planexec.executor import Event, RunRecord, RunSink
from planexec.store import Store

__all__ = ["store_sink"]


class _StoreSink:
    def __init__(self, store: Store, tenant: str, user: str | None) -> None:
        self._store = store
        self._tenant = tenant
        self._user = user

    async def save_run(self, record: RunRecord) -> None:
        await self._store.save_run(self._tenant, record.model_dump(mode="json"), user=self._user)

    async def add_events(self, events: Sequence[Event]) -> None:
        if events:
            await self._store.add_events(self._tenant, events[0].run_id, [e.as_json() for e in events])


def store_sink(store: Store, tenant: str, user: str | None) -> RunSink:
    """A sink that saves the run record and appends its events in ``tenant``."""
    return _StoreSink(store, tenant, user)
