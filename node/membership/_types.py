"""Public value types of the membership state machine (node/membership.py).

Everything here is plain data: configuration, the per-member view handed to the API and
the failover planner, events, load reports, and the messages the state machine asks
its runtime to send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from node.membership._codec import MAX_PAYLOAD_BYTES

MemberState = Literal["alive", "suspect", "dead", "left"]
EventKind = Literal["joined", "suspect", "alive", "dead", "left"]
MESSAGE_TYPES = ("ping", "ack", "ping_req", "gossip", "sync")


@dataclass(frozen=True)
class MembershipConfig:
    """Timing and sizing of the failure detector and dissemination (seconds).

    With the defaults a killed node is suspected within about one probe round of the
    first peer that probes it and declared dead after the suspicion timeout; in a small
    system that is well under 2 s (see bench/RESULTS.md for the 100-node figures).
    """

    probe_interval_s: float = 0.2  # one probe started every interval (round robin)
    probe_timeout_s: float = 0.1  # no direct ack by then: ask k peers to probe
    indirect_probes: int = 3  # k peers asked for an indirect probe
    # with no peer to ask (two members), try the target's TCP port: refused -> dead
    direct_checks: bool = True
    # Lifeguard-style suspicion: the timeout shrinks from max to min as independent
    # peers confirm the suspicion, so a dead node goes fast and a lone lossy link slow.
    suspicion_min_s: float = 0.5
    suspicion_max_s: float = 0.9
    suspicion_confirmations: int = 2  # confirmations that bring the timeout to min
    gossip_interval_s: float = 0.1  # pending updates pushed this often...
    gossip_fanout: int = 3  # ...to this many random live peers
    retransmit_mult: int = 4  # each update sent retransmit_mult * ceil(log10(n + 1)) times
    sync_interval_s: float = 2.0  # table digest (whole tables if they differ) with one peer
    reconnect_interval_s: float = 1.0  # try one dead member or seed address this often
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    loads_per_message: int = 4  # other members' loads carried per message (own always)
    # Another node's death verdict about a member we heard from more recently than this
    # is checked as our own suspicion first (None: detection_bound_s, the time a death
    # takes to be declared and spread; 0 believes every verdict at once).
    rumour_silence_s: float | None = None

    def __post_init__(self) -> None:
        positive = (
            "probe_interval_s",
            "probe_timeout_s",
            "suspicion_min_s",
            "suspicion_max_s",
            "gossip_interval_s",
            "sync_interval_s",
            "reconnect_interval_s",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if self.probe_timeout_s >= self.probe_interval_s:
            raise ValueError("probe_timeout_s must be shorter than probe_interval_s")
        if self.suspicion_min_s > self.suspicion_max_s:
            raise ValueError("suspicion_min_s must not exceed suspicion_max_s")
        if self.rumour_silence_s is not None and not (
            isinstance(self.rumour_silence_s, int | float)
            and math.isfinite(self.rumour_silence_s)
            and self.rumour_silence_s >= 0
        ):
            raise ValueError("rumour_silence_s must be a number of seconds >= 0")
        if not 0 <= self.loads_per_message <= 16:
            raise ValueError("loads_per_message must be between 0 and 16")
        for name in ("indirect_probes", "gossip_fanout", "retransmit_mult"):
            if not 1 <= getattr(self, name) <= 16:
                raise ValueError(f"{name} must be between 1 and 16")
        if not 1 <= self.suspicion_confirmations <= 16:
            raise ValueError("suspicion_confirmations must be between 1 and 16")
        if not 400 <= self.max_payload_bytes <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"max_payload_bytes must be in [400, {MAX_PAYLOAD_BYTES}]")

    @property
    def death_rumour_silence_s(self) -> float:
        """How long a member must have been silent to us before another node's verdict
        that it is dead is believed as such (see Membership._apply)."""
        if self.rumour_silence_s is not None:
            return self.rumour_silence_s
        # A real death reaches us about this long after the member's last word (probed,
        # suspected, declared, gossiped); a verdict about a member that spoke to us more
        # recently is most likely a stale one (a healed partition) or from a detector
        # that lost a link we still have. The bound is generous on purpose: a node whose
        # event loop stalls on a busy machine must not turn a stale verdict into a death.
        return self.detection_bound_s

    @property
    def detection_bound_s(self) -> float:
        """Time within which a killed node is declared dead by every peer, in a small
        system without loss: a few probe rounds to be probed and suspected, the longest
        suspicion timeout, and some gossip rounds to spread the verdict."""
        return 4 * self.probe_interval_s + self.suspicion_max_s + 3 * self.gossip_interval_s


@dataclass(frozen=True)
class LoadReport:
    """One node's load, as sampled by its runtime (psutil) and gossiped to all."""

    cpu_percent: float = 0.0
    mem_percent: float = 0.0
    disk_free_bytes: int = 0
    net_bytes_per_s: float = 0.0
    channels_used: int = 0
    extra: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberView:
    state: MemberState
    incarnation: int
    address: str
    load: LoadReport | None
    last_seen: float | None  # monotonic seconds of the last message from it (None: never)
    epoch: int = 0  # start epoch of the member's current run


@dataclass(frozen=True)
class MemberEvent:
    kind: EventKind
    node_id: str
    incarnation: int
    at: float  # monotonic seconds


@dataclass(frozen=True)
class Message:
    """A membership message; the runtime wraps it in a gossip_codec Envelope.

    `type` is one of MESSAGE_TYPES; `payload` is plain JSON data (see membership_wire).
    """

    type: str
    sender: str
    payload: dict[str, Any]
    incarnation: int = 0


@dataclass(frozen=True)
class Outgoing:
    """Send `message` to `address` ("host:port"); `to` is the node id, None for a seed
    address whose node id is not known yet."""

    to: str | None
    address: str
    message: Message
