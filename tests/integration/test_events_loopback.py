"""The whole truth from any node, on loopback: three real nodes, three emulated
cameras (one homed on each), a webhook receiver, a mosquitto broker.

Before anything fails, every node shows every camera recording, on its home, fresh.
Then the receiver goes down and node3 is killed (-9): node1 and node2 show node3's
camera recording on a backup, fresh; both hold the takeover and the server_dead
events; the receiver, back up, gets every event once with a valid signature
(those queued while it was down included); the MQTT subscriber gets them too and the
camera's retained state names the backup; `/metrics` counts the takeover and passes
`promtool check metrics`; `camkeep status` sees 2 of 3 servers up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from node_harness import ROOT, NodeProcess, camkeep_command, node_factory, wait_until
from notify_helpers import MqttSubscriber, WebhookReceiver, mosquitto

__all__ = ["node_factory"]  # fixture

CONFIG = """
segment_seconds = 2
licensed_channels = 8
[discovery]
mdns = false
[failover]
plan_interval_s = 0.3
failback_delay_s = 1
"""
SECRET = "webhook-secret-0123456789"
HOST = "127.0.0.1"


def cameras_seen(node: NodeProcess, token: str) -> dict[str, dict[str, Any]]:
    with node.api(token) as api:
        return {c["name"]: c for c in api.get("/api/v1/cameras").json()}


def events(node: NodeProcess, token: str, **params: str) -> list[dict[str, Any]]:
    with node.api(token) as api:
        answer = api.get("/api/v1/events", params={"limit": 1000, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()["events"]


def cli(node: NodeProcess, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    env.update(CAMKEEP_SERVER=node.url, CAMKEEP_USER="owner", CAMKEEP_PASSWORD="owner-password-1")
    return subprocess.run(
        camkeep_command(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/usr/sbin/mosquitto").exists() and not shutil.which("mosquitto"),
    reason="mosquitto is not installed (.ci/setup installs it)",
)
def test_three_nodes_state_events_webhook_mqtt_metrics(
    node_factory, emulator_factory, tmp_path: Path
) -> None:
    cams = emulator_factory(cameras=3)
    nodes = [node_factory(name=f"node{i}", config=CONFIG) for i in (1, 2, 3)]
    node1, node2, node3 = nodes
    node1.setup(owner="owner", password="owner-password-1")
    token = node1.login("owner", "owner-password-1")
    receiver = WebhookReceiver(HOST, SECRET).start()
    with mosquitto(HOST, tmp_path) as broker_port:
        subscriber = MqttSubscriber(HOST, broker_port, "camkeep/#")
        try:
            with node1.api(token) as api:
                for other in (node2, node3):
                    body = {
                        "url": other.url,
                        "owner_username": "owner",
                        "owner_password": "owner-password-1",
                    }
                    assert api.post("/api/v1/servers", json=body).status_code == 201
                ids = {s["name"]: s["id"] for s in api.get("/api/v1/servers").json()}
                for name in ("node1", "node2", "node3"):
                    answer = api.put(
                        f"/api/v1/servers/{ids[name]}/failover",
                        json={"enabled": True, "max_cameras": 8},
                    )
                    assert answer.status_code == 200, answer.text
                for index, home in ((1, "node1"), (2, "node2"), (3, "node3")):
                    body = {
                        "name": f"cam{index}",
                        "rtsp_url": cams.url(index),
                        "home_server_id": ids[home],
                    }
                    assert api.post("/api/v1/cameras", json=body).status_code == 201
                hook = api.post(
                    "/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET}
                ).json()
                assert hook["has_secret"] and "secret" not in hook
                mqtt = api.put(
                    "/api/v1/notifications/mqtt",
                    json={"host": HOST, "port": broker_port, "password": "not-needed-here"},
                ).json()
                assert mqtt["has_password"] and "password" not in mqtt
                assert mqtt["topic_prefix"] == "camkeep/test-system"

            # every node shows every camera recording on its home, fresh
            def all_home(node: NodeProcess) -> bool:
                seen = cameras_seen(node, token)
                return all(
                    seen[f"cam{i}"]["status"]["state"] == "recording"
                    and seen[f"cam{i}"]["recording_server_id"] == ids[f"node{i}"]
                    and not seen[f"cam{i}"]["status"]["stale"]
                    for i in (1, 2, 3)
                )

            for node in nodes:
                wait_until(lambda node=node: all_home(node), 60, f"{node.name} sees all cameras")
            cam3 = cameras_seen(node1, token)["cam3"]["id"]
            wait_until(
                lambda: (
                    subscriber.states()
                    .get(f"camkeep/test-system/cameras/{cam3}/state", {})
                    .get("server_id")
                    == ids["node3"]
                ),
                20,
                "cam3's retained state on node3",
            )

            # the receiver goes down, node3 dies
            receiver.stop()
            time.sleep(1.0)
            node3.kill()

            def taken_over(node: NodeProcess) -> bool:
                status = cameras_seen(node, token)["cam3"]
                return (
                    status["status"]["state"] == "recording"
                    and status["recording_server_id"] in (ids["node1"], ids["node2"])
                    and not status["status"]["stale"]
                )

            for node in (node1, node2):
                wait_until(lambda node=node: taken_over(node), 30, f"{node.name}: cam3 on a backup")
            backup = cameras_seen(node1, token)["cam3"]["recording_server_id"]

            def cam3_takeovers(node: NodeProcess) -> list[dict[str, Any]]:
                found = events(node, token, type="camera_taken_over", camera_id=cam3)
                return [e for e in found if e["details"] == {"from": ids["node3"], "to": backup}]

            for node in (node1, node2):
                wait_until(lambda node=node: cam3_takeovers(node), 10, f"takeover on {node.name}")
                dead = events(node, token, type="server_dead", server_id=ids["node3"])
                assert dead and all(e["origin"] != ids["node3"] for e in dead), dead
                joined = events(node, token, type="server_joined")
                assert {e["server_id"] for e in joined} == set(ids.values())
            # one log: both nodes hold the same events, each written once by one node
            wait_until(
                lambda: (
                    {e["id"] for e in events(node1, token)}
                    == {e["id"] for e in events(node2, token)}
                ),
                10,
                "the same log on node1 and node2",
            )
            written_by = {e["id"]: e["origin"] for e in cam3_takeovers(node1)}
            assert set(written_by.values()) == {backup}

            # the receiver comes back: what was queued arrives, each event once, signed
            time.sleep(2.0)
            receiver.start()
            # a webhook gets the events written since it was added
            log_ids = {e["id"] for e in events(node1, token, since=hook["created_at"])}
            assert len(log_ids) >= 3, log_ids
            wait_until(lambda: log_ids <= set(receiver.ids()), 30, "every event at the webhook")
            time.sleep(2.0)  # room for a duplicate to show up
            counts = Counter(receiver.ids())
            assert max(counts.values()) == 1, counts
            assert all(d.signed for d in receiver.received)
            assert set(written_by) <= set(receiver.ids("camera_taken_over"))

            # MQTT: the same events, and cam3's retained state names the backup
            wait_until(lambda: log_ids <= set(subscriber.events()), 30, "events over MQTT")
            assert not set(receiver.ids()) - {e["id"] for e in events(node1, token)}
            assert Counter(subscriber.events()).most_common(1)[0][1] == 1
            wait_until(
                lambda: (
                    subscriber.states()[f"camkeep/test-system/cameras/{cam3}/state"]["server_id"]
                    == backup
                ),
                20,
                "cam3's retained state on the backup",
            )

            # metrics on the backup: the takeover, valid for promtool
            backup_node = node1 if backup == ids["node1"] else node2
            text = httpx.get(f"{backup_node.url}/metrics").text
            assert f'camkeep_failover_takeovers_total{{server_id="{backup}"}} 1.0' in text
            assert 'camkeep_members{state="dead"} 1.0' in text
            assert "camkeep_gossip_bytes_total" in text
            promtool = shutil.which("promtool")
            if promtool is not None:
                checked = subprocess.run(
                    [promtool, "check", "metrics"], input=text, capture_output=True, text=True
                )
                assert checked.returncode == 0, checked.stdout + checked.stderr

            # camkeep status and the cameras list name servers
            status = cli(node2, "status", "--json")
            assert status.returncode == 0, status.stderr
            assert '"servers_up": 2' in status.stdout and '"servers_total": 3' in status.stdout
            listed = cli(node2, "cameras", "list")
            assert listed.returncode == 0, listed.stderr
            cam3_line = next(line for line in listed.stdout.splitlines() if " cam3 " in line)
            backup_name = "node1" if backup == ids["node1"] else "node2"
            assert backup_name in cam3_line and "node3" in cam3_line
        finally:
            subscriber.close()
            receiver.stop()
