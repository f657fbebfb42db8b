"""Telling the recorder which cameras to record, with bursts of changes coalesced: a
change while a sync runs asks for one more sync after it, not one per change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class RecorderSync:
    def __init__(self, apply: Callable[[], Awaitable[None]]) -> None:
        self._apply = apply  # hands the recorder the camera set wanted now
        self._task: asyncio.Task[None] | None = None
        self._again = False

    async def sync(self) -> None:
        """Bring the recorder up to date; returns once the set wanted now is applied."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._loop())
        await asyncio.shield(self._task)

    async def _loop(self) -> None:
        while True:
            self._again = False
            try:
                await self._apply()
            except Exception:
                log.exception("recorder refused the camera set")
            if not self._again:
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
