"""Three camkeep nodes and a camera host on test hosts: the failover LAN.

Hosts h1-h3 run a node each, h4 runs `camkeep emulate` (the cameras stay up whatever
happens to a node). `System.form()` builds one system with failover on everywhere and
`CAMERAS_PER_NODE` cameras homed on each node; the views (who records what, merged
timelines, holes) are read through the nodes' APIs from inside the hosts. Cameras are
small (320x240, 10 fps, 150 kbit/s), segments 2 s, gossip fast (declared dead within
~1 s): see node_harness.fast_failover_config. Used by
tests/multihost/test_failover_system.py and bench/soak.py.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import netns
from node_harness import fast_failover_config

from node.recordings._merge import gaps

PORT = 7480
OWNER, PASSWORD = "owner", "owner-password-1"
CAMERAS_PER_NODE = 2  # the default
TAKEOVER_BOUND_S = 20.0  # generous: the target is ~2 s (bench/failover.py)
FAILBACK_BOUND_S = 30.0
HEAL_BOUND_S = 5.0 + 5.0  # issue: converge within 5 s; +5 s of polling slack on a busy box
MAX_GAP_S = 1.0  # a hole larger than this in a merged timeline is lost video


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            last = predicate()
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


class System:
    """Three nodes and a camera host; API calls are made from inside the hosts."""

    def __init__(self, net: netns.Lan, cameras_per_node: int = 2, channels: int = 16) -> None:
        self.net = net
        self.per_node = cameras_per_node
        self.channels = channels  # licensed channels and failover max cameras per node
        self.nodes = net.hosts[:3]
        self.camera_host = net.hosts[3]
        self.procs: dict[str, Any] = {}
        self.ids: dict[str, str] = {}  # host name -> node id
        self.token = ""
        self.cameras: dict[str, dict[str, Any]] = {}  # camera id -> camera
        self.config = net.workdir / "node.toml"
        self.config.write_text(fast_failover_config(licensed_channels=channels))

    def url(self, host: netns.Host) -> str:
        return f"http://{host.address}:{PORT}"

    def call(self, host: netns.Host, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        kwargs.setdefault("timeout", 10.0)
        return host.http(method, f"{self.url(host)}{path}", headers=headers, **kwargs)

    def ok(self, host: netns.Host, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(host, method, path, **kwargs)
        assert answer.status_code in (200, 201), f"{method} {path}: {answer.text}"
        return answer.json()

    # ---- processes

    def start(self, host: netns.Host) -> None:
        argv = ["run", "--config", str(self.config), "--listen", f"{host.address}:{PORT}"]
        argv += ["--data", str(host.data_dir()), "--name", host.name]
        self.procs[host.name] = host.camkeep(argv, log_name="node")
        host.wait_http(f"{self.url(host)}/api/v1/health", timeout_s=30)

    def kill(self, host: netns.Host) -> None:
        host.kill9(self.procs.pop(host.name))

    def alive_hosts(self) -> list[netns.Host]:
        return [h for h in self.nodes if h.name in self.procs]

    def form(self) -> None:
        emulate = ["emulate", "--host", self.camera_host.address, "--no-wsd", "--no-onvif"]
        emulate += ["--cameras", str(3 * self.per_node), "--bitrate", "150000"]
        emulate += ["--width", "320", "--height", "240", "--fps", "10", "--gop-seconds", "1"]
        self.camera_host.camkeep(emulate, log_name="cameras")
        for host in self.nodes:
            self.start(host)
        h1 = self.nodes[0]
        setup = {"system_name": "failover", "owner": {"username": OWNER, "password": PASSWORD}}
        self.ok(h1, "POST", "/api/v1/system/setup", json=setup)
        login = {"username": OWNER, "password": PASSWORD}
        self.token = self.ok(h1, "POST", "/api/v1/auth/login", json=login)["token"]
        for host in self.nodes[1:]:
            body = {"url": self.url(host), "owner_username": OWNER, "owner_password": PASSWORD}
            self.ok(h1, "POST", "/api/v1/servers", json=body, timeout=30)
        for host in self.nodes:
            self.ids[host.name] = self.ok(host, "GET", "/api/v1/health")["node_id"]
        wait_for(lambda: self.states(h1) == dict.fromkeys(self.ids.values(), "alive"), 20,
                 "three alive servers")  # fmt: skip
        for host in self.nodes:
            self.settings(host, enabled=True, max_cameras=self.channels)
        self.camera_host.wait_tcp(self.camera_host.address, 8554)
        index = 0
        for host in self.nodes:
            for _ in range(self.per_node):
                index += 1
                body = {
                    "name": f"cam{index}",
                    "rtsp_url": f"rtsp://{self.camera_host.address}:8554/cam{index}/main",
                    "home_server_id": self.ids[host.name],
                    "priority": "medium",
                }
                camera = self.ok(h1, "POST", "/api/v1/cameras", json=body)
                self.cameras[camera["id"]] = camera
        self.wait_steady(max(FAILBACK_BOUND_S, 2.0 * len(self.cameras)))  # many: slower

    # ---- views

    def states(self, via: netns.Host) -> dict[str, str]:
        return {s["id"]: s["state"] for s in self.ok(via, "GET", "/api/v1/servers")}

    def settings(self, host: netns.Host, *, enabled: bool, max_cameras: int) -> None:
        body = {"enabled": enabled, "max_cameras": max_cameras}
        self.ok(self.alive_hosts()[0], "PUT", f"/api/v1/servers/{self.ids[host.name]}/failover",
                json=body)  # fmt: skip

    def set_priority(self, camera_ids: list[str], priority: str) -> None:
        body = {"camera_ids": camera_ids, "priority": priority}
        self.ok(self.alive_hosts()[0], "PUT", "/api/v1/cameras/priority", json=body)

    def recorders(self) -> dict[str, set[str]]:
        """camera id -> node ids recording it now (each alive node asked for its own)."""
        out: dict[str, set[str]] = {cid: set() for cid in self.cameras}
        for host in self.alive_hosts():
            for camera in self.ok(host, "GET", "/api/v1/cameras"):
                status = camera["status"]
                # the status may be another server's (the system-wide camera state)
                own = status.get("server_id", self.ids[host.name]) == self.ids[host.name]
                if status["state"] == "recording" and own and camera["id"] in out:
                    out[camera["id"]].add(self.ids[host.name])
        return out

    def homes(self, host: netns.Host) -> list[str]:
        return [
            cid for cid, c in self.cameras.items() if c["home_server_id"] == self.ids[host.name]
        ]

    def steady(self) -> bool:
        rec = self.recorders()
        return all(rec[cid] == {c["home_server_id"]} for cid, c in self.cameras.items())

    def wait_steady(self, timeout_s: float = FAILBACK_BOUND_S) -> None:
        wait_for(self.steady, timeout_s, "every camera recorded by its home only")

    def timeline(self, camera_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        answer = self.ok(self.alive_hosts()[0], "GET", f"/api/v1/cameras/{camera_id}/recordings",
                         params=params)  # fmt: skip
        assert not answer.get("unreachable_servers"), answer
        return answer["periods"]

    def holes(self, camera_id: str, start: datetime, end: datetime) -> list[tuple[datetime, ...]]:
        from recorder import Period

        periods = [
            Period(
                start=datetime.fromisoformat(p["start"].replace("Z", "+00:00")),
                end=datetime.fromisoformat(p["end"].replace("Z", "+00:00")),
                server_id=p["server_id"],
            )
            for p in self.timeline(camera_id, start, end)
        ]
        return [h for h in gaps(periods, start, end) if (h[1] - h[0]).total_seconds() > MAX_GAP_S]

    def restore(self) -> None:
        """Back to the steady state: links healed, every node up, settings default."""
        self.net.heal()
        for host in self.nodes:
            if host.name not in self.procs:
                self.start(host)
        wait_for(lambda: set(self.states(self.nodes[0]).values()) == {"alive"}, 20, "all alive")
        for host in self.nodes:
            self.settings(host, enabled=True, max_cameras=self.channels)
        self.set_priority(list(self.cameras), "medium")
        self.wait_steady()


def gaps_of(s: System, camera_id: str, start: datetime, end: datetime) -> list[float]:
    """Lengths (s) of every hole in the merged timeline, small ones included."""
    from recorder import Period

    periods = [
        Period(
            start=datetime.fromisoformat(p["start"].replace("Z", "+00:00")),
            end=datetime.fromisoformat(p["end"].replace("Z", "+00:00")),
            server_id=p["server_id"],
        )
        for p in s.timeline(camera_id, start, end)
    ]
    return [(a.timestamp(), b.timestamp()) for a, b in gaps(periods, start, end)]


def now() -> datetime:
    return datetime.now(UTC)
