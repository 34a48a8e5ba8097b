"""Attempts of one tool call: per-attempt timeout, classification, retries (tenacity).

Each attempt runs under ``anyio.fail_after`` when the call has a timeout, and carries
``_meta`` with ``planexec/run_id``, ``planexec/task_id``, ``planexec/attempt`` and
``planexec/idempotency_key`` (the same on every attempt). A failed attempt is retried
only when its error is retryable (``ErrorInfo.retryable``) and attempts remain;
waits follow the task's :class:`~planexec.schemas.RetryPolicy`: ``initial_delay_s ×
backoff^(n-1)`` capped at ``max_delay_s``, plus with jitter a uniform extra of up to
``initial_delay_s`` (still capped). Cancellation is never a failure: it propagates, and
:attr:`Attempts.interrupted` tells which attempt it cut short.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from planexec.registry import ToolCallError, ToolResult, ToolView
from planexec.schemas import RetryPolicy

from ._clock import Clock, Sleep
from ._errors import ErrorInfo, RunErrorCode, error_from_tool_call
from ._records import AttemptRecord
from ._resolve import extract_output

__all__ = ["Attempts", "Call"]

_PREFIX = "planexec/"
_RUN_ID = f"{_PREFIX}run_id"
_TASK_ID = f"{_PREFIX}task_id"
_ATTEMPT = f"{_PREFIX}attempt"
_IDEMPOTENCY_KEY = f"{_PREFIX}idempotency_key"
_CACHE = f"{_PREFIX}cache"
_TIMEOUT = f"{_PREFIX}timeout_s"


class Call(NamedTuple):
    """One tool call to make, with its retry and timeout rules."""

    run_id: str
    task_id: str
    tool_name: str
    arguments: dict[str, Any]
    idempotency_key: str
    """The same on every attempt (``run_id:task_id``, or ``...:compensation``)."""
    policy: RetryPolicy
    timeout_s: float | None
    retry_timeouts: bool
    """False for a tool that is not idempotent, unless the task says retry_after_timeout."""


def _wait(policy: RetryPolicy) -> wait_base:
    if policy.jitter:
        return wait_exponential_jitter(
            multiplier=policy.initial_delay_s,
            exp_base=policy.backoff,
            max=policy.max_delay_s,
            jitter=policy.initial_delay_s,
        )
    return wait_exponential(
        multiplier=policy.initial_delay_s, exp_base=policy.backoff, max=policy.max_delay_s
    )


def _should_retry(attempt: AttemptRecord) -> bool:
    return attempt.error is not None and attempt.error.retryable


def _last_attempt(state: RetryCallState) -> AttemptRecord:
    assert state.outcome is not None
    result: AttemptRecord = state.outcome.result()
    return result


OnRetry = Callable[[AttemptRecord, float], None]
"""Told of each failed attempt that will be retried, and the wait before the next one."""


class Attempts:
    """Makes the attempts of calls, one call at a time: each worker has one.

    :meth:`run` returns a call's last attempt; if the call is cancelled instead,
    :meth:`interrupted` returns the attempt it cut short.
    """

    __slots__ = ("_clock", "_current", "_on_retry", "_sleep", "_tools")

    def __init__(self, tools: ToolView, clock: Clock, sleep: Sleep, on_retry: OnRetry) -> None:
        self._tools = tools
        self._clock = clock
        self._sleep = sleep
        self._on_retry = on_retry
        self._current: tuple[int, datetime] | None = None

    async def run(self, call: Call) -> AttemptRecord:
        # Most calls succeed at once, and tenacity's loop costs ~25 µs per call, so the
        # first attempt runs on its own; tenacity takes over only for a retryable failure,
        # replaying that first outcome so attempt numbers and waits are its own.
        first = await self._attempt(call, 1)
        if first.error is None or not first.error.retryable or call.policy.max_attempts == 1:
            return first
        attempts = 0

        async def attempt() -> AttemptRecord:
            nonlocal attempts
            attempts += 1
            return first if attempts == 1 else await self._attempt(call, attempts)

        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(call.policy.max_attempts),
            wait=_wait(call.policy),
            retry=retry_if_result(_should_retry),
            before_sleep=self._before_sleep,
            retry_error_callback=_last_attempt,
        )
        last: AttemptRecord = await retrying(attempt)
        return last

    def _before_sleep(self, state: RetryCallState) -> None:
        self._on_retry(_last_attempt(state), state.upcoming_sleep)

    def interrupted(self, call: Call) -> AttemptRecord | None:
        """The attempt of ``call`` under way when it was cancelled, recorded as cancelled."""
        if self._current is None:
            return None
        n, started_at = self._current
        self._current = None
        return AttemptRecord(
            n=n,
            arguments=call.arguments,
            error=ErrorInfo(code=RunErrorCode.CANCELLED, message=f"attempt {n} was cancelled"),
            started_at=started_at,
            finished_at=self._clock.now(),
        )

    async def _attempt(self, call: Call, n: int) -> AttemptRecord:
        started_at = self._clock.now()
        self._current = (n, started_at)
        meta: dict[str, Any] = {
            _RUN_ID: call.run_id,
            _TASK_ID: call.task_id,
            _ATTEMPT: n,
            _IDEMPOTENCY_KEY: call.idempotency_key,
        }
        if call.timeout_s is not None:  # an upstream learns how long this attempt may take
            meta[_TIMEOUT] = call.timeout_s
        output: Any = None
        error: ErrorInfo | None = None
        cache: str | None = None
        try:
            if call.timeout_s is None:
                result = await self._tools.call(call.tool_name, call.arguments, meta)
            else:
                with anyio.fail_after(call.timeout_s):
                    result = await self._tools.call(call.tool_name, call.arguments, meta)
        except TimeoutError:
            error = ErrorInfo(
                code=RunErrorCode.TIMEOUT,
                message=f"{call.tool_name} did not answer within {call.timeout_s} s (attempt {n})",
                retryable=call.retry_timeouts,
                detail={"timeout_s": call.timeout_s},
            )
        except ToolCallError as failure:
            error = error_from_tool_call(failure, retry_timeouts=call.retry_timeouts)
        except Exception as failure:  # a source's own bug is this task's failure, not the run's
            error = ErrorInfo(
                code=RunErrorCode.TOOL_ERROR,
                message=f"{call.tool_name} raised {type(failure).__name__}: {failure}",
                detail={"exception": type(failure).__name__},
            )
        else:
            if result.is_error:
                error = _tool_error(result)
            else:
                output = extract_output(result)
                if result.meta is not None:  # the registry's result cache answered or stored it
                    cache = result.meta.get(_CACHE)
        self._current = None
        return AttemptRecord(
            n=n,
            arguments=call.arguments,
            output=output,
            error=error,
            started_at=started_at,
            finished_at=self._clock.now(),
            cache=cache,
        )


_ERROR_FIELDS = frozenset(ErrorInfo.model_fields)


def _tool_error(result: ToolResult) -> ErrorInfo:
    return ErrorInfo(
        code=RunErrorCode.TOOL_ERROR,
        message=result.error_message(),
        retryable=result.retryable,
        detail={k: v for k, v in (result.structured_content or {}).items() if k not in _ERROR_FIELDS},
    )
