"""The frame receiver (shards/frame_receiver.py) over a real Unix socket: whatever the read boundaries, every
frame arrives whole and in order; large payloads arrive as bytearrays the receiver hands over and never touches
again."""

import asyncio
import random
import socket

import pytest
import uvloop

from shards.frame_receiver import DIRECT, RECV_BUFFER, FrameReceiver
from shards.protocol import K_DATA, K_END, K_REQUEST, frame


class Collector(FrameReceiver):
    def __init__(self, done: asyncio.Future, expected: int) -> None:
        self.frames = []
        self.done = done
        self.expected = expected

    def frames_received(self, frames):
        self.frames.extend(frames)
        if len(self.frames) >= self.expected and not self.done.done():
            self.done.set_result(None)


def receive(wire: bytes, count: int, seed: int) -> list:
    """Send ``wire`` in random-sized writes (1 byte to 300 KiB) and collect ``count`` frames on the other end."""

    async def run():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        done = loop.create_future()
        transport, proto = await loop.connect_accepted_socket(lambda: Collector(done, count), b)
        rng = random.Random(seed)
        a.setblocking(False)
        pos = 0
        while pos < len(wire):
            n = rng.choice([1, 5, 9, 100, 4096, 65_536, 300_000])
            await loop.sock_sendall(a, wire[pos:pos + n])
            pos += n
            if rng.random() < 0.3:
                await asyncio.sleep(0)  # let the receiver read a partial frame
        await asyncio.wait_for(done, 10)
        transport.close()
        a.close()
        return proto.frames

    return uvloop.run(run())


def payloads(seed: int) -> list:
    rng = random.Random(seed)
    sizes = [0, 1, 8, 9, DIRECT - 1, DIRECT, DIRECT + 1, RECV_BUFFER, 1 << 20, 3 * (1 << 20) + 7]
    sizes += [rng.randrange(0, 200_000) for _ in range(40)]
    rng.shuffle(sizes)
    return [(i + 1, rng.choice([K_REQUEST, K_DATA, K_END]), rng.randbytes(n)) for i, n in enumerate(sizes)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_frame_arrives_whole_and_in_order_whatever_the_read_boundaries(seed):
    sent = payloads(seed)
    wire = b"".join(frame(req_id, kind, data) for req_id, kind, data in sent)
    got = receive(wire, len(sent), seed)
    assert [(r, k, bytes(p)) for r, k, p in got] == sent


def test_large_payloads_are_bytearrays_of_their_own_and_small_ones_bytes():
    sent = [(1, K_DATA, b"x" * 100), (2, K_DATA, b"y" * (1 << 20)), (3, K_DATA, b"z" * 100),
            (4, K_DATA, b"w" * (1 << 20))]
    got = receive(b"".join(frame(*f) for f in sent), len(sent), 7)
    assert [type(p) for _, _, p in got] == [bytes, bytearray, bytes, bytearray]
    assert got[1][2] is not got[3][2] and got[1][2] == b"y" * (1 << 20)  # the first is not reused for the second
