"""No test calls a real LLM provider: litellm may only talk to loopback endpoints.

:func:`guard_litellm` wraps ``litellm.completion`` and ``litellm.acompletion`` (once per
process) so that a call without ``mock_response`` must name an ``api_base`` on
127.0.0.1, ::1 or localhost; anything else (a provider's default URL included) raises
:class:`RealProviderRefused` before a byte is sent. litellm is slow to import, so the
guard never imports it: conftest applies it when planexec's client first imports
litellm, and before each test when something else already has.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_MARK = "_planexec_loopback_only"


class RealProviderRefused(RuntimeError):
    """A test tried to reach an LLM provider that is not on loopback."""


def _check(kwargs: dict[str, Any]) -> None:
    if "mock_response" in kwargs:
        return
    base = kwargs.get("api_base") or kwargs.get("base_url")
    host = urlsplit(str(base)).hostname if base else None
    if host not in LOOPBACK:
        raise RealProviderRefused(
            f"tests never call a real LLM provider: api_base {base!r} is not on loopback "
            f"(model {kwargs.get('model')!r}); serve canned answers locally (tests/planner/openai_stub.py)"
        )


def _guarded(call: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    if is_async:

        @functools.wraps(call)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            _check(kwargs)
            return await call(*args, **kwargs)

        wrapper: Callable[..., Any] = guarded_async
    else:

        @functools.wraps(call)
        def guarded_sync(*args: Any, **kwargs: Any) -> Any:
            _check(kwargs)
            return call(*args, **kwargs)

        wrapper = guarded_sync
    setattr(wrapper, _MARK, True)
    return wrapper


def guard_litellm(module: Any) -> Any:
    """Make ``module`` (litellm) refuse non-loopback calls; idempotent; returns it."""
    for name, is_async in (("acompletion", True), ("completion", False)):
        call = getattr(module, name, None)
        if call is not None and not getattr(call, _MARK, False):
            setattr(module, name, _guarded(call, is_async))
    return module


def guard_if_imported() -> None:
    module = sys.modules.get("litellm")
    if module is not None:
        guard_litellm(module)


def install(planner_litellm: Any) -> None:
    """Guard litellm as soon as planexec's client imports it (``_litellm()``)."""
    load = planner_litellm._litellm
    if getattr(load, _MARK, False):
        return

    def guarded_load() -> Any:
        return guard_litellm(load())

    setattr(guarded_load, _MARK, True)
    planner_litellm._litellm = guarded_load
