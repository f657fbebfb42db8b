"""Membership: which nodes of the system are alive, and their load.

SWIM-style gossip over UDP, authenticated with the system secret: a sans-I/O state
machine (`Membership`, in _machine.py) driven by `GossipRuntime`, which owns one
datagram endpoint and the timers. A node builds its timing from the [gossip]
settings with `membership_config`, and gossips its own load from `LoadSampler`.

    runtime = GossipRuntime(node_id, system_id, secret, host=ip, port=port,
                            config=membership_config(node_config.gossip),
                            on_event=on_member_event, load_provider=sampler.sample)
    await runtime.start(); runtime.add_peer("http://10.0.0.2:7480")
    runtime.members()    # {node id: MemberView(state, incarnation, address, load, ...)}
    runtime.clock_offsets()   # {node id: its clock minus ours, s}; ClockJudge: who is off

`DatagramNetwork` and `Scheduler` are the seams a simulation replaces (tests/sim);
the codec names are here for peers that speak the wire format directly (tests,
tooling).
"""

from node.membership._address import format_address, parse_address, peer_address
from node.membership._clock import AsyncioScheduler, Scheduler, TimerHandle
from node.membership._clock_offsets import (
    ClockJudge,
    ClockOffsets,
    ClockPeer,
    ClockReport,
    ClockState,
    ServerClock,
    peer_clock_text,
)
from node.membership._codec import (
    MAGIC,
    MAX_DATAGRAM_BYTES,
    MAX_PAYLOAD_BYTES,
    Envelope,
    GossipCodec,
    GossipRejected,
    GossipTooLarge,
)
from node.membership._load import LOCAL_LOAD_KEYS, PROC_CPU_KEY, LoadSampler
from node.membership._runtime import GossipRuntime, GossipRuntimeError
from node.membership._timing import GossipSettings, membership_config, shortest_dead_after_s
from node.membership._transport import (
    Address,
    DatagramNetwork,
    DatagramReceiver,
    DatagramTransport,
    UdpNetwork,
)
from node.membership._types import (
    EventKind,
    LoadReport,
    MemberEvent,
    MembershipConfig,
    MemberState,
    MemberView,
)

__all__ = [
    "LOCAL_LOAD_KEYS",
    "MAGIC",
    "MAX_DATAGRAM_BYTES",
    "MAX_PAYLOAD_BYTES",
    "PROC_CPU_KEY",
    "Address",
    "AsyncioScheduler",
    "ClockJudge",
    "ClockOffsets",
    "ClockPeer",
    "ClockReport",
    "ClockState",
    "DatagramNetwork",
    "DatagramReceiver",
    "DatagramTransport",
    "Envelope",
    "EventKind",
    "GossipCodec",
    "GossipRejected",
    "GossipRuntime",
    "GossipRuntimeError",
    "GossipSettings",
    "GossipTooLarge",
    "LoadReport",
    "LoadSampler",
    "MemberEvent",
    "MemberState",
    "MemberView",
    "MembershipConfig",
    "Scheduler",
    "ServerClock",
    "TimerHandle",
    "UdpNetwork",
    "format_address",
    "membership_config",
    "parse_address",
    "peer_address",
    "peer_clock_text",
    "shortest_dead_after_s",
]
