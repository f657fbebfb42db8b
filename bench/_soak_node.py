"""Soaks of one node on loopback: the flap soak and the long run.

One `camkeep emulate` and one `camkeep run` (both started with start_process, so they
die with the soak), the node set up with N cameras by RTSP URL. The node process is
sampled with psutil (RSS, open files, threads, sockets); `slope_per_hour` fits a
least-squares line to the samples after warm-up, so "flat" is a number, not a look.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from emulator.ports import free_port
from node.cli import start_process, stop_process
from node.recordings._merge import gaps
from recorder import Period
from recorder._periods import GAP_TOLERANCE_MS

HOST = "127.0.0.1"
OWNER, PASSWORD = "owner", "soak-password-1"
CAMERA = ["--width", "320", "--height", "240", "--fps", "10", "--gop-seconds", "1"]
CONFIG = """
segment_seconds = {segment}
licensed_channels = 128
[discovery]
mdns = false
[retention]
min_free_bytes = 1_000_000
"""


def camkeep(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "node.cli", *args]


def wait(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (httpx.HTTPError, KeyError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


def slope_per_hour(samples: list[tuple[float, float]], warmup_fraction: float = 0.3) -> float:
    """Least-squares slope of (monotonic s, value) after the warm-up, per hour."""
    kept = samples[int(len(samples) * warmup_fraction) :]
    if len(kept) < 2:
        return 0.0
    n = len(kept)
    mean_t = sum(t for t, _ in kept) / n
    mean_v = sum(v for _, v in kept) / n
    var = sum((t - mean_t) ** 2 for t, _ in kept)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in kept)
    return cov / var * 3600.0


@dataclass
class Usage:
    """Samples of the node process: name -> [(monotonic s, value)]."""

    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def sample(self, process: psutil.Process) -> None:
        now = time.monotonic()
        with process.oneshot():
            values = {
                "rss_mib": process.memory_info().rss / 2**20,
                "open_files": float(process.num_fds()),
                "threads": float(process.num_threads()),
                "sockets": float(len(process.net_connections(kind="inet"))),
            }
        for name, value in values.items():
            self.series.setdefault(name, []).append((now, value))

    def first_last(self, name: str) -> tuple[float, float]:
        values = self.series[name]
        return values[0][1], values[-1][1]

    def slopes(self) -> dict[str, float]:
        return {name: slope_per_hour(values) for name, values in self.series.items()}


class LoopbackNode:
    """An emulator with `cameras` small cameras and one node recording all of them."""

    def __init__(
        self, cameras: int, *, segment_s: int = 10, node_env: dict[str, str] | None = None
    ) -> None:
        self.cameras = cameras
        self.node_env = node_env or {}
        self._temp = tempfile.TemporaryDirectory(prefix="camkeep-soak-")
        self.data = Path(self._temp.name)
        self.rtsp, self.control, self.port = free_port(), free_port(), free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.control_url = f"http://{HOST}:{self.control}"
        (self.data / "node.toml").write_text(CONFIG.format(segment=segment_s))
        self.procs: list[Any] = []
        self.camera_ids: list[str] = []
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.segment_s = segment_s

    def __enter__(self) -> LoopbackNode:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> Any:
        out = open(self.data / log, "w")  # noqa: SIM115 - the child's log, open for its life
        process = start_process(argv, stdout=out, stderr=out, env=env)
        self.procs.append(process)
        return process

    def start(self) -> None:
        emulate = ["emulate", "--host", HOST, "--cameras", str(self.cameras), "--no-wsd"]
        emulate += ["--no-onvif", "--rtsp-port", str(self.rtsp), "--control-port"]
        emulate += [str(self.control), "--bitrate", "150000", "--no-edge-storage", *CAMERA]
        self._spawn(camkeep(*emulate), "emulator.log")
        argv = ["run", "--config", str(self.data / "node.toml"), "--data"]
        argv += [str(self.data / "node"), "--listen", f"{HOST}:{self.port}", "--name", "soak"]
        self.node = self._spawn(camkeep(*argv), "node.log", {**os.environ, **self.node_env})
        wait(lambda: httpx.get(f"{self.control_url}/cameras", timeout=2).status_code == 200,
             180, "the emulator")  # fmt: skip
        wait(lambda: self.client.get("/api/v1/health").status_code == 200, 60, "the node")
        setup = {"system_name": "soak", "owner": {"username": OWNER, "password": PASSWORD}}
        self.client.post("/api/v1/system/setup", json=setup).raise_for_status()
        login = self.client.post(
            "/api/v1/auth/login", json={"username": OWNER, "password": PASSWORD}
        )
        self.client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        for index in range(1, self.cameras + 1):
            body = {"name": f"cam{index}", "rtsp_url": f"rtsp://{HOST}:{self.rtsp}/cam{index}/main"}
            answer = self.client.post("/api/v1/cameras", json=body)
            answer.raise_for_status()
            self.camera_ids.append(answer.json()["id"])
        wait(lambda: all(s == "recording" for s in self.states().values()), 60, "recording")

    def close(self) -> None:
        for process in reversed(self.procs):
            stop_process(process, 15)
        self.client.close()
        self._temp.cleanup()

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.node.pid)

    def states(self) -> dict[str, str]:
        cams = self.client.get("/api/v1/cameras", timeout=5).json()
        return {c["id"]: c["status"]["state"] for c in cams}

    def fault(self, index: int, mode: str) -> None:
        answer = httpx.post(f"{self.control_url}/cameras/{index}/fault", json={"mode": mode})
        answer.raise_for_status()

    def holes(self, camera_id: str, start: datetime, end: datetime, min_s: float) -> list[float]:
        """Lengths of the holes longer than `min_s` in the camera's timeline."""
        return [(b - a).total_seconds() for a, b in self.hole_spans(camera_id, start, end, min_s)]

    def hole_spans(
        self, camera_id: str, start: datetime, end: datetime, min_s: float
    ) -> list[tuple[datetime, datetime]]:
        """The holes longer than `min_s` in the camera's timeline, as (start, end)."""
        params = {"start": start.isoformat(), "end": end.isoformat()}
        answer = self.client.get(f"/api/v1/cameras/{camera_id}/recordings", params=params)
        answer.raise_for_status()
        periods = [
            Period(
                start=datetime.fromisoformat(p["start"].replace("Z", "+00:00")),
                end=datetime.fromisoformat(p["end"].replace("Z", "+00:00")),
                server_id=p["server_id"],
            )
            for p in answer.json()["periods"]
        ]
        return [(a, b) for a, b in gaps(periods, start, end) if (b - a).total_seconds() > min_s]


