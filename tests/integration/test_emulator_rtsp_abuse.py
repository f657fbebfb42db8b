"""Each bad input gets its answer while another client's stream keeps flowing."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

pytestmark = pytest.mark.timeout(120)

FPS = 25


def expect_closed(sock: socket.socket, timeout_s: float = 5.0) -> bytes:
    """Everything the server sent until it closed the connection (fails if it does not)."""
    sock.settimeout(timeout_s)
    received = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError("server kept the connection open")


def test_bad_inputs_affect_only_their_client(emulator_factory, raw_rtsp, frame_counter) -> None:
    # A higher bitrate and a small client buffer limit so the never-reading client
    # fills its buffers within seconds.
    emulator = emulator_factory(
        bitrate=2_000_000, extra_args=("--client-buffer-limit", "65536", "--stuck-timeout", "2")
    )
    host, port = emulator.host, emulator.rtsp_port
    url = emulator.url(1, "main")
    good = frame_counter(host, port, "/cam1/main")
    time.sleep(1.5)  # past the first keyframe
    started, start_frames = time.monotonic(), good.frames

    # garbage bytes: 400, then closed
    garbage = raw_rtsp(host, port)
    garbage.send_raw(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n")
    assert expect_closed(garbage.sock).startswith(b"RTSP/1.0 400 ")

    # a 1 MB header: refused at the size cap, 400, closed
    huge = raw_rtsp(host, port)
    payload = f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nX-Fill: ".encode() + b"a" * (1 << 20)
    # (the server may close while we are still sending: also a refusal)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        huge.send_raw(payload + b"\r\n\r\n")
    reply = expect_closed(huge.sock)
    assert reply == b"" or reply.startswith(b"RTSP/1.0 400 ")

    client = raw_rtsp(host, port)
    # unknown path: 404
    assert client.request("DESCRIBE", f"rtsp://{host}:{port}/cam99/main").status == 404
    assert client.request("DESCRIBE", f"rtsp://{host}:{port}/nothing").status == 404
    # PLAY before SETUP (Init state): 455
    assert client.request("PLAY", url).status == 455
    # a session that does not exist: 454
    assert client.request("PLAY", url, {"Session": "deadbeef"}).status == 454
    assert client.request("TEARDOWN", url, {"Session": "deadbeef"}).status == 454
    # SETUP of the whole presentation instead of its track: 459
    tcp = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
    assert client.request("SETUP", url, tcp).status == 459
    # changing the transport of a playing session: 455
    session, _ = client.play("/cam1/main")
    assert client.request("SETUP", url + "/trackID=0", {**tcp, "Session": session}).status == 455
    # a session of one path used on another: 459
    sub = emulator.url(1, "sub")
    assert client.request("PLAY", sub, {"Session": session}).status == 459
    # unsupported transport: 461; method a camera does not do: 405; unknown: 501
    assert client.request("SETUP", sub + "/trackID=0", {"Transport": "RAW/RAW/UDP"}).status == 461
    assert client.request("RECORD", url, {"Session": session}).status == 405
    assert client.request("FLY", url).status == 501
    assert client.request("TEARDOWN", url, {"Session": session}).status == 200

    # a client that never reads: the server drops its frames, then closes it
    lazy = socket.socket()
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lazy.connect((host, port))
    lazy.sendall(
        f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".encode()
    )
    lazy.settimeout(5)
    setup = lazy.recv(4096).decode()
    lazy_session = setup.split("Session: ")[1].split(";")[0]
    lazy.sendall(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {lazy_session}\r\n\r\n".encode())

    during = good.frames_during(6.0)
    elapsed = time.monotonic() - started
    total = good.frames - start_frames
    assert good.error is None
    assert during >= 0.7 * FPS * 6.0, during
    assert total >= 0.7 * FPS * elapsed, (total, elapsed)
    # the lazy client was closed (its buffer stayed over the limit too long)
    deadline = time.monotonic() + 20
    while emulator.control("GET", "/cameras")[1][0]["clients"]["main"] > 1:
        assert time.monotonic() < deadline, "never-reading client was not dropped"
        time.sleep(0.5)
    lazy.close()
    assert good.frames_during(1.0) > 0.7 * FPS * 1.0
