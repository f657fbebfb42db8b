"""Shared fixtures for integration tests: real `camkeep emulate` processes on loopback.

`emulator` starts one camera with small, low-bitrate streams (fast to encode, cheap
to serve); `emulator_factory(cameras=..., user=..., password=..., codec=..., ...)`
starts others. Every process is stopped (SIGTERM, then SIGKILL) when the test ends,
also when it fails. Encoded loops are cached in one directory per test session.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from emulator.ports import free_port, free_port_block
from node.cli._child_process import stop_process

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180.0  # first encode of many cameras on a busy 2-core machine


@dataclass
class EmulatorProcess:
    """A running `camkeep emulate` subprocess and how to reach it."""

    process: subprocess.Popen
    host: str
    rtsp_port: int
    onvif_port: int
    control_port: int
    wsd_port: int | None
    cameras: int
    user: str | None
    password: str | None
    width: int
    height: int
    sub_width: int
    sub_height: int
    fps: int
    codec: str
    output: list[str] = field(default_factory=list)

    def url(self, index: int = 1, stream: str = "main", credentials: bool = False) -> str:
        auth = f"{self.user}:{self.password}@" if credentials and self.user else ""
        return f"rtsp://{auth}{self.host}:{self.rtsp_port}/cam{index}/{stream}"

    def onvif_url(self, index: int = 1) -> str:
        return f"http://{self.host}:{self.onvif_port + index - 1}/onvif/device_service"

    def control(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://{self.host}:{self.control_port}{path}", data=data, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def set_fault(self, index: int | str, mode: str) -> None:
        status, answer = self.control("POST", f"/cameras/{index}/fault", {"mode": mode})
        assert status == 200, answer

    def stop(self, timeout_s: float = 15.0) -> int:
        return stop_process(self.process, timeout_s)


def start_emulator_process(
    cache_dir: Path,
    *,
    cameras: int = 1,
    user: str | None = None,
    password: str | None = None,
    codec: str = "h264",
    width: int = 320,
    height: int = 180,
    sub_width: int = 160,
    sub_height: int = 96,
    fps: int = 25,
    bitrate: int = 300_000,
    sub_bitrate: int = 100_000,
    gop_seconds: float = 1.0,
    wsd: bool = False,
    extra_args: tuple[str, ...] = (),
) -> EmulatorProcess:
    rtsp_port, control_port = free_port(), free_port()
    onvif_port = free_port_block(cameras)
    wsd_port = free_port(kind=socket.SOCK_DGRAM) if wsd else None
    command = [
        sys.executable, "-m", "node.cli", "emulate",
        "--host", HOST, "--cameras", str(cameras),
        "--rtsp-port", str(rtsp_port), "--onvif-port", str(onvif_port),
        "--control-port", str(control_port), "--codec", codec,
        "--width", str(width), "--height", str(height),
        "--sub-width", str(sub_width), "--sub-height", str(sub_height),
        "--fps", str(fps), "--bitrate", str(bitrate), "--sub-bitrate", str(sub_bitrate),
        "--gop-seconds", str(gop_seconds), "--cache-dir", str(cache_dir),
    ]  # fmt: skip
    command += ["--wsd-port", str(wsd_port)] if wsd_port else ["--no-wsd"]
    if user is not None:
        command += ["--user", user, "--password", password or ""]
    command += list(extra_args)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = EmulatorProcess(
        process, HOST, rtsp_port, onvif_port, control_port, wsd_port, cameras, user, password,
        width, height, sub_width, sub_height, fps, codec,
    )  # fmt: skip
    ready = threading.Event()

    def pump() -> None:  # keep reading so the child never blocks on a full pipe
        for line in process.stdout:  # type: ignore[union-attr]
            running.output.append(line.rstrip("\n"))
            if line.strip() == "ready":
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            break
    if process.poll() is not None or "ready" not in running.output:
        running.stop()
        raise RuntimeError("camkeep emulate did not start:\n" + "\n".join(running.output))
    return running


@pytest.fixture(scope="session")
def emulator_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator-cache")


@pytest.fixture
def emulator_factory(emulator_cache_dir: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    started: list[EmulatorProcess] = []

    def start(**options: object) -> EmulatorProcess:
        running = start_emulator_process(emulator_cache_dir, **options)  # type: ignore[arg-type]
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., EmulatorProcess]) -> EmulatorProcess:
    """One small camera: rtsp://127.0.0.1:<port>/cam1/main (320x180) and /sub (160x96)."""
    return emulator_factory()


