"""What a node shows of a camera it does or does not record, and the discovery lists."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from node.app._camera_state import camera_state
from node.app._peers import SeenPeer, discovered, mdns_interfaces
from node.config import load_config
from recorder import CameraStatus

NODE = "node-a"


def _status(state: str) -> CameraStatus:
    return CameraStatus(
        camera_id="c1",
        state=state,
        last_error=None,
        bitrate_bps=4_000_000.04,
        fps=25.004,
        last_frame_at=datetime(2026, 12, 2, 10, 0, 0, 120000, tzinfo=UTC),
    )


def test_a_camera_this_node_records_shows_the_recorders_status() -> None:
    statuses = {"c1": _status("recording")}
    status, server = camera_state({"id": "c1"}, NODE, statuses, [], frozenset({NODE}), 0.0)
    assert server == NODE and status["server_id"] == NODE
    assert status["state"] == "recording" and status["stale"] is False
    assert status["fps"] == 25.0 and status["bitrate_bps"] == 4_000_000.0
    assert status["last_frame_at"] == "2026-12-02T10:00:00.120000Z"


def test_a_camera_nobody_reports_says_why_it_is_not_recorded() -> None:
    record = {"id": "c1", "home_server_id": "node-b"}
    status, server = camera_state(
        record, NODE, {"c1": _status("stopped")}, [], frozenset({NODE}), 0.0, "no free channel"
    )
    assert (status["state"], status["reason"], server) == ("not_recorded", "no free channel", None)
    assert status["last_frame_at"] is None


def test_disabled_and_own_camera_not_yet_connected() -> None:
    alive = frozenset({NODE})
    off = {"id": "c1", "home_server_id": NODE, "continuous_recording": False}
    assert camera_state(off, NODE, {}, [], alive, 0.0)[0]["state"] == "disabled"
    own = {"id": "c1", "home_server_id": NODE}
    assert camera_state(own, NODE, {}, [], alive, 0.0)[0]["state"] == "connecting"


def _peer(node_id: str, system_id: str | None) -> SeenPeer:
    return SeenPeer(node_id, node_id.upper(), f"http://{node_id}:7480", system_id, "mdns", 0.0)


def test_discovered_lists_undefined_servers_or_those_of_other_systems() -> None:
    peers = [_peer("u1", None), _peer("m1", "mine"), _peer("o1", "other"), _peer("k1", None)]
    known = {"k1"}.__contains__
    assert [p["id"] for p in discovered(peers, known, "mine")] == ["u1"]
    others = discovered(peers, known, "mine", other_systems=True)
    assert [(p["id"], p["system_id"]) for p in others] == [("o1", "other")]


def test_mdns_binds_the_listen_address_never_every_interface(tmp_path: Path) -> None:
    def interfaces(listen: str) -> list[str] | None:
        return mdns_interfaces(load_config(None, {}, data_dir=tmp_path, listen=listen))

    assert interfaces("127.0.0.5:7480") == ["127.0.0.5"]
    assert interfaces("0.0.0.0:7480") is None
