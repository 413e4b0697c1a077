"""Choosing the I/O backend: io_uring where it can be set up, the thread pool
otherwise (DESIGN §4). The caller logs and exports which one it got and why.

io_uring can be missing for ordinary reasons: the liburing package failed to
build or import, the kernel is too old, or a seccomp profile (Docker's default
one since 2023) refuses io_uring_setup. All of these raise here, so `auto`
falls back instead of failing the shard.
"""
from __future__ import annotations

from .io import IOBackend, ThreadPoolIO

CHOICES = ("auto", "io_uring", "threadpool")


def open_backend(choice: str = "auto") -> tuple[IOBackend, str]:
    """(backend, reason): `io_uring` fails loudly if it can't be set up;
    `auto` falls back to the thread pool and says why."""
    if choice not in CHOICES:
        raise ValueError(f"io backend must be one of {CHOICES}, got {choice!r}")
    if choice == "threadpool":
        return ThreadPoolIO(), "configured"
    try:
        from .io_uring import UringIO
        return UringIO(), "available" if choice == "auto" else "configured"
    except (ImportError, OSError, RuntimeError) as exc:
        if choice == "io_uring":
            raise RuntimeError(f"io_uring backend requested but unavailable: {exc!r}") from exc
        return ThreadPoolIO(), f"io_uring unavailable ({type(exc).__name__}: {exc})"
