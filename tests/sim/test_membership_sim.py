"""Membership over a fake network and clock: convergence, failure detection, lossy links,
partitions, restarts, forged and replayed datagrams, load propagation."""

from __future__ import annotations

import pytest

from node.membership import GossipCodec, LoadReport, MembershipConfig
from tests.sim.cluster import SECRET, SYSTEM_ID, SimCluster


def test_five_nodes_converge_to_all_alive() -> None:
    cluster = SimCluster(5, seed=1)
    cluster.run_until_converged(5.0)
    for node in cluster.running():
        assert cluster.states_seen_by(node.node_id) == {
            other: "alive" for other in cluster.nodes if other != node.node_id
        }


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_killed_node_declared_dead_by_every_peer_within_bound(seed: int) -> None:
    config = MembershipConfig()
    assert config.detection_bound_s <= 2.0
    cluster = SimCluster(5, seed=seed, config=config)
    cluster.run_until_converged(5.0)
    cluster.run(3.0)
    killed_at = cluster.clock.now
    cluster.kill("n003")
    cluster.run(config.detection_bound_s + 0.01)
    for node in cluster.running():
        dead = cluster.first_event(node.node_id, "dead", "n003", killed_at)
        assert dead is not None, f"{node.node_id} did not declare n003 dead"
        assert dead.at - killed_at <= config.detection_bound_s
        assert cluster.states_seen_by(node.node_id)["n003"] == "dead"
    assert cluster.count_events("dead", subjects=["n000", "n001", "n002", "n004"]) == 0


def test_faster_configuration_detects_faster() -> None:
    config = MembershipConfig(
        probe_interval_s=0.1, probe_timeout_s=0.05, suspicion_min_s=0.2, suspicion_max_s=0.4
    )
    cluster = SimCluster(5, seed=7, config=config)
    cluster.run_until_converged(5.0)
    killed_at = cluster.clock.now
    cluster.kill("n002")
    cluster.run(config.detection_bound_s)
    for node in cluster.running():
        dead = cluster.first_event(node.node_id, "dead", "n002", killed_at)
        assert dead is not None and dead.at - killed_at <= config.detection_bound_s <= 1.2


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_twenty_percent_loss_on_one_link_no_false_dead_over_ten_minutes(seed: int) -> None:
    cluster = SimCluster(5, seed=seed)
    cluster.run_until_converged(5.0)
    a, b = cluster.address_of("n001"), cluster.address_of("n002")
    cluster.network.set_loss(a, b, 0.20)
    dropped_before = cluster.network.stats.dropped
    cluster.run(600.0)
    assert cluster.network.stats.dropped - dropped_before > 100  # the loss really happened
    assert cluster.count_events("dead") == 0
    assert cluster.converged()


def test_direct_link_cut_completely_still_alive_through_indirect_probes() -> None:
    cluster = SimCluster(5, seed=3)
    cluster.run_until_converged(5.0)
    cluster.network.set_loss(cluster.address_of("n001"), cluster.address_of("n002"), 1.0)
    cluster.run(60.0)
    assert cluster.count_events("dead") == 0
    assert cluster.converged()


def test_partition_then_heal_converges() -> None:
    cluster = SimCluster(5, seed=4)
    cluster.run_until_converged(5.0)
    left = ["n000", "n001"]
    right = ["n002", "n003", "n004"]
    cluster.network.partition(
        [cluster.address_of(n) for n in left], [cluster.address_of(n) for n in right]
    )
    cluster.run(5.0)
    for n in left:
        assert {cluster.states_seen_by(n)[m] for m in right} == {"dead"}
        assert cluster.states_seen_by(n)[left[1 - left.index(n)]] == "alive"
    for n in right:
        assert {cluster.states_seen_by(n)[m] for m in left} == {"dead"}
    cluster.network.heal()
    took = cluster.run_until_converged(10.0)
    assert took <= 5.0


def test_restarted_node_comes_back_alive_with_new_epoch() -> None:
    cluster = SimCluster(5, seed=5)
    cluster.run_until_converged(5.0)
    old_epoch = cluster.nodes["n003"].membership.epoch
    cluster.kill("n003")
    cluster.run(3.0)
    assert all(cluster.states_seen_by(n.node_id)["n003"] == "dead" for n in cluster.running())
    restarted_at = cluster.clock.now
    node = cluster.start("n003", seed_peer="n001")
    assert node.membership.epoch > old_epoch
    cluster.run_until_converged(5.0)
    for other in cluster.running():
        if other.node_id != "n003":
            assert cluster.first_event(other.node_id, "alive", "n003", restarted_at)
            assert other.view()["n003"].epoch == node.membership.epoch


def test_restarted_node_with_same_epoch_refutes_its_death() -> None:
    cluster = SimCluster(4, seed=6)
    cluster.run_until_converged(5.0)
    old = cluster.nodes["n002"].membership
    cluster.kill("n002")
    cluster.run(3.0)
    # a process restarted with a wall clock that stepped back: same epoch, incarnation 0
    node = cluster.start("n002", seed_peer="n000")
    node.membership.epoch = old.epoch
    cluster.run_until_converged(5.0)
    assert node.membership.incarnation > old.incarnation
    assert node.membership.stats["refutations"] >= 1


