"""`camkeep emulate --cameras 8` as a real process: onvif-zeep-async reaches all eight
ONVIF ports, a WS-Discovery probe finds all eight, Hello on start and Bye on SIGTERM,
and the control API's offline fault closes one camera's ONVIF port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from onvif import ONVIFCamera
from wsd_helpers import NS, action, group_listener, receive_all

from emulator.ports import free_port
from emulator.wsdiscovery_messages import MULTICAST_GROUP, SOAP12_NS, build_probe
from node.cli._child_process import stop_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOST = "127.0.0.1"
CAMERAS = 8
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180.0
QUIET_S = 0.7


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[dict]:
    ports = {
        "rtsp": free_port(),
        "control": free_port(),
        "wsd": free_port(kind=socket.SOCK_DGRAM),
    }
    listener = group_listener(ports["wsd"])  # joined before start: hears the Hellos
    command = [
        sys.executable, "-m", "node.cli", "emulate",
        "--host", HOST, "--cameras", str(CAMERAS),
        "--rtsp-port", str(ports["rtsp"]), "--onvif-port", "0",
        "--control-port", str(ports["control"]), "--wsd-port", str(ports["wsd"]),
        "--user", "admin", "--password", "pw",
        "--width", "320", "--height", "180", "--sub-width", "160", "--sub-height", "96",
        "--fps", "10", "--bitrate", "300000", "--sub-bitrate", "100000",
        "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield {"process": process, "ports": ports, "listener": listener}
    finally:
        stop_process(process, 15)
        if process.stdout is not None:
            process.stdout.close()
        listener.close()


async def read_until_ready(process: subprocess.Popen) -> list[str]:
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                return
            lines.append(line.strip())
        raise AssertionError(f"emulator exited before ready: {lines}")

    await asyncio.wait_for(asyncio.to_thread(read), START_TIMEOUT_S)
    return lines


async def check_camera(onvif_url: str) -> str:
    match = re.fullmatch(r"http://([\d.]+):(\d+)/onvif/device_service", onvif_url)
    assert match, onvif_url
    camera = ONVIFCamera(match[1], int(match[2]), "admin", "pw", no_cache=True, adjust_time=True)
    try:
        await camera.update_xaddrs()
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        assert [p.token for p in profiles] == ["main", "sub"]
        reply = await media.GetStreamUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "ProfileToken": "main",
            }
        )
        return reply.Uri
    finally:
        await camera.close()


async def test_emulate_eight_cameras_onvif_and_wsd(emulator: dict) -> None:
    process, ports, listener = emulator["process"], emulator["ports"], emulator["listener"]
    lines = await read_until_ready(process)
    onvif_urls = [re.search(r"(http://\S+/onvif/device_service)", ln) for ln in lines]
    onvif_urls = [m[1] for m in onvif_urls if m]
    assert len(onvif_urls) == CAMERAS
    ports_used = [int(u.split(":")[2].split("/")[0]) for u in onvif_urls]
    assert ports_used == list(range(ports_used[0], ports_used[0] + CAMERAS))

    hellos = [m for m in await receive_all(listener, QUIET_S) if action(m) == "Hello"]
    hello_xaddrs = {m.findtext("s:Body/d:Hello/d:XAddrs", namespaces=NS) for m in hellos}
    assert hello_xaddrs == set(onvif_urls)

    stream_uris = await asyncio.gather(*(check_camera(u) for u in onvif_urls))
    rtsp = ports["rtsp"]
    assert stream_uris == [f"rtsp://{HOST}:{rtsp}/cam{i}/main" for i in range(1, CAMERAS + 1)]

    # A raw WS-Discovery probe finds every camera.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind((HOST, 0))
        client.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(HOST))
        client.setblocking(False)
        message_id = f"urn:uuid:{uuid.uuid4()}"
        client.sendto(build_probe(message_id), (MULTICAST_GROUP, ports["wsd"]))
        replies = await receive_all(client, QUIET_S, first_wait_s=10)
    found = {
        m.findtext("s:Body/d:ProbeMatches/d:ProbeMatch/d:XAddrs", namespaces=NS)
        for m in replies
        if m.findtext("s:Header/a:RelatesTo", namespaces=NS) == message_id
    }
    assert found == set(onvif_urls)

    # The control API's offline fault closes camera 3's ONVIF port; "ok" opens it again.
    control = f"http://{HOST}:{ports['control']}/cameras/3/fault"
    probe_soap = (
        f'<s:Envelope xmlns:s="{SOAP12_NS}"><s:Body><tds:GetSystemDateAndTime '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
    )
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.post(control, content=json.dumps({"mode": "offline"}))
        assert r.status_code == 200, r.text
        with pytest.raises(httpx.TransportError):
            await client.post(onvif_urls[2], content=probe_soap)
        assert (await client.post(onvif_urls[3], content=probe_soap)).status_code == 200
        r = await client.post(control, content=json.dumps({"mode": "ok"}))
        assert r.status_code == 200, r.text
        assert (await client.post(onvif_urls[2], content=probe_soap)).status_code == 200

    # SIGTERM: a Bye per camera, then a clean exit.
    await receive_all(listener, QUIET_S)
    process.send_signal(signal.SIGTERM)
    byes = [m for m in await receive_all(listener, QUIET_S, first_wait_s=15) if action(m) == "Bye"]
    assert len(byes) == CAMERAS
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(15)
    assert process.returncode == 0
