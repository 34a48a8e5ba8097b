"""Converting between store entries and what Redis holds: JSON text and sorted-set scores
(``attempts_of`` is re-exported from :mod:`._models`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ._errors import StoreError
from ._json import dumps, text_of
from ._models import AuditEntry, attempts_of

__all__ = [
    "attempts_of",
    "audit_entry",
    "audit_member",
    "dumps",
    "epoch_ms",
    "epoch_us",
    "loads",
    "members",
    "text",
    "text_of",
    "time_score",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def loads(value: bytes | str) -> Any:
    try:
        return json.loads(value)
    except ValueError as exc:
        raise StoreError(f"unreadable JSON in Redis: {exc}") from exc


# An audit member: a unique id (32 hex digits), then the entry's JSON. The id makes two
# equal entries two members, and a re-sent entry the same member.
_AUDIT_ID_LEN = 32


def audit_member(entry: AuditEntry) -> str:
    return uuid.uuid4().hex + entry.model_dump_json()


def audit_entry(member: str) -> AuditEntry:
    return AuditEntry.model_validate_json(member[_AUDIT_ID_LEN:])


def text(value: bytes | str) -> str:
    """A reply as text (the client decodes replies; this narrows the declared type)."""
    return value if isinstance(value, str) else value.decode()


def members(value: object) -> list[str]:
    """A reply that lists members (of a set or sorted set) as a list of text."""
    if not isinstance(value, list | set):
        raise TypeError(f"expected a list of members from Redis, got {type(value).__name__}")
    return [text(member) for member in value]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def epoch_us(value: datetime) -> int:
    return (_aware(value) - _EPOCH) // timedelta(microseconds=1)


def epoch_ms(value: datetime) -> int:
    return (_aware(value) - _EPOCH) // timedelta(milliseconds=1)


def time_score(value: object) -> str:
    """A sorted-set score for an ISO 8601 time: exact microseconds since the epoch (a
    double holds them exactly until the year 2255). No time, or one that does not parse,
    sorts before every real time, as NULL does in SQL."""
    if isinstance(value, str):
        try:
            return str(epoch_us(datetime.fromisoformat(value)))
        except ValueError:
            pass
    return "-inf"
