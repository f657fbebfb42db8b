"""Auto-join with a join token over real mDNS: a valid token joins by itself; an
expired or forged one is refused with the reason in the node's health."""

from __future__ import annotations

import time

import netns
from system_cluster import Cluster


def mint(cluster: Cluster, host: netns.Host, token: str, ttl_s: float) -> str:
    answer = cluster.call(host, "POST", "/api/v1/system/join-tokens", token, json={"ttl_s": ttl_s})
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def test_join_tokens_valid_expired_forged(lan) -> None:
    net = lan(4)
    h1, h2, h3, h4 = net.hosts
    cluster = Cluster(net)
    cluster.start(h1)
    token = cluster.setup(h1)
    # only the owner mints join tokens
    made = cluster.call(
        h1,
        "POST",
        "/api/v1/users",
        token,
        json={"username": "ada", "password": "admin-password-1", "role": "admin"},
    )
    assert made.status_code == 201
    admin = cluster.login(h1, "ada", "admin-password-1")
    refused = cluster.call(h1, "POST", "/api/v1/system/join-tokens", admin, json={})
    assert refused.status_code == 403

    valid = mint(cluster, h1, token, 600)
    expired = mint(cluster, h1, token, 1)
    payload_and_sig = valid.rsplit(".", 1)
    forged = (
        payload_and_sig[0]
        + "."
        + ("A" if payload_and_sig[1][0] != "A" else "B")
        + (payload_and_sig[1][1:])
    )
    time.sleep(1.5)  # `expired` is past its expiry now

    # no --peer: the nodes find h1 over mDNS (its TXT carries the token's system id)
    cluster.start(h2, "--join-token", valid)
    cluster.start(h3, "--join-token", expired)
    cluster.start(h4, "--join-token", forged)
    netns.wait_until(
        lambda: cluster.health(h2)["state"] == "member", 20.0, what="h2 joins with its token"
    )
    h2_id = cluster.node_id(h2)
    netns.wait_until(lambda: h2_id in cluster.servers(h1, token), 5.0, what="h2 listed on h1")
    for host, reason in ((h3, "expired"), (h4, "forged")):
        health = netns.wait_until(
            lambda host=host: (h := cluster.health(host)).get("join_error") and h,
            20.0,
            what=f"{host.name} reports its refused token",
        )
        assert health["state"] == "undefined"
        assert reason in health["join_error"], health["join_error"]
    assert set(cluster.servers(h1, token)) == {cluster.node_id(h1), h2_id}
