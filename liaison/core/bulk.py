"""Building many objects at once: Python's cycle collector paused while they are made.

A history of 13,000 changes, or 10,000 records taken from the check cache, is
a million small objects that all stay alive. While they are made, the cycle
collector runs a full pass each time the heap has grown by a quarter, and
finds nothing to free: about a quarter of a warm ``audit`` (measured in
BENCHMARKS.md, issue 29). These objects hold no reference cycles that need
collecting, and reference counting frees whatever is dropped on the way, so
the builders below pause the collector; it runs again, as before, when they
are done. A pause is process-wide (threads included) and short: one build.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the ``with`` block (nested pauses resume once, at the outermost end)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
