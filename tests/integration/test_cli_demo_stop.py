"""`camkeep demo` stops everything it started, however it is told to stop.

One node and one camera (the smallest demo), started the way `nohup` and CI runners
start programs: SIGINT and SIGHUP inherited as ignored. Then SIGINT, SIGTERM, SIGHUP,
the reader of its output pipe going away (`camkeep demo | tee log` after Ctrl-C), or
`kill -9` of the demo itself: afterwards no process it started is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import psutil
import pytest
from node_harness import ROOT, camkeep_command, wait_until

from emulator.ports import free_port


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _gone(processes: list[psutil.Process]) -> bool:
    alive = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return not alive


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP", "pipe closed", "SIGKILL"])
def test_demo_leaves_no_process_behind(how: str) -> None:
    port, rtsp, control, onvif = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    command = camkeep_command(
        "demo", "--nodes", "1", "--cameras", "1", "--port", str(port),
        "--rtsp-port", str(rtsp), "--onvif-port", str(onvif), "--control-port", str(control),
    )  # fmt: skip
    demo = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_interrupts,  # as nohup / a CI runner would
    )
    children: list[psutil.Process] = []
    said: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # the demo prints as it goes; pytest-timeout bounds it
            said.append(line)
            if "camkeep demo is running" in line:
                break
        else:
            pytest.fail(
                f"the demo ended (exit {demo.wait()}) before it was running:\n{''.join(said)}"
            )
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 2  # the emulator and the node
        if how == "pipe closed":
            demo.stdout.close()
        else:
            threading.Thread(target=demo.stdout.read, daemon=True).start()
            demo.send_signal(getattr(signal, how))
        code = demo.wait(60)
        assert code == (-signal.SIGKILL if how == "SIGKILL" else 0)
        # after kill -9 the kernel tells the children (parent-death signal)
        wait_until(lambda: _gone(children), 30, "every process the demo started to end")
    finally:
        for process in children:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        if demo.poll() is None:
            demo.kill()
        demo.wait()
