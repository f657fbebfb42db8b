"""A gossip member in a real process (tests/integration/gossip_peer.py) joins two
in-process runtimes; SIGKILLed, it is declared dead by both within the bound; started
again, it is alive again; SIGTERM makes it leave."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from emulator.ports import free_port
from node.membership import GossipRuntime, MemberEvent, MembershipConfig

HOST = "127.0.0.1"
SYSTEM = "sys-proc"
SECRET = b"process test system secret 32 by"
PEER_SCRIPT = Path(__file__).with_name("gossip_peer.py")
CONFIG = MembershipConfig()
DEAD_MARGIN_S = 3.0

pytestmark = pytest.mark.timeout(120)


class PeerProcess:
    """gossip_peer.py as a subprocess; its JSON lines collected by a reader thread."""

    def __init__(self, node_id: str, port: int, seeds: list[str], tmp: Path) -> None:
        argv = [
            sys.executable,
            str(PEER_SCRIPT),
            "--node-id",
            node_id,
            "--listen",
            f"{HOST}:{port}",
            "--system",
            SYSTEM,
            "--secret-hex",
            SECRET.hex(),
            "--channels",
            "4",
            "--data",
            str(tmp),
        ]
        for seed in seeds:
            argv += ["--peer", seed]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.lines: list[dict] = []
        self.raw: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def latest_members(self) -> dict:
        for line in reversed(self.lines):
            if line["event"] == "members":
                return line["members"]
        return {}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture
def peer_process(tmp_path: Path) -> Iterator[Callable[..., PeerProcess]]:
    started: list[PeerProcess] = []

    def start(node_id: str, port: int, seeds: list[str]) -> PeerProcess:
        p = PeerProcess(node_id, port, seeds, tmp_path)
        started.append(p)
        return p

    try:
        yield start
    finally:
        for p in started:
            p.close()


@pytest.fixture
async def runtimes() -> AsyncIterator[list[tuple[GossipRuntime, list[MemberEvent]]]]:
    made = []
    for node_id in ("node-a", "node-b"):
        events: list[MemberEvent] = []
        rt = GossipRuntime(
            node_id, SYSTEM, SECRET, host=HOST, port=0, config=CONFIG, on_event=events.append
        )
        await rt.start()
        made.append((rt, events))
    made[1][0].add_peer(made[0][0].address)
    try:
        yield made
    finally:
        for rt, _ in made:
            await rt.stop(graceful=False)


async def wait_until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def state_of(rt: GossipRuntime, node_id: str) -> str | None:
    view = rt.members().get(node_id)
    return None if view is None else view.state


async def test_sigkilled_process_is_declared_dead_then_rejoins(runtimes, peer_process) -> None:
    (a, a_events), (b, b_events) = runtimes
    port = free_port(kind=socket.SOCK_DGRAM)
    proc = peer_process("node-p", port, [a.address])
    await wait_until(
        lambda: state_of(a, "node-p") == "alive" and state_of(b, "node-p") == "alive",
        30,  # includes the interpreter's start on a busy machine
        "the process to join",
    )
    await wait_until(
        lambda: (
            {"node-a", "node-b"}
            <= {k for k, v in proc.latest_members().items() if v["state"] == "alive"}
        ),
        10,
        "the process to see both in-process members",
    )
    await wait_until(
        lambda: (load := a.members()["node-p"].load) is not None and load.channels_used == 4,
        5,
        "the process's load at node-a",
    )

    killed_at = time.monotonic()
    os.kill(proc.proc.pid, signal.SIGKILL)
    bound = CONFIG.detection_bound_s + DEAD_MARGIN_S
    for events in (a_events, b_events):
        await wait_until(
            lambda events=events: any(e.kind == "dead" and e.node_id == "node-p" for e in events),
            bound + 2,
            "node-p declared dead",
        )
        dead = next(e for e in events if e.kind == "dead" and e.node_id == "node-p")
        print(f"node-p declared dead {dead.at - killed_at:.2f} s after SIGKILL")
        assert dead.at - killed_at <= bound, f"dead after {dead.at - killed_at:.2f} s"
    assert state_of(a, "node-b") == "alive" and state_of(b, "node-a") == "alive"

    # same node, same address, new process: alive again (new epoch)
    proc2 = peer_process("node-p", port, [b.address])
    await wait_until(
        lambda: state_of(a, "node-p") == "alive" and state_of(b, "node-p") == "alive",
        30,
        "the restarted process to be alive",
    )
    proc2.proc.send_signal(signal.SIGTERM)  # graceful: leaves
    assert proc2.proc.wait(timeout=10) == 0
    await wait_until(
        lambda: state_of(a, "node-p") == "left" and state_of(b, "node-p") == "left",
        5,
        "node-p to have left",
    )
    assert any(line["event"] == "stopped" for line in proc2.lines)