# ---- a small raw RTSP client: exact control over every byte, for protocol tests ------


@dataclass
class RtspAnswer:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


class RawRtspClient:
    """Blocking RTSP/TCP client; media arrives interleaved on the same socket."""

    def __init__(self, host: str, port: int, timeout_s: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.base = f"rtsp://{host}:{port}"
        self.cseq = 0
        self.buffer = b""
        self.rtp: list[tuple[int, bytes]] = []  # (channel, packet) seen while reading answers

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> RtspAnswer:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.read_answer()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def read_answer(self) -> RtspAnswer:
        while True:
            while self.buffer.startswith(b"$"):
                while len(self.buffer) < 4:
                    self._fill()
                length = int.from_bytes(self.buffer[2:4], "big")
                while len(self.buffer) < 4 + length:
                    self._fill()
                self.rtp.append((self.buffer[1], self.buffer[4 : 4 + length]))
                self.buffer = self.buffer[4 + length :]
            end = self.buffer.find(b"\r\n\r\n")
            if self.buffer and not self.buffer.startswith(b"$") and end != -1:
                break
            self._fill()
        head = self.buffer[:end].decode()
        self.buffer = self.buffer[end + 4 :]
        status = int(head.split(" ", 2)[1])
        headers: dict[str, list[str]] = {}
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RtspAnswer(status, headers, body)

    def play(
        self, path: str, headers: dict[str, str] | None = None, tcp: bool = True
    ) -> tuple[str, RtspAnswer]:
        """DESCRIBE, SETUP (TCP interleaved 0-1), PLAY; returns (session id, PLAY answer)."""
        url = f"{self.base}{path}"
        extra = dict(headers or {})
        answer = self.request("DESCRIBE", url, {"Accept": "application/sdp", **extra})
        assert answer.status == 200, answer
        transport = "RTP/AVP/TCP;unicast;interleaved=0-1"
        answer = self.request("SETUP", f"{url}/trackID=0", {"Transport": transport, **extra})
        assert answer.status == 200, answer
        session = (answer.header("session") or "").split(";")[0]
        answer = self.request("PLAY", url, {"Session": session, **extra})
        assert answer.status == 200, answer
        return session, answer

    def read_media(self, duration_s: float) -> list[tuple[int, bytes]]:
        """Interleaved packets (channel, payload) received during `duration_s`."""
        packets, self.rtp = self.rtp, []
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                self._fill()
            except TimeoutError:
                break
            while len(self.buffer) >= 4 and self.buffer.startswith(b"$"):
                length = int.from_bytes(self.buffer[2:4], "big")
                if len(self.buffer) < 4 + length:
                    break
                packets.append((self.buffer[1], self.buffer[4 : 4 + length]))
                self.buffer = self.buffer[4 + length :]
        self.sock.settimeout(10.0)
        return packets


def count_frames(packets: list[tuple[int, bytes]], channel: int = 0) -> int:
    """RTP packets with the marker bit: one per access unit (frame)."""
    return sum(1 for ch, p in packets if ch == channel and len(p) > 1 and p[1] & 0x80)


class FrameCounter:
    """A good client reading one stream on a thread: frames counted over time."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.client = RawRtspClient(host, port)
        self.client.play(path)
        self.frames = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.frames += count_frames(self.client.read_media(0.2))
        except BaseException as error:  # reported by the test
            self.error = error

    def frames_during(self, seconds: float) -> int:
        before = self.frames
        time.sleep(seconds)
        return self.frames - before

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.close()


@pytest.fixture
def raw_rtsp() -> Iterator[Callable[..., RawRtspClient]]:
    """Factory of RawRtspClient(host, port) closed at the end of the test."""
    clients: list[RawRtspClient] = []

    def connect(host: str, port: int, timeout_s: float = 10.0) -> RawRtspClient:
        client = RawRtspClient(host, port, timeout_s)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def frame_counter() -> Iterator[Callable[..., FrameCounter]]:
    """Factory of FrameCounter(host, port, path) stopped at the end of the test."""
    counters: list[FrameCounter] = []

    def start(host: str, port: int, path: str) -> FrameCounter:
        counter = FrameCounter(host, port, path)
        counters.append(counter)
        return counter

    yield start
    for counter in counters:
        counter.stop()
