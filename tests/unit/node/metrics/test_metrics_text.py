"""The metrics text: Prometheus names, and valid for promtool when it is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from node.metrics import CameraFigures, NodeMetrics, Snapshot

SNAPSHOT = Snapshot(
    server_id="s1",
    server_name="node one",
    cameras=(CameraFigures("c1", 'Gate "A"', "recording", 25.0, 4e6, 1234, 2.5, 1),),
    takeovers=2,
    members={"alive": 2, "dead": 1},
    gossip={"sent": 10, "sent_bytes": 7000},
    events_written={"camera_taken_over": 2},
    notifications={("webhook", "sent"): 3},
    peer_clock_offsets={"s2": 3600.012, "s3": -0.25},
)


def render() -> str:
    metrics = NodeMetrics(lambda: SNAPSHOT)
    metrics.count_request("/api/v1/cameras/{camera_id}", "GET", 404)
    return metrics.render().decode()


def test_figures_and_names() -> None:
    text = render()
    assert 'camkeep_failover_takeovers_total{server_id="s1"} 2.0' in text
    labels = 'camera="Gate \\"A\\"",camera_id="c1",server_id="s1"'
    assert f"camkeep_camera_received_bytes_per_second{{{labels}}} 500000.0" in text
    assert 'camkeep_members{state="dead"} 1.0' in text
    assert 'camkeep_gossip_bytes_total{direction="sent"} 7000.0' in text
    route = 'method="GET",route="/api/v1/cameras/{camera_id}",status="404"'
    assert f"camkeep_http_requests_total{{{route}}} 1.0" in text
    assert 'camkeep_peer_clock_offset_seconds{server="s2"} 3600.012' in text
    assert 'camkeep_peer_clock_offset_seconds{server="s3"} -0.25' in text
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")
    }
    assert all(name.startswith("camkeep_") for name in names)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_it() -> None:
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=render(), capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
