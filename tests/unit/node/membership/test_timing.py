"""membership_config: the [gossip] settings a node ships with become the failure
detector's timing, and its detection bound is the configured dead_after_s."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.config import GossipConfig, load_config
from node.membership import MembershipConfig, membership_config, shortest_dead_after_s


def test_shipped_defaults_are_the_membership_defaults() -> None:
    shipped = load_config(environ={}).gossip  # node/default_config.toml
    assert membership_config(shipped) == MembershipConfig()
    assert MembershipConfig().detection_bound_s == pytest.approx(shipped.dead_after_s)


def test_a_faster_configuration() -> None:
    config = membership_config(GossipConfig(interval_s=0.1, suspect_after_s=0.5, dead_after_s=1.0))
    assert config.probe_interval_s == 0.1 and config.probe_timeout_s == 0.05
    assert config.gossip_interval_s == 0.05
    assert (config.suspicion_min_s, config.suspicion_max_s) == (0.25, 0.45)
    assert config.reconnect_interval_s == 0.5
    assert config.detection_bound_s == pytest.approx(1.0)


def test_a_slower_configuration() -> None:
    config = membership_config(GossipConfig(interval_s=0.5, suspect_after_s=3.0, dead_after_s=10))
    assert config.detection_bound_s == pytest.approx(10.0)
    assert config.suspicion_min_s == pytest.approx(1.5)
    assert config.reconnect_interval_s == pytest.approx(2.5)


def test_too_short_dead_after_keeps_time_to_refute() -> None:
    assert shortest_dead_after_s(0.2) == pytest.approx(1.5)
    config = membership_config(GossipConfig(dead_after_s=1.4))
    assert config.suspicion_max_s == pytest.approx(2 * config.probe_interval_s)
    assert config.detection_bound_s == pytest.approx(1.5)


@given(
    interval=st.floats(0.01, 60),
    suspect_after=st.floats(0.01, 600),
    dead_after=st.floats(0.01, 3600),
)
def test_every_valid_setting_gives_a_valid_config(
    interval: float, suspect_after: float, dead_after: float
) -> None:
    settings = GossipConfig(
        interval_s=interval, suspect_after_s=suspect_after, dead_after_s=dead_after
    )
    config = membership_config(settings)  # MembershipConfig validates itself
    bound = max(dead_after, shortest_dead_after_s(interval))
    assert config.detection_bound_s == pytest.approx(bound, abs=1e-5)
    assert config.suspicion_max_s >= 2 * interval - 1e-6
    assert config.suspicion_min_s <= config.suspicion_max_s
