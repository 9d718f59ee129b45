"""Worker processes for CPU-bound work that would otherwise hold the server's GIL: parsing
(``index.pool``) and reading a long history (``history.graph``).

Each worker is a plain interpreter (``python -S -c …``) that imports one module and runs its
``serve(read_fd, write_fd)``, fed through a pair of pipes, one request in flight at a time: a
frame is a 4-byte length and a body (msgpack, by the modules' choice). Not ``multiprocessing``:
it would re-run the caller's main module in every worker, start a resource-tracker process and
pickle every request, and none of that is needed to hand bytes to a process. A worker runs in
its own process group, so a terminal's Ctrl-C goes to the server, which decides when its
workers stop (it closes their input, or kills them).
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import assistant

# The package's own directory first, then the parent's path: the worker imports the same code
# (an editable install's import hook is not there under -S, which skips site's startup work).
_BOOT = (
    "import sys; sys.path[:0] = sys.argv[4:]; from importlib import import_module; "
    "import_module(sys.argv[3]).serve(int(sys.argv[1]), int(sys.argv[2]))"
)
_HEADER = 4


class WorkerDied(Exception):
    pass


class Worker:
    """One worker process running ``module``'s ``serve``."""

    def __init__(self, module: str) -> None:
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        search_path = [
            str(Path(assistant.__file__).resolve().parent.parent),
            *(p for p in sys.path if isinstance(p, str)),
        ]
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-S", "-c", _BOOT, str(down_r), str(up_w), module, *search_path],
                pass_fds=(down_r, up_w),
                process_group=0,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            os.close(down_r)
            os.close(up_w)
        self._down = open(down_w, "wb")  # noqa: SIM115 - closed in stop()
        self._up = open(up_r, "rb")  # noqa: SIM115

    def run(self, data: bytes) -> bytes:
        """Send one request and wait for its answer; WorkerDied if the process went away."""
        try:
            self._down.write(len(data).to_bytes(_HEADER, "little"))
            self._down.write(data)
            self._down.flush()
        except OSError as exc:  # BrokenPipeError: it died before reading
            raise WorkerDied(str(exc)) from exc
        header = self._up.read(_HEADER)
        size = int.from_bytes(header, "little") if len(header) == _HEADER else -1
        body = self._up.read(size) if size >= 0 else b""
        if len(body) != size:
            raise WorkerDied(f"exit status {self.process.wait()}")
        return body

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        for stream in (self._down, self._up):
            with contextlib.suppress(OSError):
                stream.close()  # the worker sees end of input and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(read_fd: int, write_fd: int, handle: Callable[[bytes], bytes]) -> None:
    """A worker's main loop: each request read from ``read_fd`` is answered with ``handle``'s
    result on ``write_fd``, until end of input.

    The cyclic garbage collector is off: the workers only make acyclic data (tuples, strings,
    bytes, sets) that reference counting frees, so its passes would be pure overhead."""
    gc.disable()
    with open(read_fd, "rb") as down, open(write_fd, "wb") as up:
        while len(header := down.read(_HEADER)) == _HEADER:
            result = handle(down.read(int.from_bytes(header, "little")))
            up.write(len(result).to_bytes(_HEADER, "little"))
            up.write(result)
            up.flush()
