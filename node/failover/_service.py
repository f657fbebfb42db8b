"""Failover on a running node: the controller, its loop, and the node's hooks.

    service = FailoverService(host, failback_delay_s=..., plan_interval_s=...)
    await service.start()
    service.desired_sources()   # what the node's recorder must record now
    service.poke()              # something changed: decide again now
    service.status()            # for GET /api/v1/failover
    await service.stop()

What it takes from the node is the small `FailoverHost` interface: the replicated
servers and cameras, the membership view (state and load per server), its own
recorder's statuses, the HTTP client for peers' recording sets (a digest gossiped in
the load extra `rec`, the set fetched over signed HTTP; see `_exchange.py`). What it
gives back: the recorder set (`desired_sources`, read by the node whenever it syncs its
recorder after `host.sync_recorder()`), and its own recording digest and CPU level
(`_cpu_level.py`) through `host.set_load_extra`.

It decides every `plan_interval_s` and at once when poked (the node pokes it when
membership, a record, or a camera's recording state changes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from node.failover._controller import (
    RELEASE_GRACE_S,
    Decision,
    FailoverController,
    FailoverInputs,
    PeerState,
)
from node.failover._cpu_level import CPU_LEVEL_KEY, CpuLevel, cpu_level_of
from node.failover._desired import camera_source, desired_sources
from node.failover._exchange import (
    DIGEST_KEY,
    INTERNAL_RECORDING_PATH,
    RecordingSets,
    parse_recorder_sets,
    recording_digest,
)
from node.failover._loop import FailoverLoop
from node.membership import MemberView
from node.system import SystemState
from recorder import CameraSource, CameraStatus

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 1.0


class FailoverHost(Protocol):
    """What the failover service needs from the node that runs it."""

    node_id: str
    state: SystemState

    def members(self) -> Mapping[str, MemberView]: ...

    def recorder_statuses(self) -> Mapping[str, CameraStatus]: ...

    def http_client(self) -> httpx.AsyncClient: ...

    async def sync_recorder(self) -> None: ...

    def set_load_extra(self, key: str, value: str | int | float | bool) -> None: ...


class FailoverService:
    def __init__(
        self,
        node: FailoverHost,
        *,
        failback_delay_s: float,
        plan_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        handover_timeout_s: float | None = None,
        release_grace_s: float = RELEASE_GRACE_S,
    ) -> None:
        self.node = node
        self._clock = clock
        kwargs = {} if handover_timeout_s is None else {"handover_timeout_s": handover_timeout_s}
        self.controller = FailoverController(
            node.node_id,
            started_at=clock(),
            failback_delay_s=failback_delay_s,
            release_grace_s=release_grace_s,
            **kwargs,
        )
        self.sets = RecordingSets()
        self._cpu_level = CpuLevel()
        self.loop = FailoverLoop(
            self.controller,
            gather=self.gather,
            apply=self._apply,
            refresh=self._refresh,
            interval_s=plan_interval_s,
            clock=clock,
            on_decision=self._published,
        )
        self._desired: frozenset[str] | None = None
        self._listeners: list[Callable[[Decision], None]] = []

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    def poke(self) -> None:
        """Decide again now (membership, a record or a recording state changed)."""
        self.loop.poke()

    # ------------------------------------------------------------------ inputs

    def _own(self) -> tuple[frozenset[str], frozenset[str]]:
        statuses = self.node.recorder_statuses()
        active = frozenset(c for c, s in statuses.items() if s.state != "stopped")
        recording = frozenset(c for c, s in statuses.items() if s.state == "recording")
        return active, recording

    def _peers(self) -> dict[str, PeerState]:
        peers = {}
        for server_id, view in self.node.members().items():
            load = view.load
            peers[server_id] = PeerState(
                state=view.state,
                cpu_percent=load.cpu_percent if load else 0.0,
                net_bytes_per_s=load.net_bytes_per_s if load else 0.0,
                cpu_level=cpu_level_of(load.extra.get(CPU_LEVEL_KEY)) if load else None,
            )
        return peers

    def gather(self) -> FailoverInputs:
        if not self.node.state.is_member():
            return FailoverInputs(servers=(), cameras=())
        active, recording = self._own()
        return FailoverInputs(
            servers=tuple(self.node.state.servers()),
            cameras=tuple(self.node.state.cameras()),
            peers=self._peers(),
            recording=self.sets.sets(),
            active=self.sets.active_sets(),
            own_active=active,
            own_recording=recording,
        )

    async def _refresh(self) -> None:
        """Fetch the recording sets of alive peers whose digest changed or is old;
        forget the sets of peers that are not alive (a returning node starts afresh)."""
        if not self.node.state.is_member():
            return
        due: list[tuple[str, str]] = []
        alive: list[str] = []
        members = self.node.members()
        now = self._clock()
        for server in self.node.state.servers():
            server_id, url = server.get("id"), server.get("url")
            view = members.get(server_id)
            if server_id == self.node.node_id or view is None or not isinstance(url, str):
                continue
            if view.state not in ("alive", "suspect"):
                continue
            alive.append(server_id)
            digest = view.load.extra.get(DIGEST_KEY) if view.load is not None else None
            if self.sets.needs_fetch(server_id, digest if isinstance(digest, str) else None, now):
                due.append((server_id, url))
        self.sets.keep_only(alive)
        if not due:
            return
        client = self.node.http_client()
        results = await asyncio.gather(
            *(
                client.get(url.rstrip("/") + INTERNAL_RECORDING_PATH, timeout=FETCH_TIMEOUT_S)
                for _, url in due
            ),
            return_exceptions=True,
        )
        for (server_id, url), result in zip(due, results, strict=True):
            try:
                if isinstance(result, BaseException):
                    raise result
                result.raise_for_status()
                recording, active = parse_recorder_sets(result.json())
                self.sets.store(server_id, recording, self._clock(), active)
            except Exception as exc:  # a peer that does not answer keeps its last set
                log.debug("failover: no recording set from %s (%s): %r", server_id, url, exc)

    # ------------------------------------------------------------------ outputs

    async def _apply(self, desired: frozenset[str]) -> None:
        if desired != self._desired:
            log.info("failover: recording %d camera(s)", len(desired))
        self._desired = desired
        await self.node.sync_recorder()

    def on_decision(self, listener: Callable[[Decision], None]) -> None:
        """Call `listener` with every decision (after it is applied), on the loop."""
        self._listeners.append(listener)

    def _published(self, decision: Decision) -> None:
        active, recording = self._own()
        self.node.set_load_extra(DIGEST_KEY, recording_digest(recording, active))
        own = self.node.members().get(self.node.node_id)
        if own is not None and own.load is not None:
            self.node.set_load_extra(CPU_LEVEL_KEY, self._cpu_level.update(own.load.cpu_percent))
        for listener in self._listeners:
            try:
                listener(decision)
            except Exception:
                log.exception("failover: a decision listener failed")

    def desired_sources(self) -> dict[str, CameraSource]:
        """The recorder set for the node's sync loop: nothing while the node is in no
        system, its own cameras until the first plan, then the plan's."""
        if not self.node.state.is_member():
            return {}
        cameras = self.node.state.cameras()
        if self._desired is None:
            return desired_sources(cameras, self.node.node_id)
        sources = {}
        for camera in cameras:
            if camera.get("id") in self._desired and camera.get("stream_url"):
                sources[camera["id"]] = camera_source(camera)
        return sources

    def recorded_by(self, camera_id: str) -> str | None:
        """A live peer gossiped as recording this camera (first by id), or None."""
        for server_id, cameras in sorted(self.sets.sets().items()):
            if camera_id in cameras:
                return server_id
        return None

    def recorder_sets(self) -> dict[str, list[str]]:
        """This node's cameras recording, and held in any state (the internal answer)."""
        active, recording = self._own()
        return {"recording": sorted(recording), "active": sorted(active)}

    def status(self) -> dict[str, Any]:
        """The last decision as plain data (plan per camera, hand-overs, alive servers)."""
        decision = self.loop.last
        if decision is None:
            return {
                "planned": {},
                "reasons": {},
                "handing_over": {},
                "failback_waiting": [],
                "release_waiting": [],
                "alive": [],
            }
        return {
            "planned": dict(decision.plan.placement),
            "reasons": {c: str(r) for c, r in decision.plan.reasons.items()},
            "handing_over": dict(decision.handing_over),
            "failback_waiting": sorted(decision.deferred),
            "release_waiting": sorted(decision.released),
            "alive": sorted(decision.alive),
        }
