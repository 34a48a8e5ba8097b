"""The one JSON encoder both backends write documents with: compact, UTF-8 as is.

``json.dumps`` with options builds a new encoder per call, and even a kept
``JSONEncoder.encode`` builds its C encoder again on every call, which costs about as much
as encoding a small event. The C encoder is built once here and reused; it skips the
circular-reference check (a document is plain data), so a circular value fails as
RecursionError there and is encoded again by the checking encoder, which raises the
usual ValueError.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any, cast

from ._document import JsonDocument

__all__ = ["dumps", "text_of"]

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

_c_make_encoder = cast(
    "Callable[..., Callable[[Any, int], Any]] | None", getattr(json.encoder, "c_make_encoder", None)
)
# (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys,
# allow_nan): what JSONEncoder.iterencode passes for _ENCODER, without the markers.
_FAST = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, True)
)


def dumps(value: Any) -> str:
    if _FAST is None:
        return _ENCODER.encode(value)
    if isinstance(value, str):
        return encode_basestring(value)
    try:
        return "".join(_FAST(value, 0))
    except RecursionError:
        return _ENCODER.encode(value)


def text_of(document: Mapping[str, Any]) -> str:
    """The JSON text of a record or an event: a :class:`JsonDocument`'s own, else encoded."""
    if isinstance(document, JsonDocument):
        return document.text
    return dumps(document if isinstance(document, dict) else dict(document))
