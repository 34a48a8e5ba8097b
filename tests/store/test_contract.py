"""The Store contract (store/_protocol.py): every test runs on every backend through the
``store`` fixture (a real SQLite file, a real redis-server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from planexec.store import (
    ApiKeyEntry,
    AttemptEntry,
    AuditEntry,
    Conflict,
    JsonDocument,
    JsonEvents,
    NotFound,
    RunSummary,
    SessionEntry,
    Store,
    open_store,
)

from .samples import at, event, iso, plan, run_record

pytestmark = pytest.mark.anyio


# plans
async def test_a_saved_plan_reads_back_equal(store: Store) -> None:
    entry = plan("p1")
    await store.save_plan("acme", entry)
    assert await store.get_plan("acme", "p1") == entry


async def test_saving_a_plan_again_replaces_it(store: Store) -> None:
    await store.save_plan("acme", plan("p1", goal="first"))
    await store.save_plan("acme", plan("p1", goal="second"))
    assert (await store.get_plan("acme", "p1")).plan["goal"] == "second"
    assert [p.plan_id for p in await store.list_plans("acme")] == ["p1"]


async def test_a_missing_plan_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.get_plan("acme", "nope")
    assert (caught.value.kind, caught.value.key) == ("plan", "nope")


async def test_another_tenants_plan_is_not_found(store: Store) -> None:
    await store.save_plan("acme", plan("p1"))
    with pytest.raises(NotFound):
        await store.get_plan("globex", "p1")
    assert await store.list_plans("globex") == []


async def test_list_plans_is_newest_first_and_limited(store: Store) -> None:
    for plan_id, created in [("p1", 1), ("p2", 3), ("p3", 2), ("p0", 3)]:
        await store.save_plan("acme", plan(plan_id, created=created))
    await store.save_plan("globex", plan("p9", created=9))
    assert [p.plan_id for p in await store.list_plans("acme")] == ["p2", "p0", "p3", "p1"]
    assert [p.plan_id for p in await store.list_plans("acme", limit=2)] == ["p2", "p0"]


# runs
async def test_a_saved_run_reads_back_equal(store: Store) -> None:
    record = run_record("r1")
    await store.save_run("acme", record, user="alice")
    assert await store.get_run("acme", "r1") == record


def _encoded(document: dict[str, Any], *head_keys: str) -> JsonDocument:
    """``document`` as its JSON text, with a head as the executor's sink gives it."""
    return JsonDocument(json.dumps(document, indent=1), {key: document[key] for key in head_keys})


_RUN_HEAD = ("run_id", "plan_id", "status", "started_at", "finished_at")


async def test_a_run_saved_as_json_text_reads_back_and_lists_as_a_dict_would(store: Store) -> None:
    running = run_record("r1", status="running", finished=None, started=5)
    await store.save_run("acme", _encoded(running, *_RUN_HEAD), user="alice")
    assert await store.get_run("acme", "r1") == running
    final = run_record("r1", status="failed", started=5)
    await store.save_run("acme", _encoded(final, *_RUN_HEAD))
    await store.save_run("acme", run_record("r0", started=1))
    assert await store.get_run("acme", "r1") == final
    assert [(s.run_id, s.status, s.user, s.finished_at) for s in await store.list_runs("acme")] == [
        ("r1", "failed", "alice", iso(10)),
        ("r0", "succeeded", None, iso(10)),
    ]
    assert [s.run_id for s in await store.list_runs("acme", status="failed")] == ["r1"]
    assert [(a.task_id, a.n) for a in await store.list_attempts("acme", "r1")] == [
        (a.task_id, a.n) for a in await store.list_attempts("acme", "r0")
    ]


