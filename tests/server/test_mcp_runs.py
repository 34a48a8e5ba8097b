"""How the server holds its runs, in process (the SDK Client connected to the Server
object, both eras): progress counts, a request that goes away, a store that fails, the
shutdown, and a catalog that clashes with the meta-tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from planexec.registry import Catalog, PythonToolSource, demo_source, tool
from planexec.server._mcp_app import ToolNameClash, build_server
from planexec.server._mcp_services import ServerLimits, Services, configured_identity
from planexec.store import StoreUnavailable, open_store
from planexec.store._sqlite import SqliteStore

from .mcp_support import ARITHMETIC, ERAS, SLOW, Progress, body, error

pytestmark = pytest.mark.anyio


class WatchedStore(SqliteStore):
    """A real SQLite store that tells when a run's final record is saved, and can fail
    the first ``save_run``."""

    def __init__(self, path: Path, *, fail_first_save: bool = False) -> None:
        super().__init__(str(path), url=f"sqlite:///{path}")
        self.ended: dict[str, str] = {}
        self.run_ended = anyio.Event()
        self._fail_next = fail_first_save

    async def save_run(self, tenant: str, record: dict[str, Any], *, user: str | None = None) -> None:
        if self._fail_next:
            self._fail_next = False
            raise StoreUnavailable("the store went away")
        await super().save_run(tenant, record, user=user)
        if record["status"] != "running":
            self.ended[record["run_id"]] = record["status"]
            self.run_ended.set()


def _services(store: SqliteStore, **limits: Any) -> Services:
    return Services(
        catalog=Catalog([demo_source()]),
        store=store,
        principal_of=configured_identity("acme", "alice"),
        limits=ServerLimits(**limits),
    )


@pytest.mark.parametrize("era", ERAS)
async def test_progress_counts_every_task_once_handlers_included(era: str, tmp_path: Path) -> None:
    plan = {
        "tasks": {
            "broken": {
                "tool_name": "fail",
                "parameters": {"message": "no"},
                "dependencies": [],
                "error_handling": {"on_error": "fallback"},
            },
            "fallback": {"tool_name": "echo", "parameters": {"value": 1}, "dependencies": []},
            "fine": {
                "tool_name": "echo",
                "parameters": {"value": 2},
                "dependencies": [],
                "error_handling": {"on_error": "unused"},
            },
            "unused": {"tool_name": "echo", "parameters": {"value": 3}, "dependencies": []},
        }
    }
    progress = Progress()
    async with Client(build_server(_services(WatchedStore(tmp_path / "p.db"))), mode=era) as mcp:
        record = body(await mcp.call_tool("execute_plan", {"plan": plan}, progress_callback=progress))
    assert record["tasks"]["broken"]["status"] == "recovered"
    assert record["tasks"]["unused"]["status"] == "skipped"
    assert [p for p, _, _ in progress.seen] == [1, 2, 3, 4]
    assert {t for _, t, _ in progress.seen} == {4}


async def test_a_waiting_request_that_is_cancelled_cancels_its_run(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "c.db")
    progress = Progress()
    async with Client(build_server(_services(store)), mode="legacy") as mcp:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(mcp.call_tool, "execute_plan", {"plan": SLOW}, None, progress)
            with anyio.fail_after(10):
                await progress.first.wait()
            task_group.cancel_scope.cancel()  # the client gives up on the call
        with anyio.fail_after(10):
            await store.run_ended.wait()
        assert list(store.ended.values()) == ["cancelled"]
        (run_id,) = store.ended
        record = body(await mcp.call_tool("get_run", {"run_id": run_id}))
        assert record["tasks"]["slow"]["status"] == "cancelled"


@pytest.mark.parametrize("era", ERAS)
async def test_a_run_whose_store_fails_is_an_error_result_and_frees_its_slot(
    era: str, tmp_path: Path
) -> None:
    store = WatchedStore(tmp_path / "f.db", fail_first_save=True)
    async with Client(build_server(_services(store, max_runs_per_tenant=1)), mode=era) as mcp:
        failed = error(await mcp.call_tool("execute_plan", {"plan": ARITHMETIC}))
        assert failed["code"] == "store_unavailable"
        again = await mcp.call_tool("execute_plan", {"plan": ARITHMETIC})  # the slot is free again
        assert body(again)["status"] == "succeeded"


@pytest.mark.parametrize("era", ERAS)
async def test_shutdown_cancels_runs_in_progress_and_stores_how_they_ended(era: str, tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "s.db")
    async with Client(build_server(_services(store)), mode=era) as mcp:
        run_id = body(await mcp.call_tool("execute_plan", {"plan": SLOW, "wait": False}))["run_id"]
    assert store.ended == {run_id: "cancelled"}
    async with open_store(store.url) as reopened:
        assert (await reopened.get_run("acme", run_id))["status"] == "cancelled"


def test_a_catalog_tool_named_like_a_meta_tool_is_refused(tmp_path: Path) -> None:
    @tool(name="get_run")
    async def shadow(run_id: str) -> str:
        """Not planexec's get_run."""
        return run_id

    catalog = Catalog([demo_source(), PythonToolSource("mine", [shadow])])
    services = Services(
        catalog=catalog,
        store=open_store(f"sqlite:///{tmp_path / 'x.db'}"),
        principal_of=configured_identity("a", None),
    )
    with pytest.raises(ToolNameClash):
        build_server(services)


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "text"])
async def test_a_large_plan_is_validated_and_run(as_text: bool, tmp_path: Path) -> None:
    tasks = {
        f"t{i}": {"tool_name": "echo", "parameters": {"value": i}, "dependencies": []} for i in range(300)
    }
    plan: Any = {"tasks": tasks, "output": "$<t299.output.result>"}
    if as_text:
        plan = json.dumps(plan, indent=2) + " " * 70_000  # over the inline text size
    async with Client(build_server(_services(WatchedStore(tmp_path / "l.db"))), mode="legacy") as mcp:
        assert body(await mcp.call_tool("validate_plan", {"plan": plan}))["valid"] is True
        record = body(await mcp.call_tool("execute_plan", {"plan": plan}))
    assert record["status"] == "succeeded" and record["output"] == 299


async def test_shutdown_stops_runs_that_outlast_the_grace_period(tmp_path: Path) -> None:
    undo_forever = {
        "tasks": {
            "write": {
                "tool_name": "ledger_write",
                "parameters": {"key": "k", "value": 1},
                "dependencies": [],
                "compensation": {"tool_name": "sleep", "parameters": {"seconds": 600}},
            },
            "slow": {"tool_name": "sleep", "parameters": {"seconds": 600}, "dependencies": ["write"]},
        }
    }
    store = WatchedStore(tmp_path / "g.db")
    progress = Progress()
    with anyio.fail_after(10):
        async with Client(build_server(_services(store, shutdown_grace_s=0.2)), mode="legacy") as mcp:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(mcp.call_tool, "execute_plan", {"plan": undo_forever}, None, progress)
                await progress.first.wait()  # "write" succeeded: cancelling now compensates it
                task_group.cancel_scope.cancel()
    assert store.ended == {}  # stopped mid-compensation: the run never stored an end
