"""A node whose wall clock is an hour ahead, among real node processes on loopback.

Three `camkeep run` processes form one system with sane clocks; then one of them is
restarted under Debian's libfaketime (LD_PRELOAD, FAKETIME="+1h": the wall clock an
hour ahead, as after a DST or time-zone mistake; the monotonic clock left alone, as an
NTP step leaves it). Its gossip and node-to-node calls are refused, the others call it
dead, and it calls them dead: the servers list of a healthy node must say that its
clock is refused and by about how much, the odd node must say that its own clock
differs from the others, and the event log and /metrics must show it. Restarted with a
sane clock, it is back to ok, with one event saying so.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from node_harness import (
    OWNER,
    OWNER_PASSWORD,
    ROOT,
    NodeProcess,
    camkeep_command,
    fast_failover_config,
    node_factory,
    wait_until,
)

__all__ = ["node_factory"]  # fixture

# Debian puts it under the architecture's lib folder
LIBFAKETIME = next(
    iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))),
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
)
HOUR_S = 3600.0
T = TypeVar("T")
CONFIG = fast_failover_config()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not LIBFAKETIME.exists(), reason="libfaketime not installed (apt-get install faketime)"
    ),
]


def when(get: Callable[[], T], ok: Callable[[T], bool]) -> T | None:
    """`get()` when `ok` holds for it (for wait_until)."""
    value = get()
    return value if ok(value) else None


def servers(node: NodeProcess, token: str) -> dict[str, dict]:
    with node.api(token) as api:
        answer = api.get("/api/v1/servers")
    assert answer.status_code == 200, answer.text
    return {s["id"]: s for s in answer.json()}


def skew_events(node: NodeProcess, token: str, server_id: str) -> list[dict]:
    with node.api(token) as api:
        answer = api.get(
            "/api/v1/events", params={"type": "server_clock_skew", "server_id": server_id}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()["events"] if isinstance(answer.json(), dict) else answer.json()


def status_text(node: NodeProcess) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMKEEP_")}
    env.update(CAMKEEP_SERVER=node.url, CAMKEEP_USER=OWNER, CAMKEEP_PASSWORD=OWNER_PASSWORD)
    done = subprocess.run(
        camkeep_command("status"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_node_an_hour_ahead_is_named_refused_everywhere_it_shows(node_factory) -> None:
    a = node_factory(name="clock-a", config=CONFIG)
    b = node_factory(name="clock-b", config=CONFIG)
    x = node_factory(name="clock-x", config=CONFIG)
    a.setup()
    token = a.login()
    with a.api(token) as api:
        for node in (b, x):
            body = {"url": node.url, "owner_username": OWNER, "owner_password": OWNER_PASSWORD}
            assert api.post("/api/v1/servers", json=body).status_code == 201
    x_id = x.wait_healthy()["node_id"]
    wait_until(
        lambda: {s["state"] for s in servers(a, token).values()} == {"alive"}, 30, "all alive"
    )
    # sane clocks: every server ok, the offsets small (loopback, one host clock)
    shown = wait_until(
        lambda: when(lambda: servers(a, token), lambda s: s[x_id]["clock"] == "ok"),
        30,
        "clock ok",
    )
    assert all(abs(s["clock_offset_s"]) < 1.0 for s in shown.values())
    assert "clock_warning" not in httpx.get(f"{x.url}/api/v1/health", timeout=10).json()

    # the wall clock of x jumps an hour ahead
    x.env.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME="+1h", FAKETIME_DONT_FAKE_MONOTONIC="1")
    x.restart()
    seen = wait_until(
        lambda: when(lambda: servers(a, token)[x_id], lambda s: s["clock"] == "refused"),
        30,
        "x refused in the servers list of a",
    )
    assert seen["clock_offset_s"] == pytest.approx(HOUR_S, abs=5.0)
    assert seen["clock_warning"].startswith(f"the clock of server {x_id} differs")
    assert "3600 s (ahead)" in seen["clock_warning"]
    assert servers(b, b.login())[x_id]["clock"] == "refused"  # b sees the same
    assert servers(a, token)[a.wait_healthy()["node_id"]]["clock"] == "ok"

    # x says its own clock is the odd one out once it has heard both others' clocks
    # (with one heard, it can only name the pair that differs)
    said: list[str] = []

    def own_warning() -> str | None:
        warning = httpx.get(f"{x.url}/api/v1/health", timeout=10).json().get("clock_warning")
        if warning and warning not in said:
            said.append(warning)
        odd_one_out = "this server's clock differs from the other servers"
        return warning if warning and warning.startswith(odd_one_out) else None

    own = wait_until(own_warning, 30, "x's own clock warning")
    assert own.startswith(
        "this server's clock differs from the other servers by about 3600 s (ahead)"
    )
    pair = re.compile(r"this server's clock and server \S+'s differ by about 3600 s")
    assert all(w == own or pair.match(w) for w in said), said

    # one event, written by the reporter among the healthy nodes, copied to both
    events = wait_until(lambda: skew_events(a, token, x_id), 30, "a server_clock_skew event")
    assert len(events) == 1, events
    assert events[0]["details"]["state"] == "refused"
    assert events[0]["details"]["offset_s"] == pytest.approx(HOUR_S, abs=5.0)
    wait_until(lambda: len(skew_events(b, b.login(), x_id)) == 1, 30, "the event on b")

    metrics = httpx.get(f"{a.url}/metrics", timeout=10).text
    gauge = re.search(
        rf'^camkeep_peer_clock_offset_seconds\{{server="{re.escape(x_id)}"\}} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    assert gauge is not None, metrics
    assert float(gauge.group(1)) == pytest.approx(HOUR_S, abs=5.0)
    assert f"clock       clock-x (refused): the clock of server {x_id} differs" in status_text(a)

    # a sane clock again: ok, and one more event saying so (no more than that)
    x.env.pop("LD_PRELOAD")
    x.env.pop("FAKETIME")
    x.restart()
    wait_until(lambda: servers(a, token)[x_id]["clock"] == "ok", 30, "x ok again")
    events = wait_until(
        lambda: when(lambda: skew_events(a, token, x_id), lambda e: len(e) == 2),
        30,
        "the ok event",
    )
    assert [e["details"]["state"] for e in events] == ["ok", "refused"]  # newest first
    assert "clock_warning" not in httpx.get(f"{x.url}/api/v1/health", timeout=10).json()
