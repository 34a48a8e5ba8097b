"""Two tenants with colliding ids, random interleavings: neither ever sees the other's
plans, runs or events (NotFound, never the other's data), on every backend.

Hypothesis drives a state machine that keeps a model of what each tenant stored; every
stored value carries its tenant's name, so a leak shows up as a wrong value. The store's
async calls go through a blocking portal (one event loop thread for the whole test), and
each example starts from a fresh, empty store.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
import redis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from planexec.store import NotFound, Store, open_store

from .redis_server import RedisServer
from .samples import event, plan, run_record

_T = TypeVar("_T")

# Pairs whose names collide as prefixes or around key separators and hash tags.
TENANT_PAIRS = [("acme", "globex"), ("acme", "acme:eu"), ("t", "t}"), ("{a}", "a")]
IDS_LIST = ["x", "x:1"]
IDS = st.sampled_from(IDS_LIST)  # few ids, so both tenants keep reusing them
USERS = st.sampled_from(["alice", "bob"])
SIDES = st.sampled_from([0, 1])


class TenantMachine(RuleBasedStateMachine):
    portal: ClassVar[BlockingPortal]
    new_url: ClassVar[Callable[[], str]]

    def __init__(self) -> None:
        super().__init__()
        self.opened: AbstractContextManager[Store] = self.portal.wrap_async_context_manager(
            open_store(type(self).new_url())
        )
        self.store = self.opened.__enter__()
        self.tenants = TENANT_PAIRS[0]
        self.versions = itertools.count()
        # (tenant, id) -> (user, value); events: (tenant, run id) -> {seq: value}
        self.plans: dict[tuple[str, str], tuple[str, str]] = {}
        self.runs: dict[tuple[str, str], tuple[str, str]] = {}
        self.events: dict[tuple[str, str], dict[int, str]] = {}

    def teardown(self) -> None:
        self.opened.__exit__(None, None, None)

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.portal.call(functools.partial(method, *args, **kwargs))

    def missing(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        with pytest.raises(NotFound):
            self.call(method, *args, **kwargs)

    def value(self, tenant: str) -> str:
        return f"{tenant}#{next(self.versions)}"

    @initialize(pair=st.sampled_from(TENANT_PAIRS))
    def choose_tenants(self, pair: tuple[str, str]) -> None:
        self.tenants = pair

    # writes
    @rule(side=SIDES, plan_id=IDS, user=USERS)
    def save_plan(self, side: int, plan_id: str, user: str) -> None:
        tenant, value = self.tenants[side], self.value(self.tenants[side])
        self.call(self.store.save_plan, tenant, plan(plan_id, user=user, goal=value))
        self.plans[tenant, plan_id] = (user, value)

    @rule(side=SIDES, run_id=IDS, user=USERS)
    def save_run(self, side: int, run_id: str, user: str) -> None:
        tenant, value = self.tenants[side], self.value(self.tenants[side])
        self.call(self.store.save_run, tenant, run_record(run_id, plan_id=value, output=value), user=user)
        self.runs[tenant, run_id] = (user, value)
        self.events.setdefault((tenant, run_id), {})

    @rule(side=SIDES, run_id=IDS, seqs=st.lists(st.integers(1, 6), min_size=1, max_size=4))
    def add_events(self, side: int, run_id: str, seqs: list[int]) -> None:
        tenant = self.tenants[side]
        batch = [event(run_id, seq, type=self.value(tenant)) for seq in seqs]
        if (tenant, run_id) not in self.runs:
            self.missing(self.store.add_events, tenant, run_id, batch)
            return
        self.call(self.store.add_events, tenant, run_id, batch)
        stored = self.events[tenant, run_id]
        for item in batch:
            stored.setdefault(item["seq"], item["type"])

    @rule(side=SIDES, user=USERS)
    def erase_user(self, side: int, user: str) -> None:
        tenant = self.tenants[side]
        self.call(self.store.erase_user, tenant, user)
        for table in (self.plans, self.runs):
            for key in [key for key, (owner, _) in table.items() if key[0] == tenant and owner == user]:
                del table[key]
                if table is self.runs:
                    del self.events[key]

    # reads
    @rule(side=SIDES, run_id=IDS, after_seq=st.integers(0, 6), limit=st.none() | st.integers(1, 3))
    def page_events(self, side: int, run_id: str, after_seq: int, limit: int | None) -> None:
        tenant = self.tenants[side]
        if (tenant, run_id) not in self.runs:
            self.missing(self.store.list_events, tenant, run_id, after_seq=after_seq, limit=limit)
            return
        events = self.call(self.store.list_events, tenant, run_id, after_seq=after_seq, limit=limit)
        expected = sorted((seq, v) for seq, v in self.events[tenant, run_id].items() if seq > after_seq)
        assert [(e["seq"], e["type"]) for e in events] == expected[:limit]

    @invariant()
    def every_read_shows_the_tenants_own_data_only(self) -> None:
        for tenant in self.tenants:
            assert self.portal.call(tenant_view, self.store, tenant) == self.expected_view(tenant)

    def expected_view(self, tenant: str) -> dict[str, object]:
        view: dict[str, object] = {
            "plans": sorted((i, user, v) for (owner, i), (user, v) in self.plans.items() if owner == tenant),
            "runs": sorted((i, user, v) for (owner, i), (user, v) in self.runs.items() if owner == tenant),
        }
        for item_id in IDS_LIST:
            stored_plan = self.plans.get((tenant, item_id))
            view[f"plan {item_id}"] = MISSING if stored_plan is None else stored_plan
            if (tenant, item_id) in self.runs:
                view[f"run {item_id}"] = (
                    self.runs[tenant, item_id][1],
                    [item_id] * 5,
                    sorted(self.events[tenant, item_id].items()),
                )
            else:
                view[f"run {item_id}"] = (MISSING, MISSING, MISSING)
        return view


MISSING = "<NotFound>"


async def _or_missing(read: Awaitable[_T]) -> _T | str:
    try:
        return await read
    except NotFound:
        return MISSING


async def tenant_view(store: Store, tenant: str) -> dict[str, object]:
    """Everything the tenant can read about the ids both tenants use, in one portal call."""
    view: dict[str, object] = {
        "plans": sorted(
            (p.plan_id, p.user, p.plan["goal"]) for p in await store.list_plans(tenant, limit=100)
        ),
        "runs": sorted((r.run_id, r.user, r.plan_id) for r in await store.list_runs(tenant, limit=100)),
    }
    for item_id in IDS_LIST:
        found_plan = await _or_missing(store.get_plan(tenant, item_id))
        view[f"plan {item_id}"] = (
            found_plan if isinstance(found_plan, str) else (found_plan.user, found_plan.plan["goal"])
        )
        record = await _or_missing(store.get_run(tenant, item_id))
        attempts = await _or_missing(store.list_attempts(tenant, item_id))
        events = await _or_missing(store.list_events(tenant, item_id))
        view[f"run {item_id}"] = (
            record if isinstance(record, str) else record["output"],
            attempts if isinstance(attempts, str) else [attempt.run_id for attempt in attempts],
            events if isinstance(events, str) else [(e["seq"], e["type"]) for e in events],
        )
    return view


@pytest.fixture(params=["sqlite", "redis"])
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A URL of a fresh, empty store each time it is called."""
    if request.param == "sqlite":
        names = itertools.count()
        return lambda: f"sqlite:///{tmp_path / f'store-{next(names)}.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")

    def fresh() -> str:
        with redis.Redis.from_url(server.url) as client:
            client.flushdb()
        return server.url

    return fresh


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal("asyncio") as running:
        yield running


def test_tenants_never_see_each_others_plans_runs_or_events(
    new_store_url: Callable[[], str], portal: BlockingPortal
) -> None:
    machine = type("Machine", (TenantMachine,), {"portal": portal, "new_url": staticmethod(new_store_url)})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=30, stateful_step_count=20, deadline=None)
    )
