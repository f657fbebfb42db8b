"""require_internode() as a FastAPI dependency, over TestClient (raw bytes on the wire:
what is signed is what the app receives)."""

from __future__ import annotations

import json

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from node.security._internode import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    InternodeAuth,
    require_internode,
    sign_request,
)

SECRET = b"system secret for tests, 32 byte"
SYSTEM = "sys-1"


class Node:
    """What the dependency asks of the node: the current system and secret."""

    def __init__(self) -> None:
        self.system_id: str | None = SYSTEM
        self.secret: bytes | None = SECRET
        self.applied: list[dict] = []


@pytest.fixture
def node() -> Node:
    return Node()


@pytest.fixture
def client(node: Node) -> TestClient:
    app = FastAPI()
    # (Depends in a default: annotations are strings here and `internode` is local)
    internode = require_internode(lambda: node.secret, get_system_id=lambda: node.system_id)

    @app.post("/api/v1/internal/records")
    async def push(request: Request, caller: str = Depends(internode)) -> dict:
        body = await request.json()  # the dependency read the body; the route still can
        node.applied.append(body)
        return {"caller": caller, "count": len(body["records"])}

    @app.get("/api/v1/internal/digest")
    async def digest(since: int = 0, caller: str = Depends(internode)) -> dict:
        return {"caller": caller, "since": since}

    return TestClient(app)


def post(client: TestClient, headers: dict, body: bytes):
    return client.post(
        "/api/v1/internal/records",
        content=body,
        headers=headers | {"content-type": "application/json"},
    )


BODY = json.dumps({"records": [{"k": 1}, {"k": 2}]}).encode()


def test_signed_call_is_admitted(client: TestClient, node: Node) -> None:
    headers = sign_request(SECRET, SYSTEM, "node-b", "POST", "/api/v1/internal/records", BODY)
    reply = post(client, headers, BODY)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"caller": "node-b", "count": 2}
    assert node.applied == [{"records": [{"k": 1}, {"k": 2}]}]


def test_query_string_is_covered(client: TestClient) -> None:
    headers = sign_request(SECRET, SYSTEM, "node-b", "GET", "/api/v1/internal/digest?since=5", b"")
    ok = client.get("/api/v1/internal/digest?since=5", headers=headers)
    assert ok.status_code == 200 and ok.json() == {"caller": "node-b", "since": 5}
    headers = sign_request(SECRET, SYSTEM, "node-b", "GET", "/api/v1/internal/digest?since=5", b"")
    changed = client.get("/api/v1/internal/digest?since=0", headers=headers)
    assert changed.status_code == 401 and "bad_signature" in changed.json()["detail"]


def test_httpx_auth_against_the_app(client: TestClient) -> None:
    client.auth = InternodeAuth(lambda: (SYSTEM, "node-c", SECRET))
    reply = client.get("/api/v1/internal/digest", params={"since": 7})
    assert reply.status_code == 200 and reply.json()["caller"] == "node-c"


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda: {}, "missing_header"),
        (
            lambda: sign_request(
                b"wrong secret", SYSTEM, "x", "POST", "/api/v1/internal/records", BODY
            ),
            "bad_signature",
        ),
        (
            lambda: sign_request(SECRET, "sys-2", "x", "POST", "/api/v1/internal/records", BODY),
            "wrong_system",
        ),
        (
            lambda: sign_request(
                SECRET, SYSTEM, "x", "POST", "/api/v1/internal/records", BODY, now_ms=1000
            ),
            "stale",
        ),
        (
            lambda: sign_request(SECRET, SYSTEM, "x", "POST", "/api/v1/internal/records", b"{}"),
            "bad_signature",  # signed another body
        ),
    ],
)
def test_refused_with_401_json_and_nothing_applied(
    client: TestClient, node: Node, make_headers, reason: str
) -> None:
    reply = post(client, make_headers(), BODY)
    assert reply.status_code == 401
    assert reply.headers["content-type"].startswith("application/json")
    assert reason in reply.json()["detail"]
    assert node.applied == []


def test_replay_is_refused(client: TestClient, node: Node) -> None:
    headers = sign_request(SECRET, SYSTEM, "node-b", "POST", "/api/v1/internal/records", BODY)
    assert post(client, headers, BODY).status_code == 200
    again = post(client, headers, BODY)
    assert again.status_code == 401 and "replayed" in again.json()["detail"]
    assert len(node.applied) == 1


def test_malformed_headers_get_401_not_500(client: TestClient, node: Node) -> None:
    headers = sign_request(SECRET, SYSTEM, "node-b", "POST", "/api/v1/internal/records", BODY)
    for name, value in (
        (HEADER_TIME, "soon"),
        (HEADER_NONCE, "x"),
        (HEADER_SIGNATURE, "é".encode()),
    ):
        reply = post(client, headers | {name: value}, BODY)
        assert reply.status_code == 401, (name, reply.text)
    assert node.applied == []


def test_undefined_node_refuses_everything(client: TestClient, node: Node) -> None:
    node.secret, node.system_id = None, None
    headers = sign_request(SECRET, SYSTEM, "node-b", "POST", "/api/v1/internal/records", BODY)
    reply = post(client, headers, BODY)
    assert reply.status_code == 401 and "not_in_system" in reply.json()["detail"]


def test_secret_change_takes_effect_at_once(client: TestClient, node: Node) -> None:
    node.secret, node.system_id = b"new secret", "sys-2"
    old = sign_request(SECRET, SYSTEM, "node-b", "POST", "/api/v1/internal/records", BODY)
    assert post(client, old, BODY).status_code == 401
    new = sign_request(b"new secret", "sys-2", "node-b", "POST", "/api/v1/internal/records", BODY)
    assert post(client, new, BODY).status_code == 200


def test_body_limit_and_headers_checked_before_the_body() -> None:
    app = FastAPI()
    internode = require_internode(lambda: SECRET, max_body_bytes=100)

    @app.post("/x")
    async def x(caller: str = Depends(internode)) -> dict:
        return {"caller": caller}

    client = TestClient(app)
    big = b"{" + b" " * 200 + b"}"
    headers = sign_request(SECRET, SYSTEM, "node-b", "POST", "/x", big)
    assert client.post("/x", content=big, headers=headers).status_code == 413
    unsigned = client.post("/x", content=big)  # refused for its headers, body never read
    assert unsigned.status_code == 401
    small = b"{}"
    ok = client.post(
        "/x", content=small, headers=sign_request(SECRET, SYSTEM, "n", "POST", "/x", small)
    )
    assert ok.status_code == 200 and ok.json() == {"caller": "n"}
