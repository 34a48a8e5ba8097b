"""A JSON object handed to the store already encoded.

``save_run`` and ``add_events`` take mappings; a :class:`JsonDocument` is one whose JSON
text its producer wrote itself (the executor's sink encodes run records and events
straight to text, without building the dicts first). The backends write ``text`` as it
is instead of encoding the mapping, and read the fields they index (``run_id``,
``status``, ``seq``...) from ``head`` without decoding anything.

As a mapping it is the decoded ``text`` (decoded once, on the first access to a key that
is not in ``head``), so code that reads a record or an event as a dict keeps working.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["JsonDocument"]


class JsonDocument(Mapping[str, Any]):
    """``text``: a JSON object, compact or not. ``head``: some of its top-level fields
    with the very values ``text`` holds; the producer vouches for that, nothing checks it
    (decoding the text to check would undo the point)."""

    __slots__ = ("_decoded", "head", "text")

    def __init__(self, text: str, head: Mapping[str, Any]) -> None:
        self.text = text
        self.head = head
        self._decoded: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._decoded is None:
            decoded = json.loads(self.text)
            if not isinstance(decoded, dict):
                raise ValueError(f"a JsonDocument holds a JSON object, not {type(decoded).__name__}")
            self._decoded = decoded
        return self._decoded

    def __getitem__(self, key: str) -> Any:
        head = self.head
        if key in head:
            return head[key]
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def __repr__(self) -> str:
        return f"JsonDocument({self.text!r})"

