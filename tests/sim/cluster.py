"""A simulated system of nodes: the real GossipRuntime per node over FakeNetwork.

Each `SimNode` is a GossipRuntime (codec, timers, peer addresses, load provider, event
callback: the code a node runs) given the simulation's network and a per-node view of
the fake clock instead of UDP and the asyncio loop. Killing a node silences its
timers and its address, as kill -9 does. Used by tests/sim and
bench/membership_sim.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from node.membership import (
    GossipRuntime,
    LoadReport,
    MemberEvent,
    MembershipConfig,
    MemberView,
    parse_address,
)
from node.membership._machine import Membership
from tests.sim.fakes import FakeClock, FakeLivenessProbe, FakeNetwork, NodeScheduler

SYSTEM_ID = "sys-sim"
SECRET = b"simulated system secret 32 bytes"

T = TypeVar("T")


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a runtime's start/stop over the fake
    network) without an event loop: the simulation's time is the fake clock's."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a simulated runtime call waited for something")


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
        secret: bytes = SECRET,
    ) -> None:
        self.node_id = node_id
        self.address = address
        self.clock = clock
        self.network = network
        self.events: list[MemberEvent] = []
        self.scheduler = NodeScheduler(clock)
        self.liveness = FakeLivenessProbe(network, self.scheduler, address)
        host, port = parse_address(address)
        self.runtime = GossipRuntime(
            node_id,
            SYSTEM_ID,
            secret,
            host=host,
            port=port,
            config=config,
            on_event=self.events.append,
            network=network,
            scheduler=self.scheduler,
            rng=random.Random(seed),
            liveness=self.liveness,
        )

    def start(self, seed_address: str | None = None) -> None:
        if seed_address is not None:
            self.runtime.add_peer(seed_address)
        run_now(self.runtime.start())

    @property
    def running(self) -> bool:
        return self.scheduler.alive and self.runtime.running

    @property
    def membership(self) -> Membership:
        """The runtime's state machine, for tests that inspect or bend it."""
        membership = self.runtime._membership
        assert membership is not None, "not started"
        return membership

    @property
    def rejected(self) -> Counter[str]:
        return Counter(self.runtime.stats()["rejected"])

    def kill(self) -> None:
        """kill -9: stop answering, no goodbye."""
        self.scheduler.kill()
        if self.network.owner(self.address) is not None:
            self.network.detach(self.address)

    def leave(self) -> None:
        run_now(self.runtime.stop(graceful=True))
        self.kill()

    def set_load(self, load: LoadReport) -> None:
        self.runtime.set_load_provider(lambda: load)

    def view(self) -> dict[str, MemberView]:
        return self.runtime.members()


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
        )
        self.nodes[node_id] = node
        node.start(None if seed_peer is None else self.address_of(seed_peer))
        return node

    def run(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def running(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.running]

    def kill(self, node_id: str) -> None:
        self.nodes[node_id].kill()

    def set_load(self, node_id: str, load: LoadReport) -> None:
        self.nodes[node_id].set_load(load)

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
