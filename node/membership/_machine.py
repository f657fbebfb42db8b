"""SWIM-style membership with suspicion and load gossip, as a sans-I/O state machine.

The runtime feeds it time and messages and sends what it returns:

    m = Membership("node-a", MembershipConfig(), address="10.0.0.1:7480", epoch=start_ms)
    m.add_peer(None, "10.0.0.2:7480")          # from mDNS, --peer or configuration
    out = m.on_tick(now)                        # call at m.next_deadline() (monotonic s)
    out = m.on_message(Message(...), now)       # for every authenticated datagram
    m.set_load(LoadReport(...)); m.members(); m.pop_events()

Protocol (SWIM + memberlist habits): every probe interval, ping the next member of a
shuffled round robin; no ack within the probe timeout -> ask k peers to ping it
(ping_req) so one lossy link does not condemn it; no ack by the end of the interval ->
suspect. A suspicion becomes dead after a timeout that shrinks as other peers confirm
it (Lifeguard). A suspected node hears of it (piggybacked gossip, and a direct notice)
and refutes by raising its incarnation. Member versions are (epoch, incarnation): a
restarted process has a larger epoch, so it is alive again at once. Updates are
piggybacked on every message from a bounded retransmit queue and pushed to a few random
peers every gossip interval; each message also carries the sender's load and a
rotating few of the others'. A periodic sync with one live peer, and a periodic sync
attempt to one dead member or seed address, heal partitions and joins. The periodic
one sends only a digest of the member table first: the two whole tables (several
datagrams each way at 100 nodes, half of all gossip bytes) are exchanged only when the
digests differ, which is when there is something to heal.

With no other member to ask for an indirect probe (a system of two), a probe that
times out asks the runtime for a direct liveness check of the target's TCP port (the
API listens on the gossip port number): `pop_liveness_checks()`, answered with
`on_liveness()`. A refused connection means nothing listens there any more (the
process died; its host answers for it), so the member is dead at once instead of
after the whole unconfirmed suspicion. Any other answer (connected, timed out)
changes nothing: the suspicion runs as before, so a lossy link that drops datagrams
cannot kill a member this way, and a hung process that the kernel still accepts
connections for is still found by the probes.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from node.membership._pack import PayloadPacker
from node.membership._queue import suspicion_timeout
from node.membership._state import (
    MemberRecord,
    Probe,
    Relay,
    Suspicion,
    Timers,
    next_round,
)
from node.membership._types import (
    LoadReport,
    MemberEvent,
    MembershipConfig,
    MemberState,
    MemberView,
    Message,
    Outgoing,
)
from node.membership._wire import (
    Entry,
    LoadEntry,
    WireError,
    check_node_id,
    entry_to_json,
    parse_payload,
    table_digest,
    validate_load,
)

LIVE: frozenset[MemberState] = frozenset({"alive", "suspect"})
MAX_MEMBERS = 1024  # only authenticated peers get here; a bound all the same


class Membership:
    def __init__(
        self,
        self_id: str,
        config: MembershipConfig | None = None,
        *,
        address: str = "",
        epoch: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        self.self_id = check_node_id(self_id)
        self.config = config or MembershipConfig()
        self.address = address
        self.epoch = epoch
        self.incarnation = 0
        self.stats: Counter[str] = Counter()
        self._rng = rng or random.Random(self_id)
        self._members: dict[str, MemberRecord] = {}
        self._packer = PayloadPacker(self.config)
        self._queue = self._packer.queue
        self._events: list[MemberEvent] = []
        self._load: LoadReport | None = None
        self._load_seq = 0
        self._seq = 0
        self._probe: Probe | None = None
        self._probe_order: list[str] = []
        self._relays: dict[int, Relay] = {}
        self._seeds: dict[str, str | None] = {}  # address -> node id if known
        self._seeds_due = False
        self._timers: Timers | None = None
        self._left = False
        self._checks: list[tuple[str, str]] = []  # (node id, address) to check over TCP

    # ------------------------------------------------------------------ public API

    def add_peer(self, node_id: str | None, address: str) -> None:
        """Remember a peer address to contact (node id may be unknown, e.g. --peer)."""
        if node_id is not None:
            check_node_id(node_id)
        if node_id == self.self_id or address == self.address:
            return
        self._seeds[address] = node_id
        self._seeds_due = True

    def set_load(self, load: LoadReport) -> None:
        """This node's latest load; carried in every message it sends from now on."""
        self._load = validate_load(load)
        self._load_seq += 1

    def leave(self, now: float = 0.0) -> list[Outgoing]:
        """Leave gracefully: tell every live member; ignore everything afterwards."""
        if self._left:
            return []
        self._left = True
        self.incarnation += 1
        me = entry_to_json(self._me())
        return [
            self._out(m, "gossip", {}, first=[me], updates=False, loads=False) for m in self._live()
        ]

    def members(self) -> dict[str, MemberView]:
        """Every known member (and this node), with state, incarnation, address, load."""
        views = {
            m.node_id: MemberView(m.state, m.incarnation, m.address, m.load, m.last_seen, m.epoch)
            for m in self._members.values()
        }
        views[self.self_id] = MemberView(
            "left" if self._left else "alive",
            self.incarnation,
            self.address,
            self._load,
            None,
            self.epoch,
        )
        return views

    def pop_events(self) -> list[MemberEvent]:
        """Membership changes since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def pop_liveness_checks(self) -> list[tuple[str, str]]:
        """(node id, address) of members whose TCP port the runtime should try now."""
        checks, self._checks = self._checks, []
        return checks

    def on_liveness(self, node_id: str, verdict: str, now: float) -> list[Outgoing]:
        """The answer to a liveness check: "refused" (nothing listens: dead now),
        "open" or "unknown" (no conclusion: the suspicion goes on)."""
        m = self._members.get(node_id)
        if verdict != "refused" or m is None or m.state not in LIVE or self._left:
            return []
        self.stats["refused_checks"] += 1
        if m.state == "alive":
            self._set_state(m, "suspect", now, origin=self.self_id)
        self._set_state(m, "dead", now, origin=self.self_id)
        return []

    def next_deadline(self) -> float | None:
        """When on_tick next has something to do (None: call on_tick now)."""
        t = self._timers
        if t is None or self._seeds_due:
            return None
        deadlines = [t.probe, t.gossip, t.sync, t.reconnect]
        p = self._probe
        if p is not None and not p.acked and not p.indirect_sent:
            deadlines.append(p.started + self.config.probe_timeout_s)
        deadlines += [m.suspicion.deadline for m in self._members.values() if m.suspicion]
        return min(deadlines)

    # ------------------------------------------------------------------ tick

    def on_tick(self, now: float) -> list[Outgoing]:
        """Advance timers to `now` (monotonic seconds); return messages to send."""
        if self._left:
            return []
        cfg = self.config
        out: list[Outgoing] = []
        if self._timers is None:  # stagger the first rounds so nodes do not align
            r = self._rng.random
            self._timers = Timers(
                probe=now + r() * cfg.probe_interval_s,
                gossip=now + r() * cfg.gossip_interval_s,
                sync=now + r() * cfg.sync_interval_s,
                reconnect=now + cfg.reconnect_interval_s,
            )
        t = self._timers
        if self._seeds_due:
            self._seeds_due = False
            for address, node_id in self._seeds.items():
                if not self._is_live_address(address):
                    out += self._sync_to(node_id, address, request=True)
        p = self._probe
        if p and not p.acked and not p.indirect_sent and now >= p.started + cfg.probe_timeout_s:
            p.indirect_sent = True
            out += self._indirect_probe(p)
        if now >= t.probe:
            if p and not p.acked:
                self._probe_failed(p, now, out)
            self._probe = None
            out += self._start_probe(now)
            t.probe = next_round(t.probe, cfg.probe_interval_s, now)
        for m in list(self._members.values()):
            if m.suspicion is not None and now >= m.suspicion.deadline:
                self._set_state(m, "dead", now, origin=self.self_id)
        if now >= t.gossip:
            t.gossip = next_round(t.gossip, cfg.gossip_interval_s, now)
            if len(self._queue):
                live = self._live()
                for m in self._rng.sample(live, min(cfg.gossip_fanout, len(live))):
                    out.append(self._out(m, "gossip", {}))
        if now >= t.sync:
            t.sync = next_round(t.sync, cfg.sync_interval_s, now)
            live = self._live()
            if live:
                m = self._rng.choice(live)
                out.append(self._out(m, "sync", {"r": True, "h": self._digest()}, loads=False,
                                     updates=False))  # fmt: skip
        if now >= t.reconnect:
            t.reconnect = next_round(t.reconnect, cfg.reconnect_interval_s, now)
            out += self._reconnect()
        for seq in [s for s, r in self._relays.items() if r.expires <= now]:
            del self._relays[seq]
        return out

    def _start_probe(self, now: float) -> list[Outgoing]:
        target = self._next_probe_target()
        if target is None:
            return []
        self._seq += 1
        self._probe = Probe(target.node_id, self._seq, now)
        self.stats["probes"] += 1
        return [self._out(target, "ping", {"t": target.node_id, "k": self._seq})]

    def _next_probe_target(self) -> MemberRecord | None:
        for _ in range(2):
            while self._probe_order:
                m = self._members.get(self._probe_order.pop())
                if m is not None and m.state in LIVE:
                    return m
            self._probe_order = [m.node_id for m in self._live()]
            self._rng.shuffle(self._probe_order)
        return None

    def _indirect_probe(self, p: Probe) -> list[Outgoing]:
        target = self._members.get(p.target)
        if target is None or target.state not in LIVE:
            return []
        helpers = [m for m in self._live() if m.node_id != p.target]
        if not helpers and self.config.direct_checks:
            self._checks.append((target.node_id, target.address))  # nobody else to ask
        chosen = self._rng.sample(helpers, min(self.config.indirect_probes, len(helpers)))
        self.stats["indirect_probes"] += len(chosen)
        body = {"t": target.node_id, "ta": target.address, "k": p.seq}
        out = [self._out(h, "ping_req", body) for h in chosen]
        # A second direct ping alongside (memberlist does a TCP ping here): with random
        # loss it removes most false suspicions for the price of one datagram.
        out.append(self._out(target, "ping", {"t": target.node_id, "k": p.seq}))
        return out

    def _probe_failed(self, p: Probe, now: float, out: list[Outgoing]) -> None:
        m = self._members.get(p.target)
        if m is None or m.state not in LIVE:
            return
        self.stats["failed_probes"] += 1
        if m.state == "alive":
            self._set_state(m, "suspect", now, origin=self.self_id)
            # Tell the suspect directly: it refutes in one round trip if it is alive.
            out.append(self._out(m, "gossip", {}, first=[entry_to_json(m.entry())]))
        else:
            self._confirm(m, self.self_id)

    def _reconnect(self) -> list[Outgoing]:
        """Try one dead member or unresolved seed: heals partitions, finds restarts."""
        candidates: list[tuple[str | None, str]] = [
            (m.node_id, m.address) for m in self._members.values() if m.state == "dead"
        ]
        candidates += [
            (node_id, address)
            for address, node_id in self._seeds.items()
            if not self._is_live_address(address)
        ]
        if not candidates:
            return []
        node_id, address = self._rng.choice(candidates)
        return self._sync_to(node_id, address, request=True)

    # ------------------------------------------------------------------ messages

    def on_message(self, msg: Message, now: float) -> list[Outgoing]:
        """Handle one authenticated message; malformed ones are counted and dropped."""
        if self._left:
            return []
        try:
            parsed = parse_payload(msg.type, msg.sender, msg.payload)
        except WireError:
            self.stats["malformed"] += 1
            return []
        self.stats["malformed_entries"] += parsed.bad_entries
        me, updates, loads, body = parsed.me, parsed.updates, parsed.loads, parsed.body
        out: list[Outgoing] = []
        self._apply_sender(me, now, out)
        for entry in updates:
            self._apply(entry, now, out, via=msg.sender)
        for load in loads:
            self._apply_load(load)
        sender = self._members.get(msg.sender)
        if sender is None:
            return out
        if msg.type == "ping" and body["t"] == self.self_id:
            out.append(self._out(sender, "ack", {"k": body["k"]}))
        elif msg.type == "ack":
            self._on_ack(body["k"], out)
        elif msg.type == "ping_req" and body["t"] != self.self_id:
            self._seq += 1
            self._relays[self._seq] = Relay(
                sender.node_id, sender.address, body["k"], now + 2 * self.config.probe_interval_s
            )
            target = self._members.get(body["t"])
            address = target.address if target is not None else body["ta"]
            out.append(self._send(body["t"], address, "ping", {"t": body["t"], "k": self._seq}))
        elif msg.type == "sync" and body["r"]:
            if body["h"] is None:  # a whole table came: send ours back
                out += self._sync_to(sender.node_id, sender.address, request=False)
            elif body["h"] != self._digest():  # only a digest, and tables differ: swap them
                out += self._sync_to(sender.node_id, sender.address, request=True)
        return out

    def _on_ack(self, seq: int, out: list[Outgoing]) -> None:
        p = self._probe
        if p is not None and p.seq == seq:
            p.acked = True
            return
        relay = self._relays.pop(seq, None)
        if relay is not None:
            out.append(self._send(relay.requester, relay.address, "ack", {"k": relay.seq}))

    def _apply_sender(self, me: Entry, now: float, out: list[Outgoing]) -> None:
        """The sender speaks for itself: learn it, and if we hold it suspect or dead at
        its current version, tell it so it can refute (rate-limited)."""
        self._apply(me, now, out, via=me.node_id)
        m = self._members.get(me.node_id)
        if m is None:
            return
        m.last_seen = now
        if m.key == me.key and me.state == "alive" and m.state == "alive":
            m.address = me.address
        stale_view = m.state in ("suspect", "dead") and m.key >= me.key
        if stale_view and now - m.last_notice >= self.config.probe_interval_s:
            m.last_notice = now
            out.append(self._out(m, "gossip", {}, first=[entry_to_json(m.entry())]))

    # ------------------------------------------------------------------ state rules

    def _apply(self, e: Entry, now: float, out: list[Outgoing], via: str) -> None:
        if e.node_id == self.self_id:
            self._refute_if_needed(e, out, via)
            return
        m = self._members.get(e.node_id)
        if m is None:
            if e.state == "alive" and len(self._members) < MAX_MEMBERS:
                m = MemberRecord(e.node_id, e.address, e.epoch, e.incarnation, "alive", now)
                self._members[e.node_id] = m
                self._probe_order.insert(self._rng.randint(0, len(self._probe_order)), e.node_id)
                self._event("joined", m, now)
                self._queue.push(m.entry())
            return
        if e.key < m.key:
            return  # stale
        if e.state == "alive":
            if e.key > m.key:
                m.epoch, m.incarnation, m.address = e.epoch, e.incarnation, e.address
                self._set_state(m, "alive", now)
        elif e.state == "suspect":
            if e.key == m.key and m.state == "suspect":
                self._confirm(m, e.origin or via)
            elif e.key > m.key or m.state == "alive":
                m.epoch, m.incarnation = e.epoch, e.incarnation
                self._set_state(m, "suspect", now, origin=e.origin or via)
        elif self._rumoured_death(e, m, now):
            self._doubt(m, e.origin or via, now, out)
        elif e.key > m.key or m.state in LIVE:  # dead or left
            m.epoch, m.incarnation = e.epoch, e.incarnation
            self._set_state(m, e.state, now, origin=e.origin or via)

    def _rumoured_death(self, e: Entry, m: MemberRecord, now: float) -> bool:
        """A death verdict, at the version we hold live, about a member that has spoken
        to us within `death_rumour_silence_s` (less time than a death takes to be
        detected and reach us: the verdict is stale or not ours to share). This is what a healed
        partition produces: the side that was cut off still holds the other side dead
        at their current incarnations and hands those verdicts over in its first sync;
        believed at once, they would mark live, reachable neighbours dead until they
        refute, and everything acting on membership (failover placement) would act on
        that moment."""
        return (
            e.state == "dead"
            and e.key == m.key
            and m.state in LIVE
            and m.last_seen is not None
            and now - m.last_seen < self.config.death_rumour_silence_s
        )

    def _doubt(self, m: MemberRecord, origin: str, now: float, out: list[Outgoing]) -> None:
        """Check a rumoured death as our own suspicion: the member hears of it at once
        (and refutes in one round trip); if it really died, our suspicion runs out, or
        a later verdict comes once it has been silent long enough: a real death reaches
        us at most one suspicion timeout later than it would have."""
        if m.state == "alive":
            self._set_state(m, "suspect", now, origin=origin)
        else:
            self._confirm(m, origin)
        self.stats["doubted_deaths"] += 1
        if now - m.last_notice >= self.config.probe_interval_s:
            m.last_notice = now
            out.append(self._out(m, "gossip", {}, first=[entry_to_json(m.entry())]))

    def _set_state(
        self, m: MemberRecord, state: MemberState, now: float, origin: str | None = None
    ) -> None:
        previous = m.state
        m.state, m.since = state, now
        m.origin = origin if state in ("suspect", "dead") else None
        if state == "suspect":
            cfg = self.config
            deadline = now + suspicion_timeout(
                0, cfg.suspicion_confirmations, cfg.suspicion_min_s, cfg.suspicion_max_s
            )
            m.suspicion = Suspicion(now, {origin or self.self_id}, deadline)
        else:
            m.suspicion = None
        self._queue.push(m.entry())
        if state == previous and state != "alive":
            return
        if state == "alive":
            if previous != "alive":
                self._event("joined" if previous == "left" else "alive", m, now)
        else:
            self._event(state, m, now)

    def _confirm(self, m: MemberRecord, who: str) -> None:
        s = m.suspicion
        if s is None or who in s.confirmers:
            return
        s.confirmers.add(who)
        cfg = self.config
        s.deadline = s.started + suspicion_timeout(
            len(s.confirmers) - 1,
            cfg.suspicion_confirmations,
            cfg.suspicion_min_s,
            cfg.suspicion_max_s,
        )
        self._queue.push(Entry(m.node_id, m.address, m.epoch, m.incarnation, "suspect", who))

    def _refute_if_needed(self, e: Entry, out: list[Outgoing], via: str) -> None:
        mine = (self.epoch, self.incarnation)
        if e.key < mine or (e.key == mine and e.state == "alive"):
            return
        # Someone holds us suspect/dead (or an alive view newer than ours): refute.
        if e.epoch > self.epoch:
            self.epoch = e.epoch
        self.incarnation = e.incarnation + 1
        self.stats["refutations"] += 1
        me = self._me()
        self._queue.push(me)
        for node_id in {via, e.origin}:
            m = self._members.get(node_id) if node_id else None
            if m is not None:
                out.append(self._out(m, "gossip", {}, first=[entry_to_json(me)]))

    def _apply_load(self, le: LoadEntry) -> None:
        m = self._members.get(le.node_id)
        if m is not None and le.key > m.load_key and le.epoch >= m.epoch:
            m.load, m.load_key = le.load, le.key

    # ------------------------------------------------------------------ building

    def _me(self) -> Entry:
        state: MemberState = "left" if self._left else "alive"
        return Entry(self.self_id, self.address, self.epoch, self.incarnation, state)

    def _live(self) -> list[MemberRecord]:
        return [m for m in self._members.values() if m.state in LIVE]

    def _is_live_address(self, address: str) -> bool:
        return any(m.address == address for m in self._live())

    def _event(self, kind: Any, m: MemberRecord, now: float) -> None:
        self._events.append(MemberEvent(kind, m.node_id, m.incarnation, now))

    def _message(self, msg_type: str, payload: dict[str, Any]) -> Message:
        return Message(msg_type, self.self_id, payload, self.incarnation)

    def _out(
        self,
        to: MemberRecord,
        msg_type: str,
        base: dict[str, Any],
        *,
        first: list[dict[str, Any]] | None = None,
        updates: bool = True,
        loads: bool = True,
    ) -> Outgoing:
        return self._send(to.node_id, to.address, msg_type, base, first, updates, loads)

    def _send(
        self,
        to_id: str | None,
        address: str,
        msg_type: str,
        base: dict[str, Any],
        first: list[dict[str, Any]] | None = None,
        updates: bool = True,
        loads: bool = True,
    ) -> Outgoing:
        return Outgoing(to_id, address, self._pack(msg_type, base, first, updates, loads))

    def _pack(
        self,
        msg_type: str,
        base: dict[str, Any],
        first: list[dict[str, Any]] | None,
        updates: bool,
        loads: bool,
    ) -> Message:
        own, others = None, []
        if loads:
            if self._load is not None:
                own = LoadEntry(self.self_id, self.epoch, self._load_seq, self._load)
            others = [
                LoadEntry(m.node_id, m.load_key[0], m.load_key[1], m.load)
                for m in sorted(self._live(), key=lambda m: m.node_id)
                if m.load is not None
            ]
        payload = self._packer.pack(
            base,
            self._me(),
            members=len(self._members) + 1,
            first=first or (),
            own_load=own,
            other_loads=others,
            updates=updates,
        )
        return self._message(msg_type, payload)

    def _digest(self) -> str:
        return table_digest([self._me(), *(m.entry() for m in self._members.values())])

    def _sync_to(self, node_id: str | None, address: str, *, request: bool) -> list[Outgoing]:
        """Our whole member table (and ourselves), in as many datagrams as it takes."""
        table = [m.entry() for m in self._members.values()]
        payloads = self._packer.sync_payloads(self._me(), table, request=request)
        return [Outgoing(node_id, address, self._message("sync", p)) for p in payloads]
