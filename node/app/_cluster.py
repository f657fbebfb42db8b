"""This node's place among the other members of its system: gossip membership (who is
alive, their load) and the replication of records to them. Started when the node is
or becomes a member, stopped when it leaves."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from node.config import NodeConfig
from node.membership import (
    ClockJudge,
    ClockReport,
    GossipRuntime,
    GossipRuntimeError,
    LoadReport,
    LoadSampler,
    MemberEvent,
    MemberView,
    membership_config,
)
from node.replication import Record, RecordStore, Replicator
from node.system import Server, SystemState

log = logging.getLogger(__name__)
ALIVE_STATES = frozenset({"alive", "suspect"})


@dataclass(eq=False)
class Cluster:
    node_id: str
    config: NodeConfig
    state: SystemState
    store: RecordStore
    _: KW_ONLY
    on_member_event: Callable[[MemberEvent], None]
    load_sampler: LoadSampler
    post: Callable[[str, str, dict[str, Any]], Any]
    apply: Callable[[list[Record]], Any]
    gossip: GossipRuntime | None = field(default=None, init=False)
    replicator: Replicator | None = field(default=None, init=False)
    load_extra: dict[str, str | int | float | bool] = field(default_factory=dict, init=False)
    clock_judge: ClockJudge | None = field(default=None, init=False)

    def members(self) -> dict[str, MemberView]:
        """The gossip membership view (empty while not a member)."""
        return {} if self.gossip is None else self.gossip.members()

    def alive_servers(self) -> frozenset[str]:
        """Servers membership counts as alive (suspect included), this node included."""
        alive = {s for s, v in self.members().items() if v.state in ALIVE_STATES}
        return frozenset(alive | {self.node_id})

    def peer_views(self) -> list[PeerView]:
        """Every other server of the system with its address, state and gossiped extras."""
        members = self.members()
        out = []
        for server in self.state.servers():
            server_id, url = server.get("id"), server.get("url")
            if server_id == self.node_id or not isinstance(url, str):
                continue
            view = members.get(server_id)
            state = "dead" if view is None else view.state
            extra = dict(view.load.extra) if view is not None and view.load is not None else {}
            out.append(PeerView(server_id, url, state, extra))
        return out

    def server_state(self, server_id: str) -> str:
        """alive | suspect | dead for a server (never heard of, or left: dead)."""
        if server_id == self.node_id:
            return "alive" if self.state.is_member() else "dead"
        view = self.members().get(server_id)
        if view is None or view.state == "left":
            return "dead"
        return view.state

    def clock_report(self) -> ClockReport:
        """The other servers' clock offsets as seen here, their states, and whether this
        node's own clock is the one off (see node.membership's ClockJudge). Those that
        vote on that: alive members, and members cut off only because their clock is
        beyond the authentication window."""
        gossip, judge = self.gossip, self.clock_judge
        if gossip is None or judge is None:
            return ClockReport({}, None, None, None)
        servers = {s.get("id") for s in self.state.servers()} - {self.node_id}
        offsets = {p: o for p, o in gossip.clock_offsets().items() if p in servers}
        members = self.members()
        voters = {
            p
            for p, offset in offsets.items()
            if abs(offset) > judge.refuse_s or (p in members and members[p].state in ALIVE_STATES)
        }
        return judge.judge(offsets, voters)

    def member_load(self, server_id: str) -> LoadReport | None:
        if server_id == self.node_id:
            return self.load_report()
        view = self.members().get(server_id)
        return None if view is None else view.load

    def set_load_extra(self, key: str, value: str | int | float | bool) -> None:
        """A small value gossiped with this node's load (at most 8 keys of <= 64
        characters; see the membership wire format)."""
        self.load_extra[key] = value

    def load_report(self) -> LoadReport:
        """This node's load as gossiped: the sampler's figures and the extra values."""
        report = self.load_sampler.sample()
        if not self.load_extra:
            return report
        return dataclasses.replace(report, extra={**report.extra, **self.load_extra})

    def add_peer(self, url: object, node_id: str | None = None) -> None:
        """Tell gossip about a member's address (ignored while not a member or for junk)."""
        if self.gossip is not None and isinstance(url, str) and node_id != self.node_id:
            with contextlib.suppress(ValueError):
                self.gossip.add_peer(url, node_id)

    def queue_push(self, records: list[Record]) -> None:
        if self.replicator is not None:
            self.replicator.queue_push(records)

    async def push_now(self, records: list[Record]) -> None:
        if self.replicator is not None:
            await self.replicator.push_now(records)

    def stats(self) -> dict[str, Any]:
        return {
            "gossip": {} if self.gossip is None else self.gossip.stats(),
            "replication": {} if self.replicator is None else dict(self.replicator.stats),
        }

    async def start(self, seed_urls: Iterable[str]) -> None:
        system = self.state.system()
        if system is None or self.gossip is not None:
            return
        host = self.config.listen_host
        with contextlib.suppress(OSError):
            host = socket.gethostbyname(host)
        gossip = GossipRuntime(
            self.node_id,
            system["id"],
            bytes.fromhex(system["secret"]),
            host=host,
            port=self.config.listen_port,
            config=membership_config(self.config.gossip),
            on_event=self.on_member_event,
            load_provider=self.load_report,
        )
        try:
            await gossip.start()
        except (OSError, GossipRuntimeError) as exc:
            log.error("gossip cannot bind %s:%s/udp: %s", host, self.config.listen_port, exc)
            return
        self.gossip = gossip
        self.clock_judge = ClockJudge(
            warn_s=self.config.gossip.clock_warning_s, refuse_s=gossip.window_ms / 1000
        )
        servers = [Server.from_record(s) for s in self.state.servers()]
        seeds = [s.url for s in servers if s.id != self.node_id and s.url]
        seeds += [*seed_urls, *self.config.peers]
        for url in dict.fromkeys(seeds):
            self.add_peer(url)
        self.replicator = Replicator(
            self.store, post=self.post, targets=self._replication_targets, apply=self.apply
        )
        self.replicator.start()
        log.info("membership started in system %s", system["id"])

    async def stop(self, graceful: bool = True) -> None:
        replicator, self.replicator = self.replicator, None
        gossip, self.gossip = self.gossip, None
        self.clock_judge = None
        if replicator is not None:
            await replicator.stop()
        if gossip is not None:
            await gossip.stop(graceful=graceful)

    def _replication_targets(self) -> list[tuple[str, str]]:
        out = []
        members = self.members()
        for server in map(Server.from_record, self.state.servers()):
            if server.id == self.node_id or server.url is None:
                continue
            view = members.get(server.id)
            if view is not None and view.state in ("dead", "left"):
                continue
            out.append((server.id, server.url))
        return out


@dataclass(frozen=True)
class PeerView:
    server_id: str
    url: str
    state: str  # membership: alive | suspect | dead | left
    extra: dict[str, Any]  # the small values it gossips with its load
