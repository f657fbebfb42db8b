"""node/child_process.stop_process on real child processes."""

from __future__ import annotations

import signal
import subprocess
import sys

from node.child_process import stop_process


def _child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_child_that_obeys_sigterm_ends_with_it() -> None:
    child = _child("import time; print('up', flush=True); time.sleep(60)")
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        assert stop_process(child, 10) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    child = _child(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        assert stop_process(child, 0.3) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]


def test_a_child_that_has_exited_keeps_its_exit_code() -> None:
    child = _child("raise SystemExit(3)")
    child.wait()
    assert stop_process(child, 1) == 3
    child.stdout.close()  # type: ignore[union-attr]
