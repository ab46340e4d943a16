"""A cross-process write lock, so two writers never touch the same store at once."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class LockTimeout(RuntimeError):
    """Another process held the write lock for longer than we were willing to wait."""


@contextmanager
def write_lock(path: Path, timeout: float, on_wait=None) -> Iterator[None]:
    """Hold an exclusive lock on `path`; wait up to `timeout` seconds for another writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        warned = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another Newsdesk process{holder} is writing to this index; "
                        f"gave up after {timeout:g} s (NEWSDESK_LOCK_TIMEOUT)"
                    ) from None
                if not warned:
                    message = f"another Newsdesk process{holder} is writing to this index; waiting…"
                    (on_wait or log.warning)(message)
                    warned = True
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
