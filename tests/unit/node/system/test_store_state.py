"""Domain rules of the replicated state: setup once, users, servers, cameras."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.failover._desired import desired_sources
from node.replication import HybridClock, RecordStore, connect
from node.security import Role
from node.system import (
    CameraInputError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Priority,
    SystemState,
    public_camera,
    split_rtsp_url,
)

NODE = "node-a"


@pytest.fixture
def state(tmp_path: Path) -> SystemState:
    store = RecordStore(connect(tmp_path / "db"), HybridClock(NODE, lambda: 1_000))
    state = SystemState(store, NODE)
    server = {
        "name": "a",
        "url": "http://127.0.0.1:1",
        "licensed_channels": 2,
        "failover_enabled": False,
        "max_cameras": 2,
    }
    state.setup("site", "boss", "hash", server)
    return state


def camera(name: str, home: str = NODE, **extra: object) -> dict:
    return {
        "name": name,
        "home_server_id": home,
        "stream_url": f"rtsp://127.0.0.1/{name}",
        "priority": "medium",
        "continuous_recording": True,
        **extra,
    }


def test_setup_once(state: SystemState) -> None:
    assert state.is_member()
    assert state.user("boss")["role"] == "owner"
    assert len(state.system()["secret"]) == 64
    with pytest.raises(Conflict):
        state.setup("again", "x", "h", {})


def test_user_rules(state: SystemState) -> None:
    with pytest.raises(Forbidden):
        state.add_user("o2", Role.owner, "h", Role.owner)
    with pytest.raises(Forbidden):
        state.add_user("adm2", Role.admin, "h", Role.admin)
    state.add_user("adm", Role.admin, "h", Role.owner)
    state.add_user("view", Role.viewer, "h", Role.admin)
    with pytest.raises(Conflict):
        state.add_user("view", Role.viewer, "h", Role.admin)
    with pytest.raises(Forbidden):
        state.delete_user("boss", Role.admin)
    with pytest.raises(Forbidden):
        state.delete_user("boss", Role.owner)
    with pytest.raises(Forbidden):
        state.delete_user("adm", Role.admin)
    state.delete_user("view", Role.admin)
    with pytest.raises(NotFound):
        state.delete_user("view", Role.admin)
    assert sorted(u["username"] for u in state.users()) == ["adm", "boss"]


def test_failover_bounded_by_licensed_channels(state: SystemState) -> None:
    with pytest.raises(Invalid, match="<= 2"):
        state.set_failover(NODE, True, 3)
    assert state.set_failover(NODE, True, 1)["max_cameras"] == 1
    with pytest.raises(NotFound):
        state.set_failover("nope", True, 1)


def test_cameras_limits_names_priorities(state: SystemState) -> None:
    one = state.add_camera(camera("one"))
    with pytest.raises(Conflict, match="named"):
        state.add_camera(camera("one"))
    with pytest.raises(Invalid, match="home_server_id"):
        state.add_camera(camera("x", home="elsewhere"))
    two = state.add_camera(camera("two"))
    with pytest.raises(Conflict, match="licensed channel"):
        state.add_camera(camera("three"))
    with pytest.raises(NotFound):
        state.set_priority([one["id"], "missing"], Priority.HIGH)
    assert state.camera(one["id"])["priority"] == "medium"  # nothing changed
    changed = state.set_priority([one["id"], two["id"], one["id"]], Priority.HIGH)
    assert [c["priority"] for c in changed] == ["high", "high"]
    state.delete_camera(one["id"])
    with pytest.raises(NotFound):
        state.delete_camera(one["id"])


def test_desired_sources_home_and_continuous() -> None:
    cams = [
        {**camera("a"), "id": "a", "username": "u", "password": "p"},
        {**camera("b", continuous_recording=False), "id": "b"},
        {**camera("c", home="other"), "id": "c"},
    ]
    sources = desired_sources(cams, NODE)
    assert list(sources) == ["a"]
    assert sources["a"].url == "rtsp://127.0.0.1/a" and sources["a"].password == "p"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://127.0.0.1:8554/cam1/main", ("rtsp://127.0.0.1:8554/cam1/main", None, None)),
        ("RTSP://user:p%40ss@cam.lan/s?x=1", ("rtsp://cam.lan/s?x=1", "user", "p@ss")),
        ("rtsps://[::1]:322/a", ("rtsps://[::1]:322/a", None, None)),
        ("rtsp://admin:@10.0.0.9/live", ("rtsp://10.0.0.9/live", "admin", "")),
    ],
)
def test_split_rtsp_url(url: str, expected: tuple) -> None:
    assert split_rtsp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://cam/x",
        "rtsp://",
        "rtsp:///path",
        "rtsp://host:99999/x",
        "rtsp://ho st/x",
        "rtsp://bad_host!/x",
        "rtsp://h/" + "a" * 3000,
        "rtsp://h:0/x",
    ],
)
def test_bad_rtsp_urls(url: str) -> None:
    with pytest.raises(CameraInputError):
        split_rtsp_url(url)


def test_public_camera_has_no_credentials() -> None:
    cam = {
        **camera("a"),
        "id": "a",
        "username": "u",
        "password": "secret-pw",
        "onvif": {"host": "h", "port": 80, "profile_token": "t"},
    }
    shown = public_camera(cam, {"state": "recording"}, NODE)
    assert "secret-pw" not in repr(shown) and "password" not in shown and "username" not in shown
    assert shown["has_credentials"] is True


def test_moving_a_camera_respects_the_new_home(state: SystemState) -> None:
    one = state.add_camera(camera("one"))
    with pytest.raises(Invalid, match="home_server_id"):
        state.update_camera(one["id"], {"home_server_id": "elsewhere"})
    state.store.put("server", "node-b", {"id": "node-b", "name": "b", "licensed_channels": 1})
    assert (
        state.update_camera(one["id"], {"home_server_id": "node-b"})["home_server_id"] == "node-b"
    )
    two = state.add_camera(camera("two"))
    with pytest.raises(Conflict, match="licensed channel"):
        state.update_camera(two["id"], {"home_server_id": "node-b"})
    assert state.update_camera(one["id"], {"name": "uno"})["name"] == "uno"  # same home: fine
    with pytest.raises(Conflict):
        state.update_camera(one["id"], {"name": "two"})