async def test_events_given_as_json_text_read_back_in_seq_order_with_dict_events(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    await store.add_events("acme", "r1", [_encoded(event("r1", 3), "seq"), event("r1", 1)])
    await store.add_events(
        "acme", "r1", [_encoded(event("r1", 2), "seq"), _encoded(event("r1", 1, type="again"), "seq")]
    )
    assert await store.list_events("acme", "r1") == [event("r1", 1), event("r1", 2), event("r1", 3)]
    with pytest.raises(NotFound):
        await store.add_events("globex", "r1", [_encoded(event("r1", 4), "seq")])


async def test_an_encoded_batch_of_events_reads_back_and_a_retried_one_adds_only_new_seqs(
    store: Store,
) -> None:
    await store.save_run("acme", run_record("r1"))

    def batch(*seqs: int, type: str = "task_running") -> JsonEvents:
        return JsonEvents(list(seqs), [json.dumps(event("r1", seq, type=type)) for seq in seqs])

    await store.add_events("acme", "r1", batch(1, 2, 4))
    await store.add_events("acme", "r1", batch(2, 3, 4, 5, type="again"))
    await store.add_events("acme", "r1", batch())
    assert [(e["seq"], e["type"]) for e in await store.list_events("acme", "r1")] == [
        (1, "task_running"),
        (2, "task_running"),
        (3, "again"),
        (4, "task_running"),
        (5, "again"),
    ]
    with pytest.raises(NotFound):
        await store.add_events("globex", "r1", batch(6))


async def test_saving_a_run_again_replaces_record_and_summary(store: Store) -> None:
    await store.save_run("acme", run_record("r1", status="running", finished=None), user="alice")
    final = run_record("r1", status="failed", output=None)
    await store.save_run("acme", final)
    assert await store.get_run("acme", "r1") == final
    assert await store.list_runs("acme") == [
        RunSummary(
            run_id="r1",
            plan_id="p1",
            status="failed",
            user="alice",  # kept: the second save gave no user
            started_at=iso(0),
            finished_at=iso(10),
        )
    ]


async def test_a_missing_or_another_tenants_run_is_not_found_everywhere(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    await store.add_events("acme", "r1", [event("r1", 1)])
    for tenant, run_id in [("acme", "nope"), ("globex", "r1")]:
        with pytest.raises(NotFound) as caught:
            await store.get_run(tenant, run_id)
        assert (caught.value.kind, caught.value.key) == ("run", run_id)
        with pytest.raises(NotFound):
            await store.list_attempts(tenant, run_id)
        with pytest.raises(NotFound):
            await store.list_events(tenant, run_id)
        with pytest.raises(NotFound):
            await store.add_events(tenant, run_id, [event(run_id, 2)])
    assert [e["seq"] for e in await store.list_events("acme", "r1")] == [1]


async def test_list_runs_is_newest_first_with_ties_by_run_id(store: Store) -> None:
    for run_id, started in [("r1", 1), ("r2", 5), ("r3", 3), ("r0", 5)]:
        await store.save_run("acme", run_record(run_id, started=started))
    assert [r.run_id for r in await store.list_runs("acme")] == ["r2", "r0", "r3", "r1"]
    assert [r.run_id for r in await store.list_runs("acme", limit=3)] == ["r2", "r0", "r3"]


async def test_list_runs_filters_by_status_before_the_limit(store: Store) -> None:
    for run_id, status, started in [("r1", "failed", 1), ("r2", "succeeded", 2), ("r3", "failed", 3)]:
        await store.save_run("acme", run_record(run_id, status=status, started=started))
    await store.save_run("acme", run_record("r4", status="running", started=4, finished=None))
    assert [r.run_id for r in await store.list_runs("acme", status="failed", limit=2)] == ["r3", "r1"]
    assert [r.run_id for r in await store.list_runs("acme", status="running")] == ["r4"]
    assert (await store.list_runs("acme", status="running"))[0].finished_at is None
    assert await store.list_runs("acme", status="cancelled") == []


async def test_list_runs_shows_only_the_tenants_runs(store: Store) -> None:
    await store.save_run("acme", run_record("r1", plan_id="acme-plan"))
    await store.save_run("globex", run_record("r1", plan_id="globex-plan"))
    await store.save_run("globex", run_record("r2"))
    assert [(r.run_id, r.plan_id) for r in await store.list_runs("acme")] == [("r1", "acme-plan")]
    assert (await store.get_run("globex", "r1"))["plan_id"] == "globex-plan"


# attempts
async def test_attempts_come_from_the_record_tasks_then_compensations(store: Store) -> None:
    await store.save_run("acme", run_record("r1", started=100))
    attempts = await store.list_attempts("acme", "r1")
    assert [(a.task_id, a.kind, a.n) for a in attempts] == [
        ("fetch", "task", 1),
        ("fetch", "task", 2),
        ("mail", "task", 1),
        ("mail", "compensation", 1),
        ("mail", "compensation", 2),
    ]
    first, second = attempts[0], attempts[1]
    assert first == AttemptEntry(
        run_id="r1",
        task_id="fetch",
        kind="task",
        n=1,
        arguments={"value": 1},
        output=None,
        error={"code": "timeout", "message": "took too long", "retryable": True, "detail": {}},
        started_at=iso(100),
        finished_at=iso(100.5),
    )
    assert (second.output, second.error) == ({"rows": [1, 2, 3]}, None)


async def test_saving_a_run_again_replaces_its_attempts(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    shorter = run_record("r1")
    del shorter["tasks"]["mail"]
    shorter["tasks"]["fetch"]["attempts"] = shorter["tasks"]["fetch"]["attempts"][1:]
    await store.save_run("acme", shorter)
    assert [(a.task_id, a.kind, a.n) for a in await store.list_attempts("acme", "r1")] == [
        ("fetch", "task", 2)
    ]


async def test_a_run_without_attempts_lists_none(store: Store) -> None:
    record = run_record("r1", status="running", finished=None)
    record["tasks"] = {}
    await store.save_run("acme", record)
    assert await store.list_attempts("acme", "r1") == []


async def test_attempts_of_colliding_run_ids_stay_with_their_tenant(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    bare = run_record("r1")
    bare["tasks"] = {}
    await store.save_run("globex", bare)
    assert await store.list_attempts("globex", "r1") == []
    assert len(await store.list_attempts("acme", "r1")) == 5


# events
async def test_events_read_back_in_seq_order(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    await store.add_events("acme", "r1", [event("r1", 3), event("r1", 1)])
    await store.add_events("acme", "r1", [event("r1", 2), event("r1", 4, type="run_succeeded", task_id=None)])
    assert await store.list_events("acme", "r1") == [event("r1", 1), event("r1", 2), event("r1", 3)] + [
        event("r1", 4, type="run_succeeded", task_id=None)
    ]


async def test_a_stored_seq_is_not_stored_again(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    await store.add_events("acme", "r1", [event("r1", 1), event("r1", 2)])
    await store.add_events("acme", "r1", [event("r1", 2, type="retried"), event("r1", 3)])  # a retried batch
    await store.add_events("acme", "r1", [])
    events = await store.list_events("acme", "r1")
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "task_running"),
        (2, "task_running"),
        (3, "task_running"),
    ]


async def test_after_seq_and_limit_page_through_events(store: Store) -> None:
    await store.save_run("acme", run_record("r1"))
    await store.add_events("acme", "r1", [event("r1", seq) for seq in range(1, 11)])
    assert [e["seq"] for e in await store.list_events("acme", "r1", after_seq=7)] == [8, 9, 10]
    assert [e["seq"] for e in await store.list_events("acme", "r1", limit=3)] == [1, 2, 3]
    assert [e["seq"] for e in await store.list_events("acme", "r1", after_seq=3, limit=2)] == [4, 5]
    assert await store.list_events("acme", "r1", after_seq=10) == []


async def test_saving_a_run_again_keeps_its_events(store: Store) -> None:
    await store.save_run("acme", run_record("r1", status="running", finished=None))
    await store.add_events("acme", "r1", [event("r1", 1), event("r1", 2)])
    await store.save_run("acme", run_record("r1"))
    assert [e["seq"] for e in await store.list_events("acme", "r1")] == [1, 2]


async def test_events_of_colliding_run_ids_stay_with_their_tenant(store: Store) -> None:
    for tenant in ("acme", "globex"):
        await store.save_run(tenant, run_record("r1"))
    await store.add_events("acme", "r1", [event("r1", 1, type="acme")])
    await store.add_events("globex", "r1", [event("r1", 1, type="globex"), event("r1", 2, type="globex")])
    assert [e["type"] for e in await store.list_events("acme", "r1")] == ["acme"]
    assert [e["type"] for e in await store.list_events("globex", "r1")] == ["globex", "globex"]


# sessions
def _session(
    session_id: str, principal: str = "alice", *, expires_in: float = 3600, **data: object
) -> SessionEntry:
    now = datetime.now(UTC)
    return SessionEntry(
        session_id=session_id,
        principal=principal,
        data=dict(data),
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )


async def test_a_session_reads_back_equal_and_put_replaces_it(store: Store) -> None:
    first = _session("s1", tools=["a"])
    await store.put_session("acme", first)
    assert await store.get_session("acme", "alice", "s1") == first
    second = _session("s1", tools=["a", "b"])
    await store.put_session("acme", second)
    assert await store.get_session("acme", "alice", "s1") == second


async def test_a_session_is_keyed_by_tenant_principal_and_id(store: Store) -> None:
    await store.put_session("acme", _session("s1", "alice"))
    for tenant, principal, session_id in [
        ("globex", "alice", "s1"),
        ("acme", "bob", "s1"),
        ("acme", "alice", "s2"),
    ]:
        with pytest.raises(NotFound) as caught:
            await store.get_session(tenant, principal, session_id)
        assert caught.value.kind == "session"
        with pytest.raises(NotFound):
            await store.delete_session(tenant, principal, session_id)
    assert (await store.get_session("acme", "alice", "s1")).principal == "alice"


async def test_an_expired_session_is_not_found(store: Store) -> None:
    await store.put_session("acme", _session("old", expires_in=-1))
    await store.put_session("acme", _session("live"))
    with pytest.raises(NotFound):
        await store.get_session("acme", "alice", "old")
    with pytest.raises(NotFound):
        await store.delete_session("acme", "alice", "old")
    await store.get_session("acme", "alice", "live")


async def test_a_deleted_session_is_gone(store: Store) -> None:
    await store.put_session("acme", _session("s1"))
    await store.put_session("globex", _session("s1"))
    await store.delete_session("acme", "alice", "s1")
    with pytest.raises(NotFound):
        await store.get_session("acme", "alice", "s1")
    await store.get_session("globex", "alice", "s1")


# API keys
def _key(key_id: str, tenant: str = "acme", user: str | None = "alice", *, created: float = 0) -> ApiKeyEntry:
    return ApiKeyEntry(
        key_id=key_id, tenant=tenant, user=user, scopes=("runs:read", "plans:write"), key_hash="h-" + key_id,
        created_at=at(created),
    )  # fmt: skip


async def test_an_api_key_is_found_by_its_id_alone(store: Store) -> None:
    await store.add_api_key(_key("k1", "globex"))
    assert await store.get_api_key("k1") == _key("k1", "globex")
    with pytest.raises(NotFound) as caught:
        await store.get_api_key("nope")
    assert (caught.value.kind, caught.value.key) == ("API key", "nope")


async def test_an_existing_key_id_is_a_conflict_in_any_tenant(store: Store) -> None:
    await store.add_api_key(_key("k1", "acme"))
    with pytest.raises(Conflict):
        await store.add_api_key(_key("k1", "acme", "bob"))
    with pytest.raises(Conflict):
        await store.add_api_key(_key("k1", "globex"))
    assert (await store.get_api_key("k1")).tenant == "acme"


async def test_api_keys_are_listed_per_tenant_oldest_first(store: Store) -> None:
    for key_id, created in [("k2", 1), ("k1", 2), ("k0", 1)]:
        await store.add_api_key(_key(key_id, created=created))
    await store.add_api_key(_key("k9", "globex"))
    assert [k.key_id for k in await store.list_api_keys("acme")] == ["k0", "k2", "k1"]
    assert [k.key_id for k in await store.list_api_keys("globex")] == ["k9"]
    assert await store.list_api_keys("initech") == []


async def test_revoking_a_key_sets_revoked_at_once(store: Store) -> None:
    await store.add_api_key(_key("k1"))
    before = datetime.now(UTC)
    await store.revoke_api_key("acme", "k1")
    revoked_at = (await store.get_api_key("k1")).revoked_at
    assert revoked_at is not None
    assert before - timedelta(seconds=1) <= revoked_at <= datetime.now(UTC) + timedelta(seconds=1)
    await store.revoke_api_key("acme", "k1")
    assert (await store.get_api_key("k1")).revoked_at == revoked_at


async def test_revoking_another_tenants_or_a_missing_key_is_not_found(store: Store) -> None:
    await store.add_api_key(_key("k1", "acme"))
    for key_id in ("k1", "nope"):
        with pytest.raises(NotFound):
            await store.revoke_api_key("globex", key_id)
    assert (await store.get_api_key("k1")).revoked_at is None


# audit
def _audit(n: int, user: str | None = "alice") -> AuditEntry:
    return AuditEntry(
        at=at(n), user=user, action="tool_call", tool="echo", run_id="r1", task_id="a", detail={"n": n}
    )


async def test_audit_is_newest_first_filtered_by_user_and_limited(store: Store) -> None:
    await store.add_audit("acme", [_audit(1), _audit(2, "bob")])
    await store.add_audit("acme", [_audit(3), _audit(4, None)])
    await store.add_audit("acme", [])
    await store.add_audit("globex", [_audit(9)])
    assert [e.detail["n"] for e in await store.list_audit("acme")] == [4, 3, 2, 1]
    assert [e.detail["n"] for e in await store.list_audit("acme", user="alice")] == [3, 1]
    assert [e.detail["n"] for e in await store.list_audit("acme", limit=2)] == [4, 3]
    assert await store.list_audit("acme", user="alice", limit=1) == [_audit(3)]
    assert [e.detail["n"] for e in await store.list_audit("globex")] == [9]


# privacy
async def _populate(store: Store, tenant: str, user: str, tag: str) -> None:
    await store.save_plan(tenant, plan(f"plan-{tag}", user=user))
    await store.save_run(tenant, run_record(f"run-{tag}", plan_id=f"plan-{tag}"), user=user)
    await store.add_events(tenant, f"run-{tag}", [event(f"run-{tag}", 1), event(f"run-{tag}", 2)])
    await store.put_session(tenant, _session(f"s-{tag}", user))
    await store.add_api_key(_key(f"k-{tag}", tenant, user))
    await store.add_audit(tenant, [_audit(1, user), _audit(2, user)])


async def test_export_user_holds_exactly_that_users_data(store: Store) -> None:
    await _populate(store, "acme", "alice", "mine")
    await _populate(store, "acme", "bob", "bobs")
    await _populate(store, "globex", "alice", "other-tenant")
    exported = await store.export_user("acme", "alice")
    assert set(exported) == {"tenant", "user", "plans", "runs", "sessions", "api_keys", "audit"}
    assert (exported["tenant"], exported["user"]) == ("acme", "alice")
    assert [p["plan_id"] for p in exported["plans"]] == ["plan-mine"]
    [run] = exported["runs"]
    assert run["record"] == await store.get_run("acme", "run-mine")
    assert run["attempts"] == [
        a.model_dump(mode="json") for a in await store.list_attempts("acme", "run-mine")
    ]
    assert run["events"] == await store.list_events("acme", "run-mine")
    assert [s["session_id"] for s in exported["sessions"]] == ["s-mine"]
    [key] = exported["api_keys"]
    assert key["key_id"] == "k-mine" and "key_hash" not in key
    assert sorted(a["detail"]["n"] for a in exported["audit"]) == [1, 2]


async def test_export_of_an_unknown_user_is_empty(store: Store) -> None:
    await _populate(store, "acme", "alice", "mine")
    exported = await store.export_user("acme", "mallory")
    assert {kind: exported[kind] for kind in ("plans", "runs", "sessions", "api_keys", "audit")} == {
        "plans": [], "runs": [], "sessions": [], "api_keys": [], "audit": [],
    }  # fmt: skip


async def test_erase_user_deletes_only_that_users_data(store: Store) -> None:
    await _populate(store, "acme", "alice", "mine")
    await _populate(store, "acme", "bob", "bobs")
    await _populate(store, "globex", "alice", "other-tenant")
    counts = await store.erase_user("acme", "alice")
    assert counts == {"plans": 1, "runs": 1, "sessions": 1, "api_keys": 1, "audit": 2}
    with pytest.raises(NotFound):
        await store.get_plan("acme", "plan-mine")
    with pytest.raises(NotFound):
        await store.get_run("acme", "run-mine")
    with pytest.raises(NotFound):
        await store.list_events("acme", "run-mine")
    with pytest.raises(NotFound):
        await store.get_session("acme", "alice", "s-mine")
    with pytest.raises(NotFound):
        await store.get_api_key("k-mine")
    assert [e.user for e in await store.list_audit("acme")] == ["bob", "bob"]
    for tenant, user, tag in [("acme", "bob", "bobs"), ("globex", "alice", "other-tenant")]:
        assert len(await store.list_events(tenant, f"run-{tag}")) == 2
        assert (await store.get_session(tenant, user, f"s-{tag}")).principal == user
        assert len(await store.list_audit(tenant, user=user)) == 2
    assert await store.erase_user("acme", "alice") == dict.fromkeys(counts, 0)


# lifecycle
async def test_a_store_is_an_async_context_manager_over_lasting_data(store: Store) -> None:
    await store.save_plan("acme", plan("p1"))
    second = open_store(store.url)
    async with second as opened:
        assert opened is second
        assert await opened.get_plan("acme", "p1") == plan("p1")
        await opened.save_plan("acme", plan("p2"))
    assert (await store.get_plan("acme", "p2")).plan_id == "p2"
