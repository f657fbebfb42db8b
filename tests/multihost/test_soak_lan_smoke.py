"""Short runs of bench/soak.py's multi-host soaks (the full ones are benchmarks).

Partition: one node cut off once, configuration changed on both sides meanwhile:
one recorder per camera again after the heal, every change on every node, no hole.
Churn: two kill -9 of random nodes: every hole in the merged timelines begins at a
kill, and the system is steady again afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from failover_lan import System

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench._soak_lan import churn, lan, partition

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def system(netns_available: None) -> Iterator[System]:
    net, system = lan(cameras_per_node=1)
    try:
        yield system
    finally:
        net.close()


def test_partition_smoke_converges_and_loses_nothing(system: System) -> None:
    result = partition(system, 1, down_s=(6.0, 6.0), between_s=(0.0, 0.0), log=print)
    assert len(result.heal_converge_s) == 1  # one recorder per camera again after the heal
    assert result.config_converged == result.config_changes == 4
    assert result.worst_hole_s <= 3.0  # both sides recorded throughout


def test_churn_smoke_every_hole_begins_at_a_kill(system: System) -> None:
    result = churn(system, 0.25, every_s=7.0, log=print)
    assert result.kills >= 2
    assert result.holes == result.holes_after_a_kill
    system.wait_steady(60)
