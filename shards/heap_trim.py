"""Give the heap's free pages back to the kernel every few seconds (glibc ``malloc_trim``).

A shard's large buffers — multipart parts of 5 MiB and more, 1 MiB chunks, frames — come from the C heap once
glibc's dynamic mmap threshold has risen past them (it follows the largest block freed). Freed, they stay in the
heap: glibc returns only a free *top* larger than its trim threshold, so every moment when more parts than ever
before happen to be in flight at once ratchets the RSS up for good. A 10-minute soak showed it as shard RSS
growing 15-30% while the Python heap (tracemalloc) stayed at 2-6 MiB; one ``malloc_trim(0)`` at idle took the
shard from 49.8 back to 24.3 MiB anonymous. Trimming on a timer bounds the RSS by what the last few seconds
used, at the cost of faulting those pages in afresh (~2 ms of trimming and a few ms of faults per period). The
period is short (5 s) because what accumulates between two trims is the RSS's noise: with 30 s a soak's shard
heap swung 12-19 MiB between samples.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util


def _malloc_trim():
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator returns memory its own way
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


async def trim_heap_every(seconds: float) -> None:
    """Run until cancelled; ``seconds`` <= 0 turns trimming off. The call runs in a worker thread (ctypes drops
    the GIL), so the event loop waits only where it needs an arena lock the trim holds."""
    trim = _malloc_trim() if seconds > 0 else None
    if trim is None:
        return
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(trim, 0)
