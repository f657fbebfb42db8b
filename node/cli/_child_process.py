"""Starting and stopping child processes: the one way the demo, the tests and the
benchmarks start and end the `camkeep` processes they run.

`start_process` makes the child die with its parent whatever ends the parent (Ctrl-C,
`kill -9`, a crash): on Linux the kernel sends the child SIGTERM when the parent dies
(prctl PR_SET_PDEATHSIG, set in the child between fork and exec), so no emulator or
node is left running after a demo or a benchmark that could not clean up.
`stop_process` is the polite end when the parent can.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
DEATH_SIGNAL = signal.SIGTERM  # a node stops cleanly on it (fragments closed)


def _die_with(parent_pid: int) -> Callable[[], None] | None:
    """What the child runs before exec: ask for DEATH_SIGNAL when the parent dies, and
    end at once if the parent died already (between fork and this call)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def in_child() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), DEATH_SIGNAL)

    return in_child


def start_process(argv: list[str], **popen: Any) -> subprocess.Popen:
    """`subprocess.Popen(argv, **popen)` for a child that dies with this process.

    `popen` takes Popen's keyword arguments except `preexec_fn` (start_new_session
    works: the death signal does not depend on the process group).

    The kernel sends the death signal when the *thread* that forked the child ends,
    not the whole process: call this from a thread that lives as long as the child
    (the demo and the benchmarks call it from their main thread)."""
    if "preexec_fn" in popen:
        raise ValueError("start_process sets preexec_fn itself")
    return subprocess.Popen(argv, preexec_fn=_die_with(os.getpid()), **popen)


def stop_process(process: subprocess.Popen, timeout_s: float) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`; its exit code.
    A process that has already exited is only reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
