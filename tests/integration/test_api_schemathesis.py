"""The public API against Schemathesis: a real node (`camkeep run` on loopback) with a
system, a viewer and three emulated cameras (`camkeep emulate`) that record, tested
in every phase (examples, coverage, fuzzing, stateful) first as a viewer, then as the
owner, with the checks not_a_server_error, response_schema_conformance,
status_code_conformance, negative_data_rejection, ignored_auth and use_after_free.
Zero failures; afterwards the node is alive, still a member, answers health and
login, and:
- as a viewer, nothing changed: every replicated record is as it was;
- as the owner (who may add, change and delete), the system, the owner and the node's
  own server record are still there.
The one request the run never makes for real is detaching the node under test (a
dry run instead; tests/integration/schemathesis_hooks.py says why).

Also, by hand, what Schemathesis does not do: bodies over the 1 MiB limit, malformed
Authorization headers, credentials never echoed, set-up validation on an undefined
node, and the node-to-node routes (not in the public document): unsigned or garbage
requests get 401 (or a 4xx for the two routes a join token opens, and whatever the
web client's pages answer), never a 500.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import node_harness
import pytest
from api_schemathesis import (
    CAMERAS,
    RunResult,
    prepare_system,
    run_schemathesis,
    still_intact,
    system_records,
)
from node_harness import NodeProcess
from schemathesis_hooks import DETACH_PATH, EXAMPLE_CAMERA_HOST, keep_member, to_emulator

node_factory = node_harness.node_factory  # fixtures
member_node = node_harness.member_node

MAX_EXAMPLES = 12  # per operation and phase: both runs take about 2 min on an idle 2-core host
RUN_TIMEOUT_S = 240.0


def _report(run: RunResult) -> str:
    return f"{run.summary()}\n{run.output[-20_000:]}"


def test_schemathesis_as_viewer_then_owner(node_factory, emulator_factory, tmp_path: Path) -> None:
    emulator = emulator_factory(cameras=CAMERAS)
    node: NodeProcess = node_factory()
    system = prepare_system(node, emulator)
    target = system.target
    before = system_records(node.data_dir)

    as_viewer = run_schemathesis(
        target, system.viewer_token, "viewer", tmp_path, max_examples=MAX_EXAMPLES,
        timeout_s=RUN_TIMEOUT_S,
    )  # fmt: skip
    print(as_viewer.summary())
    assert not as_viewer.problems(), _report(as_viewer)
    assert system_records(node.data_dir) == before, "a viewer's requests changed records"

    as_owner = run_schemathesis(
        target, system.owner_token, "owner", tmp_path, max_examples=MAX_EXAMPLES,
        timeout_s=RUN_TIMEOUT_S,
    )  # fmt: skip
    print(as_owner.summary())
    assert not as_owner.problems(), _report(as_owner)
    problems = still_intact(node, target.server_id, before)
    assert not problems, problems

    # every operation of the document was tested, in every phase that generates data
    spec = httpx.get(f"{node.url}/openapi.json").json()
    operations = sum(len(item) for item in spec["paths"].values())
    for run in (as_viewer, as_owner):
        assert run.operations == operations, run.summary()
        assert all(run.cases_per_phase[p] > 0 for p in ("coverage", "fuzzing", "stateful")), (
            run.summary()
        )


def _case(method: str, path: str, body: Any, **path_parameters: str) -> Any:
    operation = SimpleNamespace(path=path)
    return SimpleNamespace(
        operation=operation, method=method, body=body, path_parameters=path_parameters
    )


def test_hooks_keep_the_node_a_member_and_cameras_on_loopback() -> None:
    real = {"keep_cameras": True}
    for body, sent in [
        (real, {"keep_cameras": True, "dry_run": True}),
        ({"keep_cameras": False, "dry_run": False}, {"keep_cameras": False, "dry_run": True}),
        ({"keep_cameras": True, "dry_run": "no"}, {"keep_cameras": True, "dry_run": "no"}),
        ([1], [1]),
    ]:
        case = _case("POST", DETACH_PATH, body, server_id="me")
        keep_member(case, "me")
        assert case.body == sent
    other = _case("POST", DETACH_PATH, real, server_id="someone-else")
    keep_member(other, "me")
    assert other.body == real

    rtsp = _case("POST", "/api/v1/cameras", {"name": "a", "rtsp_url": "rtsp://192.168.1.64/m"})
    to_emulator(rtsp, "rtsp://127.0.0.1:1/cam1/main", 2)
    assert rtsp.body == {"name": "a", "rtsp_url": "rtsp://127.0.0.1:1/cam1/main"}
    onvif = _case("POST", "/api/v1/cameras", {"onvif": {"host": EXAMPLE_CAMERA_HOST, "port": 80}})
    to_emulator(onvif, "rtsp://127.0.0.1:1/cam1/main", 2)
    assert onvif.body == {"onvif": {"host": "127.0.0.1", "port": 2}}
    elsewhere = _case("POST", "/api/v1/cameras", {"rtsp_url": "rtsp://10.1.1.1/m"})
    to_emulator(elsewhere, "rtsp://127.0.0.1:1/cam1/main", 2)
    assert elsewhere.body == {"rtsp_url": "rtsp://10.1.1.1/m"}


# ------------------------------------------------- what Schemathesis does not send


def _operations(node: NodeProcess) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{node.url}/openapi.json").json()
    return [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items()]


def test_oversized_bodies_bad_authorization_and_times(member_node: NodeProcess) -> None:
    token = member_node.login()
    server_id = member_node.wait_healthy()["node_id"]
    sent = 0
    with member_node.api(token) as api:
        for method, path, _operation in _operations(member_node):
            concrete = path.replace("{server_id}", server_id)
            for name in ("camera_id", "username"):
                concrete = concrete.replace("{" + name + "}", "x")
            answer = api.request(
                method.upper(),
                concrete,
                content=b"x" * (2 * 1024 * 1024),
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 413, f"{method} {path}: {answer.status_code}"
            assert answer.json() == {"error": "request body too large"}
            sent += 1
        # credentials inside a camera URL are stored, never answered
        answer = api.post(
            "/api/v1/cameras",
            json={"name": "with password", "rtsp_url": "rtsp://u:hunter22@127.0.0.1:1/x"},
        )
        assert answer.status_code == 201, answer.text
        assert "hunter22" not in answer.text and "hunter22" not in api.get("/api/v1/cameras").text
        # a time is an ISO 8601 date-time, not seconds since 1970 nor a date alone
        # (pydantic reads both as times; Schemathesis found it)
        recordings = f"/api/v1/cameras/{answer.json()['id']}/recordings"
        for start in ("0.5", "1700000000", "2026-01-01"):
            params = {"start": start, "end": "2026-02-01T00:00:00Z"}
            refused = api.get(recordings, params=params)
            assert refused.status_code == 422 and "ISO 8601" in refused.text, refused.text
        params = {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00"}
        accepted = api.get(recordings, params=params)  # no zone: UTC
        assert accepted.status_code == 200 and accepted.json()["periods"] == [], accepted.text
    assert sent >= 20
    for header in ("Bearer " + "A" * 10_000, "Basic abc", "Bearer", "bearer ck1.a.b", "\u00e9"):
        answer = httpx.get(
            f"{member_node.url}/api/v1/cameras", headers={"Authorization": header.encode("utf-8")}
        )
        assert answer.status_code == 401, header[:20]
        assert answer.json()["error"]


# URLs a pattern lets through but urlsplit cannot split: stored, such a URL broke every
# later reader (Schemathesis itself crashed on a webhook URL the node had accepted)
UNSPLITTABLE_URLS = ["http://[0]/", "http://[::1/hook", "http://host:99999/", "https://u:p@host/"]


def test_urls_that_cannot_be_split_are_refused(member_node: NodeProcess) -> None:
    token = member_node.login()
    secret = "s" * 16
    with member_node.api(token) as api:
        hooks_before = api.get("/api/v1/webhooks").json()
        servers_before = [s["id"] for s in api.get("/api/v1/servers").json()]
        for url in UNSPLITTABLE_URLS:
            answer = api.post("/api/v1/webhooks", json={"url": url, "secret": secret})
            assert answer.status_code == 422 and "url" in answer.text, (url, answer.text)
            body = {"url": url, "owner_username": "owner", "owner_password": "x"}
            answer = api.post("/api/v1/servers", json=body)
            assert answer.status_code == 422 and "url" in answer.text, (url, answer.text)
        assert api.get("/api/v1/webhooks").json() == hooks_before
        assert [s["id"] for s in api.get("/api/v1/servers").json()] == servers_before
        good = api.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "secret": secret})
        assert good.status_code == 201 and good.json()["url"] == "http://127.0.0.1:9/h", good.text


SETUP_BODIES: list[Any] = [
    None,
    {},
    [],
    "x",
    12345,
    {"system_name": "s"},
    {"system_name": "", "owner": {"username": "o", "password": "password-1"}},
    {"system_name": "s", "owner": {"username": "bad name", "password": "password-1"}},
    {"system_name": "s", "owner": {"username": "o", "password": 5}},
    {"system_name": "s", "owner": {"username": "o", "password": "short"}},
    {"system_name": "s", "owner": {"username": "o"}},
    {"system_name": "s", "owner": {"username": "o", "password": "password-1"}, "extra": 1},
    {"system_name": "\u0000", "owner": {"username": "o", "password": "password-1"}},
]


def test_setup_validation_on_an_undefined_node(node_factory) -> None:
    node: NodeProcess = node_factory()
    url = f"{node.url}/api/v1/system/setup"
    for body in SETUP_BODIES:
        answer = httpx.post(url, json=body) if body is not None else httpx.post(url)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] and answer.json()["detail"], answer.text
        assert "password-1" not in answer.text  # input values are not echoed back
    answer = httpx.post(url, content=b'{"broken": ', headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert httpx.get(f"{node.url}/api/v1/health").json()["state"] == "undefined"


# ------------------------------------------------------------ node-to-node routes


def _hidden_routes() -> list[tuple[str, str, str | None]]:
    """(method, path, role) of every HTTP route left out of the public document, from
    every module of node.api that has a router (so routes added later are found)."""
    import importlib
    import pkgutil

    from fastapi import APIRouter
    from fastapi.routing import APIRoute

    import node.api
    from node.api.app import _required_role

    routes: list[APIRoute] = []
    for module_info in pkgutil.iter_modules(node.api.__path__):
        module = importlib.import_module(f"node.api.{module_info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routes += [r for r in router.routes if isinstance(r, APIRoute)]
    return [
        (method, route.path, _required_role(route))
        for route in routes
        if not route.include_in_schema
        for method in sorted(route.methods)
    ]


GARBAGE_HEADERS: list[dict[str, str]] = [
    {},
    {"X-Camkeep-Node": "x", "X-Camkeep-Time": "0", "X-Camkeep-Nonce": "n", "X-Camkeep-Mac": "m"},
    {"Authorization": "Bearer garbage"},
]
GARBAGE_BODIES: list[bytes] = [b"", b"null", b'{"records": [1, 2]}', b"\xff\xfe", b"[" * 10_000]


@pytest.mark.parametrize("undefined", [False, True], ids=["member", "undefined"])
def test_node_to_node_routes_refuse_unsigned_requests(node_factory, undefined: bool) -> None:
    node: NodeProcess = node_factory()
    if not undefined:
        node.setup()
    token = None if undefined else node.login()
    routes = _hidden_routes()
    assert any(role == "internode" for _, _, role in routes), routes
    sent = 0
    with httpx.Client(base_url=node.url, timeout=30) as client:
        for method, path, role in routes:
            concrete = path
            for name in ("{camera_id}", "{server_id}", "{node_id}", "{kind}", "{key}"):
                concrete = concrete.replace(name, "x")
            headers_options = [*GARBAGE_HEADERS]
            if token:  # a user's token is no node signature either
                headers_options.append({"Authorization": f"Bearer {token}"})
            for headers in headers_options:
                for body in GARBAGE_BODIES:
                    answer = client.request(
                        method,
                        concrete,
                        content=body,
                        headers={**headers, "content-type": "application/json"},
                        params={"start": "2026-01-01T00:00:00Z", "end": "garbage"},
                    )
                    what = f"{method} {path} {headers} {body[:20]!r}: {answer.text[:200]}"
                    assert answer.status_code < 500, what
                    assert "Traceback" not in answer.text, what
                    if role == "internode":
                        assert answer.status_code == 401, what
                    elif (
                        answer.status_code >= 400 and path.startswith("/api/") and method != "HEAD"
                    ):
                        assert answer.json()["error"], what  # pages (web client) are not JSON
                    sent += 1
    assert sent >= 100
    health = httpx.get(f"{node.url}/api/v1/health").json()
    assert health["state"] == ("undefined" if undefined else "member")
