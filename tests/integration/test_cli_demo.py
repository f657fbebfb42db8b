"""`camkeep demo`: cameras and three nodes on loopback, one system, cameras spread,
failover on; 'stop node3' moves its camera, 'start node3' brings it back; Ctrl-C stops
every process it started."""

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
from node_harness import ROOT, camkeep_command, wait_until

from emulator.ports import free_port, free_port_block


@pytest.mark.slow
def test_demo_three_nodes_failover_and_stop_everything() -> None:
    port, rtsp, control, onvif = free_port_block(3), free_port(), free_port(), free_port_block(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    command = camkeep_command(
        "demo", "--cameras", "3", "--port", str(port), "--rtsp-port", str(rtsp),
        "--onvif-port", str(onvif), "--control-port", str(control),
    )  # fmt: skip
    demo = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(
        target=lambda: lines.extend(line.rstrip() for line in demo.stdout), daemon=True
    ).start()  # type: ignore[union-attr]
    node1 = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: any("camkeep demo is running" in line for line in lines),
            240,
            "the demo to start",
        )
        assert any("stop node3" in line for line in lines)  # says how to see failover
        login = next(line for line in lines if line.strip().startswith("owner:"))
        user, password = re.match(r"\s*owner:\s+(\S+) / (\S+)", login).groups()  # type: ignore[union-attr]
        web = next(line for line in lines if line.strip().startswith("web:"))
        assert web.split()[1] == f"{node1}/"
        page = httpx.get(f"{node1}/")
        assert page.status_code == 200 and "/web/app.js" in page.text  # the web client
        token = httpx.post(
            f"{node1}/api/v1/auth/login", json={"username": user, "password": password}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        servers = httpx.get(f"{node1}/api/v1/servers", headers=headers).json()
        assert len(servers) == 3 and all(s["failover_enabled"] for s in servers)
        ids = {s["name"]: s["id"] for s in servers}

        def recorded_by() -> dict[str, set[str]]:
            """camera name -> ids of the nodes recording it (each node asked)."""
            out: dict[str, set[str]] = {}
            for offset, name in enumerate(("node1", "node2", "node3")):
                try:
                    cams = httpx.get(
                        f"http://127.0.0.1:{port + offset}/api/v1/cameras",
                        headers=headers,
                        timeout=3,
                    ).json()
                except httpx.HTTPError:
                    continue
                for c in cams:
                    out.setdefault(c["name"], set())
                    if (
                        c["status"]["state"] == "recording"
                        and c["recording_server_id"] == ids[name]
                    ):
                        out[c["name"]].add(ids[name])
            return out

        spread = {
            "Camera 1": {ids["node1"]},
            "Camera 2": {ids["node2"]},
            "Camera 3": {ids["node3"]},
        }
        wait_until(lambda: recorded_by() == spread, 60, "one camera recorded on each node")
        demo.stdin.write("stop node3\n")  # type: ignore[union-attr]
        demo.stdin.flush()  # type: ignore[union-attr]
        wait_until(
            lambda: recorded_by().get("Camera 3") in ({ids["node1"]}, {ids["node2"]}),
            30,
            "node3's camera recorded by another node",
        )
        demo.stdin.write("start node3\n")  # type: ignore[union-attr]
        demo.stdin.flush()  # type: ignore[union-attr]
        wait_until(lambda: recorded_by() == spread, 60, "node3's camera back on node3")
        children = psutil.Process(demo.pid).children(recursive=True)
        assert len(children) >= 4  # cameras + three nodes
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait(60) == 0
        time.sleep(0.5)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if demo.poll() is None:
            for child in psutil.Process(demo.pid).children(recursive=True):
                child.kill()
            demo.kill()
            demo.wait()
