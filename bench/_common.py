"""What the benchmarks share: replacing one's own section of bench/RESULTS.md, and
stopping the process groups they started.

Import as `from bench._common import ...` with the repository root on sys.path.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path


def replace_section(path: Path, section: str, text: str) -> None:
    """Put `text` (which starts with the `section` heading line) in place of that section
    of the results file, or append it; every other section is kept as it is."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new.rstrip("\n") + "\n")


def stop_process_groups(procs: Iterable[subprocess.Popen], timeout_s: float = 15) -> None:
    """SIGTERM each process's group (a node and the children it started), SIGKILL the
    groups still there after `timeout_s`."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
