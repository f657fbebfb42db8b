"""start_process and stop_process (node/cli/_child_process.py) on real child processes."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from node.cli import start_process, stop_process

SLEEPER = "import time; print('up', flush=True); time.sleep(60)"
IGNORES_SIGTERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + SLEEPER


@contextlib.contextmanager
def running(code: str) -> Iterator[subprocess.Popen]:
    """A Python child running `code`, up once it printed 'up'; killed at the end anyway."""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        yield child
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]


def test_a_child_that_obeys_sigterm_ends_with_it() -> None:
    with running(SLEEPER) as child:
        assert stop_process(child, 10) == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    with running(IGNORES_SIGTERM) as child:
        assert stop_process(child, 0.3) == -signal.SIGKILL


def test_a_child_that_has_exited_keeps_its_exit_code() -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    child.wait()
    assert stop_process(child, 1) == 3


PARENT = """
import sys, time
from node.cli import start_process
child = start_process([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_started_child_dies_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        parent.kill()  # kill -9: the parent cannot clean up
        parent.wait()
        child.wait(30)  # the kernel's parent-death signal ends it (raises if it does not)
        assert not child.is_running()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]


def test_start_process_sets_preexec_fn_itself() -> None:
    with pytest.raises(ValueError, match="preexec_fn"):
        start_process([sys.executable, "-c", "pass"], preexec_fn=lambda: None)
