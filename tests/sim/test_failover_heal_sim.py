"""Healing a partition, replayed in every order, on the real failover and membership code.

Three nodes with two cameras each; n002 is cut off from n000 and n001 (all still reach
the cameras), so both sides record everything: n002 takes the four cameras of the
others, n000/n001 share n002's two. Then the link comes back. What must hold, whatever
arrives first after the heal (one side's gossip, one node's gossip, one side's
recording sets):

- nobody starts a recorder after the heal: every camera's home has recorded it all
  along, so each takeover only has to stop (a start would be a third server recording
  the camera for a moment: a placement flap);
- every camera ends with exactly its home recording it, and no sample after the heal
  finds a camera unrecorded.

The flap this guards against came from membership: the cut-off side still holds the
other side dead at their current incarnation, and its first sync after the heal hands
those verdicts over, so n000 marked n001 dead (and the other way round) until it
refuted, and n000's failover started n001's cameras meanwhile. Membership now checks
such a rumour as its own suspicion when it has heard from the member too recently for
any verdict to be true (`MembershipConfig.death_rumour_silence_s`).
`test_believing_every_death_rumour_flaps` shows the flap happens here without that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.sim.failover_system import FailoverSystem

CUT = "n002"
REST = ("n000", "n001")
LATE = 0.6  # how much later the slow messages of an ordering arrive


def _symmetric(s: FailoverSystem, healed: float) -> None:
    return None


def _cut_side_gossip_first(s: FailoverSystem, healed: float) -> None:
    for other in REST:
        s.hold_gossip(other, CUT, healed + LATE)


def _rest_gossip_first(s: FailoverSystem, healed: float) -> None:
    for other in REST:
        s.hold_gossip(CUT, other, healed + LATE)


def _one_node_learns_late(s: FailoverSystem, healed: float) -> None:
    s.hold_gossip(CUT, "n001", healed + LATE)


def _cut_side_sets_late(s: FailoverSystem, healed: float) -> None:
    for other in REST:
        s.hold_fetches(other, CUT, healed + LATE)


def _rest_sets_late(s: FailoverSystem, healed: float) -> None:
    for other in REST:
        s.hold_fetches(CUT, other, healed + LATE)


def _one_node_sets_late(s: FailoverSystem, healed: float) -> None:
    s.hold_fetches("n001", CUT, healed + LATE)
    s.hold_fetches("n001", "n000", healed + LATE)


ORDERINGS: dict[str, Callable[[FailoverSystem, float], None]] = {
    "symmetric": _symmetric,
    "cut-side-gossip-first": _cut_side_gossip_first,
    "rest-gossip-first": _rest_gossip_first,
    "one-node-learns-late": _one_node_learns_late,
    "cut-side-sets-late": _cut_side_sets_late,
    "rest-sets-late": _rest_sets_late,
    "one-node-sets-late": _one_node_sets_late,
}


@pytest.fixture
def system() -> Iterator[Callable[..., FailoverSystem]]:
    made: list[FailoverSystem] = []

    def make(**kwargs: object) -> FailoverSystem:
        made.append(FailoverSystem(**kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for s in made:
        s.close()


def partitioned(s: FailoverSystem) -> float:
    """Steady, then n002 cut off until both sides record everything; the heal time."""
    s.run(6.0)
    for camera_id, home in s.homes.items():
        assert s.recorders(camera_id) == {home}, camera_id
    s.partition(REST, [CUT])
    s.run(4.0)
    for camera_id in s.homes:
        assert len(s.recorders(camera_id)) == 2, (camera_id, s.recording())
    return s.clock.now


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_heal_in_any_order_starts_nothing_and_converges_to_homes(
    system: Callable[..., FailoverSystem], ordering: str, seed: int
) -> None:
    s = system(seed=seed)
    healed = partitioned(s)
    ORDERINGS[ordering](s, healed)
    s.heal()
    s.run(6.0)
    started = [(round(t - healed, 2), sid, cam) for t, sid, cam in s.starts if t >= healed]
    assert started == [], f"recorders started after the heal: {started}"
    for camera_id, home in s.homes.items():
        assert s.recorders(camera_id) == {home}, (camera_id, s.recording())
        assert s.uncovered(camera_id, healed) == [], camera_id


def test_believing_every_death_rumour_flaps(system: Callable[..., FailoverSystem]) -> None:
    """Membership that believes every death verdict at once starts a third recorder just
    after the heal, on every seed: the heal test above catches the flap every time."""
    flapped = 0
    for seed in range(3):
        s = system(seed=seed, rumour_silence_s=0.0)
        healed = partitioned(s)
        s.heal()
        s.run(6.0)
        if any(t >= healed for t, _, _ in s.starts):
            flapped += 1
    assert flapped == 3
