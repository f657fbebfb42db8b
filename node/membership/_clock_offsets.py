"""How far each peer's wall clock is from ours, and who is wrong. Pure (no I/O).

Every authentic gossip datagram carries its sender's wall clock (`ts`, ms). Once the
MAC is verified the sender is known, so `ts - now` is that peer's clock offset as seen
here: positive when the peer's clock is ahead. The figure also holds the one-way
delay of the datagram, at most a few milliseconds on a LAN against a warning threshold
of seconds, so it is not corrected for. Datagrams refused as stale or future still
give an offset (after the MAC check): they are exactly the ones that matter.

    table = ClockOffsets()
    table.observe("node-b", offset_ms=3_600_012, at_s=now)     # monotonic seconds
    table.fresh(now)                                          # {"node-b": 3600.012}

`ClockJudge` turns the offsets into a state per peer ("ok", "skewed": beyond the
warning threshold, "refused": beyond the authentication window, so its messages are
refused) with hysteresis, and decides, as a person would, whether this node is the
odd one out: when most of the other members agree that this node is off (their
offsets share a sign and a size), the warning is about this server; otherwise it names
the peers. With one peer nobody can tell which clock is wrong, so nobody is blamed.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ClockState = Literal["ok", "skewed", "refused"]

# Offsets stored are clipped to this (about ten years): a datagram with a wild
# timestamp is still a clock that is very wrong, never an overflow.
MAX_OFFSET_MS = 10 * 365 * 86_400_000
MAX_PEERS = 4096  # entries kept; only authenticated senders reach the table
OFFSET_MAX_AGE_S = 60.0  # an older measurement says nothing about the clock now
FILTER_S = 5.0  # the offset is the best sample of this long (see ClockOffsets)
SAMPLES_KEPT = 128  # per peer, at most (gossip every 0.1 s fills FILTER_S with 50)
DEFAULT_WARN_S = 2.0
# Leaving a state needs the offset this fraction of the warning threshold inside the
# boundary, so an offset hovering at a boundary does not flap.
HYSTERESIS = 0.25
# Offsets that blame this node must agree to within this (or this fraction of their
# size, whichever is larger): an hour off everywhere agrees; +5 s and +40 s do not.
AGREE_ABS_S = 2.0
AGREE_REL = 0.1


def clip_offset_ms(offset_ms: int) -> int:
    return max(-MAX_OFFSET_MS, min(MAX_OFFSET_MS, offset_ms))


@dataclass(frozen=True)
class OffsetSample:
    offset_ms: int  # the peer's clock minus ours
    at_s: float  # monotonic seconds of the measurement


class ClockOffsets:
    """Each peer's clock offset, from its datagrams of the last FILTER_S seconds.

    A datagram's delay (in flight, or queued while our event loop was busy) only ever
    makes `ts - now` smaller than the true offset, never larger. So, as NTP does with
    its minimum-delay sample, the offset kept is the largest of the recent ones: a
    loop that stalls for seconds on a loaded machine is not a clock that is off."""

    def __init__(self, max_peers: int = MAX_PEERS) -> None:
        self._samples: dict[str, deque[OffsetSample]] = {}
        self._max_peers = max_peers

    def observe(self, peer: str, offset_ms: int, at_s: float) -> None:
        recent = self._samples.get(peer)
        if recent is None:
            if len(self._samples) >= self._max_peers:
                oldest = min(self._samples, key=lambda p: self._samples[p][-1].at_s)
                del self._samples[oldest]
            recent = self._samples[peer] = deque(maxlen=SAMPLES_KEPT)
        recent.append(OffsetSample(clip_offset_ms(int(offset_ms)), at_s))
        while recent[0].at_s < at_s - FILTER_S:
            recent.popleft()

    def get(self, peer: str) -> OffsetSample | None:
        """The peer's best (least delayed) recent sample."""
        recent = self._samples.get(peer)
        if not recent:
            return None
        newest = recent[-1].at_s
        kept = [s for s in recent if s.at_s >= newest - FILTER_S]
        best = max(kept, key=lambda s: s.offset_ms)
        return OffsetSample(best.offset_ms, newest)

    def fresh(self, now_s: float, max_age_s: float = OFFSET_MAX_AGE_S) -> dict[str, float]:
        """{peer: offset in seconds} for peers measured at most `max_age_s` ago."""
        out = {}
        for peer in self._samples:
            sample = self.get(peer)
            if sample is not None and now_s - sample.at_s <= max_age_s:
                out[peer] = sample.offset_ms / 1000
        return out

    def forget(self, peer: str) -> None:
        self._samples.pop(peer, None)


def clock_state(
    offset_s: float,
    previous: ClockState | None,
    *,
    warn_s: float = DEFAULT_WARN_S,
    refuse_s: float = 30.0,
) -> ClockState:
    """The state for this offset; a state is left only once the offset is a margin
    inside its boundary (hysteresis)."""
    size = abs(offset_s)
    margin = HYSTERESIS * warn_s
    if size > refuse_s or (previous == "refused" and size > refuse_s - margin):
        return "refused"
    if size > warn_s or (previous in ("skewed", "refused") and size > warn_s - margin):
        return "skewed"
    return "ok"


