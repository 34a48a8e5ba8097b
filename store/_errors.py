"""Store errors::

StoreError
  ├─ NotFound          no such item *for this tenant* (another tenant's item is NotFound too)
  ├─ Conflict          an id that must be new already exists
  └─ StoreUnavailable  the backend cannot be reached (connection lost, server down)
"""

from __future__ import annotations

__all__ = ["Conflict", "NotFound", "StoreError", "StoreUnavailable"]


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    """No such item for this tenant. Never says whether another tenant has it."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key!r}")
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """An item that must be new already exists."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached; what was written before stays written."""
