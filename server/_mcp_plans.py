"""Plans as the server stores them: with their provenance and a fingerprint of every tool
they use (the rug-pull guard: ``execute_plan`` refuses a stored plan whose tools changed
since it was stored; see docs/registry.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from planexec.registry import ToolView, tool_fingerprints
from planexec.schemas import PlanObject
from planexec.store import PlanEntry

from ._mcp_errors import ErrorCode, ServerError

if TYPE_CHECKING:
    from ._mcp_run_tools import Call

__all__ = ["check_pinned", "pin_tools", "plan_tools", "save_plan"]


def plan_tools(plan: PlanObject) -> set[str]:
    """Every tool ``plan`` may call: its tasks' and their compensations'."""
    names = {task.tool_name for task in plan.tasks.values()}
    names.update(task.compensation.tool_name for task in plan.tasks.values() if task.compensation is not None)
    return names


def pin_tools(plan: PlanObject, tools: ToolView) -> dict[str, str | None]:
    """The fingerprints of the tools ``plan`` uses, as ``tools`` has them now (stored with
    the plan as ``provenance.tool_fingerprints``)."""
    return tool_fingerprints(tools, plan_tools(plan))


def check_pinned(plan_id: str, pinned: Any, tools: ToolView) -> None:
    """Refuse a plan whose tools changed since it was validated (rug-pull guard):
    ``tools_changed`` with, per changed tool, the pinned and the current fingerprint."""
    if not isinstance(pinned, dict):
        return  # stored before pinning existed
    current = tool_fingerprints(tools, pinned)
    changed = {
        name: {"pinned": pinned[name], "current": now} for name, now in current.items() if now != pinned[name]
    }
    if changed:
        raise ServerError(
            ErrorCode.TOOLS_CHANGED,
            f"plan {plan_id}: tool(s) changed since it was validated: {', '.join(sorted(changed))}",
            "read the tools again (tools/list), then validate the plan again (or create a new one)",
            changed=changed,
        )


async def save_plan(call: Call, plan: PlanObject, tools: ToolView, provenance: dict[str, Any]) -> None:
    """Store ``plan`` for the caller, its tools pinned."""
    principal = call.principal
    entry = PlanEntry(
        plan_id=plan.plan_id,
        user=principal.user,
        created_at=datetime.now(UTC),
        plan=plan.to_json(),
        provenance={**provenance, "user": principal.user, "tool_fingerprints": pin_tools(plan, tools)},
    )
    await call.state.services.store.save_plan(principal.tenant, entry)
