"""Child process for the crash test: recover, then append and commit under
"always" from several writers, printing each acknowledged record until killed.

    python crash_child.py DIRECTORY ROUND [BACKEND]

Each ack line is "lsn round writer seq"; record_for() rebuilds the record, so
the parent can check every acknowledged record byte for byte.
"""
import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from wal import Log, RecordType, SyncPolicy  # noqa: E402
from wal.io_select import open_backend  # noqa: E402

SEGMENT_SIZE = 256 << 10  # small, so kills also land around rotations
WRITERS = 8


def record_for(round_: int, writer: int, seq: int) -> tuple[int, bytes]:
    rng = random.Random(f"{round_}/{writer}/{seq}")
    rtype = rng.choice([RecordType.CHUNK, RecordType.PUT, RecordType.DELETE])
    return rtype, rng.randbytes(rng.choice([0, 17, 4096, 20_000, 70_000]))


async def main(directory: str, round_: int, backend: str) -> None:
    io, _ = open_backend(backend)
    log = Log(directory, segment_size=SEGMENT_SIZE, sync=SyncPolicy("always"), io=io)
    for _ in log.recover():
        pass
    print("ready", log.last_lsn, flush=True)

    async def writer(w: int) -> None:
        seq = 0
        while True:
            lsn, _ = log.append(*record_for(round_, w, seq))
            await log.commit(lsn)
            # One write() per line: a pipe write this small is atomic, so a
            # kill can never leave half an ack that parses.
            sys.stdout.write(f"{lsn} {round_} {w} {seq}\n")
            sys.stdout.flush()
            seq += 1

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "threadpool"))