FAULT_MODES = ("drop", "stall", "offline")


@dataclass
class FlapResult:
    faults: int
    reconnected: int
    holes: int  # holes in the timeline (longer than a frame)
    long_outages: int  # outages longer than the timeline joins (held faults, slow reconnects)
    outages_as_holes: int  # long outages (as the node reported them) that are a hole
    duration_s: float
    usage: Usage
    by_mode: dict[str, int]
    cameras: int = 1  # flapping side by side


# The merged timeline joins segments less than GAP_TOLERANCE_MS apart into one period
# (segment cuts and reconnect jitter are not holes), so a fault is held longer than
# that after the node sees it: then its outage must show as a hole. A "drop" closes the
# session once and the node may be back before the hold ends; such an outage counts
# only when it lasted longer than the joining (plus the lag of the node's state report).
FLAP_FAULT_S = 2.5
LONG_OUTAGE_S = GAP_TOLERANCE_MS / 1000 + 0.3


def _hold_fault(node: LoopbackNode, camera_id: str, fault_s: float) -> datetime | None:
    """Keep the fault for `fault_s`; when the node reported recording again meanwhile."""
    until = time.monotonic() + fault_s
    while time.monotonic() < until:
        if node.states()[camera_id] == "recording":
            return datetime.now(UTC)
        time.sleep(0.1)
    return None


def _flap_camera(
    node: LoopbackNode,
    index: int,
    faults: list[int],
    fault_s: float,
    on_reconnected: Callable[[int, str], None],
) -> list[tuple[datetime, datetime]]:
    """Fault camera `index` (1-based) once per number in `faults` (the fault's number
    picks its mode); the node must reconnect each time. Returns the outages: the node
    reporting the camera not recording, from when it saw the fault to when it was back
    (or the fault was cleared)."""
    camera_id = node.camera_ids[index - 1]
    outages: list[tuple[datetime, datetime]] = []
    for number in faults:
        mode = FAULT_MODES[number % len(FAULT_MODES)]
        node.fault(index, mode)
        wait(lambda: node.states()[camera_id] != "recording", 60, f"the node to see {mode}")
        down = datetime.now(UTC)
        up = _hold_fault(node, camera_id, fault_s)
        if up is not None:  # back before the fault cleared: let it end its hold
            time.sleep(max(0.0, fault_s - (up - down).total_seconds()))
        node.fault(index, "ok")
        wait(lambda: node.states()[camera_id] == "recording", 120, "reconnection")
        outages.append((down, up or datetime.now(UTC)))
        time.sleep(1.5)  # recording again long enough to be a period of its own
        on_reconnected(number, mode)
    return outages


