"""The failover controller's asyncio loop: decide every interval and on every poke.

    loop = FailoverLoop(controller, gather=..., apply=recorder_set_cameras,
                        refresh=fetch_peer_sets, interval_s=config.failover.plan_interval_s)
    loop.start(); loop.poke()   # membership or replicated records changed
    await loop.stop()

One task: refresh peers' recording sets (bounded by the fetch timeout), gather the
inputs, `controller.decide(inputs, now)`, and hand the desired set to `apply` when it
differs from the one applied last. A failing step is logged and retried at the next
interval; cancellation ends the loop quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from node.failover._controller import Decision, FailoverController, FailoverInputs

log = logging.getLogger(__name__)

MIN_STEP_GAP_S = 0.05  # pokes in a burst are coalesced into one step


class FailoverLoop:
    def __init__(
        self,
        controller: FailoverController,
        *,
        gather: Callable[[], FailoverInputs],
        apply: Callable[[frozenset[str]], Awaitable[None]],
        interval_s: float,
        refresh: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self.controller = controller
        self._gather = gather
        self._apply = apply
        self._refresh = refresh
        self.interval_s = interval_s
        self._clock = clock
        self._on_decision = on_decision
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._applied: frozenset[str] | None = None
        self.last: Decision | None = None
        self.steps = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="failover")

    def poke(self) -> None:
        """Something changed (membership, records, recorder state): decide soon."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def step(self) -> Decision:
        """One decision, applied if it changes the recorder set."""
        if self._refresh is not None:
            try:
                await self._refresh()
            except Exception:
                log.exception("failover: refreshing peers' recording sets failed")
        decision = self.controller.decide(self._gather(), self._clock())
        self.last = decision
        self.steps += 1
        if decision.desired != self._applied:
            await self._apply(decision.desired)
            self._applied = decision.desired
        if self._on_decision is not None:
            self._on_decision(decision)
        return decision

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("failover: a planning step failed; retrying")
            await asyncio.sleep(MIN_STEP_GAP_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
