"""Gap fill benchmark: cameras cut off from the network for a minute while they keep
recording on their own storage; how fast the node fills the hole, and whether live
recording of the other cameras suffers meanwhile.

One `camkeep run` node on loopback records N + M emulated cameras with edge storage
(ONVIF Profile G, added by their ONVIF address). The first N are cut off (emulator
fault "cut": RTSP sessions torn down, new connections hang, the camera keeps
recording) for `--cut` seconds (60), then come back; the node downloads their holes.
The M others stay connected the whole time: the holes in their live periods over the
run are the live-ingest loss the fills could cause (to compare with a run without fill,
`--no-fill`). Figures from the node's fill log (`GET /api/v1/gapfill`) and the merged
timeline:

- fill time per second of gap, and the speed in times real time, per camera;
- return -> hole filled (camera reconnects, settle, ONVIF queries, download);
- video lost over the cut after the fill (target 0.0 s);
- live video lost by the connected cameras during the run.

    python bench/gapfill.py            # 8 cut, 8 connected, 60 s
    python bench/gapfill.py --quick    # 4 cut, 4 connected, 20 s

Writes the section `## Gap fill (bench/gapfill.py)` of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import replace_section, stop_process_groups  # noqa: E402
from bench.failover import HOST, OWNER, PASSWORD, percentile, wait_for  # noqa: E402
from emulator.ports import free_port, free_port_block  # noqa: E402
from node.recordings._merge import gaps  # noqa: E402
from recorder import Period  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Gap fill (bench/gapfill.py)"
CONFIG = """
segment_seconds = 10
[discovery]
mdns = false
[retention]
min_free_bytes = 1_000_000
[gapfill]
enabled = {fill}
sweep_interval_s = 5.0
"""


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.total = args.cut_cameras + args.live_cameras
        self.port = free_port(HOST)
        self.rtsp_port, self.control_port = free_port(HOST), free_port(HOST)
        self.onvif_port = free_port_block(self.total, HOST)
        self.headers: dict[str, str] = {}
        self.cameras: list[str] = []
        (workdir / "node.toml").write_text(CONFIG.format(fill="false" if args.no_fill else "true"))

    def spawn(self, name: str, argv: list[str]) -> None:
        with open(self.workdir / f"{name}.log", "a") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "node.cli", *argv], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        url = f"http://{HOST}:{self.port}{path}"
        answer = httpx.request(method, url, headers=self.headers, **kwargs)
        if answer.status_code not in (200, 201):
            raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def fault(self, index: int, mode: str) -> None:
        url = f"http://{HOST}:{self.control_port}/cameras/{index}/fault"
        httpx.post(url, json={"mode": mode}, timeout=10).raise_for_status()

    def form(self) -> None:
        a = self.args
        self.spawn(
            "cameras",
            ["emulate", "--host", HOST, "--cameras", str(self.total), "--rtsp-port",
             str(self.rtsp_port), "--onvif-port", str(self.onvif_port), "--control-port",
             str(self.control_port), "--no-wsd", "--width", str(a.width), "--height",
             str(a.height), "--bitrate", str(a.bitrate), "--gop-seconds", "1"],
        )  # fmt: skip
        config, data = self.workdir / "node.toml", self.workdir / "node"
        listen = f"{HOST}:{self.port}"
        argv = ["run", "--config", str(config), "--data", str(data), "--listen", listen]
        self.spawn("node", [*argv, "--name", "bench"])
        wait_for(lambda: self.api("GET", "/api/v1/health"), 60, "the node")
        setup = {"system_name": "bench", "owner": {"username": OWNER, "password": PASSWORD}}
        self.api("POST", "/api/v1/system/setup", json=setup)
        login = {"username": OWNER, "password": PASSWORD}
        self.headers = {
            "Authorization": f"Bearer {self.api('POST', '/api/v1/auth/login', json=login)['token']}"
        }
        wait_for(lambda: httpx.get(f"http://{HOST}:{self.control_port}/cameras", timeout=2),
                 180, "the cameras")  # fmt: skip
        for i in range(1, self.total + 1):
            body = {"name": f"cam{i}", "onvif": {"host": HOST, "port": self.onvif_port + i - 1}}
            self.cameras.append(self.api("POST", "/api/v1/cameras", json=body)["id"])

    def recording(self) -> set[str]:
        return {
            c["id"]
            for c in self.api("GET", "/api/v1/cameras")
            if c["status"]["state"] == "recording"
        }

    def periods(self, camera_id: str, start: datetime, end: datetime) -> list[Period]:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        answer = self.api("GET", f"/api/v1/cameras/{camera_id}/recordings", params=params)
        return [
            Period(parse(p["start"]), parse(p["end"]), p["server_id"], p.get("source", "live"))
            for p in answer["periods"]
        ]

    def run(self) -> dict[str, Any]:
        a = self.args
        wait_for(lambda: self.recording() == set(self.cameras), 120, "every camera recording")
        time.sleep(5)
        cut = range(1, a.cut_cameras + 1)
        started = datetime.now(UTC)
        for i in cut:
            self.fault(i, "cut")
        time.sleep(a.cut)
        for i in cut:
            self.fault(i, "ok")
        back = datetime.now(UTC)
        t0 = time.monotonic()
        cut_ids = self.cameras[: a.cut_cameras]
        filled_after: dict[str, float] = {}
        fills: list[dict[str, Any]] = []
        if not a.no_fill:

            def all_filled() -> bool:
                fills[:] = [f for f in self.api("GET", "/api/v1/gapfill")["fills"]
                            if parse(f["end"]) >= started]  # fmt: skip
                for f in fills:
                    filled_after.setdefault(f["camera_id"], time.monotonic() - t0)
                return set(filled_after) >= set(cut_ids)

            wait_for(all_filled, 300, "every cut camera's hole filled", every_s=0.5)
        time.sleep(15)
        end = datetime.now(UTC) - timedelta(seconds=12)
        start = started - timedelta(seconds=5)
        lost_cut, lost_live = [], []
        for camera_id in self.cameras:
            periods = self.periods(camera_id, start, end)
            holes = gaps(periods, start, end)
            lost = sum((h[1] - h[0]).total_seconds() for h in holes)
            (lost_cut if camera_id in cut_ids else lost_live).append(lost)
        return {
            "fills": fills,
            "filled_after": list(filled_after.values()),
            "lost_cut": lost_cut,
            "lost_live": lost_live,
            "returned_s": (end - back).total_seconds(),
        }

    def close(self) -> None:
        stop_process_groups(self.procs.values())


def subsection(result: dict[str, Any], args: argparse.Namespace) -> tuple[str, str]:
    def row(label: str, values: list[float]) -> str:
        return (
            f"| {label} | {percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f} |"
            f" {max(values, default=float('nan')):.2f} |"
        )

    fills = result["fills"]
    per_second = [f["took_s"] / f["gap_s"] for f in fills if f["gap_s"] > 0]
    speed = [f["gap_s"] / f["took_s"] for f in fills if f["took_s"] > 0]
    mode = "without fill" if args.no_fill else "with fill"
    title = f"### {args.cut:g} s cut, {args.cut_cameras} + {args.live_cameras} cameras, {mode}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{when}, {platform.machine()}, {os.cpu_count()} CPUs (shared), Python"
        f" {platform.python_version()}; cameras {args.width}x{args.height} H.264 25 fps"
        f" {args.bitrate / 1e6:g} Mbit/s, GOP 1 s; fills at most 4 MB/s and 2 at once"
        " (the defaults).",
        "",
        "| figure (per camera) | p50 | p95 | max |",
        "|---|---:|---:|---:|",
        row("video lost over the cut (s)", result["lost_cut"]),
        row("live video lost by the connected cameras (s)", result["lost_live"]),
    ]
    if fills:
        lines += [
            row("return -> hole filled (s)", result["filled_after"]),
            row("fill time per second of gap (s)", per_second),
            f"| fill speed, times real time | {percentile(speed, 0.5):.0f} |"
            f" {percentile(speed, 0.05):.0f} (p5) | {min(speed):.0f} (min) |",
        ]
    return title, "\n".join(lines)


INTRO = (
    "One node records cameras with edge storage (ONVIF Profile G); some are cut off from"
    " the network (emulator fault `cut`: the camera keeps recording) and come back, the"
    " others stay connected. Target: the hole filled (0.0 s lost), a fill faster than 5x"
    " real time per camera, no more live video lost by the connected cameras than"
    " without fill. Reproduce: `python bench/gapfill.py` (60 s, 8 + 8 cameras), `--quick`"
    " (20 s, 4 + 4), `--no-fill` for the comparison."
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cut", type=float, default=60.0, help="seconds cut off (60)")
    parser.add_argument("--cut-cameras", type=int, default=8)
    parser.add_argument("--live-cameras", type=int, default=8)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--bitrate", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20 s, 4 + 4 cameras")
    parser.add_argument("--no-fill", action="store_true", help="gap fill off, for comparison")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.cut, args.cut_cameras, args.live_cameras = 20.0, 4, 4
    workdir = Path(tempfile.mkdtemp(prefix="camkeep-bench-gapfill-"))
    bench = Bench(args, workdir)
    try:
        bench.form()
        result = bench.run()
    finally:
        bench.close()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    title, body = subsection(result, args)
    print(f"{title}\n\n{body}")
    if not args.no_write:
        old = RESULTS.read_text() if RESULTS.exists() else ""
        import re

        found = re.search(rf"^{re.escape(SECTION)}\n(.*?)(?=^## |\Z)", old, re.S | re.M)
        runs: dict[str, str] = {}
        if found:
            for part in re.split(r"^(?=### )", found.group(1), flags=re.M):
                if part.startswith("### "):
                    head, _, rest = part.partition("\n")
                    runs[head.strip()] = rest.strip()
        runs[title] = body
        parts = [SECTION, "", INTRO, ""]
        for head, text in sorted(runs.items()):
            parts += [head, "", text, ""]
        replace_section(RESULTS, SECTION, "\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