def flap(
    faults: int,
    *,
    cameras: int = 1,
    fault_s: float = FLAP_FAULT_S,
    log: Callable[[str], None] = print,
) -> FlapResult:
    """Cameras dropped, stalled and switched off `faults` times in all, each camera in
    turn through the three modes, the cameras side by side (fault i on camera
    i % cameras): each fault held `fault_s` after the node saw it, then set back; the
    node must reconnect every time. The node process is sampled after every
    reconnection."""
    with LoopbackNode(cameras, segment_s=2) as node:
        usage = Usage()
        time.sleep(2)
        usage.sample(node.process)
        start = datetime.now(UTC)
        began = time.monotonic()
        by_mode: dict[str, int] = {}
        lock = threading.Lock()

        def reconnected(number: int, mode: str) -> None:
            with lock:
                by_mode[mode] = by_mode.get(mode, 0) + 1
                usage.sample(node.process)
                done = sum(by_mode.values())
                if done % 50 == 0:
                    log(f"  {done} faults, rss {usage.first_last('rss_mib')[1]:.1f} MiB")

        plan = {k: [i for i in range(faults) if i % cameras == k] for k in range(cameras)}
        with ThreadPoolExecutor(max_workers=cameras) as pool:
            running = {
                k: pool.submit(_flap_camera, node, k + 1, numbers, fault_s, reconnected)
                for k, numbers in plan.items()
            }
            outages = {k: future.result() for k, future in running.items()}
        time.sleep(node.segment_s + 2)  # the last segment closed and indexed
        end = datetime.now(UTC) - timedelta(seconds=1)
        holes_in_all = long_in_all = as_holes = 0
        for k, camera_outages in outages.items():
            camera_id = node.camera_ids[k]
            holes = node.hole_spans(camera_id, start, end, min_s=0.1)  # longer than a frame
            long = [(a, b) for a, b in camera_outages if (b - a).total_seconds() > LONG_OUTAGE_S]
            holes_in_all += len(holes)
            long_in_all += len(long)
            for down, up in long:
                if any(a < up and b > down for a, b in holes):
                    as_holes += 1
                else:
                    log(f"  cam{k + 1} outage {down.time()}-{up.time()} is not a hole: {holes}")
        return FlapResult(
            faults,
            sum(by_mode.values()),
            holes_in_all,
            long_in_all,
            as_holes,
            time.monotonic() - began,
            usage,
            by_mode,
            cameras,
        )


@dataclass
class LongResult:
    cameras: int
    duration_s: float
    usage: Usage  # of the first node
    worst_hole_s: float
    # every node run side by side, by label (the first is the plain node)
    usages: dict[str, Usage] = field(default_factory=dict)


def long_run(
    cameras: int,
    minutes: float,
    *,
    every_s: float = 10.0,
    segment_s: int = 60,
    compare_env: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> LongResult:
    """One node recording `cameras` cameras for `minutes`, sampled every `every_s`.
    With `compare_env`, a second node (and emulator) runs beside it with those
    environment variables, so a change to the process is measured against the plain
    node in the same run on the same machine."""
    envs = {"plain": {}} | ({_env_label(compare_env): compare_env} if compare_env else {})
    with contextlib.ExitStack() as stack:
        nodes = {
            label: stack.enter_context(LoopbackNode(cameras, segment_s=segment_s, node_env=env))
            for label, env in envs.items()
        }
        usages = {label: Usage() for label in nodes}
        start = datetime.now(UTC)
        began = time.monotonic()
        while time.monotonic() - began < minutes * 60:
            for label, node in nodes.items():
                usages[label].sample(node.process)
            time.sleep(every_s)
            elapsed = time.monotonic() - began
            if int(elapsed) % 300 < every_s:
                rss = ", ".join(f"{k} {u.first_last('rss_mib')[1]:.1f}" for k, u in usages.items())
                log(f"  {elapsed / 60:.0f} min, rss MiB: {rss}")
        for label, node in nodes.items():
            usages[label].sample(node.process)
        time.sleep(2)
        end = datetime.now(UTC) - timedelta(seconds=segment_s + 5)  # the open segment
        worst = 0.0
        for node in nodes.values():
            for camera_id in node.camera_ids:
                holes = node.holes(camera_id, start + timedelta(seconds=10), end, min_s=0.0)
                worst = max([worst, *holes])
        return LongResult(cameras, time.monotonic() - began, usages["plain"], worst, usages)


def _env_label(env: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in env.items())
