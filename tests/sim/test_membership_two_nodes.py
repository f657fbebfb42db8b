"""A system of two: no third member to probe indirectly. A killed node is declared dead
as soon as a probe times out and its port refuses a TCP connection (the direct liveness
check), faster than three members confirming a suspicion; a lossy link never kills a
member that way (a lost probe gets no refusal, only a time-out, and the suspicion runs
as before)."""

from __future__ import annotations

import pytest

from node.membership import MembershipConfig
from tests.sim.cluster import SimCluster


def detection_times(nodes: int, seed: int, config: MembershipConfig) -> list[float]:
    cluster = SimCluster(nodes, seed=seed, config=config)
    cluster.run_until_converged(5.0)
    cluster.run(3.0)
    victim = "n000"
    killed_at = cluster.clock.now
    cluster.kill(victim)
    cluster.run(config.detection_bound_s + 0.5)
    times = []
    for node in cluster.running():
        dead = cluster.first_event(node.node_id, "dead", victim, killed_at)
        assert dead is not None, f"{node.node_id} did not declare {victim} dead"
        times.append(dead.at - killed_at)
    assert cluster.count_events("dead", subjects=[n for n in cluster.nodes if n != victim]) == 0
    return times


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_two_nodes_declare_a_killed_peer_dead_within_two_probe_intervals(seed: int) -> None:
    config = MembershipConfig()
    (took,) = detection_times(2, seed, config)
    # probed within one interval, timed out, the port refused: dead
    assert took <= 2 * config.probe_interval_s + 0.01
    three = detection_times(3, seed, config)
    assert took < min(three)  # the two-node system is now the faster one


def test_without_direct_checks_two_nodes_wait_for_the_whole_suspicion() -> None:
    config = MembershipConfig(direct_checks=False)
    (took,) = detection_times(2, 1, config)
    assert took >= config.suspicion_max_s  # nobody confirms: the longest suspicion


def test_a_live_peer_behind_a_dead_link_is_never_refused() -> None:
    cluster = SimCluster(2, seed=9)
    cluster.run_until_converged(5.0)
    a, b = cluster.address_of("n000"), cluster.address_of("n001")
    cluster.network.set_loss(a, b, 1.0)  # every datagram lost, TCP still answers
    cluster.run(0.8)
    checks = cluster.nodes["n000"].liveness.checks + cluster.nodes["n001"].liveness.checks
    assert checks and {verdict for _, verdict in checks} <= {"unknown"}  # lost too
    cluster.network.set_loss(a, b, 0.0)
    cluster.run(10.0)
    assert cluster.converged()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_nodes_on_a_lossy_link_never_see_a_false_death(seed: int) -> None:
    cluster = SimCluster(2, seed=seed)
    cluster.run_until_converged(5.0)
    a, b = cluster.address_of("n000"), cluster.address_of("n001")
    cluster.network.set_loss(a, b, 0.20)
    dropped_before = cluster.network.stats.dropped
    cluster.run(600.0)
    assert cluster.network.stats.dropped - dropped_before > 100  # the loss really happened
    checks = cluster.nodes["n000"].liveness.checks + cluster.nodes["n001"].liveness.checks
    assert checks  # lost probes did ask for direct checks...
    assert all(verdict != "refused" for _, verdict in checks)  # ...never refused
    assert cluster.count_events("dead") == 0
    assert cluster.converged()
