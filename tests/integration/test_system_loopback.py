"""A system of real node processes on loopback (static --peer, no mDNS): add a server
with the owner's password, replication both ways, join token, outsiders refused,
detach of an online server."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time

import httpx
import node_harness
import pytest
from node_harness import OWNER, OWNER_PASSWORD, ROOT, camkeep_command, wait_until
from websockets.sync.client import connect

from node.security import sign_request

node_factory = node_harness.node_factory  # fixture
NO_MDNS = "[discovery]\nmdns = false\n"


def health(node) -> dict:
    return httpx.get(f"{node.url}/api/v1/health", timeout=10).json()


def server_ids(node, token: str) -> set[str]:
    answer = httpx.get(
        f"{node.url}/api/v1/servers", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return {s["id"] for s in answer.json()} if answer.status_code == 200 else set()


@pytest.fixture
def pair(node_factory):
    a = node_factory(name="alpha", config=NO_MDNS)
    b = node_factory(name="beta", config=NO_MDNS)
    a.setup()
    return a, b


def add(a, token: str, url: str, password: str = OWNER_PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{a.url}/api/v1/servers",
        json={"url": url, "owner_username": OWNER, "owner_password": password},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_add_server_replicates_and_refuses_wrong_password(pair) -> None:
    a, b = pair
    token = a.login()
    wrong = add(a, token, b.url, "not-the-password")
    assert wrong.status_code == 401, wrong.text
    assert "password" in wrong.json()["error"]
    assert httpx.get(f"{b.url}/api/v1/health").json()["state"] == "undefined"
    assert len(server_ids(a, token)) == 1

    events: list[dict] = []
    listening = threading.Event()

    def listen() -> None:
        ws_url = a.url.replace("http://", "ws://") + f"/api/v1/events?token={token}"
        with connect(ws_url) as ws:
            events.append(json.loads(ws.recv(timeout=10)))
            listening.set()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    event = json.loads(ws.recv(timeout=1))
                except TimeoutError:
                    continue
                events.append(event)
                if event.get("type") == "server_state" and event["state"] == "alive":
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert listening.wait(10)
    answer = add(a, token, b.url)
    assert answer.status_code == 201, answer.text
    b_id = httpx.get(f"{b.url}/api/v1/health").json()["node_id"]
    listener.join(15)
    # membership events reach the events WebSocket
    assert {"type": "server_state", "server_id": b_id, "state": "alive"} in events, events
    assert answer.json()["id"] == b_id
    assert health(b)["state"] == "member"
    # the same token works on b (same secret), and both list both servers
    assert server_ids(b, token) == server_ids(a, token) == {health(a)["node_id"], b_id}

    # a user made on b reaches a, a camera setting made on a reaches b
    made = httpx.post(
        f"{b.url}/api/v1/users",
        json={"username": "vic", "password": "viewer-pass-1", "role": "viewer"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    t0 = time.monotonic()
    wait_until(lambda: a.login("vic", "viewer-pass-1"), 5.0, "user made on b usable on a")
    assert time.monotonic() - t0 < 5

    # membership: b is alive as seen from a, with load
    def b_alive() -> bool:
        servers = httpx.get(
            f"{a.url}/api/v1/servers", headers={"Authorization": f"Bearer {token}"}
        ).json()
        row = next(s for s in servers if s["id"] == b_id)
        return row["state"] == "alive" and "cpu_percent" in row["load"]

    wait_until(b_alive, 10.0, "b alive with load as seen from a")
    # adding it again: already a member
    again = add(a, token, b.url)
    assert again.status_code == 409


def test_static_peers_discovered_add_unreachable_and_other_system(node_factory) -> None:
    b = node_factory(name="beta", config=NO_MDNS)
    c = node_factory(name="gamma", config=NO_MDNS)
    c.setup(system_name="other")
    a = node_factory(name="alpha", config=NO_MDNS, args=["--peer", b.url, "--peer", c.url])
    a.setup()
    token = a.login()
    auth = {"Authorization": f"Bearer {token}"}

    def discovered(query: str = "") -> list[dict]:
        url = f"{a.url}/api/v1/servers/discovered{query}"
        return httpx.get(url, headers=auth, timeout=10).json()

    # static peers (no multicast): b is an undefined server, c a server of another system
    wait_until(lambda: len(discovered()) == 1, 10.0, "b discovered through --peer")
    assert discovered() == [{"id": health(b)["node_id"], "name": "beta", "url": b.url}]
    wait_until(lambda: len(discovered("?all=true")) == 1, 10.0, "c listed as another system's")
    other_row = discovered("?all=true")[0]
    assert other_row["id"] == health(c)["node_id"]
    assert other_row["system_id"] == health(c)["system_id"]
    other = add(a, token, c.url)
    assert other.status_code == 409, other.text
    assert "another system" in other.json()["error"]
    gone = add(a, token, "http://127.0.0.1:9")
    assert gone.status_code in (502, 504), gone.text
    assert "error" in gone.json()
    assert len(server_ids(a, token)) == 1


def test_outsider_cannot_use_internal_routes(pair) -> None:
    a, _ = pair
    token = a.login()
    system_id = httpx.get(f"{a.url}/api/v1/health").json()["system_id"]
    body = b'{"records":[]}'
    for path in ("/api/v1/internal/records", "/api/v1/internal/sync", "/api/v1/internal/detach"):
        unsigned = httpx.post(f"{a.url}{path}", content=body)
        assert unsigned.status_code == 401
        headers = sign_request(secrets.token_bytes(32), system_id, "intruder", "POST", path, body)
        forged = httpx.post(f"{a.url}{path}", content=body, headers=headers)
        assert forged.status_code == 401, forged.text
        assert "signature" in forged.json()["error"]
    # an undefined-only route: a member refuses a join
    join = httpx.post(f"{a.url}/api/v1/internal/join", json={"system_id": "x", "records": []})
    assert join.status_code in (409, 422)
    assert httpx.get(f"{a.url}/api/v1/health").json()["state"] == "member"
    assert len(server_ids(a, token)) == 1


def test_join_token_via_static_peer(node_factory) -> None:
    a = node_factory(name="alpha", config=NO_MDNS)
    a.setup()
    token = a.login()
    minted = httpx.post(
        f"{a.url}/api/v1/system/join-tokens",
        json={"ttl_s": 600},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert minted.status_code == 201, minted.text
    join_token = minted.json()["token"]
    b = node_factory(
        name="beta", config=NO_MDNS, args=["--peer", a.url, "--join-token", join_token]
    )
    wait_until(lambda: health(b)["state"] == "member", 15.0, "b joined with its token")
    b_id = httpx.get(f"{b.url}/api/v1/health").json()["node_id"]
    wait_until(lambda: b_id in server_ids(a, token), 5.0, "b listed on a")


def cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        camkeep_command(*args), capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )


def test_cli_join_token_add_detach_self(pair) -> None:
    a, b = pair
    creds = ["--user", OWNER, "--password", OWNER_PASSWORD]
    minted = cli("servers", "--server", a.url, *creds, "join-token", "--ttl", "60")
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.strip().startswith("ckj1.")
    added = cli("servers", "--server", a.url, *creds, "add", b.url)
    assert added.returncode == 0, added.stderr
    assert "added server beta" in added.stdout
    b_id = health(b)["node_id"]
    token = a.login()
    wait_until(lambda: server_ids(b, token) == server_ids(a, token), 5.0, "both list both")
    listed = cli("servers", "--server", a.url, *creds, "list")
    assert listed.returncode == 0 and "beta" in listed.stdout
    # detach b through b itself (not the last server): b leaves, a keeps going
    started = time.monotonic()
    detached = cli("servers", "--server", b.url, *creds, "detach", b_id, "--keep-cameras")
    assert detached.returncode == 0, detached.stderr
    assert time.monotonic() - started >= 5.0  # the 5-second wait before confirming
    assert "undefined" in detached.stdout
    assert health(b)["state"] == "undefined"
    wait_until(lambda: server_ids(a, token) == {health(a)["node_id"]}, 5.0, "a alone")
    wrong = cli("servers", "--server", a.url, *creds, "detach", "nosuch", "--remove-cameras")
    assert wrong.returncode == 1 and "no server 'nosuch'" in wrong.stderr
