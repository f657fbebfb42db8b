"""Soaks of three nodes on test hosts (network namespaces): partition and churn.

The system is tests/multihost/failover_lan.py: h1-h3 run a node each, h4 the cameras.
A sampler thread asks every running node, every `SAMPLE_S`, which cameras it records;
the merged timelines (the recordings API) say afterwards what was lost.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "multihost"))
sys.path.insert(1, str(ROOT / "tests" / "integration"))  # node_harness, for failover_lan

import netns  # noqa: E402
from failover_lan import System, gaps_of, now, wait_for  # noqa: E402

SAMPLE_S = 0.5


class Sampler:
    """Who records each camera, sampled from every running node in the background."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.samples: list[tuple[float, dict[str, set[str]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._recorders()))
            self._stop.wait(SAMPLE_S)

    def _recorders(self) -> dict[str, set[str]]:
        """camera id -> nodes recording it, each running node asked for its own. A node
        that does not answer (killed, or still starting) records nothing."""
        s = self.system
        out: dict[str, set[str]] = {camera_id: set() for camera_id in s.cameras}
        for host in s.alive_hosts():
            with contextlib.suppress(Exception):
                me = s.ids[host.name]
                for camera in s.ok(host, "GET", "/api/v1/cameras", timeout=5.0):
                    status = camera["status"]  # may be another server's: keep our own
                    own = status.get("server_id", me) == me
                    if status["state"] == "recording" and own and camera["id"] in out:
                        out[camera["id"]].add(me)
        return out

    def longest_unrecorded_s(self) -> float:
        """The longest run of samples in which some camera had no recorder."""
        worst = 0.0
        since: dict[str, float] = {}
        for at, recorders in self.samples:
            for camera_id, servers in recorders.items():
                if servers:
                    since.pop(camera_id, None)
                else:
                    worst = max(worst, at - since.setdefault(camera_id, at))
        return worst


def lan(cameras_per_node: int, channels: int = 16) -> tuple[netns.Lan, System]:
    net = netns.Lan(4).create()
    try:
        system = System(net, cameras_per_node=cameras_per_node, channels=channels)
        system.form()
    except BaseException:
        net.close()
        raise
    return net, system


def _one_recorder_each(s: System) -> bool:
    return all(len(r) == 1 for r in s.recorders().values())


@dataclass
class PartitionResult:
    rounds: int
    down_s: list[float] = field(default_factory=list)
    heal_converge_s: list[float] = field(default_factory=list)
    config_changes: int = 0
    config_converged: int = 0
    longest_unrecorded_s: float = 0.0
    worst_hole_s: float = 0.0
    cameras: int = 0
    duration_s: float = 0.0


