"""Detach: owner only, two-step with the 5-second wait, keep/remove cameras,
offline detach and return, last server with the forced logout on the events socket."""

from __future__ import annotations

import json
import threading
import time

import netns
from system_cluster import Cluster

from node.security import CONFIRM_WAIT_S
from node.system import LAST_SERVER_MESSAGE


def add_camera(cluster: Cluster, host: netns.Host, token: str, name: str, home: str) -> str:
    answer = cluster.call(
        host,
        "POST",
        "/api/v1/cameras",
        token,
        json={
            "name": name,
            "rtsp_url": f"rtsp://{host.address}:8554/{name}/main",
            "home_server_id": home,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def camera_ids(cluster: Cluster, host: netns.Host, token: str) -> set[str]:
    answer = cluster.call(host, "GET", "/api/v1/cameras", token, timeout=5.0)
    return {c["id"] for c in answer.json()} if answer.status_code == 200 else set()


def detach(cluster, host, token, server_id, keep, confirm=None, dry_run=False):
    body = {"keep_cameras": keep}
    if dry_run:
        body["dry_run"] = True
    if confirm is not None:
        body["confirm_token"] = confirm
    return cluster.call(host, "POST", f"/api/v1/servers/{server_id}/detach", token, json=body)


def detach_confirmed(cluster, host, token, server_id, keep) -> tuple[dict, dict]:
    first = detach(cluster, host, token, server_id, keep, dry_run=True)
    assert first.status_code == 202, first.text
    plan = first.json()
    assert plan["done"] is False and plan["confirm_token"]
    early = detach(cluster, host, token, server_id, keep, plan["confirm_token"])
    assert early.status_code == 409 and "wait" in early.json()["error"]
    time.sleep(CONFIRM_WAIT_S + 0.2)
    done = detach(cluster, host, token, server_id, keep, plan["confirm_token"])
    assert done.status_code == 200, done.text
    assert done.json()["done"] is True
    return plan, done.json()


def test_detach_keep_remove_owner_only_offline_return(lan) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    cluster = Cluster(net)
    token = cluster.form([h1, h2, h3])
    ids = {h.name: cluster.node_id(h) for h in net.hosts}
    cam2 = add_camera(cluster, h1, token, "cam2", ids["h2"])
    cam3 = add_camera(cluster, h1, token, "cam3", ids["h3"])
    for role, user in (("admin", "ada"), ("viewer", "vic")):
        made = cluster.call(
            h1,
            "POST",
            "/api/v1/users",
            token,
            json={"username": user, "password": f"{user}-password-1", "role": role},
        )
        assert made.status_code == 201, made.text
        other = cluster.login(h1, user, f"{user}-password-1")
        refused = detach(cluster, h1, other, ids["h2"], True)
        assert refused.status_code == 403, refused.text
        assert "owner" in refused.json()["error"]

    # keep: h2 becomes undefined, its camera stays in the system
    plan, _ = detach_confirmed(cluster, h1, token, ids["h2"], True)
    assert plan["online"] is True and plan["warnings"] == [] and plan["cameras"] == 1
    assert cluster.health(h2)["state"] == "undefined"
    assert cluster.health(h2)["node_id"] == ids["h2"]  # keeps its identity
    for host in (h1, h3):
        netns.wait_until(
            lambda host=host: set(cluster.servers(host, token)) == {ids["h1"], ids["h3"]},
            3.0,
            what=f"{host.name} lists h1, h3",
        )
    assert cam2 in camera_ids(cluster, h3, token)
    old = cluster.call(h2, "GET", "/api/v1/servers", token)
    assert old.status_code == 401  # the detached server forgot the system and its users

    # offline: h3 killed, detached with remove; warned first; comes back and works
    cluster.kill9(h3)
    netns.wait_until(
        lambda: cluster.servers(h1, token)[ids["h3"]]["state"] == "dead", 6.0, what="h3 dead"
    )
    # the fixed contract: one call with only keep_cameras detaches at once
    once = detach(cluster, h1, token, ids["h3"], False)
    assert once.status_code == 200, once.text
    plan = once.json()
    assert plan["done"] is True and plan["online"] is False
    assert any("comes back" in w for w in plan["warnings"]), plan["warnings"]
    assert set(cluster.servers(h1, token)) == {ids["h1"]}
    assert cam3 not in camera_ids(cluster, h1, token)
    cluster.start(h3)
    netns.wait_until(
        lambda: ids["h3"] in cluster.servers(h1, token),
        15.0,
        what="offline-detached h3 appears again on h1",
    )
    netns.wait_until(
        lambda: cluster.servers(h1, token)[ids["h3"]]["state"] == "alive",
        10.0,
        what="h3 alive again",
    )
    assert cluster.health(h3)["state"] == "member"
    assert "detached while offline" in h3.log(cluster.procs["h3"])


def test_last_server_detach_logs_everyone_out(lan) -> None:
    net = lan(2)
    h1, h2 = net.hosts
    cluster = Cluster(net)
    cluster.start(h1)
    token = cluster.setup(h1)
    node_id = cluster.node_id(h1)
    received: list[dict] = []
    connected = threading.Event()

    def listen() -> None:
        from websockets.sync.client import connect

        with connect(f"ws://{h1.address}:7480/api/v1/events?token={token}") as ws:
            received.append(json.loads(ws.recv(timeout=10)))
            connected.set()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    event = json.loads(ws.recv(timeout=1))
                except TimeoutError:
                    continue
                except Exception:
                    return
                received.append(event)
                if event.get("type") == "logout":
                    return

    listener = threading.Thread(target=lambda: h2.call(listen), daemon=True)
    listener.start()
    assert connected.wait(15), "events socket did not connect"
    plan, _ = detach_confirmed(cluster, h1, token, node_id, True)
    assert plan["last_server"] is True and plan["warnings"]
    listener.join(15)
    logouts = [e for e in received if e.get("type") == "logout"]
    assert logouts and logouts[0]["message"] == LAST_SERVER_MESSAGE
    assert cluster.call(h1, "GET", "/api/v1/servers", token).status_code == 401
    assert cluster.health(h1)["state"] == "undefined"
