"""Cameras added by ONVIF and by RTSP URL against emulated cameras: they record,
their status is live, recordings and export work, credentials never come back."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import node_harness
import pytest
from node_harness import NodeProcess, wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from emulator.ports import free_port

node_factory = node_harness.node_factory  # fixture

CAMERA_USER = "admin"
CAMERA_PASSWORD = "cam-secret-pw-9"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def all_get_answers(api: httpx.Client, camera_ids: list[str]) -> str:
    """The text of every GET answer a client can see about cameras and servers."""
    now = datetime.now(UTC)
    texts = [
        api.get("/api/v1/cameras").text,
        api.get("/api/v1/servers").text,
        api.get("/openapi.json").text,
    ]
    for camera_id in camera_ids:
        texts.append(api.get(f"/api/v1/cameras/{camera_id}").text)
        params = {"start": iso(now - timedelta(hours=1)), "end": iso(now)}
        texts.append(api.get(f"/api/v1/cameras/{camera_id}/recordings", params=params).text)
    return "\n".join(texts)


@pytest.fixture
def recording_node(node_factory, emulator_factory) -> tuple[NodeProcess, object, str]:
    cameras = emulator_factory(cameras=2, user=CAMERA_USER, password=CAMERA_PASSWORD)
    node = node_factory(env={"CAMKEEP_SEGMENT_SECONDS": "2", "CAMKEEP_LICENSED_CHANNELS": "4"})
    node.setup()
    return node, cameras, node.login()


@pytest.mark.slow
def test_add_by_onvif_and_rtsp_then_record_and_export(recording_node, tmp_path: Path) -> None:
    node, cameras, token = recording_node
    with (
        node.api(token) as api,
        ws_connect(f"ws://127.0.0.1:{node.port}/api/v1/events?token={token}") as events,
    ):
        assert json.loads(events.recv(timeout=10))["type"] == "hello"
        onvif = api.post(
            "/api/v1/cameras",
            json={
                "name": "front door",
                "onvif": {
                    "host": "127.0.0.1",
                    "port": cameras.onvif_port,
                    "username": CAMERA_USER,
                    "password": CAMERA_PASSWORD,
                },
                "priority": "high",
            },
        )
        assert onvif.status_code == 201, onvif.text
        front = onvif.json()
        assert front["source"] == "onvif" and front["stream_url"] == cameras.url(1)
        assert front["sub_stream_url"] == cameras.url(1, "sub")  # the second profile
        assert front["manufacturer"] == "camkeep" and front["serial"] == "CK00001"
        assert front["priority"] == "high" and front["continuous_recording"] is True
        assert front["home_server_id"] == node.wait_healthy()["node_id"]
        rtsp = api.post(
            "/api/v1/cameras",
            json={"name": "back yard", "rtsp_url": cameras.url(2, credentials=True)},
        )
        assert rtsp.status_code == 201, rtsp.text
        back = rtsp.json()
        assert back["stream_url"] == cameras.url(2)  # the credentials were taken out
        assert back["has_credentials"] is True and back["priority"] == "medium"
        assert back["sub_stream_url"] is None
        ids = [front["id"], back["id"]]

        def both_recording() -> bool:
            listed = api.get("/api/v1/cameras").json()
            return len(listed) == 2 and all(c["status"]["state"] == "recording" for c in listed)

        wait_until(both_recording, 30, "both cameras recording")
        # the status change was pushed on the events WebSocket
        deadline = time.monotonic() + 10
        pushed: set[str] = set()
        while time.monotonic() < deadline and pushed != set(ids):
            event = json.loads(events.recv(timeout=10))
            if event["type"] == "camera_status" and event["status"]["state"] == "recording":
                pushed.add(event["camera_id"])
        assert pushed == set(ids)

        status = wait_until(
            lambda: (
                (s := api.get(f"/api/v1/cameras/{front['id']}").json()["status"])["fps"] > 0 and s
            ),
            10,
            "fps measured",
        )
        assert status["fps"] > 0 and status["bitrate_bps"] > 0 and status["last_frame_at"]
        assert status["last_error"] is None
        server = api.get("/api/v1/servers").json()[0]
        assert server["channels_used"] == 2

        for camera_id in ids:
            wait_until(
                lambda cid=camera_id: list((node.data_dir / "recordings" / cid).rglob("*.mp4")),
                20,
                "segments on disk",
            )
        time.sleep(3)
        seen = all_get_answers(api, ids)
        assert CAMERA_PASSWORD not in seen and f"{CAMERA_USER}:" not in seen
        assert '"password"' not in api.get("/api/v1/cameras").text

        now = datetime.now(UTC)
        answer = api.get(
            f"/api/v1/cameras/{back['id']}/recordings",
            params={"start": iso(now - timedelta(minutes=5)), "end": iso(now)},
        )
        periods = answer.json()["periods"]
        assert periods and all(p["server_id"] == server["id"] for p in periods)
        start = datetime.fromisoformat(periods[0]["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(periods[-1]["end"].replace("Z", "+00:00"))
        assert end - start >= timedelta(seconds=2)

        export = api.get(
            f"/api/v1/cameras/{back['id']}/export", params={"start": iso(start), "end": iso(end)}
        )
        assert export.status_code == 200, export.text
        assert export.headers["content-type"] == "video/mp4"
        out = tmp_path / "export.mp4"
        out.write_bytes(export.content)
        entries = "format=duration:stream=codec_name"
        command = ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(out)]
        probe = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stderr
        info = json.loads(probe.stdout)
        assert info["streams"][0]["codec_name"] == "h264"
        assert float(info["format"]["duration"]) >= 1.5
        assert not list((node.data_dir / "tmp").glob("export-*"))  # temp file removed

        # priority of several cameras at once
        answer = api.put("/api/v1/cameras/priority", json={"camera_ids": ids, "priority": "low"})
        assert answer.status_code == 200 and {c["priority"] for c in answer.json()} == {"low"}
        # continuous recording off: the recorder lets the camera go
        answer = api.patch(f"/api/v1/cameras/{front['id']}", json={"continuous_recording": False})
        assert answer.status_code == 200
        wait_until(
            lambda: (
                api.get(f"/api/v1/cameras/{front['id']}").json()["status"]["state"] == "disabled"
            ),
            15,
            "front disabled",
        )
        assert api.delete(f"/api/v1/cameras/{back['id']}").status_code == 204
        assert api.get(f"/api/v1/cameras/{back['id']}").status_code == 404
        wait_until(
            lambda: api.get("/api/v1/servers").json()[0]["channels_used"] == 0,
            15,
            "no channel used",
        )


def test_camera_add_errors(recording_node) -> None:
    node, cameras, token = recording_node
    onvif = {"host": "127.0.0.1", "port": cameras.onvif_port, "username": CAMERA_USER}
    with node.api(token) as api:
        cases = [
            ({"name": "a", "onvif": {**onvif, "password": "wrong"}}, 422, "user name or password"),
            (
                {
                    "name": "a",
                    "onvif": {**onvif, "port": free_port(), "password": "x"},
                },
                502,
                "cannot connect",
            ),
            ({"name": "a", "onvif": {"host": "127.0.0.1", "port": node.port}}, 422, "not an ONVIF"),
            (
                {"name": "a", "onvif": {"host": "not a host!", "port": 80}},
                422,
                "not an IP address or host name",
            ),
            ({"name": "a", "rtsp_url": "http://127.0.0.1/x"}, 422, "rtsp://"),
            ({"name": "a", "rtsp_url": "rtsp://"}, 422, "no host"),
            ({"name": "a", "rtsp_url": cameras.url(1), "onvif": onvif}, 422, "exactly one"),
            ({"name": "a"}, 422, "exactly one"),
            (
                {"name": "a", "rtsp_url": cameras.url(1), "home_server_id": "nope"},
                422,
                "home_server_id",
            ),
            ({"name": "a", "rtsp_url": cameras.url(1), "priority": "urgent"}, 422, "priority"),
            ({"name": "", "rtsp_url": cameras.url(1)}, 422, "name"),
        ]
        for body, status, reason in cases:
            answer = api.post("/api/v1/cameras", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert reason in answer.json()["error"], (body, answer.text)
        assert api.get("/api/v1/cameras").json() == []  # nothing was stored
        assert (
            api.post("/api/v1/cameras", json={"name": "a", "rtsp_url": cameras.url(1)}).status_code
            == 201
        )
        answer = api.post("/api/v1/cameras", json={"name": "a", "rtsp_url": cameras.url(2)})
        assert answer.status_code == 409 and "exists" in answer.json()["error"]
        for i in range(3):  # licensed_channels = 4
            assert (
                api.post(
                    "/api/v1/cameras", json={"name": f"c{i}", "rtsp_url": cameras.url(1)}
                ).status_code
                == 201
            )
        answer = api.post("/api/v1/cameras", json={"name": "fifth", "rtsp_url": cameras.url(1)})
        assert answer.status_code == 409 and "licensed channel" in answer.json()["error"]


def test_failover_settings_and_recording_queries(recording_node) -> None:
    node, cameras, token = recording_node
    with node.api(token) as api:
        server_id = api.get("/api/v1/servers").json()[0]["id"]
        url = f"/api/v1/servers/{server_id}/failover"
        answer = api.put(url, json={"enabled": True, "max_cameras": 5})
        assert answer.status_code == 422 and "licensed channels" in answer.json()["error"]
        answer = api.put(url, json={"enabled": True, "max_cameras": 129})
        assert answer.status_code == 422 and "max_cameras" in answer.json()["error"]
        assert api.put(url, json={"enabled": "yes", "max_cameras": 2}).status_code == 422
        assert (
            api.put(
                "/api/v1/servers/nope/failover", json={"enabled": True, "max_cameras": 2}
            ).status_code
            == 404
        )
        answer = api.put(url, json={"enabled": True, "max_cameras": 3})
        assert answer.status_code == 200
        server = api.get("/api/v1/servers").json()[0]
        assert server["failover_enabled"] is True and server["max_cameras"] == 3

        camera_id = api.post(
            "/api/v1/cameras", json={"name": "c", "rtsp_url": cameras.url(1)}
        ).json()["id"]
        base = f"/api/v1/cameras/{camera_id}"
        now = datetime.now(UTC)
        answer = api.get(
            f"{base}/recordings", params={"start": iso(now), "end": iso(now - timedelta(hours=1))}
        )
        assert answer.status_code == 422 and "after" in answer.json()["error"]
        assert (
            api.get(
                f"{base}/recordings", params={"start": "yesterday", "end": iso(now)}
            ).status_code
            == 422
        )
        assert api.get(f"{base}/recordings", params={"end": iso(now)}).status_code == 422
        params = {"start": iso(now - timedelta(hours=1)), "end": iso(now)}
        assert api.get("/api/v1/cameras/nope/recordings", params=params).status_code == 404
        old = {"start": "2001-01-01T00:00:00Z", "end": "2001-01-01T00:10:00Z"}
        assert api.get(f"{base}/recordings", params=old).json() == {"periods": [], "gaps": []}
        answer = api.get(f"{base}/export", params=old)
        assert answer.status_code == 404 and "nothing to export" in answer.json()["error"]
        answer = api.get(
            f"{base}/export",
            params={"start": "2001-01-01T00:00:00Z", "end": "2001-01-03T00:00:00Z"},
        )
        assert answer.status_code == 422 and "at most" in answer.json()["error"]


def test_events_websocket_needs_a_token(recording_node) -> None:
    node, _cameras, _token = recording_node
    for query in ("", "?token=forged"):
        url = f"ws://127.0.0.1:{node.port}/api/v1/events{query}"
        with ws_connect(url) as socket, pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd.code == 4401


def test_cameras_resume_recording_after_restart(recording_node) -> None:
    node, cameras, token = recording_node
    with node.api(token) as api:
        camera_id = api.post(
            "/api/v1/cameras", json={"name": "c", "rtsp_url": cameras.url(1, credentials=True)}
        ).json()["id"]
        state = f"/api/v1/cameras/{camera_id}"
        wait_until(lambda: api.get(state).json()["status"]["state"] == "recording", 30, "recording")
    assert node.stop() == 0
    node.start()
    with node.api(token) as api:  # the token outlives the restart (signed, not stored)
        wait_until(
            lambda: api.get(state).json()["status"]["state"] == "recording", 30, "recording again"
        )
        now = datetime.now(UTC)
        params = {"start": iso(now - timedelta(minutes=5)), "end": iso(now)}
        assert api.get(f"{state}/recordings", params=params).json()["periods"]


def test_concurrent_adds_of_one_name_store_one_camera(recording_node) -> None:
    from concurrent.futures import ThreadPoolExecutor

    node, cameras, token = recording_node

    def add(_index: int) -> int:
        with node.api(token) as api:
            return api.post(
                "/api/v1/cameras", json={"name": "same", "rtsp_url": cameras.url(1)}
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(add, range(8)))
    assert codes == [201] + [409] * 7
    with node.api(token) as api:
        assert [c["name"] for c in api.get("/api/v1/cameras").json()] == ["same"]
