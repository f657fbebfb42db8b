"""Failover between two real nodes on loopback, driven through `camkeep failover`.

Two `camkeep run` processes (127.0.0.1, two ports), one system, one emulated camera
homed on each. The CLI shows the failover view, sets priorities of several cameras at
once and refuses a bad max-cameras with a clear error; killing node2 moves its camera
to node1, restarting it brings the camera back; the recordings API of either node
merges both servers' periods and the export of a range spanning them is one MP4. The
internal routes refuse calls that are not signed with the system secret.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import httpx
import pytest
from node_harness import (
    ROOT,
    NodeProcess,
    camkeep_command,
    fast_failover_config,
    node_factory,
    wait_until,
)

__all__ = ["node_factory"]  # fixture

CONFIG = fast_failover_config()


def cli(node: NodeProcess, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    env.update(CAMKEEP_SERVER=node.url, CAMKEEP_USER="owner", CAMKEEP_PASSWORD="owner-password-1")
    return subprocess.run(
        camkeep_command("failover", *args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def recording_here(node: NodeProcess, token: str) -> set[str]:
    """Cameras this node records itself (every node shows every camera's state)."""
    with node.api(token) as api:
        cams = api.get("/api/v1/cameras").json()
        own_id = api.get("/api/v1/health").json()["node_id"]
    return {
        c["name"]
        for c in cams
        if c["status"]["state"] == "recording" and c["recording_server_id"] == own_id
    }


@pytest.mark.slow
def test_failover_two_nodes_cli_merge_and_export(node_factory, emulator_factory, tmp_path: Path):
    cameras = emulator_factory(cameras=2)
    node1 = node_factory(name="node1", config=CONFIG)
    node2 = node_factory(name="node2", config=CONFIG)
    node1.setup(owner="owner", password="owner-password-1")
    token = node1.login("owner", "owner-password-1")
    with node1.api(token) as api:
        body = {"url": node2.url, "owner_username": "owner", "owner_password": "owner-password-1"}
        assert api.post("/api/v1/servers", json=body).status_code == 201
        ids = {s["name"]: s["id"] for s in api.get("/api/v1/servers").json()}
        for index, home in ((1, "node1"), (2, "node2")):
            body = {
                "name": f"cam{index}",
                "rtsp_url": cameras.url(index),
                "home_server_id": ids[home],
            }
            assert api.post("/api/v1/cameras", json=body).status_code == 201
    wait_until(lambda: recording_here(node1, token) == {"cam1"}, 60, "cam1 on node1")
    wait_until(lambda: recording_here(node2, token) == {"cam2"}, 60, "cam2 on node2")

    # the failover view, priorities of several cameras at once, settings with errors
    shown = cli(node2, "show")
    assert shown.returncode == 0, shown.stderr
    assert "cam1" in shown.stdout and "cam2" in shown.stdout and "medium" in shown.stdout
    changed = cli(node1, "set-priority", "high", "cam1", "cam2")
    assert changed.returncode == 0, changed.stderr
    assert "cam1: priority high" in changed.stdout and "cam2: priority high" in changed.stdout
    refused = cli(node1, "settings", "node1", "--enable", "--max-cameras", "9")
    assert refused.returncode != 0 and "licensed" in refused.stderr
    refused = cli(node1, "set-priority", "sometimes", "cam1")
    assert refused.returncode != 0
    missing = cli(node1, "set-priority", "low", "no-such-camera")
    assert missing.returncode != 0 and "no-such-camera" in missing.stderr
    enabled = cli(node1, "settings", "node1", "--enable", "--max-cameras", "8")
    assert enabled.returncode == 0 and "failover on, max cameras 8" in enabled.stdout
    with node2.api(token) as api:  # replicated to node2; the API answers the same
        view = api.get("/api/v1/failover").json()
    assert {c["priority"] for c in view["cameras"]} == {"high"}
    assert next(s for s in view["servers"] if s["id"] == ids["node1"])["failover_enabled"]

    # internal routes: unsigned calls are refused
    for path in (
        "/api/v1/internal/failover/recording",
        f"/api/v1/internal/cameras/x/periods?start={datetime.now(UTC).isoformat()}&end=x",
    ):
        assert httpx.get(node1.url + path).status_code == 401

    # kill node2: cam2 goes to node1; restart: it comes back
    time.sleep(2)
    killed_at = datetime.now(UTC)
    node2.kill()
    wait_until(lambda: recording_here(node1, token) == {"cam1", "cam2"}, 30, "cam2 on node1")

    def recorders_on_failover_page() -> dict[str, str | None]:
        with node1.api(token) as api:  # the failover page says who records each camera now
            view = api.get("/api/v1/failover").json()
        return {c["name"]: c["recording_server_id"] for c in view["cameras"]}

    both_on_node1 = {"cam1": ids["node1"], "cam2": ids["node1"]}
    wait_until(lambda: recorders_on_failover_page() == both_on_node1, 10, "failover page")
    time.sleep(4)
    node2.restart()
    wait_until(lambda: recording_here(node2, token) == {"cam2"}, 60, "cam2 back on node2")
    wait_until(lambda: recording_here(node1, token) == {"cam1"}, 30, "node1 lets cam2 go")
    time.sleep(4)
    end = datetime.now(UTC) - timedelta(seconds=3)
    start = killed_at - timedelta(seconds=3)
    params = {"start": start.isoformat(), "end": end.isoformat()}
    with node1.api(token) as api:
        cam2 = next(c for c in api.get("/api/v1/cameras").json() if c["name"] == "cam2")
        periods = api.get(f"/api/v1/cameras/{cam2['id']}/recordings", params=params).json()
        assert {p["server_id"] for p in periods["periods"]} == {ids["node1"], ids["node2"]}
        exported = api.get(f"/api/v1/cameras/{cam2['id']}/export", params=params, timeout=60)
    assert exported.status_code == 200, exported.text
    out = tmp_path / "cam2.mp4"
    out.write_bytes(exported.content)
    with av.open(str(out)) as mp4:
        video = mp4.streams.video[0]
        times = [float(p.dts * p.time_base) for p in mp4.demux(video) if p.dts is not None]
    covered = (end - start).total_seconds()
    assert times == sorted(times)
    assert covered - 6 <= times[-1] - times[0] <= covered + 2  # one file over both servers
