"""Persistence (DESIGN §9): one async protocol, SQLite (default) and Redis backends.

May import ``schemas`` only. ``open_store(url)`` picks the backend from the URL:
``sqlite:///path/to.db`` or ``redis://host:port/db``.
"""

from ._document import JsonDocument, JsonEvents
from ._errors import Conflict, NotFound, StoreError, StoreUnavailable
from ._models import ApiKeyEntry, AttemptEntry, AuditEntry, PlanEntry, RunSummary, SessionEntry
from ._open import StoreConfigError, default_store_url, open_store
from ._protocol import Store
from ._redis_cache import RedisResultCache
from ._redis_changes import RedisSessionChanges, SessionChange

__all__ = [
    "ApiKeyEntry",
    "AttemptEntry",
    "AuditEntry",
    "Conflict",
    "JsonDocument",
    "JsonEvents",
    "NotFound",
    "PlanEntry",
    "RedisResultCache",
    "RedisSessionChanges",
    "RunSummary",
    "SessionChange",
    "SessionEntry",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreUnavailable",
    "default_store_url",
    "open_store",
]
