"""Two `camkeep emulate` on one host: the default control port (8553) taken by the
first (or by anything else) makes the second serve its control API on a free port and
say which; a control port given with --control-port stays strict."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from emulator.ports import free_port, free_port_block
from node.cli._child_process import stop_process

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT_S = 180.0

pytestmark = pytest.mark.timeout(400)


class Emulator:
    """A `camkeep emulate` process with its stdout and stderr gathered as they come."""

    def __init__(self, cache_dir: Path, cameras: int, extra: tuple[str, ...] = ()) -> None:
        command = [
            sys.executable, "-m", "node.cli", "emulate", "--host", HOST,
            "--cameras", str(cameras), "--rtsp-port", str(free_port()),
            "--onvif-port", str(free_port_block(cameras)), "--no-wsd",
            "--width", "160", "--height", "96", "--sub-width", "160", "--sub-height", "96",
            "--bitrate", "100000", "--sub-bitrate", "100000", "--gop-seconds", "1",
            "--cache-dir", str(cache_dir), *extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.ready = threading.Event()
        self._pumps = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
            if line.strip() == "ready":
                self.ready.set()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                break
        assert self.ready.is_set(), "\n".join(self.stdout + self.stderr)

    def wait_stderr_line(self, expected: str, timeout_s: float = 10.0) -> None:
        """Stdout and stderr are two pipes read by two threads: a line written to stderr
        before 'ready' went to stdout may still be on its way when 'ready' is seen."""
        deadline = time.monotonic() + timeout_s
        while expected not in self.stderr and time.monotonic() < deadline:
            time.sleep(0.05)
        assert expected in self.stderr, self.stderr

    def control_port(self) -> int:
        line = next(x for x in self.stdout if x.startswith("control API: "))
        match = re.fullmatch(rf"control API: http://{re.escape(HOST)}:(\d+)/cameras", line)
        assert match, line
        return int(match[1])

    def wait_exit(self) -> int:
        code = self.process.wait(timeout=START_TIMEOUT_S)
        for pump in self._pumps:  # the pipes are closed: the last lines are read
            pump.join(10)
        return code

    def stop(self) -> None:
        stop_process(self.process, 15.0)


def _cameras(port: int) -> list[int]:
    with urllib.request.urlopen(f"http://{HOST}:{port}/cameras", timeout=10) as answer:
        return [camera["index"] for camera in json.loads(answer.read())]


def test_second_emulator_takes_another_control_port(tmp_path: Path) -> None:
    started: list[Emulator] = []
    try:
        first = Emulator(tmp_path, cameras=1)
        started.append(first)
        first.wait_ready()
        first_port = first.control_port()  # 8553, or a free one if 8553 was already taken
        second = Emulator(tmp_path, cameras=2)
        started.append(second)
        second.wait_ready()
        second_port = second.control_port()
        assert second_port not in (first_port, 8553)
        notice = f"camkeep emulate: control port 8553 is in use; control API on port {second_port}"
        second.wait_stderr_line(notice)
        # Each control API is its own emulator's: one camera, and two.
        assert _cameras(first_port) == [1]
        assert _cameras(second_port) == [1, 2]

        strict = Emulator(tmp_path, cameras=1, extra=("--control-port", str(second_port)))
        started.append(strict)
        assert strict.wait_exit() == 1
        assert strict.stderr[-1] == (
            f"camkeep emulate: control port {second_port} on {HOST} is in use"
            " (choose another with --control-port)"
        ), strict.stderr
        assert not any("Traceback" in line for line in strict.stderr)
        assert "ready" not in strict.stdout
    finally:
        for emulator in started:
            emulator.stop()
