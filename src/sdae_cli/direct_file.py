"""Large outputs go to the disk around the page cache (O_DIRECT), from a thread of their own.

A gigabyte of codes written the ordinary way costs the kernel about a second of CPU to copy
into its page cache, and with both cores computing, that second is the pipeline's. Written
direct, the device reads the bytes from our buffer: no copy into the kernel, no cached pages.
The thread does the rest of the work too: it copies what write() was given into a page-aligned
buffer (direct writes must start, end and sit in memory on block boundaries) and waits for the
disk, while the caller computes the next block. The last partial block is written the ordinary
way, and so is an output smaller than a buffer. Where the file system refuses O_DIRECT (tmpfs on
older kernels, some network file systems) the file is written the ordinary way, with the same
bytes.
"""
from __future__ import annotations

import errno
import mmap
import os
import queue
import threading
from typing import BinaryIO

import numpy as np

ALIGN = 4096  # a multiple of every logical block size Linux file systems ask direct I/O to keep
BUFFER = 4 << 20  # the aligned buffer, a multiple of ALIGN: full, it leaves in one write
QUEUED = 2  # writes waiting for the thread; write() waits for room beyond that (bounded memory)


class DirectFile:
    """A write-only file object over `f` (a new, empty file opened for writing) whose bytes go
    to the disk directly, from a thread. write() queues its bytes (which must not change after:
    bytes objects, as every writer here passes); finish() waits until everything is written
    (the caller's fsync then makes it durable) and raises what the writing met (OSError);
    abort() stops without writing the rest."""

    def __init__(self, f: BinaryIO):
        self._fd = f.fileno()
        self._direct = _set_direct(self._fd, True)
        self._jobs: queue.Queue = queue.Queue(QUEUED)
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._work, daemon=True, name="sdae-direct-write")
        self._thread.start()

    def write(self, data) -> int:
        if self._error is not None:
            raise self._error
        size = memoryview(data).nbytes
        if size:
            self._jobs.put(data)
        return size

    def flush(self) -> None:
        """Nothing to do: the thread writes as bytes come, and finish() waits for it."""

    def _work(self) -> None:
        """The thread: bytes copied into the aligned buffer (numpy's copy lets go of the GIL),
        the buffer written each time it fills, the rest at the end; after an error or abort() the
        queue only drained, so that write() never waits for room that will not come."""
        buffer = mmap.mmap(-1, BUFFER)
        target = np.frombuffer(buffer, np.uint8)
        fill = 0
        try:
            while (data := self._jobs.get()) is not None:
                if self._error is not None or self._cancelled:
                    continue
                source = np.frombuffer(data, np.uint8)
                done = 0
                try:
                    while done < len(source):
                        n = min(len(source) - done, BUFFER - fill)
                        target[fill:fill + n] = source[done:done + n]
                        fill, done = fill + n, done + n
                        if fill == BUFFER:  # a whole number of blocks: all of it goes
                            self._write_all(buffer, BUFFER)
                            fill = 0
                except BaseException as e:  # the main thread raises it at its next step
                    self._error = e
            if self._error is None and not self._cancelled and fill:
                if self._direct:  # the last partial block the ordinary way
                    self._direct = _set_direct(self._fd, False)
                self._write_all(buffer, fill)
        except BaseException as e:
            self._error = e  # (the buffer is freed with the last view of it, which e may hold)

    def _write_all(self, buffer: mmap.mmap, size: int) -> None:
        with memoryview(buffer) as whole, whole[:size] as view:
            done = 0
            while done < size:
                try:
                    n = os.write(self._fd, view[done:])
                except OSError as e:
                    # EINVAL: the file system took the flag but not these blocks: go the ordinary way.
                    if not (self._direct and e.errno == errno.EINVAL):
                        raise
                    self._direct = _set_direct(self._fd, False)
                    continue
                done += n
                if self._direct and n % ALIGN:  # a short write left the offset off a block boundary
                    self._direct = _set_direct(self._fd, False)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def finish(self) -> None:
        """Waits until everything given is written; raises what the writing met."""
        self._stop()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stops, once a write under way has returned (its file is about to be deleted)."""
        self._cancelled = True
        self._stop()


def _set_direct(fd: int, on: bool) -> bool:
    """Turns O_DIRECT on or off for `fd`; whether it is now on."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        import fcntl

        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        return False
    return on
