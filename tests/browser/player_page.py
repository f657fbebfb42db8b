"""Drive the node's player page (/player/watch.html) in Chromium and check that video
really decodes: decoded frames grow, the playback time advances, and two screenshots
of the picture differ."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from node_harness import wait_until

STATE_JS = """() => {
  const v = document.getElementById('video');
  const q = v.getVideoPlaybackQuality();
  const wall = window.player && window.player.wallTime ? window.player.wallTime() : null;
  return {frames: q.totalVideoFrames, time: v.currentTime, width: v.videoWidth,
          height: v.videoHeight, status: window.playerStatus || null,
          wall: wall ? wall.getTime() : null};
}"""


def open_player(browser: Any, node_url: str, camera_id: str, token: str, **args: str) -> Any:
    page = browser.new_page()
    fragment = urlencode({"camera": camera_id, "token": token, **args})
    page.goto(f"{node_url}/player/watch.html#{fragment}")
    return page


def state(page: Any) -> dict[str, Any]:
    return page.evaluate(STATE_JS)


def mode(page: Any) -> str | None:
    status = state(page)["status"]
    return status and status.get("mode")


def assert_decodes(page: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    """Wait for decoded video, then check it goes on: more frames, a later playback
    time, a different picture. Returns the last state."""
    first = wait_until(
        lambda: (s := state(page))["frames"] > 5 and s["width"] > 0 and s, timeout_s, "decoded"
    )
    shot = page.locator("#video").screenshot()
    later = wait_until(
        lambda: (s := state(page))["frames"] >= first["frames"] + 15 and s, timeout_s, "more frames"
    )
    time.sleep(0.3)
    assert later["time"] > first["time"], (first, later)
    assert page.locator("#video").screenshot() != shot, "the picture did not change"
    return later