def partition(
    s: System,
    rounds: int,
    *,
    down_s: tuple[float, float] = (30.0, 90.0),
    between_s: tuple[float, float] = (5.0, 15.0),
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> PartitionResult:
    """`rounds` times: cut one random node off from the other two (both still reach
    the cameras) for a random time in `down_s`, change configuration on both sides
    while cut, heal; measure the convergence to one recorder per camera and of the
    configuration; then wait a random time in `between_s`."""
    rng = random.Random(seed)
    result = PartitionResult(rounds, cameras=len(s.cameras))
    start = now()
    began = time.monotonic()
    with Sampler(s) as sampler:
        for r in range(rounds):
            cut = rng.choice(s.nodes)
            rest = [h for h in s.nodes if h is not cut]
            for other in rest:
                cut.block(other)
            down = rng.uniform(*down_s)
            cut_at = time.monotonic()
            wait_for(lambda: all(len(x) == 2 for x in s.recorders().values()), 30,
                     "both sides recording every camera")  # fmt: skip
            # configuration changed on both sides while they cannot talk
            priority = ("high", "low")[r % 2]
            cut_camera = rng.choice(s.homes(rest[0]))
            rest_camera = rng.choice(s.homes(cut))
            body = {"camera_ids": [cut_camera], "priority": priority}
            s.ok(cut, "PUT", "/api/v1/cameras/priority", json=body)
            body = {"camera_ids": [rest_camera], "priority": priority}
            s.ok(rest[0], "PUT", "/api/v1/cameras/priority", json=body)
            users = (f"cut{r}", f"rest{r}")
            for host, name in ((cut, users[0]), (rest[1], users[1])):
                body = {"username": name, "password": "soak-password-9", "role": "viewer"}
                s.ok(host, "POST", "/api/v1/users", json=body)
            result.config_changes += 4
            time.sleep(max(0.0, down - (time.monotonic() - cut_at)))
            cut.clear_rules()
            healed = time.monotonic()
            result.down_s.append(healed - cut_at)
            wait_for(lambda: _one_recorder_each(s), 60, "one recorder per camera")
            result.heal_converge_s.append(time.monotonic() - healed)

            def converged(
                users: tuple[str, str] = users,
                changed: tuple[str, str] = (cut_camera, rest_camera),
                priority: str = priority,
            ) -> bool:
                for host in s.nodes:
                    cams = {c["id"]: c for c in s.ok(host, "GET", "/api/v1/cameras")}
                    names = {u["username"] for u in s.ok(host, "GET", "/api/v1/users")}
                    if not set(users) <= names:
                        return False
                    if any(cams[c]["priority"] != priority for c in changed):
                        return False
                return True

            wait_for(converged, 30, "the configuration of both sides on every node")
            result.config_converged += 4
            log(
                f"  round {r + 1}/{rounds}: {cut.name} cut {result.down_s[-1]:.0f} s, one"
                f" recorder per camera {result.heal_converge_s[-1]:.1f} s after the heal"
            )
            time.sleep(rng.uniform(*between_s))
        result.longest_unrecorded_s = sampler.longest_unrecorded_s()
    s.set_priority(list(s.cameras), "medium")
    time.sleep(s_segment_close())
    end = now() - timedelta(seconds=3)
    result.worst_hole_s = _worst_hole(s, start, end)
    result.duration_s = time.monotonic() - began
    return result


def s_segment_close() -> float:
    return 4.0  # segments are 2 s in failover_lan's CONFIG: two of them closed


def _worst_hole(s: System, start: datetime, end: datetime) -> float:
    worst = 0.0
    for camera_id in s.cameras:
        for a, b in gaps_of(s, camera_id, start, end):
            worst = max(worst, b - a)
    return worst


@dataclass
class ChurnResult:
    kills: int = 0
    cameras: int = 0
    duration_s: float = 0.0
    longest_unrecorded_s: float = 0.0
    holes: int = 0  # holes over 1 s in the merged timelines
    holes_after_a_kill: int = 0  # of them, those that begin within 6 s of a kill
    worst_hole_s: float = 0.0


def churn(
    s: System,
    minutes: float,
    *,
    every_s: float = 20.0,
    seed: int = 2,
    log: Callable[[str], None] = print,
) -> ChurnResult:
    """Every `every_s`: start the node killed last time, kill -9 a random node."""
    rng = random.Random(seed)
    result = ChurnResult(cameras=len(s.cameras))
    kills: list[float] = []  # epoch seconds
    start = now()
    began = time.monotonic()
    with Sampler(s) as sampler:
        while time.monotonic() - began < minutes * 60:
            for host in s.nodes:
                if host.name not in s.procs:
                    s.start(host)
            victim = rng.choice(s.nodes)
            kills.append(now().timestamp())
            s.kill(victim)
            result.kills += 1
            if result.kills % 5 == 0:
                log(f"  {result.kills} kills, {(time.monotonic() - began) / 60:.1f} min")
            time.sleep(every_s)
        for host in s.nodes:
            if host.name not in s.procs:
                s.start(host)
        s.wait_steady(60)
        result.longest_unrecorded_s = sampler.longest_unrecorded_s()
    time.sleep(s_segment_close())
    end = now() - timedelta(seconds=3)
    for camera_id in s.cameras:
        for a, b in gaps_of(s, camera_id, start, end):
            if b - a <= 1.0:
                continue
            result.holes += 1
            result.worst_hole_s = max(result.worst_hole_s, b - a)
            if any(k - 1.0 <= a <= k + 6.0 for k in kills):
                result.holes_after_a_kill += 1
    result.duration_s = time.monotonic() - began
    return result
