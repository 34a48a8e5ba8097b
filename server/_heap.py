"""The server process's start-up heap, kept out of the cyclic garbage collector's way.

What start-up builds (every imported module, the MCP app, the catalog, compiled schemas:
~145,000 objects for ``planexec serve``) lives as long as the process. Left to the
collector, every full collection (of the oldest generation) walks all of it again, ~70 ms
with the event loop stopped, and under load one comes every few runs, landing on whatever
runs and requests are under way. :func:`freeze_startup_heap` collects once and moves what
is left to the permanent generation (``gc.freeze``): later full collections walk only
what the server made since (``python -m benchmarks.server_heap``).

Modules imported later (litellm, on the first plan) are not frozen; nothing else changes:
frozen objects are never freed, and start-up objects never were.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> int:
    """Collect, then freeze what survives; returns how many objects are frozen now."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
