"""Failover benchmark: kill -9 the node that records N cameras, measure the takeover.

`--nodes` real nodes (`camkeep run`, 3 by default, or 2) on loopback ports, one system,
failover on everywhere, N emulated cameras (`camkeep emulate`) all homed on node A.
After A has recorded all of them for a while it is killed with SIGKILL; the others
take its cameras over. Later A is started again and takes them back
(make-before-break). Every figure is read from the recordings on disk, through the
merged timeline of the recordings API (so it includes the video A lost at the kill,
not flushed to disk):

- takeover time per camera: kill -> start of the first live period recorded by another
  node (the first frame on disk; includes failure detection, planning, RTSP connect
  and waiting for a keyframe);
- video lost at failover: the holes in the merged timeline around the kill;
- video lost at failback: the holes from A's restart on (target: none).

With `--edge` the cameras have edge storage (ONVIF Profile G, added by their ONVIF
address) and gap fill is on: the backups download the hole around the kill from the
cameras. It adds: how long each fill took per second of gap (and the speed, times real
time), and the live video lost on the backups while they filled (holes in their live
periods between the takeover and A's restart), to compare with a run without fill.
`--edge both` runs without and with, one after the other.

The cameras are small (160x120, 5 fps, 50 kbit/s, 1 s GOP) so 128 of them fit on a
2-core machine shared with other work; the figures measure the failover machinery, not
the bitrate. Gossip and planning use the product defaults (gossip interval 0.2 s, dead
after 2 s, plan interval 0.5 s, failback delay 5 s).

    python bench/failover.py                         # 128 cameras, 3 nodes
    python bench/failover.py --quick --nodes 2 3 --edge both   # 16 cameras, 4 runs

Writes the section `## Failover (bench/failover.py)` of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import signal
import socket
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
from emulator.ports import free_port, free_port_block  # noqa: E402
from node.recordings._merge import gaps  # noqa: E402
from recorder import Period  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Failover (bench/failover.py)"
HOST = "127.0.0.1"
OWNER, PASSWORD = "owner", "bench-password-1"
CONFIG = """
segment_seconds = {segment}
licensed_channels = 128
[discovery]
mdns = false
[retention]
min_free_bytes = 1_000_000
[gapfill]
enabled = {edge}
"""
NODE_NAMES = ("a", "b", "c")


def wait_for(predicate: Any, timeout_s: float, what: str, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            value = predicate()
            if value:
                return value
        time.sleep(every_s)
    raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, nodes: int, edge: bool) -> None:
        self.args = args
        self.workdir = workdir
        self.nodes = nodes
        self.edge = edge
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports = {name: free_port(HOST) for name in NODE_NAMES[:nodes]}
        self.rtsp_port = free_port(HOST)
        self.onvif_port = free_port_block(args.cameras, HOST) if edge else 0
        self.config = workdir / "node.toml"
        self.config.write_text(
            CONFIG.format(segment=args.segment, edge="true" if edge else "false")
        )
        self.headers: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.cameras: list[str] = []

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "a")  # noqa: SIM115 - child keeps it
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "node.cli", *argv],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def start_node(self, name: str) -> None:
        argv = ["run", "--config", str(self.config), "--data", str(self.workdir / name)]
        argv += ["--listen", f"{HOST}:{self.ports[name]}", "--name", f"node-{name}"]
        self.spawn(name, argv)
        wait_for(lambda: httpx.get(self.url(name) + "/api/v1/health").status_code == 200, 60,
                 f"node {name}")  # fmt: skip

    def api(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        answer = httpx.request(method, self.url(name) + path, headers=self.headers, **kwargs)
        if answer.status_code not in (200, 201):
            raise SystemExit(f"{method} {path} on {name}: {answer.status_code} {answer.text}")
        return answer.json()

    def form(self) -> None:
        n = self.args.cameras
        onvif = ["--onvif-port", str(self.onvif_port)] if self.edge else ["--no-onvif"]
        self.spawn(
            "cameras",
            ["emulate", "--host", HOST, "--rtsp-port", str(self.rtsp_port), *onvif,
             "--no-wsd", "--no-control", "--cameras", str(n), "--bitrate", "50000",
             "--width", "160", "--height", "120", "--fps", "5", "--gop-seconds", "1"],
        )  # fmt: skip
        for name in self.ports:
            self.start_node(name)
        setup = {"system_name": "bench", "owner": {"username": OWNER, "password": PASSWORD}}
        self.api("a", "POST", "/api/v1/system/setup", json=setup)
        login = {"username": OWNER, "password": PASSWORD}
        token = self.api("a", "POST", "/api/v1/auth/login", json=login)["token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        for name in NODE_NAMES[1 : self.nodes]:
            body = {"url": self.url(name), "owner_username": OWNER, "owner_password": PASSWORD}
            self.api("a", "POST", "/api/v1/servers", json=body)
        for name in self.ports:
            self.ids[name] = self.api(name, "GET", "/api/v1/health")["node_id"]
        for name in self.ports:
            body = {"enabled": True, "max_cameras": 128}
            self.api("a", "PUT", f"/api/v1/servers/{self.ids[name]}/failover", json=body)
        wait_for(lambda: socket.create_connection((HOST, self.rtsp_port), 1).close() or True, 120,
                 "the cameras")  # fmt: skip
        for i in range(1, n + 1):
            body = {
                "name": f"cam{i}",
                "home_server_id": self.ids["a"],
                "priority": "high",
            }
            if self.edge:  # by ONVIF address: the node can ask for the camera's recording
                body["onvif"] = {"host": HOST, "port": self.onvif_port + i - 1}
            else:
                body["rtsp_url"] = f"rtsp://{HOST}:{self.rtsp_port}/cam{i}/main"
            self.cameras.append(self.api("a", "POST", "/api/v1/cameras", json=body)["id"])

    def recording_on(self, name: str) -> set[str]:
        cams = self.api(name, "GET", "/api/v1/cameras", timeout=10)
        return {c["id"] for c in cams if c["status"]["state"] == "recording"}

    def run(self) -> dict[str, Any]:
        n = len(self.cameras)
        wait_for(lambda: len(self.recording_on("a")) == n, 120, f"{n} cameras recording on A",
                 every_s=1)  # fmt: skip
        time.sleep(self.args.steady)
        killed_at = datetime.now(UTC)
        self.procs["a"].send_signal(signal.SIGKILL)
        self.procs["a"].wait()
        t0 = time.monotonic()
        backups = NODE_NAMES[1 : self.nodes]

        def on_backups() -> set[str]:
            return set().union(*(self.recording_on(name) for name in backups))

        wait_for(lambda: len(on_backups()) == n, 120, "every camera recording on a backup",
                 every_s=0.5)  # fmt: skip
        seen_all_s = time.monotonic() - t0
        fills: list[dict[str, Any]] = []
        if self.edge:

            def filled() -> bool:
                fills[:] = [  # the holes around the kill (not those of the start-up)
                    f
                    for name in backups
                    for f in self.api(name, "GET", "/api/v1/gapfill")["fills"]
                    if datetime.fromisoformat(f["end"].replace("Z", "+00:00")) >= killed_at
                ]
                return {f["camera_id"] for f in fills} >= set(self.cameras)

            wait_for(filled, 180, "every camera's hole filled from its storage", every_s=0.5)
        time.sleep(self.args.steady)
        sets = {name: self.recording_on(name) for name in backups}
        spread = {name: len(cams) for name, cams in sets.items()}
        spread["both"] = len(set.intersection(*sets.values())) if len(sets) > 1 else 0
        restored_at = datetime.now(UTC)
        self.start_node("a")
        t1 = time.monotonic()
        wait_for(
            lambda: len(self.recording_on("a")) == n and not on_backups(),
            180,
            "every camera back on A only",
            every_s=0.5,
        )
        failback_s = time.monotonic() - t1
        time.sleep(self.args.segment + 3)  # the last segments close on every node
        end = datetime.now(UTC) - timedelta(seconds=self.args.segment + 1)
        takeover, lost_failover, lost_failback, lost_live = [], [], [], []
        for camera_id in self.cameras:
            params = {
                "start": (killed_at - timedelta(seconds=30)).isoformat(),
                "end": end.isoformat(),
            }
            periods = [
                Period(
                    start=datetime.fromisoformat(p["start"].replace("Z", "+00:00")),
                    end=datetime.fromisoformat(p["end"].replace("Z", "+00:00")),
                    server_id=p["server_id"],
                    source=p.get("source", "live"),
                )
                for p in self.api(
                    "a", "GET", f"/api/v1/cameras/{camera_id}/recordings", params=params
                )["periods"]
            ]
            backup = [
                p
                for p in periods
                if p.server_id != self.ids["a"] and p.start >= killed_at and p.source == "live"
            ]
            if backup:
                first = min(p.start for p in backup)
                takeover.append((first - killed_at).total_seconds())
                # live ingest on the backups while they filled: their live periods only
                live = [p for p in periods if p.source == "live"]
                holes = gaps(live, first + timedelta(seconds=1), restored_at)
                lost_live.append(sum((b - a).total_seconds() for a, b in holes))
            holes = gaps(periods, killed_at - timedelta(seconds=5), restored_at)
            lost_failover.append(sum((b - a).total_seconds() for a, b in holes))
            holes = gaps(periods, restored_at, end)
            lost_failback.append(sum((b - a).total_seconds() for a, b in holes))
        return {
            "cameras": n,
            "nodes": self.nodes,
            "edge": self.edge,
            "fills": fills,
            "lost_live": lost_live,
            "taken_over": len(takeover),
            "takeover": takeover,
            "lost_failover": lost_failover,
            "lost_failback": lost_failback,
            "seen_all_s": seen_all_s,
            "failback_s": failback_s,
            "spread": spread,
        }

    def close(self) -> None:
        stop_process_groups(self.procs.values())


INTRO = (
    "Two or three `camkeep run` nodes on loopback, failover on everywhere, N emulated cameras"
    " (160x120, 5 fps, 50 kbit/s, 1 s GOP: small so a 2-core machine shared with other"
    " work keeps up; the figures measure failover, not bitrate) all homed on node A;"
    " product defaults for gossip (dead after 2 s), planning (0.5 s) and failback delay"
    " (5 s: a restarted node leaves its cameras with the backup that long). A records them,"
    " is killed with SIGKILL, B and C take over, A is started again. Figures read from the"
    " recordings on disk (the merged timeline of the recordings API). Target:"
    " takeover p95 <= 3 s with 128 cameras, <= 3 s lost at failover, none at"
    " failback. Reproduce: `python bench/failover.py` (128 cameras) or `--quick` (16)."
)


def subsection(result: dict[str, Any], args: argparse.Namespace) -> tuple[str, str]:
    """(title, body) of one run."""

    def row(label: str, values: list[float]) -> str:
        return (
            f"| {label} | {percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f} |"
            f" {max(values, default=float('nan')):.2f} |"
        )

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    edge = "edge storage and gap fill" if result["edge"] else "no edge fill"
    title = f"### {result['cameras']} cameras, {result['nodes']} nodes, {edge}"
    lines = [
        f"{when}, {platform.machine()}, {os.cpu_count()} CPUs, Python"
        f" {platform.python_version()}; segments {args.segment:g} s; {args.steady:g} s"
        " between kill, restart and measurement.",
        "",
        "| figure (s, per camera) | p50 | p95 | max |",
        "|---|---:|---:|---:|",
        row("kill -> first frame on disk at a backup", result["takeover"]),
        row("video lost at failover", result["lost_failover"]),
        row("video lost at failback", result["lost_failback"]),
        row("live video lost on the backups (takeover -> restart)", result["lost_live"]),
    ]
    fills = result["fills"]
    if fills:
        per_second = [f["took_s"] / f["gap_s"] for f in fills if f["gap_s"] > 0]
        speed = [f["gap_s"] / f["took_s"] for f in fills if f["took_s"] > 0]
        lines += [
            row("fill time per second of gap", per_second),
            f"| fill speed, times real time (higher is better) | {percentile(speed, 0.5):.0f} |"
            f" {percentile(speed, 0.05):.0f} (p5) | {min(speed, default=float('nan')):.0f}"
            " (min) |",
        ]
    spread = ", ".join(f"{k.upper()} {v}" for k, v in result["spread"].items() if k != "both")
    lines += [
        "",
        f"Taken over: {result['taken_over']}/{result['cameras']} cameras; {args.steady:g} s"
        f" later {spread}, on two at once {result['spread']['both']}. Every camera seen"
        f" recording on a backup by the API {result['seen_all_s']:.1f} s after the kill"
        f" (0.5 s polling); every camera back on A only {result['failback_s']:.1f} s after A"
        " was started." + (f" {len(fills)} fills." if fills else ""),
    ]
    return title, "\n".join(lines)


def section(title: str, body: str, path: Path = RESULTS) -> str:
    """This benchmark's section with this run's subsection replaced, others kept."""
    old = path.read_text() if path.exists() else ""
    found = re.search(rf"^{re.escape(SECTION)}\n(.*?)(?=^## |\Z)", old, re.S | re.M)
    runs: dict[str, str] = {}
    if found:
        for part in re.split(r"^(?=### )", found.group(1), flags=re.M):
            if part.startswith("### "):
                head, _, rest = part.partition("\n")
                runs[head.strip()] = rest.strip()
    runs[title] = body

    def order(item: tuple[str, str]) -> tuple[int, str]:
        numbers = re.findall(r"\d+", item[0])
        return (-int(numbers[0]) if numbers else 0, item[0])

    ordered = sorted(runs.items(), key=order)
    parts = [SECTION, "", INTRO, ""]
    for head, text in ordered:
        parts += [head, "", text, ""]
    return "\n".join(parts)


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it), keep the others."""
    replace_section(path, SECTION, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=128, help="cameras on node A (128)")
    parser.add_argument("--quick", action="store_true", help="16 cameras, shorter waits")
    parser.add_argument("--segment", type=float, default=2.0, help="segment seconds (2)")
    parser.add_argument("--steady", type=float, default=10.0, help="seconds between steps")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--nodes", type=int, nargs="+", default=[3], choices=(2, 3),
                        help="nodes in the system, one run each (3)")  # fmt: skip
    parser.add_argument("--edge", choices=("off", "on", "both"), default="off",
                        help="cameras with edge storage and gap fill on (off)")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.cameras = min(args.cameras, 16)
        args.steady = min(args.steady, 6.0)
    if not 1 <= args.cameras <= 128:
        parser.error("--cameras must be 1-128")
    edges = {"off": [False], "on": [True], "both": [False, True]}[args.edge]
    for nodes in args.nodes:
        for edge in edges:
            workdir = Path(tempfile.mkdtemp(prefix="camkeep-bench-failover-"))
            bench = Bench(args, workdir, nodes, edge)
            try:
                bench.form()
                result = bench.run()
            finally:
                bench.close()
                if not args.keep:
                    import shutil

                    shutil.rmtree(workdir, ignore_errors=True)
                else:
                    print(f"work folder kept: {workdir}")
            title, body = subsection(result, args)
            print(f"{title}\n\n{body}\n", flush=True)
            text = section(title, body)
            if not args.no_write:
                write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
