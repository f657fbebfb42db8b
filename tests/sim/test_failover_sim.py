"""Failover over a fake clock: three controllers, fake membership and fake recorders.

Each node runs the real FailoverController. Around it, the simulation models what the
runtime gives it: membership (a peer turns dead `DETECT_S` after it was last
reachable), peers' recording sets (as gossiped one step late, only over reachable
links), and a recorder that reaches "recording" `CONNECT_S` after a camera is set.
Every step records which nodes record each camera, so the tests can check gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.failover._controller import FailoverController, FailoverInputs, PeerState

STEP_S = 0.1
DETECT_S = 1.0
CONNECT_S = 0.5
IDS = ("a", "b", "c")


def server(sid: str, max_cameras: int) -> dict:
    return {
        "id": sid,
        "failover_enabled": True,
        "max_cameras": max_cameras,
        "licensed_channels": 16,
    }


def camera(cid: str, home: str, priority: str = "medium") -> dict:
    return {"id": cid, "home_server_id": home, "priority": priority, "continuous_recording": True}


@dataclass
class SimNode:
    sid: str
    controller: FailoverController
    running: bool = True
    recorder: dict[str, float] = field(default_factory=dict)  # camera -> set at
    connect_extra: dict[str, float] = field(default_factory=dict)  # slow cameras

    def active(self) -> frozenset[str]:
        return frozenset(self.recorder)

    def recording(self, now: float) -> frozenset[str]:
        return frozenset(
            c
            for c, at in self.recorder.items()
            if now - at >= CONNECT_S + self.connect_extra.get(c, 0.0) - 1e-9
        )


class Sim:
    def __init__(
        self, servers: tuple[dict, ...], cameras: tuple[dict, ...], failback_delay_s: float = 0.0
    ) -> None:
        self.failback_delay_s = failback_delay_s
        self.servers = servers
        self.cameras = cameras
        self.now = 0.0
        self.nodes = {sid: SimNode(sid, self.controller(sid)) for sid in IDS}
        self.groups: list[set[str]] | None = None  # partition
        self.last_contact = {(o, t): 0.0 for o in IDS for t in IDS}
        self.seen_sets: dict[tuple[str, str], frozenset[str]] = {}
        self.seen_active: dict[tuple[str, str], frozenset[str]] = {}
        self.detect_extra: dict[str, float] = {}  # observer -> extra detection delay
        self.started: dict[str, list[tuple[float, str]]] = {}  # camera -> (time, node) starts
        self.history: list[tuple[float, dict[str, frozenset[str]]]] = []

    def controller(self, sid: str) -> FailoverController:
        return FailoverController(sid, started_at=self.now, failback_delay_s=self.failback_delay_s)

    def reachable(self, a: str, b: str) -> bool:
        if not (self.nodes[a].running and self.nodes[b].running):
            return False
        return self.groups is None or any(a in g and b in g for g in self.groups)

    def kill(self, sid: str) -> None:
        node = self.nodes[sid]
        node.running = False
        node.recorder.clear()

    def restore(self, sid: str) -> None:
        self.nodes[sid] = SimNode(sid, self.controller(sid))
        for other in IDS:  # a fresh process has heard of nobody yet
            self.last_contact.pop((sid, other), None)
            self.seen_sets.pop((sid, other), None)
            self.seen_active.pop((sid, other), None)

    def step(self) -> None:
        self.now = round(self.now + STEP_S, 6)
        snapshot = {sid: n.recording(self.now) for sid, n in self.nodes.items() if n.running}
        held = {sid: n.active() for sid, n in self.nodes.items() if n.running}
        for o in IDS:
            for t in IDS:
                if self.reachable(o, t):
                    self.last_contact[(o, t)] = self.now
        for sid, node in self.nodes.items():
            if not node.running:
                continue
            peers = {}
            for other in IDS:
                if other == sid:
                    continue
                contact = self.last_contact.get((sid, other))
                if contact is None:
                    continue  # never heard of
                dead = self.now - contact > DETECT_S + self.detect_extra.get(sid, 0.0)
                peers[other] = PeerState("dead" if dead else "alive")
                if dead:  # the runtime forgets a dead peer's recording set
                    self.seen_sets.pop((sid, other), None)
                    self.seen_active.pop((sid, other), None)
            recording = {other: s for (obs, other), s in self.seen_sets.items() if obs == sid}
            active = {other: s for (obs, other), s in self.seen_active.items() if obs == sid}
            inputs = FailoverInputs(
                servers=self.servers,
                cameras=self.cameras,
                peers=peers,
                recording=recording,
                active=active,
                own_active=node.active(),
                own_recording=node.recording(self.now),
            )
            desired = node.controller.decide(inputs, self.now).desired
            for c in desired - node.recorder.keys():
                self.started.setdefault(c, []).append((self.now, sid))
            node.recorder = {c: node.recorder.get(c, self.now) for c in desired}
        # gossip: what each node records now reaches reachable peers for the next step
        for o in IDS:
            for t, s in snapshot.items():
                if o != t and self.reachable(o, t):
                    self.seen_sets[(o, t)] = s
                    self.seen_active[(o, t)] = held[t]
        self.history.append(
            (self.now, {sid: n.recording(self.now) for sid, n in self.nodes.items() if n.running})
        )

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / STEP_S)):
            self.step()

    def recorders(self, camera_id: str, at: int = -1) -> set[str]:
        return {sid for sid, cams in self.history[at][1].items() if camera_id in cams}

    def uncovered_steps(self, camera_id: str, since: float) -> list[float]:
        return [
            t
            for t, sets in self.history
            if t >= since and not any(camera_id in cams for cams in sets.values())
        ]


CAMERAS = (
    camera("a1", "a"),
    camera("a2", "a"),
    camera("b1", "b"),
    camera("b2", "b"),
    camera("c1", "c", "high"),
    camera("c2", "c", "medium"),
    camera("c3", "c", "low"),
    camera("c4", "c", "never"),
)


def steady(servers: tuple[dict, ...]) -> Sim:
    sim = Sim(servers, CAMERAS)
    sim.run(4.0)
    for cam in CAMERAS:
        assert sim.recorders(cam["id"]) == {cam["home_server_id"]}
    return sim


def test_kill_moves_cameras_by_priority_within_channel_limits() -> None:
    # a has one free channel, b one: only High and Medium of c fit
    sim = steady((server("a", 3), server("b", 3), server("c", 8)))
    killed_at = sim.now
    sim.kill("c")
    sim.run(DETECT_S + CONNECT_S + 1.0)
    assert len(sim.recorders("c1")) == 1 and len(sim.recorders("c2")) == 1
    assert sim.recorders("c1") | sim.recorders("c2") == {"a", "b"}  # spread by load
    assert sim.recorders("c3") == set() and sim.recorders("c4") == set()
    for sid, limit in (("a", 3), ("b", 3)):
        assert all(len(sets.get(sid, ())) <= limit for t, sets in sim.history if t > killed_at)
    # own cameras never lost their channel
    for cid in ("a1", "a2", "b1", "b2"):
        assert sim.uncovered_steps(cid, 0.0) == [t for t, _ in sim.history if t <= CONNECT_S]


def test_everything_fits_when_capacity_allows() -> None:
    sim = steady((server("a", 8), server("b", 8), server("c", 8)))
    sim.kill("c")
    sim.run(DETECT_S + CONNECT_S + 1.0)
    for cid in ("c1", "c2", "c3"):
        assert len(sim.recorders(cid)) == 1
    assert sim.recorders("c4") == set()


def test_restore_home_records_before_backup_stops() -> None:
    sim = steady((server("a", 8), server("b", 8), server("c", 8)))
    sim.kill("c")
    sim.run(3.0)
    backups = {cid: sim.recorders(cid) for cid in ("c1", "c2", "c3")}
    assert all(len(b) == 1 for b in backups.values())
    restored_at = sim.now
    sim.restore("c")
    sim.run(4.0)
    for cid in ("c1", "c2", "c3"):
        assert sim.uncovered_steps(cid, restored_at) == []  # no gap at failback
        assert sim.recorders(cid) == {"c"}
        # overlap: c recorded before the backup let go
        overlap = [
            t
            for t, sets in sim.history
            if t > restored_at and len([s for s in sets.values() if cid in s]) == 2
        ]
        assert overlap
    assert sim.recorders("c4") == {"c"}


def test_partition_each_side_records_then_heal_converges() -> None:
    sim = steady((server("a", 8), server("b", 8), server("c", 8)))
    sim.groups = [{"a", "b"}, {"c"}]
    sim.run(4.0)
    # each side records what it can: c keeps its own and takes a's and b's cameras
    assert {"c"} <= sim.recorders("c1") and len(sim.recorders("c1")) == 2
    assert sim.recorders("a1") == {"a", "c"} or sim.recorders("a1") == {"a"}
    assert "c" in sim.recorders("b1") or "c" in sim.recorders("a1")
    healed_at = sim.now
    sim.groups = None
    sim.run(5.0)
    for cam in CAMERAS:
        cid = cam["id"]
        assert sim.recorders(cid) == {cam["home_server_id"]}
        assert sim.uncovered_steps(cid, healed_at) == []
    converged = next(
        t
        for t, sets in sim.history
        if t > healed_at and all(sum(c["id"] in s for s in sets.values()) == 1 for c in CAMERAS)
    )
    assert converged - healed_at <= 5.0


def test_two_failures_in_a_row_and_failure_during_failback() -> None:
    sim = steady((server("a", 8), server("b", 8), server("c", 8)))
    sim.kill("c")
    sim.run(3.0)
    sim.kill("b")
    sim.run(3.0)
    for cid in ("b1", "b2", "c1", "c2", "c3"):
        assert sim.recorders(cid) == {"a"}
    sim.restore("c")
    sim.run(0.3)  # c is coming back: a may still hold c's cameras
    sim.kill("a")  # the backup dies during failback
    sim.run(4.0)
    for cid in ("a1", "a2", "b1", "b2", "c1", "c2", "c3"):
        assert sim.recorders(cid) == {"c"}, cid


def test_lagging_views_start_each_camera_on_one_backup_only() -> None:
    # b declares c dead 0.6 s after a does: by then a records part of its share
    cams = tuple(camera(f"a{i}", "a") for i in range(2)) + tuple(
        camera(f"c{i}", "c") for i in range(8)
    )
    sim = Sim((server("a", 16), server("b", 16), server("c", 16)), cams)
    sim.run(3.0)
    sim.detect_extra["b"] = 0.6
    for sid in IDS:  # cameras connect at different speeds
        sim.nodes[sid].connect_extra = {f"c{i}": 0.3 * (i % 4) for i in range(8)}
    killed_at = sim.now
    sim.kill("c")
    sim.run(4.0)
    for i in range(8):
        starts = [who for t, who in sim.started[f"c{i}"] if t > killed_at]
        assert len(starts) == 1, (f"c{i}", starts)  # no camera started twice, no churn
    taken = [next(iter(sim.recorders(f"c{i}"))) for i in range(8)]
    assert sorted(taken.count(s) for s in ("a", "b")) == [3, 5]  # a had 2 own: 5 + 2 = 7 vs 5


def test_failback_delay_keeps_backup_recording_then_hands_over_without_gap() -> None:
    sim = Sim((server("a", 8), server("b", 8), server("c", 8)), CAMERAS, failback_delay_s=2.0)
    sim.run(4.0)
    sim.kill("c")
    sim.run(3.0)
    restored_at = sim.now
    sim.restore("c")
    sim.run(1.5)
    assert "c" not in sim.recorders("c1")  # within the delay: the backup keeps it
    sim.run(3.0)
    for cid in ("c1", "c2", "c3"):
        assert sim.recorders(cid) == {"c"}
        assert sim.uncovered_steps(cid, restored_at) == []


def test_later_failure_displaces_a_lower_priority_takeover() -> None:
    # a has one free channel; c dies first (its Low camera goes to a), then b dies
    # with a High camera: a drops the Low one for it; a's own cameras keep their channels
    cams = (
        camera("a1", "a"),
        camera("a2", "a"),
        camera("b1", "b", "high"),
        camera("c1", "c", "low"),
    )
    sim = Sim((server("a", 3), server("b", 1), server("c", 1)), cams)
    sim.run(3.0)
    sim.kill("c")
    sim.run(3.0)
    assert sim.recorders("c1") == {"a"}
    sim.kill("b")
    sim.run(3.0)
    assert sim.recorders("b1") == {"a"}
    assert sim.recorders("c1") == set()
    assert sim.recorders("a1") == sim.recorders("a2") == {"a"}
    assert all(len(sets.get("a", ())) <= 3 for _, sets in sim.history)
