"""A small real file system for disk-full tests: tmpfs mounted on a temporary directory (the tests run as root)."""
import contextlib
import os
import subprocess


@contextlib.contextmanager
def small_filesystem(directory, size: str = "8m"):
    """Mount a tmpfs of ``size`` on ``directory`` for the duration of the block."""
    os.makedirs(directory, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"cannot mount a tmpfs for the disk-full test (needs root): {done.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(path, chunk: int = 64 << 10) -> int:
    """Write zeros to ``path`` until the file system is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(bytes(chunk))
        except OSError:
            pass
    return written
