"""A node whose wall clock is an hour ahead, among real GossipRuntimes over the
simulated network: its datagrams are refused, yet every node measures the offset of
the others (refused datagrams count once their MAC is verified), and the judgement
blames the odd node, not the healthy ones."""

from __future__ import annotations

import pytest

from node.membership import ClockJudge
from tests.sim.cluster import SimCluster

HOUR_MS = 3_600_000


def test_an_hour_ahead_is_measured_on_both_sides_and_blamed_on_the_odd_node() -> None:
    cluster = SimCluster(3, seed=4)
    cluster.run_until_converged(5.0)
    skewed = cluster.nodes["n002"]
    clock = cluster.clock
    skewed.scheduler.wall_ms = lambda: clock.wall_ms() + HOUR_MS  # type: ignore[method-assign]
    cluster.run(10.0)

    healthy = cluster.nodes["n000"].runtime
    assert healthy.clock_offsets()["n002"] == pytest.approx(3600.0, abs=0.1)
    assert healthy.clock_offsets()["n001"] == pytest.approx(0.0, abs=0.1)
    assert healthy.stats()["rejected"].get("future", 0) > 0  # its messages are refused
    assert cluster.states_seen_by("n000")["n002"] == "dead"

    seen_by_odd = skewed.runtime.clock_offsets()
    assert seen_by_odd["n000"] == pytest.approx(-3600.0, abs=0.1)
    assert seen_by_odd["n001"] == pytest.approx(-3600.0, abs=0.1)
    odd = ClockJudge().judge(seen_by_odd, set(seen_by_odd))
    assert odd.self_state == "refused" and odd.warning is not None
    assert not any(p.named for p in odd.peers.values())

    offsets = healthy.clock_offsets()
    verdict = ClockJudge().judge(offsets, set(offsets))
    assert verdict.warning is None
    assert verdict.peers["n002"].named and verdict.peers["n002"].state == "refused"