def test_dead_node_that_returns_without_seed_is_found_by_reconnect() -> None:
    cluster = SimCluster(4, seed=8)
    cluster.run_until_converged(5.0)
    cluster.kill("n001")
    cluster.run(3.0)
    cluster.start("n001")  # knows nobody: the others' reconnect attempts find it
    cluster.run_until_converged(10.0)


def test_graceful_leave_is_left_not_dead() -> None:
    cluster = SimCluster(5, seed=9)
    cluster.run_until_converged(5.0)
    cluster.nodes["n004"].leave()
    cluster.run(3.0)
    for node in cluster.running():
        assert cluster.states_seen_by(node.node_id)["n004"] == "left"
    assert cluster.count_events("dead") == 0
    assert cluster.count_events("left") == 4


def test_load_reports_propagate_to_every_node() -> None:
    cluster = SimCluster(5, seed=10)
    for i, node_id in enumerate(cluster.nodes):
        cluster.set_load(
            node_id,
            LoadReport(
                cpu_percent=10.0 * i, channels_used=i, disk_free_bytes=10**9, extra={"v": 1}
            ),
        )
    cluster.run_until_converged(5.0)
    cluster.run(2.0)
    for node in cluster.running():
        view = node.view()
        for i, node_id in enumerate(cluster.nodes):
            load = view[node_id].load
            assert load is not None and load.cpu_percent == 10.0 * i and load.channels_used == i
            assert load.extra == {"v": 1}
    cluster.set_load("n002", LoadReport(cpu_percent=99.0, channels_used=42))
    cluster.run(1.0)
    for node in cluster.running():
        load = node.view()["n002"].load
        assert load is not None and (load.cpu_percent, load.channels_used) == (99.0, 42)


def test_forged_and_replayed_datagrams_are_rejected_and_change_nothing() -> None:
    cluster = SimCluster(3, seed=11)
    cluster.run_until_converged(5.0)
    captured: list[tuple[str, str, bytes]] = []
    cluster.network.sniffer = lambda src, dst, data: captured.append((src, dst, data))
    cluster.run(1.0)
    cluster.network.sniffer = None
    target = cluster.nodes["n000"]
    before = cluster.states_seen_by("n000")
    incarnation_before = target.membership.incarnation
    # an outsider without the secret claims n001 is dead
    outsider = GossipCodec(SYSTEM_ID, "n001", b"wrong secret", boot=1)
    claim = {
        "me": {"n": "n001", "a": cluster.address_of("n001"), "e": 0, "i": 0, "s": "a"},
        "u": [{"n": "n002", "a": cluster.address_of("n002"), "e": 10**15, "i": 9, "s": "d"}],
    }
    forged = outsider.encode("gossip", claim, incarnation=0, now_ms=cluster.clock.wall_ms())
    cluster.network.send("6.6.6.6:1", target.address, forged)
    # a captured genuine datagram to n000, replayed
    replay = next(data for src, dst, data in captured if dst == target.address)
    cluster.network.send("6.6.6.6:1", target.address, replay)
    # another system with the same node ids
    other = GossipCodec("other-sys", "n001", SECRET, boot=1)
    cluster.network.send(
        "6.6.6.6:1",
        target.address,
        other.encode("gossip", claim, incarnation=0, now_ms=cluster.clock.wall_ms()),
    )
    cluster.run(0.5)
    assert target.rejected["bad_mac"] == 1
    assert target.rejected["replayed"] == 1
    assert target.rejected["wrong_system"] == 1
    assert cluster.states_seen_by("n000") == before
    assert target.membership.incarnation == incarnation_before
    # replaying much later is stale
    cluster.run(40.0)
    cluster.network.send("6.6.6.6:1", target.address, replay)
    cluster.run(0.1)
    assert target.rejected["stale"] == 1


def test_two_node_system_detects_kill_within_bound() -> None:
    config = MembershipConfig()
    cluster = SimCluster(2, seed=12, config=config)
    cluster.run_until_converged(5.0)
    cluster.run(2.0)
    killed_at = cluster.clock.now
    cluster.kill("n001")
    cluster.run(config.detection_bound_s)
    dead = cluster.first_event("n000", "dead", "n001", killed_at)
    assert dead is not None and dead.at - killed_at <= config.detection_bound_s


def test_node_that_left_can_join_again_after_restart() -> None:
    cluster = SimCluster(3, seed=13)
    cluster.run_until_converged(5.0)
    cluster.nodes["n002"].leave()
    cluster.run(2.0)
    assert cluster.states_seen_by("n000")["n002"] == "left"
    rejoined_at = cluster.clock.now
    cluster.start("n002", seed_peer="n000")
    cluster.run_until_converged(5.0)
    assert cluster.first_event("n000", "joined", "n002", rejoined_at)
