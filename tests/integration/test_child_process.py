"""node/child_process.stop_process on real child processes."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator

from node.cli._child_process import stop_process

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
