"""The failover loop: decides on every poke and interval, applies only changes, survives
a failing step, and stops cleanly."""

from __future__ import annotations

import asyncio

from node.failover._controller import FailoverController, FailoverInputs
from node.failover._loop import FailoverLoop

SERVERS = ({"id": "a", "failover_enabled": True, "max_cameras": 4, "licensed_channels": 4},)


def cameras(*ids: str) -> tuple[dict, ...]:
    return tuple({"id": i, "home_server_id": "a"} for i in ids)


async def test_applies_changes_only_and_reacts_to_pokes() -> None:
    state = {"cameras": cameras("c1")}
    applied: list[frozenset[str]] = []

    async def apply(desired: frozenset[str]) -> None:
        applied.append(desired)

    loop = FailoverLoop(
        FailoverController("a", started_at=0.0),
        gather=lambda: FailoverInputs(servers=SERVERS, cameras=state["cameras"]),
        apply=apply,
        interval_s=30.0,  # only pokes can make it step again in this test
        clock=lambda: 10.0,
    )
    loop.start()
    try:
        for _ in range(100):
            if applied:
                break
            await asyncio.sleep(0.01)
        assert applied == [{"c1"}]
        state["cameras"] = cameras("c1", "c2")
        loop.poke()
        for _ in range(100):
            if len(applied) == 2:
                break
            await asyncio.sleep(0.01)
        assert applied == [{"c1"}, {"c1", "c2"}]
        steps = loop.steps
        loop.poke()  # nothing changed: a step, no apply
        for _ in range(100):
            if loop.steps > steps:
                break
            await asyncio.sleep(0.01)
        assert loop.steps > steps and len(applied) == 2
        assert loop.last is not None and loop.last.desired == {"c1", "c2"}
    finally:
        await loop.stop()


async def test_a_failing_step_is_retried_and_stop_is_clean() -> None:
    calls = {"n": 0}

    def gather() -> FailoverInputs:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("state not readable yet")
        return FailoverInputs(servers=SERVERS, cameras=cameras("c1"))

    applied: list[frozenset[str]] = []

    async def apply(desired: frozenset[str]) -> None:
        applied.append(desired)

    async def refresh() -> None:
        raise OSError("peer down")  # logged, does not stop the step

    loop = FailoverLoop(
        FailoverController("a", started_at=0.0),
        gather=gather,
        apply=apply,
        refresh=refresh,
        interval_s=0.05,
        clock=lambda: 10.0,
    )
    loop.start()
    for _ in range(200):
        if applied:
            break
        await asyncio.sleep(0.01)
    await loop.stop()
    assert applied == [{"c1"}] and calls["n"] >= 2
    await loop.stop()  # twice is harmless
