"""Detach planning: what a detach does, and its warnings."""

from __future__ import annotations

from node.system._detach import (
    LAST_SERVER_WARNING,
    OFFLINE_WARNING,
    camera_deletions,
    plan_detach,
)

SERVERS = [{"id": "a"}, {"id": "b"}]
CAMERAS = [
    {"id": "c1", "home_server_id": "b"},
    {"id": "c2", "home_server_id": "a"},
    {"id": "c3", "home_server_id": "b"},
]


def test_plan_keep_and_remove() -> None:
    keep = plan_detach("b", True, servers=SERVERS, cameras=CAMERAS, online=True, this_node_id="a")
    assert keep.camera_ids == ["c1", "c3"] and not keep.last_server and not keep.this_node
    assert camera_deletions(keep) == []
    assert keep.to_json()["warnings"] == []
    remove = plan_detach(
        "b", False, servers=SERVERS, cameras=CAMERAS, online=True, this_node_id="b"
    )
    assert camera_deletions(remove) == ["c1", "c3"] and remove.this_node
    assert "removed" in remove.to_json()["summary"]


def test_offline_and_last_server_warn() -> None:
    offline = plan_detach(
        "b", True, servers=SERVERS, cameras=CAMERAS, online=False, this_node_id="a"
    )
    assert offline.to_json()["warnings"] == [OFFLINE_WARNING]
    last = plan_detach("a", True, servers=[{"id": "a"}], cameras=[], online=True, this_node_id="a")
    assert last.last_server and last.to_json()["warnings"] == [LAST_SERVER_WARNING]
