"""The live fan-out: a new viewer starts at the cached keyframe with the stream's
parameter sets, frames reach every viewer once and in order (also those published
from another thread), a viewer that falls behind skips to the next keyframe and is
dropped when it stays behind, and nothing is handed to the loop without viewers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from recorder import LiveEnded, LiveFrame, LiveTap, StreamInfo
from recorder import _live_tap as live_tap

SPS_PPS = b"\x00\x00\x00\x01\x67\x42\xc0\x1e\x00\x00\x00\x01\x68\xce\x3c\x80"
IDR = b"\x00\x00\x00\x01\x65\x88\x84"
SLICE = b"\x00\x00\x00\x01\x41\x9a\x02"
INFO = StreamInfo("h264", SPS_PPS, 320, 180)


def key(n: int, with_params: bool = False) -> LiveFrame:
    return LiveFrame((SPS_PPS if with_params else b"") + IDR + bytes([n]), True, n, n)


def delta(n: int, size: int = 0) -> LiveFrame:
    return LiveFrame(SLICE + bytes([n]) * max(1, size), False, n, n)


async def drain(sub, count: int) -> list:
    return [await asyncio.wait_for(sub.get(), 2) for _ in range(count)]


async def test_new_viewer_starts_at_the_cached_keyframe_with_parameter_sets() -> None:
    tap = LiveTap(asyncio.get_running_loop())
    tap.start_stream(INFO)
    tap.publish([delta(0), key(1), delta(2), delta(3)])  # no viewer: only the GOP is kept
    sub = tap.subscribe()
    info, first, *rest = await drain(sub, 4)
    assert info == INFO
    assert first.keyframe and first.data.startswith(SPS_PPS)  # SPS/PPS from the SDP
    assert [f.pts for f in rest] == [2, 3]
    tap.publish([delta(4), key(5, with_params=True)])
    four, five = await drain(sub, 2)
    assert four.pts == 4 and five.data.count(SPS_PPS) == 1  # not added twice


async def test_frames_from_another_thread_reach_every_viewer_once_in_order() -> None:
    tap = LiveTap(asyncio.get_running_loop())
    tap.start_stream(INFO)
    tap.publish([key(0)])
    subs = [tap.subscribe() for _ in range(3)]
    assert tap.viewers == 3

    def ingest() -> None:
        for n in range(1, 101):
            tap.publish([key(n) if n % 25 == 0 else delta(n)])

    thread = threading.Thread(target=ingest)
    thread.start()
    await asyncio.to_thread(thread.join)
    for sub in subs:
        items = await drain(sub, 102)
        assert items[0] == INFO
        assert [f.pts for f in items[1:]] == list(range(101))


async def test_a_viewer_joining_mid_batch_gets_no_duplicates() -> None:
    tap = LiveTap(asyncio.get_running_loop())
    tap.start_stream(INFO)
    early = tap.subscribe()
    tap.publish([key(0), delta(1)])  # fan-out queued on the loop, not run yet
    late = tap.subscribe()  # already has both in its GOP snapshot
    await asyncio.sleep(0)
    assert [f.pts for f in (await drain(late, 3))[1:]] == [0, 1]
    assert [f.pts for f in (await drain(early, 3))[1:]] == [0, 1]
    assert late.pending == 0


async def test_no_viewer_no_loop_callbacks() -> None:
    loop = asyncio.get_running_loop()
    calls = []
    original = loop.call_soon_threadsafe
    loop.call_soon_threadsafe = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[method-assign]
    try:
        tap = LiveTap(loop)
        tap.start_stream(INFO)
        tap.publish([key(0), delta(1)])
        tap.end_stream("gone")
    finally:
        loop.call_soon_threadsafe = original  # type: ignore[method-assign]
    assert calls == []


async def test_slow_viewer_skips_to_the_next_keyframe_then_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_tap, "MAX_QUEUED_BYTES", 1000)
    now = [0.0]
    tap = LiveTap(asyncio.get_running_loop())
    tap.start_stream(INFO)
    tap.publish([key(0)])
    sub = tap.subscribe()
    sub._clock = lambda: now[0]
    fast = tap.subscribe()
    await drain(fast, 2)

    async def publish(frames: list[LiveFrame]) -> None:
        for at in range(0, len(frames), 4):  # in batches the fast viewer keeps up with
            tap.publish(frames[at : at + 4])
            await asyncio.sleep(0)
            await drain(fast, fast.pending)

    await publish([delta(n, 100) for n in range(1, 20)])  # 19 x ~107 bytes: over the bound
    assert sub.queued_bytes <= 1000 and sub.skipped > 0
    await publish([key(20), delta(21)])
    items = await drain(sub, sub.pending)
    assert [i.pts for i in items if isinstance(i, LiveFrame)] == [20, 21]  # resumed at a key
    # behind again, and still after DROP_AFTER_S: dropped; the fast viewer goes on
    await publish([delta(n, 100) for n in range(22, 40)])
    now[0] += live_tap.DROP_AFTER_S + 1
    await publish([key(40)] + [delta(n, 100) for n in range(41, 60)])
    with pytest.raises(LiveEnded, match="too slow"):
        await drain(sub, 100)
    assert tap.viewers == 1 and fast.skipped == 0


async def test_end_of_stream_ends_subscriptions_and_idle_is_reported() -> None:
    tap = LiveTap(asyncio.get_running_loop())
    idle = []
    tap.on_idle = lambda: idle.append(True)
    tap.start_stream(INFO)
    sub = tap.subscribe()
    tap.end_stream("this server no longer records the camera")
    await asyncio.sleep(0)
    with pytest.raises(LiveEnded, match="no longer records"):
        await sub.get()
    assert idle == [True] and tap.viewers == 0


async def test_b_frames_seen_make_a_new_stream_info() -> None:
    tap = LiveTap(asyncio.get_running_loop())
    tap.start_stream(INFO)
    sub = tap.subscribe()
    tap.publish_one(IDR, True, 0, 0)
    tap.publish_one(SLICE, False, 9000, 3600)  # presented later than decoded
    await asyncio.sleep(0)
    items = await drain(sub, sub.pending)
    infos = [i for i in items if isinstance(i, StreamInfo)]
    assert infos[-1].reordered and tap.info is not None and tap.info.reordered


async def test_the_first_viewer_is_reported() -> None:
    # the ingest then reads the camera at the live pace at once, not after its round
    tap = LiveTap(asyncio.get_running_loop())
    watched: list[int] = []
    tap.on_watched = lambda: watched.append(tap.viewers)
    tap.start_stream(INFO)
    tap.subscribe()
    tap.subscribe()
    assert watched == [1] and tap.viewers == 2
