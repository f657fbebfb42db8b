"""Stopping a child process politely: the one way the demo, the tests and the
benchmarks end the `camkeep` processes they start."""

from __future__ import annotations

import signal
import subprocess


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
