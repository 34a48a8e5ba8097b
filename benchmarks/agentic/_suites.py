"""The suites by name."""

from __future__ import annotations

from . import _game24, _parallelqa, _synthetic
from ._suite import Suite

__all__ = ["SUITES", "load_suite"]

SUITES = ("parallelqa", "game24", "synthetic")


def load_suite(name: str, *, seed: int = 1) -> Suite:
    """The suite called ``name``; ``seed`` draws the synthetic jobs (the bundled suites
    are fixed). Raises KeyError for an unknown name."""
    if name == "parallelqa":
        return _parallelqa.load()
    if name == "game24":
        return _game24.load()
    if name == "synthetic":
        return _synthetic.load(seed)
    raise KeyError(name)
