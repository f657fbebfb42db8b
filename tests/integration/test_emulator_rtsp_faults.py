"""Faults through the control API: drop, stall, offline, ok (per camera and for all)."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

pytestmark = pytest.mark.timeout(120)


def closed_soon(client, timeout_s: float = 3.0) -> bool:
    try:
        client.read_media(timeout_s)
    except (ConnectionError, OSError):
        return True
    return False


def test_drop_closes_then_accepts_again(emulator_factory, raw_rtsp) -> None:
    camera = emulator_factory(cameras=2)
    victim = raw_rtsp(camera.host, camera.rtsp_port)
    victim.play("/cam1/main")
    bystander = raw_rtsp(camera.host, camera.rtsp_port)
    bystander.play("/cam2/main")
    camera.set_fault(1, "drop")
    assert closed_soon(victim)
    assert camera.control("GET", "/cameras")[1][0]["fault"] == "ok"  # a one-shot event
    again = raw_rtsp(camera.host, camera.rtsp_port)
    again.play("/cam1/main")
    assert sum(1 for ch, p in again.read_media(1.5) if ch == 0) > 0
    assert sum(1 for ch, p in bystander.read_media(1.0) if ch == 0) > 0


def test_stall_keeps_connection_but_sends_nothing(emulator, raw_rtsp) -> None:
    client = raw_rtsp(emulator.host, emulator.rtsp_port)
    session, _ = client.play("/cam1/main")
    assert client.read_media(1.2)
    emulator.set_fault(1, "stall")
    client.read_media(0.3)  # what was already on its way
    assert client.read_media(1.5) == []
    url = emulator.url(1, "main")
    assert client.request("GET_PARAMETER", url, {"Session": session}).status == 200
    assert emulator.control("GET", "/cameras")[1][0]["fault"] == "stall"
    emulator.set_fault(1, "ok")
    assert any(ch == 0 for ch, _ in client.read_media(2.0))


def test_offline_refuses_rtsp_and_onvif_until_ok(emulator, raw_rtsp) -> None:
    client = raw_rtsp(emulator.host, emulator.rtsp_port)
    client.play("/cam1/main")
    emulator.set_fault("all", "offline")
    assert closed_soon(client)
    url = emulator.url(1, "main")
    fresh = raw_rtsp(emulator.host, emulator.rtsp_port)
    with pytest.raises((ConnectionError, OSError)):
        fresh.request("DESCRIBE", url)
    with socket.create_connection((emulator.host, emulator.onvif_port), timeout=5) as onvif:
        onvif.sendall(b"GET /onvif/device_service HTTP/1.1\r\nHost: x\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            assert onvif.recv(100) == b""  # closed at once, no answer
    emulator.set_fault(1, "ok")
    back = raw_rtsp(emulator.host, emulator.rtsp_port)
    deadline = time.monotonic() + 5
    while True:
        try:
            back.play("/cam1/main")
            break
        except (ConnectionError, OSError):
            assert time.monotonic() < deadline
            back = raw_rtsp(emulator.host, emulator.rtsp_port)
    assert any(ch == 0 for ch, _ in back.read_media(1.5))


def test_control_api_rejects_bad_requests(emulator) -> None:
    assert emulator.control("POST", "/cameras/1/fault", {"mode": "explode"})[0] == 400
    assert emulator.control("POST", "/cameras/99/fault", {"mode": "drop"})[0] == 404
    assert emulator.control("POST", "/cameras/x/fault", {"mode": "drop"})[0] == 404
    # "²" passes str.isdigit() but not int()
    assert emulator.control("POST", "/cameras/%C2%B2/fault", {"mode": "drop"})[0] == 404
    assert emulator.control("GET", "/cameras/1/fault")[0] == 405
    assert emulator.control("GET", "/nothing")[0] == 404
    assert emulator.control("POST", "/cameras/1/fault", ["mode"])[0] == 400
    status, cameras = emulator.control("GET", "/cameras")
    assert status == 200 and cameras[0]["fault"] == "ok"
    assert cameras[0]["rtsp"]["main"] == emulator.url(1, "main")
