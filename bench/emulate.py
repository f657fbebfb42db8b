"""Benchmark: CPU of one `camkeep emulate` process serving N main streams over RTSP/TCP.

For each N (32, 64, 128 by default): start `camkeep emulate --cameras N` in a
subprocess, open N RTSP/TCP sessions (one per camera's main stream) from a separate
reader process that only counts bytes (raw sockets, no decoding), then measure the
emulator's CPU (psutil) and the delivered bitrate over a window. Prints a table and
writes the section `## Emulator serving CPU (bench/emulate.py)` of bench/RESULTS.md.

    python bench/emulate.py                 # 32, 64, 128 cameras, 15 s windows
    python bench/emulate.py --quick         # 4 and 8 cameras, 4 s windows
    python bench/emulate.py --cameras 16 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import selectors
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from emulator.ports import free_port  # noqa: E402
from node.cli._child_process import stop_process  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Emulator serving CPU (bench/emulate.py)"
HOST = "127.0.0.1"


# ---- reader process: RTSP/TCP sessions that only count bytes ------------------------


def _request(sock: socket.socket, text: str) -> str:
    sock.sendall(text.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed during setup")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    match = re.search(rb"Content-Length:\s*(\d+)", head, re.I)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        rest += sock.recv(65536)
    return head.decode()


def _open_session(url: str) -> socket.socket:
    host, port = url.split("/")[2].split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    _request(sock, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n")
    head = _request(
        sock,
        f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
    )
    session = re.search(r"Session:\s*([^;\r\n]+)", head).group(1)  # type: ignore[union-attr]
    sock.sendall(f"PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n\r\n".encode())
    sock.setblocking(False)
    return sock


def reader_main(urls: list[str], warmup_s: float, duration_s: float) -> None:
    """Count bytes from every URL; print JSON {bytes, seconds, open} after the window."""
    sockets = [_open_session(url) for url in urls]
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    print(json.dumps({"connected": len(sockets)}), flush=True)
    counted, start_count, closed = 0, None, 0
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if start_count is None and now - start >= warmup_s:
            start_count, counted = now, 0
        if start_count is not None and now - start_count >= duration_s:
            break
        for key, _ in selector.select(timeout=0.2):
            try:
                data = key.fileobj.recv(1 << 18)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                closed += 1
                continue
            counted += len(data)
    elapsed = time.monotonic() - (start_count or start)
    print(json.dumps({"bytes": counted, "seconds": elapsed, "closed": closed}), flush=True)
    for sock in sockets:
        sock.close()


# ---- driver ------------------------------------------------------------------------


def run_one(cameras: int, duration_s: float, warmup_s: float, bitrate: int) -> dict:
    rtsp_port = free_port(HOST)
    command = [
        sys.executable, "-m", "node.cli", "emulate",
        "--cameras", str(cameras), "--rtsp-port", str(rtsp_port), "--onvif-port", "0",
        "--no-control", "--no-wsd", "--no-onvif", "--bitrate", str(bitrate),
    ]  # fmt: skip
    emulator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        for line in emulator.stdout:  # type: ignore[union-attr]
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("emulator exited before it was ready")
        ready_s = time.monotonic() - started
        urls = [f"rtsp://{HOST}:{rtsp_port}/cam{i}/main" for i in range(1, cameras + 1)]
        reader = subprocess.Popen(
            [sys.executable, __file__, "--reader", json.dumps([urls, warmup_s, duration_s])],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            json.loads(reader.stdout.readline())  # type: ignore[union-attr]  # connected
            process = psutil.Process(emulator.pid)
            time.sleep(warmup_s)
            cpu_before, wall_before = process.cpu_times(), time.monotonic()
            time.sleep(duration_s)
            cpu_after, wall_after = process.cpu_times(), time.monotonic()
            result = json.loads(reader.stdout.readline())  # type: ignore[union-attr]
            rss = process.memory_info().rss
        finally:
            reader.kill()
            reader.wait()
        cpu_s = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        window = wall_after - wall_before
        return {
            "cameras": cameras,
            "ready_s": ready_s,
            "cpu_cores": cpu_s / window,
            "delivered_mbps_per_stream": result["bytes"] * 8 / result["seconds"] / cameras / 1e6,
            "delivered_mbps_total": result["bytes"] * 8 / result["seconds"] / 1e6,
            "closed": result["closed"],
            "rss_mib": rss / 2**20,
        }
    finally:
        stop_process(emulator, 10)


def format_table(rows: list[dict], bitrate: int, duration_s: float) -> str:
    lines = [
        SECTION,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node() or 'host'}, "
        f"{psutil.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"main streams over RTSP/TCP at {bitrate / 1e6:g} Mbit/s target, one reader per "
        f"stream in a separate process, CPU measured over {duration_s:g} s "
        "(target: 128 streams within about one core).",
        "",
        "| streams | emulator CPU (cores) | delivered Mbit/s per stream | total Mbit/s "
        "| RSS MiB | closed | start-up s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['cameras']} | {row['cpu_cores']:.2f} | "
            f"{row['delivered_mbps_per_stream']:.2f} | {row['delivered_mbps_total']:.0f} | "
            f"{row['rss_mib']:.0f} | {row['closed']} | {row['ready_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it), keep the others."""
    replace_section(path, SECTION, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", help="stream counts (32 64 128)")
    parser.add_argument("--duration", type=float, help="measurement window, s (15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--bitrate", type=int, default=4_000_000, help="main bits/s (4000000)")
    parser.add_argument("--quick", action="store_true", help="short run: 4 and 8 streams, 4 s")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--reader", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        urls, warmup_s, duration_s = json.loads(args.reader)
        reader_main(urls, warmup_s, duration_s)
        return 0
    counts = args.cameras or ([4, 8] if args.quick else [32, 64, 128])
    duration = args.duration or (4.0 if args.quick else 15.0)
    warmup = min(args.warmup, 2.0) if args.quick else args.warmup
    rows = []
    for count in counts:
        row = run_one(count, duration, warmup, args.bitrate)
        print(
            f"{count:4d} streams: {row['cpu_cores']:.2f} cores, "
            f"{row['delivered_mbps_per_stream']:.2f} Mbit/s per stream, closed {row['closed']}",
            flush=True,
        )
        rows.append(row)
    table = format_table(rows, args.bitrate, duration)
    print(table)
    if not args.no_write:
        write_section(table)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
