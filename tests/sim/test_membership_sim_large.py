"""A smaller, fast version of bench/membership_sim.py: many nodes, random loss on every
link, one kill. Zero false deads, and every survivor declares the victim dead within
the configured bound."""

from __future__ import annotations

import pytest

from node.membership import MembershipConfig
from tests.sim.cluster import SimCluster


@pytest.mark.slow
def test_thirty_nodes_five_percent_loss_kill_detected_without_false_dead() -> None:
    config = MembershipConfig()
    cluster = SimCluster(30, seed=21, config=config, loss=0.05)
    cluster.run_until_converged(20.0)
    cluster.run(15.0)
    killed_at = cluster.clock.now
    cluster.kill("n013")
    cluster.run(config.detection_bound_s + 0.01)
    survivors = [n.node_id for n in cluster.running()]
    for observer in survivors:
        dead = cluster.first_event(observer, "dead", "n013", killed_at)
        assert dead is not None, f"{observer} did not declare n013 dead"
        assert dead.at - killed_at <= config.detection_bound_s
    assert cluster.count_events("dead", subjects=survivors) == 0
    cluster.run(5.0)
    assert cluster.converged(expected={"n013": "dead"})
