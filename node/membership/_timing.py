"""The membership timing a node runs with, from its three [gossip] settings.

    config = membership_config(node_config.gossip)   # anything with the three fields

The operator states two things: how often a peer is probed (`interval_s`) and how
long a killed node may take to be declared dead by everyone (`dead_after_s`);
`suspect_after_s` sets how short a well-confirmed suspicion may get. Everything else
follows:

- probe interval = `interval_s`, probe timeout = half of it (the other half is for the
  indirect probes through k peers, so one lossy link does not condemn a member);
- gossip interval = half a probe interval (at least 20 ms): a verdict spreads in a few
  gossip rounds, faster than the next probe round;
- suspicion: `MembershipConfig.detection_bound_s` is 4 probe rounds (to be probed,
  time out, fail the indirect probes and be suspected) + the longest suspicion +
  3 gossip rounds (to spread the verdict). The longest suspicion is what is left of
  `dead_after_s` after the rounds, so the bound equals `dead_after_s`. It is never
  shorter than two probe intervals, the time a live suspect needs to hear that it is
  suspected and refute: a `dead_after_s` too short for the probe interval is raised to
  the shortest safe bound (`shortest_dead_after_s`) rather than declaring live nodes
  dead. The shortest suspicion, reached once `suspicion_confirmations` independent
  peers confirm it, is half of `suspect_after_s` (within [50 ms, longest]);
- reconnect (one dead member or seed address tried) every 5 probe intervals, at least
  0.5 s.

The suspicion does not grow with the size of the system as memberlist's does
(SuspicionMult x log10(n) x probe interval): the operator's `dead_after_s` is a promise
to the failover planner, so it is a fixed bound. Size enters elsewhere, logarithmically:
each update is piggybacked retransmit_mult x ceil(log10(n + 1)) times, and the
suspicion shrinks from longest to shortest as log(confirmations + 1) (Lifeguard).
bench/membership_sim.py shows 100 nodes with 5 % loss on every link within that bound
and without false deads. The defaults (0.2 s, 1.0 s, 2.0 s) give exactly
`MembershipConfig()`.
"""

from __future__ import annotations

from typing import Protocol

from node.membership._types import MembershipConfig

PROBE_ROUNDS = 4  # probe rounds before a killed node is suspected everywhere (see above)
GOSSIP_ROUNDS = 3  # gossip rounds for the verdict to reach every peer
REFUTE_PROBE_INTERVALS = 2  # shortest suspicion: time for a live suspect to refute
MIN_GOSSIP_INTERVAL_S = 0.02
MIN_SHORTEST_SUSPICION_S = 0.05
MIN_RECONNECT_INTERVAL_S = 0.5
RECONNECT_PROBE_INTERVALS = 5


class GossipSettings(Protocol):
    """The [gossip] settings of the node configuration (node.config.GossipConfig)."""

    @property
    def interval_s(self) -> float: ...

    @property
    def suspect_after_s(self) -> float: ...

    @property
    def dead_after_s(self) -> float: ...


def gossip_interval_for(probe_interval_s: float) -> float:
    return max(probe_interval_s / 2, MIN_GOSSIP_INTERVAL_S)


def shortest_dead_after_s(interval_s: float) -> float:
    """The smallest `dead_after_s` honoured with this probe interval (1.5 s at 0.2 s)."""
    rounds = PROBE_ROUNDS * interval_s + GOSSIP_ROUNDS * gossip_interval_for(interval_s)
    return rounds + REFUTE_PROBE_INTERVALS * interval_s


def membership_config(gossip: GossipSettings) -> MembershipConfig:
    """The MembershipConfig for these settings; its `detection_bound_s` is
    `gossip.dead_after_s`, or `shortest_dead_after_s(gossip.interval_s)` when that is
    longer (see the module docstring for why each figure is what it is)."""
    probe = gossip.interval_s
    gossip_interval = gossip_interval_for(probe)
    rounds = PROBE_ROUNDS * probe + GOSSIP_ROUNDS * gossip_interval
    # rounded to the microsecond: 2.0 - 1.1 is 0.8999999999999999 in floating point
    longest = round(max(gossip.dead_after_s - rounds, REFUTE_PROBE_INTERVALS * probe), 6)
    shortest = min(max(gossip.suspect_after_s / 2, MIN_SHORTEST_SUSPICION_S), longest)
    return MembershipConfig(
        probe_interval_s=probe,
        probe_timeout_s=probe / 2,
        suspicion_min_s=shortest,
        suspicion_max_s=longest,
        gossip_interval_s=gossip_interval,
        reconnect_interval_s=max(probe * RECONNECT_PROBE_INTERVALS, MIN_RECONNECT_INTERVAL_S),
    )
