"""Receiving frames of the shard protocol (shards/protocol.py) with as few copies of body bytes as possible.

A plain ``asyncio.Protocol`` gets each socket read as a new bytes object, which a parser then appends to its
buffer and slices out again: three to four copies of every MiB of a PUT or GET body besides the kernel's. Here
the socket reads straight into our memory (``BufferedProtocol``, recv_into): headers and small frames into one
reusable buffer, and the payload of a large frame into a bytearray of its own, which is handed on as it is —
the consumer (a shard's upload, the router's GET response) owns it. Every body byte is copied once, by the kernel.
"""

from __future__ import annotations

import asyncio

from .protocol import HEADER, HEADER_SIZE, MAX_FRAME, ProtocolError

# Payloads at least this big are received into their own buffer; smaller ones are copied out of the shared one.
DIRECT = 64 << 10
# The shared buffer holds any incomplete header or small frame (< DIRECT + HEADER_SIZE) plus room for a read.
RECV_BUFFER = 256 << 10


class FrameReceiver(asyncio.BufferedProtocol):
    """Base protocol: subclasses implement ``frames_received(frames)``, a list of (req_id, kind, payload) in
    arrival order; payloads are bytes, or a bytearray the callee may keep (large frames)."""

    _buf: bytearray
    _view: memoryview
    _start = 0  # first byte not parsed yet
    _end = 0  # end of the bytes received into the shared buffer
    _big = None  # (req_id, kind, payload bytearray, its memoryview) of a large payload being received
    _filled = 0  # bytes of the large payload received so far

    def _receiver_init(self) -> None:
        self._buf = bytearray(RECV_BUFFER)
        self._view = memoryview(self._buf)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._big is not None:
            return self._big[3][self._filled:]
        try:
            return self._view[self._end:]
        except AttributeError:  # first read: the buffer is made lazily so subclasses keep their own __init__
            self._receiver_init()
            return self._view

    def buffer_updated(self, nbytes: int) -> None:
        big = self._big
        if big is not None:  # the shared buffer is empty meanwhile: _parse moved everything into the payload
            self._filled += nbytes
            if self._filled == len(big[2]):
                self._big = None
                self.frames_received([big[:3]])
            return
        self._end += nbytes
        frames = []
        self._parse(frames)
        if frames:
            self.frames_received(frames)

    def _parse(self, frames: list) -> None:
        view, start, end = self._view, self._start, self._end
        unpack = HEADER.unpack_from
        while end - start >= HEADER_SIZE:
            req_id, kind, length = unpack(view, start)
            if length > MAX_FRAME:
                raise ProtocolError(f"frame of {length} bytes")
            body = start + HEADER_SIZE
            have = end - body
            if have < length:
                if length >= DIRECT:  # the rest of this payload goes straight into its own buffer
                    payload = bytearray(length)
                    payload[:have] = view[body:end]
                    self._big = (req_id, kind, payload, memoryview(payload))
                    self._filled = have
                    start = end
                break
            frames.append((req_id, kind, view[body:body + length].tobytes()))
            start = body + length
        if start == end:
            self._start = self._end = 0
        elif len(self._buf) - end < DIRECT + HEADER_SIZE:  # keep room for a whole small frame: move the rest
            rest = end - start
            view[:rest] = view[start:end]
            self._start, self._end = 0, rest
        else:
            self._start = start

    def frames_received(self, frames: list) -> None:
        raise NotImplementedError
