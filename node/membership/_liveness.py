"""Direct liveness checks: does anything still listen on a member's TCP port?

The membership asks for one when a probe timed out and no other member can probe
indirectly (`Membership.pop_liveness_checks`). A connection refused is an answer from
the member's host that the process is gone; connected, timed out or unreachable say
nothing for sure. The check is a seam like the datagram network: tests/sim gives a fake
that answers from the simulated network."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol

from node.membership._address import parse_address

REFUSED, OPEN, UNKNOWN = "refused", "open", "unknown"


class LivenessProbe(Protocol):
    def check(self, address: str, timeout_s: float, done: Callable[[str], None]) -> None:
        """Start a check of "IP:port"; call `done` with the verdict (on the loop)."""

    def close(self) -> None: ...


class TcpLivenessProbe:
    """A TCP connect to the address, closed at once (the node's HTTP API listens on the
    port its gossip uses)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def check(self, address: str, timeout_s: float, done: Callable[[str], None]) -> None:
        task = asyncio.get_running_loop().create_task(self._check(address, timeout_s, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(self, address: str, timeout_s: float, done: Callable[[str], None]) -> None:
        verdict = UNKNOWN
        try:
            host, port = parse_address(address)
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except ConnectionRefusedError:
            verdict = REFUSED
        except (OSError, TimeoutError, ValueError):
            verdict = UNKNOWN
        else:
            verdict = OPEN
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        done(verdict)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
