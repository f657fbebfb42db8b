"""A node starts undefined, is set up once, keeps its identity, stops cleanly."""

from __future__ import annotations

import httpx
import node_harness
from node_harness import OWNER, OWNER_PASSWORD, NodeProcess

node_factory = node_harness.node_factory  # fixture

PUBLIC = {
    ("get", "/api/v1/health"),
    ("post", "/api/v1/system/setup"),
    ("get", "/api/v1/system/discovered"),
    ("post", "/api/v1/auth/login"),
    ("get", "/metrics"),  # public unless [metrics] token is set
}


def routes(node: NodeProcess) -> list[tuple[str, str, dict]]:
    spec = httpx.get(f"{node.url}/openapi.json").json()
    return [
        (method, path, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]


def concrete(path: str) -> str:
    return path.replace("{camera_id}", "x").replace("{server_id}", "x").replace("{username}", "x")


def test_undefined_node_refuses_everything_but_health_and_setup(node_factory) -> None:
    node = node_factory()
    health = httpx.get(f"{node.url}/api/v1/health").json()
    assert health["state"] == "undefined" and health["system_id"] is None
    assert set(health) == {"node_id", "name", "system_id", "state", "version"}
    checked = 0
    for method, path, _ in routes(node):
        if (method, path) in PUBLIC:
            continue
        answer = httpx.request(method.upper(), f"{node.url}{concrete(path)}", json={})
        assert answer.status_code in (403, 409), (method, path, answer.status_code)
        assert "undefined" in answer.json()["error"]
        checked += 1
    assert checked >= 10
    login = httpx.post(f"{node.url}/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert login.status_code == 409 and "undefined" in login.json()["error"]


def test_setup_once_then_member_across_restart(node_factory) -> None:
    node = node_factory()
    node_id = node.wait_healthy()["node_id"]
    bad = httpx.post(
        f"{node.url}/api/v1/system/setup",
        json={"system_name": "x", "owner": {"username": "o", "password": "short"}},
    )
    assert bad.status_code == 422 and "password" in bad.json()["error"]
    created = node.setup()
    assert created["server_id"] == node_id
    again = httpx.post(
        f"{node.url}/api/v1/system/setup",
        json={"system_name": "y", "owner": {"username": "p", "password": "long-enough-1"}},
    )
    assert again.status_code == 409
    health = httpx.get(f"{node.url}/api/v1/health").json()
    assert health["state"] == "member" and health["system_id"] == created["system_id"]
    assert node.stop() == 0  # SIGTERM: clean exit
    node.start()
    health = httpx.get(f"{node.url}/api/v1/health").json()
    assert (health["node_id"], health["system_id"], health["state"]) == (
        node_id,
        created["system_id"],
        "member",
    )
    assert (node.data_dir / "node_id").read_text().strip() == node_id
    assert (node.data_dir / "camkeep.db").exists()
    token = node.login(OWNER, OWNER_PASSWORD)  # the owner survived the restart
    with node.api(token) as api:
        servers = api.get("/api/v1/servers").json()
    assert [s["id"] for s in servers] == [node_id]
    server = servers[0]
    assert server["state"] == "alive" and server["online"] is True
    assert server["failover_enabled"] is False and server["max_cameras"] == 128
    assert {"cpu_percent", "memory_percent", "disk_free_bytes"} <= set(server["load"])


def test_openapi_document(node_factory) -> None:
    node = node_factory()
    spec = httpx.get(f"{node.url}/openapi.json").json()
    for path in (
        "/api/v1/health",
        "/api/v1/system/setup",
        "/api/v1/auth/login",
        "/api/v1/servers",
        "/api/v1/servers/{server_id}/failover",
        "/api/v1/cameras",
        "/api/v1/cameras/priority",
        "/api/v1/cameras/{camera_id}",
        "/api/v1/cameras/discovered",
        "/api/v1/cameras/{camera_id}/recordings",
        "/api/v1/cameras/{camera_id}/export",
    ):
        assert path in spec["paths"], path
