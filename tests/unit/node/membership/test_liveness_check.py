"""The direct liveness check: asked for only when nobody can probe indirectly; a refused
connection makes the member dead, any other answer changes nothing; the TCP probe tells
a closed port from an open one."""

from __future__ import annotations

import asyncio
import random
import socket

from node.membership import MembershipConfig
from node.membership._liveness import TcpLivenessProbe
from node.membership._machine import Membership
from node.membership._types import Message


def probe_times_out(m: Membership) -> tuple[float, str]:
    """Tick until the first ping, then to its time-out: (time, target)."""
    t = 0.0
    out = m.on_tick(t)
    while not any(o.message.type == "ping" for o in out):
        t += 0.05
        out = m.on_tick(t)
    target = next(o.to for o in out if o.message.type == "ping")
    m.on_tick(t + m.config.probe_timeout_s)
    return t, target


def joined(m: Membership, *peers: str) -> Membership:
    for peer in peers:
        me = {"n": peer, "a": f"{peer}:1", "e": 0, "i": 0, "s": "a"}
        m.on_message(Message("gossip", peer, {"me": me}, 0), 0.0)
    m.pop_events()
    return m


def node(**config: object) -> Membership:
    return Membership("me", MembershipConfig(**config), address="me:1", rng=random.Random(1))


def test_two_members_ask_for_a_check_and_only_a_refusal_is_death() -> None:
    m = joined(node(), "b")
    t, target = probe_times_out(m)
    assert target == "b" and m.pop_liveness_checks() == [("b", "b:1")]
    assert m.on_liveness("b", "open", t + 0.11) == []
    assert m.on_liveness("b", "unknown", t + 0.11) == []
    assert m.members()["b"].state == "alive"  # no conclusion: the probes go on
    m.on_liveness("b", "refused", t + 0.12)
    assert m.members()["b"].state == "dead"
    assert [e.kind for e in m.pop_events() if e.node_id == "b"] == ["suspect", "dead"]
    assert m.stats["refused_checks"] == 1


def test_with_helpers_to_ask_or_checks_off_no_check_is_asked() -> None:
    m = joined(node(), "b", "c", "d")
    probe_times_out(m)
    assert m.pop_liveness_checks() == []  # indirect probes instead
    m = joined(node(direct_checks=False), "b")
    probe_times_out(m)
    assert m.pop_liveness_checks() == []


def test_tcp_probe_tells_refused_from_open() -> None:
    async def run() -> list[str]:
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        verdicts: list[str] = []
        probe = TcpLivenessProbe()
        for sock in (listening, closed):
            host, port = sock.getsockname()
            probe.check(f"{host}:{port}", 1.0, verdicts.append)
        for _ in range(100):
            if len(verdicts) == 2:
                break
            await asyncio.sleep(0.01)
        probe.close()
        listening.close()
        closed.close()
        return verdicts

    assert sorted(asyncio.run(run())) == ["open", "refused"]
