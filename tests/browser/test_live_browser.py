"""Live view and playback in a real Chromium, against two real nodes and emulated
cameras on loopback (one setup for the whole module; the tests that kill a node run
last).

Site: node1 and node2 in one system with failover on; emulator A serves cam1 (home
node1, with a sub-stream) and cam2 (home node2); emulator B a High-profile camera at a
high bitrate (home node1); emulator C a camera with B-frames (home node1)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from conftest import start_emulator_process
from node_harness import NodeProcess, fast_failover_config, make_node, wait_until
from player_page import assert_decodes, mode, open_player, state

pytestmark = pytest.mark.slow

CONFIG = fast_failover_config(failover="failback_delay_s = 1.0")


@dataclass
class Site:
    node1: NodeProcess
    node2: NodeProcess
    token: str
    cameras: dict[str, str]  # name -> id
    servers: dict[str, str]  # name -> id
    started: datetime
    failover_kill_at: datetime | None = None

    def api(self, node: NodeProcess | None = None) -> httpx.Client:
        return (node or self.node1).api(self.token)

    def live_status(self, node: NodeProcess) -> dict[str, Any]:
        with self.api(node) as api:
            return api.get("/api/v1/live/status").json()


def _recording(node: NodeProcess, token: str) -> set[str]:
    """Cameras this node records itself (every node shows every camera's state)."""
    with node.api(token) as api:
        cams = api.get("/api/v1/cameras").json()
        own_id = api.get("/api/v1/health").json()["node_id"]
    return {
        c["name"]
        for c in cams
        if c["status"]["state"] == "recording" and c["recording_server_id"] == own_id
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, browser_cache_dir: Path) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("live-site")
    emulators = []
    nodes: list[NodeProcess] = []
    try:
        plain = start_emulator_process(browser_cache_dir, cameras=2, width=320, height=180)
        emulators.append(plain)
        high = start_emulator_process(
            browser_cache_dir,
            width=640,
            height=360,
            bitrate=6_000_000,
            extra_args=("--profile", "high"),
        )
        emulators.append(high)
        bframes = start_emulator_process(
            browser_cache_dir, extra_args=("--profile", "high", "--bframes", "2")
        )
        emulators.append(bframes)
        hevc = start_emulator_process(browser_cache_dir, codec="hevc")
        emulators.append(hevc)
        for name in ("node1", "node2"):
            node = make_node(base, name=name, config=CONFIG)
            nodes.append(node)
            node.start()
        node1, node2 = nodes
        node1.setup()
        token = node1.login()
        with node1.api(token) as api:
            body = {
                "url": node2.url,
                "owner_username": "owner",
                "owner_password": "owner-password-1",
            }
            assert api.post("/api/v1/servers", json=body).status_code == 201
            servers = {s["name"]: s["id"] for s in api.get("/api/v1/servers").json()}
            for server_id in servers.values():
                answer = api.put(
                    f"/api/v1/servers/{server_id}/failover",
                    json={"enabled": True, "max_cameras": 8},
                )
                assert answer.status_code == 200, answer.text
            specs = [
                ("cam1", plain.url(1), "node1", {"sub_rtsp_url": plain.url(1, "sub")}),
                ("cam2", plain.url(2), "node2", {}),
                ("high", high.url(1), "node1", {}),
                ("bframes", bframes.url(1), "node1", {}),
                ("hevc", hevc.url(1), "node1", {}),
            ]
            cameras = {}
            for name, url, home, extra in specs:
                body = {"name": name, "rtsp_url": url, "home_server_id": servers[home], **extra}
                answer = api.post("/api/v1/cameras", json=body)
                assert answer.status_code == 201, answer.text
                cameras[name] = answer.json()["id"]
        wanted = {"cam1", "high", "bframes", "hevc"}
        wait_until(lambda: _recording(node1, token) == wanted, 60, "node1 records its cameras")
        wait_until(lambda: _recording(node2, token) == {"cam2"}, 60, "node2 records cam2")
        yield Site(node1, node2, token, cameras, servers, datetime.now(UTC))
    finally:
        for node in nodes:
            code = node.stop()
            print(f"----- {node.name} (exit {code}):\n{node.logs(80)}")
        for emulator in emulators:
            emulator.stop()


def test_webrtc_live_decodes_in_chromium(site: Site, chromium: Any) -> None:
    page = open_player(chromium, site.node1.url, site.cameras["cam1"], site.token)
    try:
        assert_decodes(page)
        assert mode(page) == "webrtc"
        assert (state(page)["width"], state(page)["height"]) == (320, 180)
    finally:
        page.close()


def test_mse_live_decodes_in_chromium(site: Site, chromium: Any) -> None:
    page = open_player(chromium, site.node1.url, site.cameras["cam1"], site.token, prefer="mse")
    try:
        assert_decodes(page)
        assert mode(page) == "mse"
    finally:
        page.close()


def test_high_profile_camera_plays_over_webrtc(site: Site, chromium: Any) -> None:
    # aiortc labels the answer constrained baseline (42e01f); Chromium decodes the
    # camera's High-profile SPS anyway
    page = open_player(chromium, site.node1.url, site.cameras["high"], site.token)
    try:
        assert_decodes(page)
        assert mode(page) == "webrtc"
        assert state(page)["width"] == 640
    finally:
        page.close()


def test_bframes_camera_goes_to_the_fallback(site: Site, chromium: Any) -> None:
    offer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n"
    with site.api() as api:
        answer = api.post(
            f"/api/v1/cameras/{site.cameras['bframes']}/webrtc",
            content=offer,
            headers={"Content-Type": "application/sdp"},
        )
    assert answer.status_code == 415
    assert "B-frames" in answer.json()["error"]
    page = open_player(chromium, site.node1.url, site.cameras["bframes"], site.token)
    try:
        assert_decodes(page)
        assert mode(page) == "mse"
    finally:
        page.close()


def test_h265_camera_goes_to_the_fallback_and_the_player_says_what_it_cannot_do(
    site: Site, chromium: Any
) -> None:
    offer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n"
    with site.api() as api:
        answer = api.post(
            f"/api/v1/cameras/{site.cameras['hevc']}/webrtc",
            content=offer,
            headers={"Content-Type": "application/sdp"},
        )
    assert answer.status_code == 415 and "H.265" in answer.json()["error"]
    page = open_player(chromium, site.node1.url, site.cameras["hevc"], site.token)
    try:
        playable = page.evaluate(
            "() => MediaSource.isTypeSupported('video/mp4; codecs=\"hvc1.1.6.L93.B0\"')"
        )
        if playable:  # a Chromium with H.265 plays it through MSE
            assert_decodes(page)
            assert mode(page) == "mse"
        else:
            status = wait_until(
                lambda: (s := state(page)["status"]) and s["state"] == "error" and s, 30, "error"
            )
            assert status["mode"] == "mse"
            assert "cannot play H.265" in status["message"]
            assert "cannot play H.265" in page.locator("#status").inner_text()
    finally:
        page.close()


def test_any_node_relays_a_camera_it_does_not_record(site: Site, chromium: Any) -> None:
    # cam2 is recorded by node2; the browser asks node1
    page = open_player(chromium, site.node1.url, site.cameras["cam2"], site.token)
    try:
        assert_decodes(page)
        assert mode(page) == "webrtc"
        relays = site.live_status(site.node1)["relays"]
        assert [site.cameras["cam2"], "main", site.servers["node2"]] in relays
    finally:
        page.close()


def test_sub_stream_opens_on_demand_and_closes_after_the_last_viewer(
    site: Site, chromium: Any
) -> None:
    key = [site.cameras["cam1"], "sub"]
    assert key not in site.live_status(site.node1)["live_only_streams"]
    page = open_player(chromium, site.node1.url, site.cameras["cam1"], site.token, stream="sub")
    try:
        assert_decodes(page)
        assert (state(page)["width"], state(page)["height"]) == (160, 96)
        assert key in site.live_status(site.node1)["live_only_streams"]
    finally:
        page.close()
    wait_until(
        lambda: key not in site.live_status(site.node1)["live_only_streams"], 30, "sub closed"
    )


def test_bad_and_expired_tokens_are_refused(site: Site, tmp_path: Path) -> None:
    camera = site.cameras["cam1"]
    offer = {"Content-Type": "application/sdp"}
    for token in ("not-a-token", site.token[:-4] + "AAAA"):
        headers = {**offer, "Authorization": f"Bearer {token}"}
        answer = httpx.post(
            f"{site.node1.url}/api/v1/cameras/{camera}/webrtc", content="v=0", headers=headers
        )
        assert answer.status_code == 401
        start = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        answer = httpx.get(
            f"{site.node1.url}/api/v1/cameras/{camera}/playback",
            params={"start": start, "token": token},
        )
        assert answer.status_code == 401
        assert _ws_close_code(site.node1, f"/api/v1/cameras/{camera}/live?token={token}") == 4401
    # a token that expired: issued by a node whose tokens live one second
    short = make_node(tmp_path, name="short", config="token_ttl_s = 1\n" + CONFIG)
    short.start()
    try:
        with site.api() as api:
            body = {
                "url": short.url,
                "owner_username": "owner",
                "owner_password": "owner-password-1",
            }
            assert api.post("/api/v1/servers", json=body).status_code == 201
        expired = wait_until(lambda: short.login(), 30, "login on the short-lived node")
        time.sleep(2)
        headers = {**offer, "Authorization": f"Bearer {expired}"}
        answer = httpx.post(
            f"{site.node1.url}/api/v1/cameras/{camera}/webrtc", content="v=0", headers=headers
        )
        assert answer.status_code == 401 and "expired" in answer.json()["error"]
        assert _ws_close_code(site.node1, f"/api/v1/cameras/{camera}/live?token={expired}") == 4401
    finally:
        with site.api() as api:
            short_id = next(
                s["id"] for s in api.get("/api/v1/servers").json() if s["name"] == "short"
            )
            short.stop()
            api.post(f"/api/v1/servers/{short_id}/detach", json={"keep_cameras": False})


def _ws_close_code(node: NodeProcess, path: str) -> int:
    from websockets.sync.client import connect

    with connect(node.url.replace("http", "ws") + path) as ws:
        try:
            while True:
                ws.recv(timeout=10)
        except Exception:  # the close arrives as ConnectionClosed
            pass
        return ws.close_code or 0


def test_playback_of_a_past_window_mse_and_plain_video(site: Site, chromium: Any) -> None:
    start = datetime.now(UTC) - timedelta(seconds=8)
    iso = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for plain in ("0", "1"):
        page = open_player(
            chromium, site.node1.url, site.cameras["cam1"], site.token, start=iso, plain=plain
        )
        try:
            last = assert_decodes(page)
            assert mode(page) == ("plain" if plain == "1" else "mse")
            # the player knows the wall-clock time of what it shows
            shown = datetime.fromtimestamp(last["wall"] / 1000, UTC)
            assert start - timedelta(seconds=2) <= shown <= start + timedelta(seconds=12)
        finally:
            page.close()


def test_slow_viewer_is_dropped_and_node_memory_stays_flat(site: Site) -> None:
    process = psutil.Process(site.node1.process.pid)
    before = process.memory_info().rss
    camera = site.cameras["high"]  # 6 Mbit/s: a queue fills within seconds
    viewers_before = site.live_status(site.node1)["viewers"]
    sock = _ws_open_without_reading(site.node1, f"/api/v1/cameras/{camera}/live?token={site.token}")
    try:
        wait_until(
            lambda: site.live_status(site.node1)["viewers"] == viewers_before + 1, 10, "viewer"
        )
        # never read: the node skips it ahead, then drops it
        wait_until(lambda: site.live_status(site.node1)["viewers"] == viewers_before, 60, "dropped")
        grown = process.memory_info().rss - before
        assert grown < 40 * 1024 * 1024, f"node grew {grown / 2**20:.1f} MiB"
        # recording went on meanwhile
        with site.api() as api:
            status = api.get(f"/api/v1/cameras/{camera}").json()["status"]
        assert status["state"] == "recording"
    finally:
        sock.close()


def _ws_open_without_reading(node: NodeProcess, path: str) -> socket.socket:
    """A WebSocket handshake on a socket with a tiny receive buffer, never read after."""
    host, port = node.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect((host, int(port)))
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_live_view_follows_the_camera_when_its_node_is_killed(site: Site, chromium: Any) -> None:
    # On node1, cam2 (relayed from node2); on node2, cam1 (relayed from node1); each
    # over WebRTC and over the MSE fallback. Killing node2: cam2 moves to node1 and the
    # node1 pages go on (the MSE socket stays open and gets the new server's stream);
    # node2's pages lose their node and their players move to node1 by themselves.
    site.failover_kill_at = datetime.now(UTC)
    pages = {
        ("node1", mode): open_player(chromium, site.node1.url, site.cameras["cam2"], site.token,
                                     prefer=mode)
        for mode in ("webrtc", "mse")
    }  # fmt: skip
    pages |= {
        ("node2", mode): open_player(chromium, site.node2.url, site.cameras["cam1"], site.token,
                                     prefer=mode)
        for mode in ("webrtc", "mse")
    }  # fmt: skip
    try:
        for (_, want), page in pages.items():
            assert_decodes(page)
            assert state(page)["status"]["mode"] == want
        site.node2.kill()
        killed = {key: state(page)["frames"] for key, page in pages.items()}
        wait_until(lambda: _recording(site.node1, site.token) >= {"cam2"}, 30, "cam2 on node1")
        for key, page in pages.items():
            bound = 40 if key[0] == "node1" else 60
            least = killed[key] + 50
            wait_until(lambda p=page, n=least: state(p)["frames"] > n, bound, f"{key} plays on")
            if key[0] == "node2":
                assert state(page)["status"]["server"] == site.node1.url, key
            assert_decodes(page)
    finally:
        for page in pages.values():
            page.close()
    site.node2.start()
    wait_until(lambda: _recording(site.node2, site.token) == {"cam2"}, 60, "cam2 back on node2")


def test_playback_across_the_failover_seam(site: Site, chromium: Any) -> None:
    # cam2 was recorded by node2, then node1 (node2 killed), then node2 again
    assert site.failover_kill_at is not None, "runs after the failover test"
    start = site.failover_kill_at - timedelta(seconds=4)
    path = f"/api/v1/cameras/{site.cameras['cam2']}/playback"
    with site.api() as api, api.stream("GET", path, params={"start": start.isoformat()}) as answer:
        assert answer.status_code == 200
        timeline = answer.headers["X-Camkeep-Timeline"]
    pieces = json.loads(timeline)["pieces"]
    assert {p["server_id"] for p in pieces} >= {site.servers["node1"], site.servers["node2"]}
    seam = next(p["media_s"] for p in pieces if p["server_id"] == site.servers["node1"])
    iso = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    page = open_player(chromium, site.node1.url, site.cameras["cam2"], site.token, start=iso)
    try:
        assert_decodes(page)
        wait_until(lambda: state(page)["time"] > seam + 1, 60, "playback past the seam")
        assert_decodes(page)
    finally:
        page.close()
