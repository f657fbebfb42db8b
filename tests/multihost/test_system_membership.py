"""A system of three real nodes on three test hosts: mDNS discovery of undefined
servers, adding with the owner's password, replication, kill -9 detection, catch-up,
lossy link without false deaths, outsiders and replays refused."""

from __future__ import annotations

import threading
import time

import netns
from system_cluster import Cluster

from node.security import sign_request

DISCOVERY_S = 15.0
REPLICATION_S = 2.0  # the figure; polled, with the polling slack on top
DEAD_AFTER_S = 2.0  # [gossip] dead_after_s default


def test_discover_add_replicate_kill_and_catch_up(lan) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    cluster = Cluster(net)
    for host in net.hosts:
        cluster.start(host)
    token = cluster.setup(h1)
    ids = {h.name: cluster.node_id(h) for h in net.hosts}

    # h1 sees h2 and h3 as undefined servers over mDNS
    def discovered() -> set[str]:
        answer = cluster.call(h1, "GET", "/api/v1/servers/discovered", token)
        return {d["id"] for d in answer.json()} if answer.status_code == 200 else set()

    netns.wait_until(
        lambda: discovered() >= {ids["h2"], ids["h3"]}, DISCOVERY_S, what="h1 discovers h2, h3"
    )
    row = next(
        d
        for d in cluster.call(h1, "GET", "/api/v1/servers/discovered", token).json()
        if d["id"] == ids["h2"]
    )
    assert row["url"] == cluster.url(h2) and row["name"] == "h2"

    # wrong owner password: refused, nothing changes on either side
    wrong = cluster.add(h1, h2, token, password="wrong-password")
    assert wrong.status_code == 401, wrong.text
    assert "password" in wrong.json()["error"]
    assert cluster.health(h2)["state"] == "undefined"
    assert set(cluster.servers(h1, token)) == {ids["h1"]}

    for host in (h2, h3):
        answer = cluster.add(h1, host, token)
        assert answer.status_code == 201, answer.text
    everyone = set(ids.values())
    for host in net.hosts:
        netns.wait_until(
            lambda host=host: set(cluster.servers(host, token)) == everyone,
            REPLICATION_S + 1,
            what=f"{host.name} lists all three servers",
        )
    assert discovered() == set()  # members are not undefined servers any more

    # live membership with load on every node
    def all_alive(host: netns.Host) -> bool:
        rows = cluster.servers(host, token).values()
        return len(rows) == 3 and all(
            r["state"] == "alive" and r["online"] and "cpu_percent" in r["load"] for r in rows
        )

    for host in net.hosts:
        netns.wait_until(lambda host=host: all_alive(host), 10.0, what=f"{host.name}: all alive")

    # a change made on h3 reaches h1 and h2
    made = cluster.call(
        h3,
        "POST",
        "/api/v1/users",
        token,
        json={"username": "ada", "password": "admin-pass-1", "role": "admin"},
    )
    assert made.status_code == 201, made.text
    for host in (h1, h2):
        netns.wait_until(
            lambda host=host: _has_user(cluster, host, token, "ada"),
            REPLICATION_S + 0.5,
            what=f"user made on h3 visible on {host.name}",
        )

    # kill -9 h3: declared dead by h1 and h2 within the configured time
    cluster.kill9(h3)
    killed_at = time.monotonic()
    for host in (h1, h2):
        netns.wait_until(
            lambda host=host: cluster.servers(host, token)[ids["h3"]]["state"] == "dead",
            DEAD_AFTER_S + 2.0,
            interval_s=0.1,
            what=f"{host.name} declares h3 dead",
        )
    assert time.monotonic() - killed_at < DEAD_AFTER_S + 2.0

    # a change while h3 is down; h3 gets it when it returns
    answer = cluster.call(
        h2,
        "POST",
        "/api/v1/users",
        token,
        json={"username": "vic", "password": "viewer-pass-1", "role": "viewer"},
    )
    assert answer.status_code == 201, answer.text
    cluster.start(h3)
    netns.wait_until(
        lambda: _has_user(cluster, h3, token, "vic"), 10.0, what="h3 catches up after restart"
    )
    netns.wait_until(
        lambda: cluster.servers(h1, token)[ids["h3"]]["state"] == "alive",
        10.0,
        what="h3 alive again on h1",
    )

    # concurrent edits of the same record converge to one value everywhere
    def set_failover(host: netns.Host, max_cameras: int) -> None:
        cluster.call(
            host,
            "PUT",
            f"/api/v1/servers/{ids['h1']}/failover",
            token,
            json={"enabled": True, "max_cameras": max_cameras},
        )

    writers = [
        threading.Thread(target=set_failover, args=(h, n))
        for h, n in ((h1, 11), (h2, 22), (h3, 33))
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()

    def converged() -> bool:
        values = {cluster.servers(h, token)[ids["h1"]]["max_cameras"] for h in net.hosts}
        return len(values) == 1 and values <= {11, 22, 33}

    netns.wait_until(converged, 5.0, what="concurrent edits converge")


def _has_user(cluster: Cluster, host: netns.Host, token: str, name: str) -> bool:
    answer = cluster.call(host, "GET", "/api/v1/users", token, timeout=5.0)
    return answer.status_code == 200 and name in {u["username"] for u in answer.json()}


def test_lossy_link_no_false_dead(lan, nft_available) -> None:
    net = lan(3)
    h1, h2, h3 = net.hosts
    cluster = Cluster(net)
    token = cluster.form([h1, h2, h3])
    ids = {h.name: cluster.node_id(h) for h in net.hosts}
    netns.wait_until(
        lambda: (
            all(s["state"] == "alive" for s in cluster.servers(h1, token).values())
            and len(cluster.servers(h1, token)) == 3
        ),
        10.0,
        what="all alive",
    )
    h3.drop_incoming_percent(20, from_host=h1)
    h3.drop_outgoing_percent(20, to_host=h1)
    seen_states: set[str] = set()
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        for host in (h1, h2):
            row = cluster.servers(host, token).get(ids["h3"])
            if row is not None:
                seen_states.add(row["state"])
        time.sleep(0.2)
    assert "dead" not in seen_states, seen_states


def test_outsiders_forgeries_and_replays_refused(lan) -> None:
    net = lan(2)
    h1, h2 = net.hosts
    cluster = Cluster(net)
    token = cluster.form([h1, h2])
    system_id, secret = cluster.system_secret(h1)
    path = "/api/v1/internal/records"
    url = f"{cluster.url(h1)}{path}"
    record = {
        "kind": "user",
        "key": "mallory",
        "value": {"username": "mallory", "role": "owner", "password_hash": "x"},
        "version": {"wall_ms": 9_999_999_999_999, "counter": 0, "node_id": "intruder"},
    }
    import json

    body = json.dumps({"records": [record]}).encode()
    # a process outside the system (wrong secret) cannot write
    forged = sign_request(b"not the secret" * 2, system_id, "intruder", "POST", path, body)
    answer = h2.http("POST", url, content=body, headers=forged)
    assert answer.status_code == 401 and "signature" in answer.json()["error"]
    # nor read the configuration
    sync_path = "/api/v1/internal/sync"
    forged = sign_request(b"wrong", system_id, "intruder", "POST", sync_path, b'{"digest":{}}')
    answer = h2.http(
        "POST", f"{cluster.url(h1)}{sync_path}", content=b'{"digest":{}}', headers=forged
    )
    assert answer.status_code == 401
    # a correctly signed request is accepted once; its replay is refused
    harmless = json.dumps({"records": []}).encode()
    signed = sign_request(secret, system_id, "tester", "POST", path, harmless)
    assert h2.http("POST", url, content=harmless, headers=signed).status_code == 200
    replay = h2.http("POST", url, content=harmless, headers=signed)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]
    users = cluster.call(h1, "GET", "/api/v1/users", token).json()
    assert "mallory" not in {u["username"] for u in users}
    # gossip: forged datagrams (wrong secret) and a replayed valid one are rejected
    from node.membership import GossipCodec

    now_ms = int(time.time() * 1000)
    forged_dgram = GossipCodec(system_id, "intruder", b"x" * 32).encode(
        "ping", {"seq": 1}, incarnation=0, now_ms=now_ms
    )
    valid_dgram = GossipCodec(system_id, "tester", secret).encode(
        "ping", {"seq": 1}, incarnation=0, now_ms=now_ms
    )

    def send() -> None:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(20):
                sock.sendto(forged_dgram, (h1.address, 7480))
            for _ in range(3):
                sock.sendto(valid_dgram, (h1.address, 7480))

    h2.call(send)

    def rejected() -> dict:
        view = cluster.call(h1, "GET", "/api/v1/system/membership", token).json()
        assert "gossip" in view, view
        return view["gossip"]["rejected"]

    netns.wait_until(
        lambda: rejected().get("bad_mac", 0) >= 20 and rejected().get("replayed", 0) >= 2,
        5.0,
        what="forged and replayed datagrams counted as rejected",
    )
    servers = cluster.servers(h1, token)
    assert len(servers) == 2 and all(s["state"] == "alive" for s in servers.values())
    view = cluster.call(h1, "GET", "/api/v1/system/membership", token).json()
    assert "intruder" not in view["members"]
