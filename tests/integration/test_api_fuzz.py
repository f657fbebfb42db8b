"""Bad input on every route of the OpenAPI document: always a 4xx JSON answer with a
reason, never a 500 (schemathesis is not installed: a small hand-made fuzz)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import node_harness
from node_harness import NodeProcess

node_factory = node_harness.node_factory  # fixture

BAD_VALUES: list[Any] = [
    None,
    12345,
    -1,
    1e308,
    True,
    "",
    "x" * 100_000,
    "\u0000\ufffd😀",
    [],
    {},
    [1, "a"],
    {"a": {"b": [None]}},
]
BAD_PATH_VALUES = ["x" * 3000, "%00", "..%2F..%2Fetc", "😀", "%20", "a%2Fb", "-1", "null"]
BAD_QUERY_VALUES = ["", "yesterday", "2026-13-45T99:00:00Z", "x" * 10_000, "1e400", "%00"]
# a valid body per route, so each field can be broken on its own
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/system/setup"): {
        "system_name": "s",
        "owner": {"username": "o", "password": "password-1"},
    },
    ("post", "/api/v1/auth/login"): {"username": "owner", "password": "wrong-password"},
    ("post", "/api/v1/users"): {"username": "fuzzed", "password": "password-1", "role": "viewer"},
    ("put", "/api/v1/servers/{server_id}/failover"): {"enabled": False, "max_cameras": 1},
    ("post", "/api/v1/cameras"): {"name": "fuzz cam", "rtsp_url": "rtsp://127.0.0.1:1/x"},
    ("put", "/api/v1/cameras/priority"): {"camera_ids": ["x"], "priority": "low"},
    ("patch", "/api/v1/cameras/{camera_id}"): {"name": "renamed"},
}


def check(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"
    if answer.status_code >= 400:
        body = answer.json()
        assert isinstance(body.get("error"), str) and body["error"], f"{what}: {answer.text[:300]}"
        assert "Traceback" not in answer.text


def body_variants(method: str, path: str) -> list[tuple[str, Any]]:
    valid = VALID.get((method, path), {})
    variants: list[tuple[str, Any]] = [("no body", None), ("empty object", {})]
    variants += [(f"body={v!r:.30}", v) for v in BAD_VALUES if not isinstance(v, dict) or v]
    for field, value in itertools.product([*valid, "unknown_field"], BAD_VALUES):
        variants.append((f"{field}={value!r:.30}", {**valid, field: value}))
    for field in valid:
        variants.append((f"without {field}", {k: v for k, v in valid.items() if k != field}))
    return variants


def test_bad_input_never_gives_500(node_factory) -> None:
    node: NodeProcess = node_factory()
    node.setup()
    token = node.login()
    spec = httpx.get(f"{node.url}/openapi.json").json()
    sent = 0
    with node.api(token) as api:
        server_id = api.get("/api/v1/servers").json()[0]["id"]
        camera = api.post(
            "/api/v1/cameras", json={"name": "real", "rtsp_url": "rtsp://127.0.0.1:1/x"}
        ).json()
        real = {"{server_id}": server_id, "{camera_id}": camera["id"], "{username}": "nobody"}
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if (method, path) == ("post", "/api/v1/system/setup"):
                    continue  # only answers 409 here; its validation is covered before setup below
                concrete = path
                for name, value in real.items():
                    concrete = concrete.replace(name, value)
                has_body = "requestBody" in operation
                for what, body in body_variants(method, path) if has_body else [("plain", None)]:
                    answer = (
                        api.request(method.upper(), concrete, json=body)
                        if body is not None
                        else api.request(method.upper(), concrete)
                    )
                    check(answer, f"{method} {path} {what}")
                    sent += 1
                if has_body:
                    answer = api.request(
                        method.upper(),
                        concrete,
                        content=b'{"broken": ',
                        headers={"content-type": "application/json"},
                    )
                    check(answer, f"{method} {path} invalid JSON")
                    answer = api.request(
                        method.upper(),
                        concrete,
                        content=b"x" * (2 * 1024 * 1024),
                        headers={"content-type": "application/json"},
                    )
                    assert answer.status_code == 413, (
                        f"{method} {path} huge body: {answer.status_code}"
                    )
                    answer = api.request(
                        method.upper(),
                        concrete,
                        content=b"a=b",
                        headers={"content-type": "application/x-www-form-urlencoded"},
                    )
                    check(answer, f"{method} {path} form body")
                    sent += 3
                for parameter in operation.get("parameters", []):
                    name, where = parameter["name"], parameter["in"]
                    values = BAD_PATH_VALUES if where == "path" else BAD_QUERY_VALUES
                    for value in values:
                        if where == "path":
                            answer = api.request(
                                method.upper(),
                                path.replace("{" + name + "}", value).replace(
                                    "{camera_id}", camera["id"]
                                ),
                            )
                        else:
                            params = {
                                p["name"]: "2026-01-01T00:00:00Z"
                                for p in operation["parameters"]
                                if p["in"] == "query"
                            }
                            answer = api.request(
                                method.upper(), concrete, params={**params, name: value}
                            )
                        check(answer, f"{method} {path} {name}={value[:30]!r}")
                        sent += 1
        for header in ("Bearer " + "A" * 10_000, "Basic abc", "Bearer", "bearer ck1.a.b", "\u00e9"):
            answer = httpx.get(
                f"{node.url}/api/v1/cameras", headers={"Authorization": header.encode("utf-8")}
            )
            assert answer.status_code == 401, header[:20]
        # credentials given in fuzzed cameras are not echoed either
        assert "password" not in api.get("/api/v1/cameras").text
    assert sent > 300


def test_setup_validation_before_setup(node_factory) -> None:
    node: NodeProcess = node_factory()
    url = f"{node.url}/api/v1/system/setup"
    for what, body in body_variants("post", "/api/v1/system/setup"):
        if body == VALID[("post", "/api/v1/system/setup")]:
            continue
        answer = httpx.post(url, json=body) if body is not None else httpx.post(url)
        check(answer, f"setup {what}")
        assert answer.status_code == 422, (what, answer.text)
    for owner in (
        {"username": "o", "password": 5},
        {"username": "bad name", "password": "password-1"},
        {"username": "o"},
    ):
        answer = httpx.post(url, json={"system_name": "s", "owner": owner})
        assert answer.status_code == 422 and answer.json()["detail"], owner
        assert "password-1" not in answer.text  # input values are not echoed back
    assert httpx.get(f"{node.url}/api/v1/health").json()["state"] == "undefined"
