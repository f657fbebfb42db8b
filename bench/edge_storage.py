"""Benchmark: edge storage of the emulated cameras (ONVIF Profile G).

1. Memory of one camera's edge recording at 10 minutes (25 fps, 1280x720, 4 Mbit/s):
   an `EdgeRecorder` over the real encoded loop is fed 15,000 frames in-process and
   its allocations are measured with tracemalloc (memory mode: refs to the looped
   frames), plus the bytes `--edge-storage-dir` writes per minute (measured over one
   minute of frames, times ten for the ring's full size on disk).
2. Replay throughput with `Rate-Control: no`: `camkeep emulate` in a subprocess
   records for a while, then one RTSP/TCP client replays everything recorded and
   only counts bytes; recorded seconds / elapsed seconds is the speed (x real time).

Prints a table and writes `## Edge storage (bench/edge_storage.py)` of bench/RESULTS.md.

    python bench/edge_storage.py            # 20 s recorded before the replay
    python bench/edge_storage.py --quick    # 8 s
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from emulator.camera import RECORDING_TOKEN  # noqa: E402
from emulator.edge_recorder import EdgeRecorder, FileUnits, LoopUnits  # noqa: E402
from emulator.edge_storage import FrameRing  # noqa: E402
from emulator.ports import free_port, free_port_block  # noqa: E402
from emulator.video import DEFAULT_CACHE_DIR, EncodeParams, cached_loop  # noqa: E402
from node.cli._child_process import stop_process  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Edge storage (bench/edge_storage.py)"
HOST = "127.0.0.1"
FPS, WIDTH, HEIGHT, BITRATE = 25, 1280, 720, 4_000_000


def _loop():
    params = EncodeParams("h264", WIDTH, HEIGHT, FPS, BITRATE, gop_frames=2 * FPS)
    return cached_loop("Camera 1", params, DEFAULT_CACHE_DIR)


def _feed(recorder: EdgeRecorder, loop, frames: int) -> None:
    units = loop.units
    for n in range(frames):
        index = n % len(units)
        recorder.record(1_800_000_000.0 + n / FPS, index, units[index])


def measure_memory(duration_s: float = 600.0) -> dict[str, float]:
    loop = _loop()
    frames = int(duration_s * FPS)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ring = FrameRing(duration_s, FPS)
    recorder = EdgeRecorder("Camera 1", "h264", FPS, loop.parameter_sets, ring, LoopUnits(loop))
    _feed(recorder, loop, frames)
    memory_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    with tempfile.TemporaryDirectory() as directory:
        store = FileUnits(Path(directory) / "cam1", "h264")
        minute = EdgeRecorder("Camera 1", "h264", FPS, {}, FrameRing(60.0, FPS), store)
        _feed(minute, loop, 60 * FPS)
        disk_per_minute = sum(f.stat().st_size for f in (Path(directory) / "cam1").iterdir())
        store.close()
    return {
        "frames": frames,
        "memory_bytes": memory_bytes,
        "ring_bytes": ring.memory_bytes(),
        "disk_per_minute": disk_per_minute,
        "loop_bytes": sum(u.size for u in loop.units),
    }


# ---- replay throughput --------------------------------------------------------------


def _answer(sock: socket.socket, buffer: bytearray) -> str:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed during setup")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode()
    match = re.search(r"Content-Length:\s*(\d+)", head, re.I)
    length = int(match.group(1)) if match else 0
    while len(buffer) < end + 4 + length:
        buffer += sock.recv(65536)
    del buffer[: end + 4 + length]
    return head


def _describe_range(head_and_body: str) -> tuple[str, str]:
    match = re.search(r"a=range:clock=(\S+)-(\S+)", head_and_body)
    assert match, "no clock range in the SDP"
    return match.group(1), match.group(2)


def replay_everything(rtsp_port: int) -> dict[str, float]:
    url = f"rtsp://{HOST}:{rtsp_port}/cam1/replay/{RECORDING_TOKEN}"
    sock = socket.create_connection((HOST, rtsp_port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    buffer = bytearray()
    sock.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nRequire: onvif-replay\r\n\r\n".encode())
    # The SDP is the body: read the head, then the body, and look for the range in both.
    head = _answer_with_body(sock, buffer)
    start, end = _describe_range(head)
    sock.sendall(
        f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nRequire: onvif-replay\r\n"
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".encode()
    )
    head = _answer(sock, buffer)
    session = re.search(r"Session:\s*([^;\r\n]+)", head).group(1)  # type: ignore[union-attr]
    began = time.perf_counter()
    sock.sendall(
        f"PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nRequire: onvif-replay\r\nSession: {session}\r\n"
        f"Range: clock={start}-{end}\r\nRate-Control: no\r\n\r\n".encode()
    )
    _answer(sock, buffer)
    received, frames = 0, 0
    done = False
    while not done:
        while len(buffer) >= 4 and buffer[0] == 0x24:
            length = int.from_bytes(buffer[2:4], "big")
            if len(buffer) < 4 + length:
                break
            packet = bytes(buffer[4 : 4 + length])
            if buffer[1] == 0 and packet[1] & 0x80:
                frames += 1
            elif buffer[1] == 1 and _is_bye(packet):
                done = True
            received += 4 + length
            del buffer[: 4 + length]
        if done:
            break
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buffer += chunk
    elapsed = time.perf_counter() - began
    sock.close()
    recorded = _seconds(end) - _seconds(start)
    return {
        "recorded_s": recorded,
        "elapsed_s": elapsed,
        "speed": recorded / elapsed,
        "mbit_s": received * 8 / elapsed / 1e6,
        "frames": frames,
    }


def _answer_with_body(sock: socket.socket, buffer: bytearray) -> str:
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode()
    length = int(re.search(r"Content-Length:\s*(\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    while len(buffer) < end + 4 + length:
        buffer += sock.recv(65536)
    body = bytes(buffer[end + 4 : end + 4 + length]).decode()
    del buffer[: end + 4 + length]
    return head + "\n" + body


def _is_bye(packet: bytes) -> bool:
    position = 0
    while position + 4 <= len(packet):
        if packet[position + 1] == 203:
            return True
        position += 4 * (int.from_bytes(packet[position + 2 : position + 4], "big") + 1)
    return False


def _seconds(clock: str) -> float:
    return datetime.strptime(clock, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()


def measure_replay(record_s: float) -> dict[str, float]:
    rtsp_port, control_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "node.cli", "emulate", "--host", HOST, "--cameras", "1",
        "--rtsp-port", str(rtsp_port), "--onvif-port", str(free_port_block(1)),
        "--control-port", str(control_port), "--no-wsd",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("camkeep emulate did not start")
        time.sleep(record_s)
        return replay_everything(rtsp_port)
    finally:
        stop_process(process, 10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="record 8 s before the replay")
    parser.add_argument("--record", type=float, default=20.0, help="seconds recorded (20)")
    args = parser.parse_args()
    record_s = 8.0 if args.quick else args.record
    memory = measure_memory()
    replay = measure_replay(record_s)
    per_10min_disk = memory["disk_per_minute"] * 10
    lines = [
        SECTION,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared), Python {platform.python_version()}. "
        f"One camera, {WIDTH}x{HEIGHT} H.264, {FPS} fps, {BITRATE // 1_000_000} Mbit/s, GOP 2 s.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| memory of 10 min of edge recording, memory mode ({memory['frames']:,} frames), "
        f"tracemalloc | {memory['memory_bytes'] / 1024:.0f} KiB |",
        f"| of which the ring's three arrays | {memory['ring_bytes'] / 1024:.0f} KiB |",
        f"| the looped frames it refers to (shared with live serving, not copied) | "
        f"{memory['loop_bytes'] / 1024:.0f} KiB |",
        f"| `--edge-storage-dir`: disk for 10 min (measured over 1 min x 10) | "
        f"{per_10min_disk / 1e6:.0f} MB |",
        f"| replay `Rate-Control: no`, {replay['recorded_s']:.1f} s recorded, one client | "
        f"{replay['elapsed_s']:.2f} s = **{replay['speed']:.0f}x real time**, "
        f"{replay['mbit_s']:.0f} Mbit/s, {replay['frames']:.0f} frames |",
        "",
        "Memory mode stores per frame a capture time, a loop index and a keyframe flag "
        "(17 bytes), whatever the bitrate; `--live-clock` streams (every frame encoded "
        "afresh) hold the frames themselves, about bitrate x duration (300 MB for 10 min "
        "at 4 Mbit/s), or write them to `--edge-storage-dir`. Replay speed is bounded "
        "by the emulator's single event loop building RTP packets (plus the reader on "
        "the same 2 cores).",
    ]
    text = "\n".join(lines)
    print(text)
    replace_section(RESULTS, SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
