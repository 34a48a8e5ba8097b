"""JSON objects handed to the store already encoded.

``save_run`` and ``add_events`` take mappings. A :class:`JsonDocument` is one whose JSON
text its producer wrote itself, a :class:`JsonEvents` a batch of events given as texts
(the executor's sink encodes run records and events straight to text, without building
the dicts first). The backends write the texts as they are instead of encoding mappings,
and read the fields they index (``run_id``, ``status``, ``seq``...) from beside the text
without decoding anything.

As a mapping a JsonDocument is its decoded ``text`` (decoded once, on the first access to
a key that is not in ``head``), so code that reads a record or an event as a dict keeps
working.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any, overload

__all__ = ["JsonDocument", "JsonEvents"]


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



class JsonEvents(Sequence[Mapping[str, Any]]):
    """A batch of events already encoded, for ``add_events``: ``texts[i]`` is the JSON
    object of the event whose ``seq`` is ``seqs[i]``; the seqs ascend, none twice
    (checked here). The backends write the texts as they are; as a sequence it holds
    :class:`JsonDocument` s."""

    __slots__ = ("seqs", "texts")

    def __init__(self, seqs: list[int], texts: list[str]) -> None:
        if len(seqs) != len(texts):
            raise ValueError(f"{len(seqs)} seqs for {len(texts)} events")
        if any(type(seq) is not int for seq in seqs) or any(a >= b for a, b in pairwise(seqs)):
            raise ValueError("the seqs of a JsonEvents batch are ascending integers, none twice")
        self.seqs = seqs
        self.texts = texts

    @overload
    def __getitem__(self, index: int) -> JsonDocument: ...

    @overload
    def __getitem__(self, index: slice) -> list[JsonDocument]: ...

    def __getitem__(self, index: int | slice) -> JsonDocument | list[JsonDocument]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.seqs)))]
        return JsonDocument(self.texts[index], {"seq": self.seqs[index]})

    def __len__(self) -> int:
        return len(self.seqs)

    def array(self) -> str:
        """The batch as one JSON array."""
        return "[" + ",".join(self.texts) + "]"