def self_offset(
    peer_offsets: Mapping[str, float], *, warn_s: float = DEFAULT_WARN_S
) -> float | None:
    """This node's clock minus the others', when most of them (at least two) agree that
    it is off: all of that majority beyond `warn_s` with one sign and similar sizes.
    None otherwise (also with a single peer: then nobody can tell who is wrong)."""
    offsets = list(peer_offsets.values())
    if len(offsets) < 2:
        return None
    for sign in (1, -1):
        off = sorted(o for o in offsets if o * sign > warn_s)
        if 2 * len(off) <= len(offsets):
            continue
        # the largest group of offsets that agree with each other
        best: list[float] = []
        for i, low in enumerate(off):
            group = [o for o in off[i:] if o - low <= max(AGREE_ABS_S, AGREE_REL * abs(low))]
            if len(group) > len(best):
                best = group
        if 2 * len(best) > len(offsets):
            return -statistics.median(best)
    return None


@dataclass(frozen=True)
class ClockPeer:
    offset_s: float | None  # the peer's clock minus ours; None: not measured lately
    state: ClockState | None  # None: unknown
    named: bool  # the warning is about this peer (not about this node)


@dataclass(frozen=True)
class ServerClock:
    """One server's clock as the node answering sees it."""

    offset_s: float | None  # its clock minus this node's; None: unknown
    state: ClockState | None  # None: unknown
    warning: str | None  # for people; None when nothing is wrong or known


@dataclass(frozen=True)
class ClockReport:
    peers: dict[str, ClockPeer]
    self_offset_s: float | None  # set when the others agree this node is off
    self_state: ClockState | None
    # for people: this node is off (self_offset_s set), or, in a pair, the two clocks
    # differ and nobody can tell which is wrong
    warning: str | None
    refuse_s: float = 30.0

    def server(self, server_id: str, self_id: str) -> ServerClock:
        """What to show for one server: this node itself (0 s from itself unless the
        others agree it is off), or a peer (named in a warning only when it is the one
        off; a peer that agrees with the others about this node gets no text)."""
        if server_id == self_id:
            if self.self_offset_s is None:
                return ServerClock(0.0, "ok", self.warning)
            return ServerClock(round(self.self_offset_s, 3), self.self_state, self.warning)
        peer = self.peers.get(server_id)
        if peer is None or peer.offset_s is None:
            return ServerClock(None, None, None)
        text = None
        if peer.named and peer.state is not None:
            text = peer_clock_text(server_id, peer.offset_s, peer.state, refuse_s=self.refuse_s)
        return ServerClock(round(peer.offset_s, 3), peer.state, text)


def describe_offset(offset_s: float) -> str:
    """About how far, for people: "3600 s", "2.5 s"."""
    size = abs(offset_s)
    return f"{size:.0f} s" if size >= 10 else f"{size:.1f} s"


class ClockJudge:
    """Keeps each peer's state (for hysteresis) and judges who is off.

    `peers` given to `judge` are the members whose opinion counts: alive ones and those
    whose messages are refused for their clock (a cut-off node is not dead)."""

    def __init__(self, *, warn_s: float = DEFAULT_WARN_S, refuse_s: float = 30.0) -> None:
        self.warn_s = warn_s
        self.refuse_s = refuse_s
        self._states: dict[str, ClockState] = {}
        self._self_state: ClockState | None = None

    def judge(self, offsets: Mapping[str, float], peers: set[str] | frozenset[str]) -> ClockReport:
        states: dict[str, ClockState] = {}
        for peer, offset in offsets.items():
            states[peer] = clock_state(
                offset, self._states.get(peer), warn_s=self.warn_s, refuse_s=self.refuse_s
            )
        self._states = states
        voting = {p: o for p, o in offsets.items() if p in peers}
        mine = self_offset(voting, warn_s=self.warn_s)
        agreeing: set[str] = set()
        if mine is None:
            self._self_state = None
        else:
            self._self_state = clock_state(
                mine, self._self_state, warn_s=self.warn_s, refuse_s=self.refuse_s
            )
            tolerance = max(AGREE_ABS_S, AGREE_REL * abs(mine))
            agreeing = {p for p, o in voting.items() if abs(o + mine) <= tolerance}
        report_peers = {
            peer: ClockPeer(
                offset_s=offsets.get(peer),
                state=states.get(peer),
                named=states.get(peer, "ok") != "ok" and peer not in agreeing,
            )
            for peer in offsets
        }
        warning = None
        if mine is not None and self._self_state != "ok":
            warning = (
                "this server's clock differs from the other servers by about "
                f"{describe_offset(mine)} ({'ahead' if mine > 0 else 'behind'})"
            )
            if self._self_state == "refused":
                warning += ": they refuse its messages; check NTP on this server"
        elif len(voting) == 1:
            # a pair: either clock may be the wrong one, so both sides say the same
            ((peer, offset),) = voting.items()
            if states[peer] != "ok":
                warning = (
                    f"this server's clock and server {peer}'s differ by about "
                    f"{describe_offset(offset)}; check NTP on both"
                )
        return ClockReport(report_peers, mine, self._self_state, warning, self.refuse_s)


def peer_clock_text(
    server: str, offset_s: float, state: ClockState, *, refuse_s: float = 30.0
) -> str:
    """The line for a peer whose clock is off, as seen from this node (no blame: with
    the information of one pair of nodes, either clock may be the wrong one)."""
    direction = "ahead" if offset_s > 0 else "behind"
    text = (
        f"the clock of server {server} differs from this server's by about "
        f"{describe_offset(offset_s)} ({direction})"
    )
    if state == "refused":
        text += f": beyond {refuse_s:.0f} s, their messages are refused"
    return text
