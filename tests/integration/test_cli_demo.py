"""`camkeep demo` starts cameras and a node, sets them up, and stops everything on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import httpx
import psutil
import pytest
from node_harness import ROOT, camkeep_command, free_port, free_port_block, wait_until


@pytest.mark.slow
def test_demo_runs_and_stops_everything() -> None:
    port, rtsp, control, onvif = free_port(), free_port(), free_port(), free_port_block(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    command = camkeep_command(
        "demo", "--cameras", "2", "--port", str(port), "--rtsp-port", str(rtsp),
        "--onvif-port", str(onvif), "--control-port", str(control),
    )  # fmt: skip
    demo = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    threading.Thread(
        target=lambda: lines.extend(line.rstrip() for line in demo.stdout), daemon=True
    ).start()  # type: ignore[union-attr]
    try:
        wait_until(
            lambda: any("camkeep demo is running" in line for line in lines),
            240,
            "the demo to start",
        )
        login = next(line for line in lines if line.strip().startswith("owner:"))
        user, password = re.match(r"\s*owner:\s+(\S+) / (\S+)", login).groups()  # type: ignore[union-attr]
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"username": user, "password": password},
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def recording() -> bool:
            cameras = httpx.get(f"http://127.0.0.1:{port}/api/v1/cameras", headers=headers).json()
            return len(cameras) == 2 and all(c["status"]["state"] == "recording" for c in cameras)

        wait_until(recording, 30, "the demo's cameras recording")
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 2
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait(30) == 0
        time.sleep(0.5)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if demo.poll() is None:
            for child in psutil.Process(demo.pid).children(recursive=True):
                child.kill()
            demo.kill()
            demo.wait()
