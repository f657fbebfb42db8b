"""A simulated system of nodes: Membership + GossipCodec per node over FakeNetwork.

Each `SimNode` does what the real UDP runtime does: encode/authenticate outgoing
messages, decode incoming datagrams (dropping GossipRejected ones), feed the state
machine, and tick it at `next_deadline()`. Used by tests/sim and bench/membership_sim.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from node.membership._codec import GossipCodec, GossipRejected
from node.membership._machine import Membership
from node.membership._types import (
    LoadReport,
    MemberEvent,
    MembershipConfig,
    MemberView,
    Message,
    Outgoing,
)
from tests.sim.fakes import FakeClock, FakeNetwork

SYSTEM_ID = "sys-sim"
SECRET = b"simulated system secret 32 bytes"


class SimNode:
    def __init__(
        self,
        node_id: str,
        address: str,
        clock: FakeClock,
        network: FakeNetwork,
        config: MembershipConfig,
        *,
        seed: int,
        epoch: int,
        secret: bytes = SECRET,
    ) -> None:
        rng = random.Random(seed)
        self.node_id = node_id
        self.address = address
        self.clock = clock
        self.network = network
        self.membership = Membership(node_id, config, address=address, epoch=epoch, rng=rng)
        self.codec = GossipCodec(SYSTEM_ID, node_id, secret, boot=rng.getrandbits(63))
        self.port = network.attach(address, self._on_datagram)
        self.running = True
        self.rejected: Counter[str] = Counter()
        self.events: list[MemberEvent] = []
        self._timer = None
        self._schedule()

    # the runtime loop, event by event
    def _on_datagram(self, data: bytes, source: str) -> None:
        if not self.running:
            return
        try:
            env = self.codec.decode(data, self.clock.wall_ms())
        except GossipRejected as exc:
            self.rejected[exc.reason] += 1
            return
        msg = Message(env.type, env.sender, env.payload, env.incarnation)
        self._send(self.membership.on_message(msg, self.clock.now))
        self._schedule()

    def _tick(self) -> None:
        self._timer = None
        if not self.running:
            return
        self._send(self.membership.on_tick(self.clock.now))
        self._schedule(after_tick=True)

    def _send(self, outgoing: list[Outgoing]) -> None:
        now_ms = self.clock.wall_ms()
        for o in outgoing:
            m = o.message
            data = self.codec.encode(m.type, m.payload, incarnation=m.incarnation, now_ms=now_ms)
            self.port.send(o.address, data)

    def _schedule(self, after_tick: bool = False) -> None:
        self.events += self.membership.pop_events()
        deadline = self.membership.next_deadline()
        when = self.clock.now if deadline is None else deadline
        if after_tick:
            when = max(when, self.clock.now + 1e-4)  # never spin at one instant
        if self._timer is not None and not self._timer.cancelled and self._timer.when <= when:
            return
        if self._timer is not None:
            self._timer.cancelled = True
        self._timer = self.clock.call_at(when, self._tick)

    def kill(self) -> None:
        """kill -9: stop answering, no goodbye."""
        self.running = False
        self.network.detach(self.address)
        if self._timer is not None:
            self._timer.cancelled = True

    def leave(self) -> None:
        self._send(self.membership.leave(self.clock.now))
        self.kill()

    def view(self) -> dict[str, MemberView]:
        return self.membership.members()


class SimCluster:
    def __init__(
        self,
        n: int,
        *,
        seed: int = 0,
        config: MembershipConfig | None = None,
        loss: float = 0.0,
    ) -> None:
        self.config = config or MembershipConfig()
        self.rng = random.Random(seed)
        self.clock = FakeClock()
        self.network = FakeNetwork(self.clock, random.Random(seed + 1), default_loss=loss)
        self.nodes: dict[str, SimNode] = {}
        self._seed = seed
        self._restarts = 0
        for i in range(n):
            self.start(f"n{i:03d}", seed_peer=f"n{0:03d}" if i else None)

    @staticmethod
    def address_of(node_id: str) -> str:
        return f"10.0.{int(node_id[1:]) // 250}.{int(node_id[1:]) % 250 + 1}:7480"

    def start(self, node_id: str, seed_peer: str | None = None) -> SimNode:
        """Start (or restart) a node; a restarted node gets a later start epoch."""
        self._restarts += 1
        node = SimNode(
            node_id,
            self.address_of(node_id),
            self.clock,
            self.network,
            self.config,
            seed=self.rng.getrandbits(32),
            epoch=self.clock.wall_ms(),
        )
        self.nodes[node_id] = node
        if seed_peer is not None:
            node.membership.add_peer(None, self.address_of(seed_peer))
            node._schedule()
        return node

    def run(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def running(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.running]

    def kill(self, node_id: str) -> None:
        self.nodes[node_id].kill()

    def set_load(self, node_id: str, load: LoadReport) -> None:
        self.nodes[node_id].membership.set_load(load)

    def states_seen_by(self, observer: str) -> dict[str, str]:
        return {k: v.state for k, v in self.nodes[observer].view().items() if k != observer}

    def converged(self, expected: dict[str, str] | None = None) -> bool:
        """Every running node sees every other running node alive (and `expected`)."""
        live = {n.node_id for n in self.running()}
        for node in self.running():
            states = self.states_seen_by(node.node_id)
            for other in live - {node.node_id}:
                if states.get(other) != "alive":
                    return False
            for other, state in (expected or {}).items():
                if other != node.node_id and states.get(other) != state:
                    return False
        return True

    def run_until_converged(self, limit_s: float, expected: dict[str, str] | None = None) -> float:
        """Advance in small steps until converged; return the simulated time it took."""
        start = self.clock.now
        while self.clock.now - start < limit_s:
            if self.converged(expected):
                return self.clock.now - start
            self.run(0.05)
        raise AssertionError(f"not converged within {limit_s} s: {self.describe()}")

    def describe(self) -> str:
        return "; ".join(
            f"{n.node_id}: "
            + ",".join(f"{k}={v[0]}" for k, v in sorted(self.states_seen_by(n.node_id).items()))
            for n in self.running()
        )

    def first_event(
        self, observer: str, kind: str, subject: str, after: float = 0.0
    ) -> MemberEvent | None:
        for e in self.nodes[observer].events:
            if e.kind == kind and e.node_id == subject and e.at >= after:
                return e
        return None

    def count_events(self, kind: str, subjects: Iterable[str] | None = None) -> int:
        wanted = None if subjects is None else set(subjects)
        return sum(
            1
            for n in self.nodes.values()
            for e in n.events
            if e.kind == kind and (wanted is None or e.node_id in wanted)
        )
