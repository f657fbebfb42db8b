"""Mutable per-member and per-probe records of the membership state machine (internal)."""

from __future__ import annotations

from dataclasses import dataclass

from node.membership._types import LoadReport, MemberState
from node.membership._wire import Entry


@dataclass
class Suspicion:
    started: float
    confirmers: set[str]
    deadline: float


@dataclass
class MemberRecord:
    node_id: str
    address: str
    epoch: int
    incarnation: int
    state: MemberState
    since: float
    last_seen: float | None = None
    origin: str | None = None
    load: LoadReport | None = None
    load_key: tuple[int, int] = (-1, -1)
    suspicion: Suspicion | None = None
    last_notice: float = float("-inf")

    @property
    def key(self) -> tuple[int, int]:
        return (self.epoch, self.incarnation)

    def entry(self) -> Entry:
        return Entry(
            self.node_id, self.address, self.epoch, self.incarnation, self.state, self.origin
        )


@dataclass
class Probe:
    target: str
    seq: int
    started: float
    indirect_sent: bool = False
    acked: bool = False


@dataclass
class Relay:
    requester: str
    address: str
    seq: int
    expires: float


@dataclass
class Timers:
    probe: float
    gossip: float
    sync: float
    reconnect: float


def next_round(previous_deadline: float, interval: float, now: float) -> float:
    """The next deadline of a periodic timer; skip missed rounds instead of bursting."""
    following = previous_deadline + interval
    return following if following > now else now + interval
