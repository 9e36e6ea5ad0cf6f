"""Give memory that Python freed back to the operating system after a large cycle.

glibc keeps freed heap memory for reuse; after a shard's archive cycle has replaced 225,000
partitions' texts and 25,000 cameras' fragment arrays, tens of megabytes of it are free but still
resident, and the next cycle's peak starts above them. `malloc_trim(0)` returns the free pages
(docs/performance.md: 20-130 MB at 25,000 cameras). Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)


def _load_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_TRIM = _load_trim()


def release_free_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)
