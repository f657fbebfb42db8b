"""Cross-origin requests: allowed from the origins of the system's own servers only,
preflights answered for every route, the player's headers exposed."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from node.api.cors import SystemOriginCors, origin_of

SERVERS = ["http://127.0.0.1:7480", "http://127.0.0.1:7481/"]


def client() -> TestClient:
    app = FastAPI()

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(SystemOriginCors, server_urls=lambda: SERVERS)
    return TestClient(app)


def test_a_server_of_the_system_may_call() -> None:
    answer = client().get("/thing", headers={"Origin": "http://127.0.0.1:7481"})
    assert answer.headers["access-control-allow-origin"] == "http://127.0.0.1:7481"
    assert "X-Camkeep-Timeline" in answer.headers["access-control-expose-headers"]
    preflight = client().options(
        "/thing",
        headers={"Origin": "http://127.0.0.1:7480", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["access-control-allow-headers"]


def test_any_other_origin_gets_no_cors_headers() -> None:
    for origin in ("http://evil.example", "http://127.0.0.1:7482", "null"):
        answer = client().get("/thing", headers={"Origin": origin})
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers
    preflight = client().options("/thing", headers={"Origin": "http://evil.example"})
    assert preflight.status_code == 405  # not answered for it


def test_origin_of() -> None:
    assert origin_of("http://Node1:7480/path") == "http://node1:7480"
    assert origin_of("ftp://x") is None and origin_of("") is None
