"""Login, roles on every route, token expiry, login throttling, user management."""

from __future__ import annotations

import time
from datetime import UTC, datetime

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
RANK = {"viewer": 0, "admin": 1, "owner": 2}


def concrete(path: str) -> str:
    return (
        path.replace("{camera_id}", "no-such-camera")
        .replace("{server_id}", "no-such-server")
        .replace("{username}", "nobody")
    )


def protected_routes(node: NodeProcess) -> list[tuple[str, str, str]]:
    spec = httpx.get(f"{node.url}/openapi.json").json()
    out = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if (method, path) in PUBLIC:
                assert operation.get("x-required-role") is None
                continue
            role = operation.get("x-required-role")
            assert role in RANK, f"{method} {path} declares no role"
            out.append((method, path, role))
    return out


def test_login_and_roles_on_every_route(node_factory) -> None:
    node = node_factory()
    node.setup()
    owner = node.login()
    viewer = node.add_user(owner, "vic", "viewer")
    admin = node.add_user(owner, "ada", "admin")
    tokens = {"viewer": viewer, "admin": admin, "owner": owner}
    routes = protected_routes(node)
    assert len(routes) >= 12
    with httpx.Client(base_url=node.url, timeout=30) as client:
        for method, path, required in routes:
            url = concrete(path)
            answer = client.request(method.upper(), url, json={})
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert "error" in answer.json()
            answer = client.request(
                method.upper(), url, json={}, headers={"Authorization": "Bearer ck1.forged.token"}
            )
            assert answer.status_code == 401, (method, path)
            for role, token in tokens.items():
                answer = client.request(
                    method.upper(), url, json={}, headers={"Authorization": f"Bearer {token}"}
                )
                if RANK[role] < RANK[required]:
                    assert answer.status_code == 403, (role, method, path, answer.status_code)
                    assert required in answer.json()["error"]
                else:
                    assert answer.status_code not in (401, 403), (role, method, path, answer.text)
                    assert answer.status_code < 500, (role, method, path, answer.text)


def test_login_answers(node_factory) -> None:
    node = node_factory()
    node.setup()
    answer = httpx.post(
        f"{node.url}/api/v1/auth/login", json={"username": OWNER, "password": OWNER_PASSWORD}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"token", "expires_at", "role", "server_urls"} and body["role"] == "owner"
    # the session knows where the system's servers are from its first moment
    assert body["server_urls"] == [node.url]
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert 11 * 3600 < (expires - datetime.now(UTC)).total_seconds() <= 12 * 3600 + 5
    with node.api(body["token"]) as api:
        me = api.get("/api/v1/auth/me").json()
        assert me == {"username": OWNER, "role": "owner", "server_urls": [node.url]}
    # a signature of non-ASCII bytes is a forged token like any other, not a crash
    prefix, payload, _ = body["token"].split(".")
    forged = f"Bearer {prefix}.{payload}.".encode() + b"\xe9" * 43
    answer = httpx.get(f"{node.url}/api/v1/auth/me", headers={"Authorization": forged})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid token"
    for wrong in (
        {"username": OWNER, "password": "wrong-password"},
        {"username": "ghost", "password": OWNER_PASSWORD},
    ):
        answer = httpx.post(f"{node.url}/api/v1/auth/login", json=wrong)
        assert answer.status_code == 401 and answer.json()["error"] == "wrong user name or password"


def test_token_expiry(node_factory) -> None:
    node = node_factory(env={"CAMKEEP_TOKEN_TTL_S": "2"})
    node.setup()
    token = node.login()
    with node.api(token) as api:
        assert api.get("/api/v1/cameras").status_code == 200
        time.sleep(2.5)
        answer = api.get("/api/v1/cameras")
    assert answer.status_code == 401 and "expired" in answer.json()["error"]


def test_login_throttling(node_factory) -> None:
    config = "[login]\nfree_failures = 2\nbase_delay_s = 2.0\nmax_delay_s = 4.0\n"
    node = node_factory(config=config)
    node.setup()
    url = f"{node.url}/api/v1/auth/login"
    wrong = {"username": OWNER, "password": "not-the-password"}
    codes = [httpx.post(url, json=wrong).status_code for _ in range(3)]
    assert codes == [401, 401, 401]  # the third failure starts the back-off
    answer = httpx.post(url, json={"username": OWNER, "password": OWNER_PASSWORD})
    assert answer.status_code == 429  # even the right password waits
    assert 1 <= int(answer.headers["Retry-After"]) <= 3
    assert "try again" in answer.json()["error"]
    # another user from the same address is not slowed down
    assert httpx.post(url, json={"username": "other", "password": "x"}).status_code == 401
    time.sleep(float(answer.headers["Retry-After"]) + 0.2)
    assert httpx.post(url, json={"username": OWNER, "password": OWNER_PASSWORD}).status_code == 200


def test_user_management(node_factory) -> None:
    node = node_factory()
    node.setup()
    owner = node.login()
    admin = node.add_user(owner, "ada", "admin")
    with node.api(admin) as api:
        answer = api.post(
            "/api/v1/users", json={"username": "vic", "password": "viewer-pass-1", "role": "viewer"}
        )
        assert answer.status_code == 201 and answer.json()["role"] == "viewer"
        assert (
            api.post(
                "/api/v1/users",
                json={"username": "vic", "password": "viewer-pass-1", "role": "viewer"},
            ).status_code
            == 409
        )
        assert (
            api.post(
                "/api/v1/users",
                json={"username": "a2", "password": "admin-pass-1", "role": "admin"},
            ).status_code
            == 403
        )
        assert (
            api.post(
                "/api/v1/users",
                json={"username": "o2", "password": "owner-pass-1", "role": "owner"},
            ).status_code
            == 422
        )
        assert (
            api.post(
                "/api/v1/users",
                json={"username": "bad name", "password": "x" * 8, "role": "viewer"},
            ).status_code
            == 422
        )
        users = api.get("/api/v1/users").json()
        assert {u["username"]: u["role"] for u in users} == {
            OWNER: "owner",
            "ada": "admin",
            "vic": "viewer",
        }
        assert all("password" not in str(u) for u in users)
        answer = api.delete(f"/api/v1/users/{OWNER}")
        assert answer.status_code == 403 and "owner" in answer.json()["error"]
        assert api.delete("/api/v1/users/nobody").status_code == 404
        assert api.delete("/api/v1/users/vic").status_code == 204
    vic = httpx.post(
        f"{node.url}/api/v1/auth/login", json={"username": "vic", "password": "viewer-pass-1"}
    )
    assert vic.status_code == 401  # deleted users cannot log in
    with node.api(owner) as api:
        assert api.delete("/api/v1/users/ada").status_code == 204
        assert api.delete(f"/api/v1/users/{OWNER}").status_code == 409  # not yourself
    with node.api(admin) as api:
        answer = api.get("/api/v1/cameras")
    assert answer.status_code == 401 and "no longer exists" in answer.json()["error"]
