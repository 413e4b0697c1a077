"""A shard hands freed heap pages back to the kernel on a timer (--heap-trim-seconds, shards/heap_trim.py), so
freed body buffers pinned between small live blocks do not keep its RSS raised (the soak's RSS bar, issue 7).
Real glibc, real pages, in a fresh Python process (the test runner's own heap has a history of its own)."""

import json
import subprocess
import sys

import pytest

from shards.heap_trim import _malloc_trim
from tests.support.server import ROOT

pytestmark = pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim (not glibc)")

# A shard's pattern: 1 MiB body buffers, each followed by a small block that outlives it (an index entry, a
# response). glibc keeps the freed buffers: by itself it returns only a free top of the heap.
FRAGMENT_THEN_TRIM = """
import asyncio, json, sys
from shards.heap_trim import trim_heap_every

def anonymous_kib():
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Anonymous:"))

before = anonymous_kib()
first = bytearray(1 << 20)
del first  # freeing a mmapped block raises glibc's mmap threshold past it: later buffers come from the heap
pinned, buffers = [], []
for _ in range(48):
    buffer = bytearray(1 << 20)
    buffer[::4096] = b"\\x01" * 256  # a body fills its buffer: every page resident
    buffers.append(buffer)
    pinned.append(bytearray(4096))
del buffers
freed = anonymous_kib()

async def main(seconds):
    task = asyncio.ensure_future(trim_heap_every(seconds))
    await asyncio.sleep(0.3)
    task.cancel()

asyncio.run(main(float(sys.argv[1])))
print(json.dumps({"freed_mib": (freed - before) / 1024, "after_mib": (anonymous_kib() - before) / 1024}))
"""


def grown_mib(trim_seconds: float) -> dict:
    out = subprocess.run([sys.executable, "-c", FRAGMENT_THEN_TRIM, str(trim_seconds)], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def test_freed_buffers_pinned_in_the_heap_go_back_to_the_kernel_within_a_period():
    grown = grown_mib(0.05)
    assert grown["freed_mib"] > 40  # the premise: freed, yet still resident
    assert grown["after_mib"] < 8, grown


def test_zero_seconds_turns_trimming_off():
    grown = grown_mib(0)
    assert grown["freed_mib"] > 40 and grown["after_mib"] > 40, grown
