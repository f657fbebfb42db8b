"""Benchmark: CPU and memory of one RecorderService process recording N RTSP streams,
against `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` recording the same
streams (one ffmpeg per stream, CPU summed), in the same run.

For each N (16, 64, 128 by default): start `camkeep emulate --cameras N` in a
subprocess; start a recorder worker process (RecorderService, 60 s segments) and note
its RSS; give it the N cameras and, at the same time, start N ffmpeg processes on the
same streams; after a warm-up, measure the CPU (psutil, user+system) of the recorder
process and of all ffmpeg processes over the same window, and the recorder's RSS. The
ratio is recorder CPU / summed ffmpeg CPU (target <= 0.5: recording must cost at most
half of what `ffmpeg -c copy` costs), memory per stream is the recorder's RSS growth / N
(target <= 8 MiB). Prints a table and writes the section `## Ingest (bench/ingest.py)`
of bench/RESULTS.md.

    python bench/ingest.py                  # 16, 64, 128 streams, 20 s windows
    python bench/ingest.py --quick          # 4 streams, 6 s window
    python bench/ingest.py --streams 32 --duration 10 --bitrate 2000000
    python bench/ingest.py --quick --ingest both   # also FFmpeg's RTSP client in the node
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from emulator.ports import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Ingest (bench/ingest.py)"
HOST = "127.0.0.1"
MIB = 1024 * 1024


# ---- worker process: one RecorderService ------------------------------------------


async def worker_main(rec_dir: Path, urls: list[str], fast_ingest: bool) -> None:
    """Start the service, print "ready", read "go", record `urls`, print "recording" once
    every camera records, print a JSON summary and exit when stdin says "stop"."""
    sys.path.insert(0, str(ROOT))
    from recorder import CameraSource, RecorderService

    service = RecorderService(
        rec_dir, rec_dir / "index.db", "bench", segment_seconds=60.0, fast_ingest=fast_ingest
    )
    await service.start()
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await service.set_cameras(
        {f"b{i}": CameraSource(f"b{i}", url) for i, url in enumerate(urls, start=1)}
    )
    while not all(s.state == "recording" for s in service.statuses().values()):
        await asyncio.sleep(0.2)
    print("recording", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    statuses = service.statuses()
    summary = {
        "recording": sum(s.state == "recording" for s in statuses.values()),
        "mbps": sum(s.bitrate_bps for s in statuses.values()) / 1e6,
        "fps": sum(s.fps for s in statuses.values()) / max(1, len(statuses)),
    }
    await service.stop()
    print(json.dumps(summary), flush=True)


# ---- driver ------------------------------------------------------------------------


def _cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _wait_line(process: subprocess.Popen, expected: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for line in process.stdout:  # type: ignore[union-attr]
        if line.strip() == expected:
            return
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"process did not say {expected!r}")


def run_one(
    streams: int,
    duration_s: float,
    warmup_s: float,
    args: argparse.Namespace,
    ffmpeg_ingest: bool,
) -> dict:
    rtsp_port = free_port(HOST)
    work = Path(tempfile.mkdtemp(prefix="ckbench-ingest-"))
    emulator = recorder = None
    ffmpegs: list[subprocess.Popen] = []
    try:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "emulate", "--cameras", str(streams),
             "--rtsp-port", str(rtsp_port), "--onvif-port", "0", "--no-control", "--no-wsd",
             "--no-onvif", "--bitrate", str(args.bitrate), "--width", str(args.width),
             "--height", str(args.height)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_line(emulator, "ready", 600)
        urls = [f"rtsp://{HOST}:{rtsp_port}/cam{i}/main" for i in range(1, streams + 1)]
        recorder = subprocess.Popen(
            [sys.executable, __file__, "--worker",
             json.dumps([str(work / "node"), urls, not ffmpeg_ingest])],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        _wait_line(recorder, "ready", 60)
        node = psutil.Process(recorder.pid)
        rss_before = node.memory_info().rss
        recorder.stdin.write("go\n")  # type: ignore[union-attr]
        recorder.stdin.flush()  # type: ignore[union-attr]
        if not args.no_ffmpeg:
            for i, url in enumerate(urls, start=1):
                out = work / "ffmpeg" / f"s{i}"
                out.mkdir(parents=True)
                ffmpegs.append(
                    subprocess.Popen(
                        [
                            "ffmpeg",
                            "-nostdin",
                            "-loglevel",
                            "error",
                            "-rtsp_transport",
                            "tcp",
                            "-i",
                            url,
                            "-c",
                            "copy",
                            "-f",
                            "segment",
                            "-segment_time",
                            "60",
                            "-segment_format",
                            "mp4",
                            "-reset_timestamps",
                            "1",
                            str(out / "%05d.mp4"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        _wait_line(recorder, "recording", 120)
        time.sleep(warmup_s)
        ff = [psutil.Process(p.pid) for p in ffmpegs if p.poll() is None]
        load0 = os.getloadavg()[0]
        times0, switches0 = node.cpu_times(), node.num_ctx_switches()
        node_cpu0, ff_cpu0, t0 = _cpu_s([node]), _cpu_s(ff), time.monotonic()
        time.sleep(duration_s)
        node_cpu1, ff_cpu1, t1 = _cpu_s([node]), _cpu_s(ff), time.monotonic()
        times1, switches1 = node.cpu_times(), node.num_ctx_switches()
        load1 = os.getloadavg()[0]
        rss_after = node.memory_info().rss
        ff_alive = sum(p.poll() is None for p in ffmpegs)
        recorder.stdin.write("stop\n")  # type: ignore[union-attr]
        recorder.stdin.flush()  # type: ignore[union-attr]
        summary = json.loads(recorder.stdout.readline() or "{}")  # type: ignore[union-attr]
        recorder.wait(60)
        window = t1 - t0
        node_cores = (node_cpu1 - node_cpu0) / window
        ff_cores = (ff_cpu1 - ff_cpu0) / window if ff else float("nan")
        return {
            "streams": streams,
            "reader": "FFmpeg (PyAV)" if ffmpeg_ingest else "own",
            "node_cores": node_cores,
            "ffmpeg_cores": ff_cores,
            "ratio": node_cores / ff_cores if ff and ff_cores > 0 else float("nan"),
            "rss_mib_per_stream": (rss_after - rss_before) / MIB / streams,
            "rss_mib": rss_after / MIB,
            "recording": summary.get("recording", 0),
            "mbps_per_stream": summary.get("mbps", 0.0) / streams,
            "fps": summary.get("fps", 0.0),
            "ffmpeg_alive": ff_alive,
            "node_sys_share": (times1.system - times0.system) / max(1e-9, node_cpu1 - node_cpu0),
            "node_switches_per_s": (
                switches1.voluntary
                + switches1.involuntary
                - switches0.voluntary
                - switches0.involuntary
            )
            / window,
            "load": (load0 + load1) / 2,
        }
    finally:
        for process in [*ffmpegs, recorder, emulator]:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(work, ignore_errors=True)


def format_table(rows: list[dict], args: argparse.Namespace, duration_s: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"{when}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; emulated main streams {args.width}x{args.height} "
        f"H.264 at {args.bitrate / 1e6:g} Mbit/s over RTSP/TCP; recorder = one RecorderService "
        "process (60 s fragmented-MP4 segments, 0.6 s fragments, muxed by PyAV; RTSP read by "
        "its own RTSP/TCP client, or by FFmpeg's through PyAV); ffmpeg = one "
        "`ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` per stream, CPU summed; both "
        f"record the same streams at the same time; CPU over {duration_s:g} s after warm-up. "
        "Targets: ratio <= 0.5, 128 streams with the node <= 0.5 core, "
        "<= 8 MiB per stream.",
        "",
        "| streams | recorder RTSP reader | recorder CPU (cores) "
        "| ffmpeg CPU (cores, summed) | ratio "
        "| recorder ms CPU/s per stream | RSS growth MiB/stream | recorder RSS MiB "
        "| recording | Mbit/s per stream | fps | recorder sys share "
        "| recorder ctx switches/s | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['streams']} | {row['reader']} | {row['node_cores']:.3f} | "
            f"{row['ffmpeg_cores']:.3f} | "
            f"{row['ratio']:.2f} | {1000 * row['node_cores'] / row['streams']:.2f} | "
            f"{row['rss_mib_per_stream']:.2f} | {row['rss_mib']:.0f} | "
            f"{row['recording']}/{row['streams']} | {row['mbps_per_stream']:.2f} | "
            f"{row['fps']:.1f} | {row['node_sys_share']:.2f} | "
            f"{row['node_switches_per_s']:.0f} | {row['load']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it), keep the others."""
    replace_section(path, SECTION, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", help="stream counts (16 64 128)")
    parser.add_argument("--duration", type=float, help="measurement window, s (20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--bitrate", type=int, default=4_000_000, help="bits/s (4000000)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--no-ffmpeg", action="store_true", help="recorder only (no ratio)")
    parser.add_argument(
        "--ingest",
        choices=["own", "ffmpeg", "both"],
        default="own",
        help="recorder's RTSP reader: its own client, FFmpeg's (PyAV), or both in turn",
    )
    parser.add_argument("--quick", action="store_true", help="short run: 4 streams, 6 s")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        rec_dir, urls, fast = json.loads(args.worker)
        asyncio.run(worker_main(Path(rec_dir), urls, fast))
        return 0
    counts = args.streams or ([4] if args.quick else [16, 64, 128])
    duration = args.duration or (6.0 if args.quick else 20.0)
    warmup = min(args.warmup, 3.0) if args.quick else args.warmup
    rows = []
    modes = {"own": [False], "ffmpeg": [True], "both": [False, True]}[args.ingest]
    for count, ffmpeg_ingest in itertools.product(counts, modes):
        row = run_one(count, duration, warmup, args, ffmpeg_ingest)
        print(
            f"{count:4d} streams ({row['reader']}): recorder {row['node_cores']:.3f} cores, ffmpeg "
            f"{row['ffmpeg_cores']:.3f} cores, ratio {row['ratio']:.2f}, "
            f"{row['rss_mib_per_stream']:.2f} MiB/stream",
            flush=True,
        )
        rows.append(row)
    table = format_table(rows, args, duration)
    print(table)
    if not args.no_write:
        write_section(table)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
