"""Session expiry, and the client's pure state logic loaded as the browser loads it."""

from __future__ import annotations

from typing import Any

import node_harness
import pytest
from node_harness import OWNER, OWNER_PASSWORD

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect
node_factory = node_harness.node_factory  # fixture

TOKEN_TTL_S = 6


def test_expired_session_goes_back_to_log_in(browser: Any, node_factory) -> None:
    node = node_factory(config=f"token_ttl_s = {TOKEN_TTL_S}\n")
    node.setup()
    context = browser.new_context()
    page = context.new_page()
    page.goto(node.url + "/")
    page.get_by_label("User name").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Live").wait_for()
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    expect(page.locator(".notice")).to_contain_text("expired")
    context.close()


TILE_CASES = """async () => {
  const { tileState } = await import('/web/lib/camera_state.js');
  const servers = new Map([['a', {name: 'A <x>'}], ['b', {name: 'B'}]]);
  const cam = (extra) => ({ home_server_id: 'a', continuous_recording: true,
    priority: 'medium', status: { state: 'recording' }, recording_server_id: 'a', ...extra });
  return [
    tileState(cam({}), servers, undefined),
    tileState(cam({ recording_server_id: 'b' }), servers, undefined),
    tileState(cam({ status: { state: 'error', last_error: 'RTSP 401' } }), servers, undefined),
    tileState(cam({ recording_server_id: null, status: { state: 'remote' }, priority: 'never' }),
              servers, { planned_server_id: null, unplaced_reason: 'x' }),
    tileState(cam({ recording_server_id: null, status: { state: 'remote' } }), servers,
              { planned_server_id: null, unplaced_reason: 'no free channel' }),
    tileState(cam({ continuous_recording: false, recording_server_id: null }), servers, undefined),
  ];
}"""

TIMELINE_CASES = """async () => {
  const t = await import('/web/lib/timeline.js');
  const periods = [
    { start: '2026-01-01T10:00:00Z', end: '2026-01-01T10:10:00Z', server_id: 'a' },
    { start: '2026-01-01T10:12:00Z', end: '2026-01-01T10:30:00Z', server_id: 'b' },
  ];
  const from = Date.parse('2026-01-01T10:05:00Z'), to = Date.parse('2026-01-01T10:25:00Z');
  return { bars: t.bars(periods, from, to), gaps: t.gaps(periods, from, to),
           at: t.timeAt(0.5, from, to) };
}"""


CLOCK_EVENT_CASES = """async () => {
  const { logEventText } = await import('/web/lib/event_text.js');
  const name = (id) => (id === 'x' ? 'X <b>' : id);
  const skew = (details) => logEventText(
    { type: 'server_clock_skew', server_id: 'x', details }, name, name);
  return [skew({ offset_s: 3600.0, state: 'refused' }), skew({ offset_s: -2.5, state: 'skewed' }),
          skew({ offset_s: 0.0, state: 'ok' })];
}"""


def test_tile_states_and_timeline(browser: Any, node_factory) -> None:
    node = node_factory()
    page = browser.new_page()
    page.goto(node.url + "/")
    states = page.evaluate(TILE_CASES)
    assert [s["kind"] for s in states] == [
        "home", "backup", "offline", "unrecorded", "unrecorded", "unrecorded",
    ]  # fmt: skip
    assert states[0]["text"] == "Recording here, on A <x>"
    assert states[1]["text"] == "Recording on backup server B"
    assert states[2]["text"] == "Offline: RTSP 401"
    assert states[3]["text"] == "Not recorded: priority Never"
    assert states[4]["text"] == "Not recorded: no free channel"
    timeline = page.evaluate(TIMELINE_CASES)
    bars = [(round(b["left"], 2), round(b["width"], 2), b["serverId"]) for b in timeline["bars"]]
    assert bars == [(0.0, 25.0, "a"), (35.0, 65.0, "b")]
    gap_minutes = [(g["end"] - g["start"]) / 60000 for g in timeline["gaps"]]
    assert gap_minutes == [2.0]
    assert timeline["at"] == 1767262500000  # 10:15:00Z
    refused, skewed, ok = page.evaluate(CLOCK_EVENT_CASES)
    assert refused == {
        "kind": "clock",
        "text": "Server X <b>: clock differs by 3600.0 s (ahead), its messages are refused",
    }
    assert skewed["text"] == "Server X <b>: clock differs by 2.5 s (behind)"
    assert ok == {"kind": "clock-ok", "text": "Server X <b>: clock back in step"}
    page.close()
