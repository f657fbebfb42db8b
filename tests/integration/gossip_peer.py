"""One gossip member in a process of its own, for integration and multi-host tests.

    python tests/integration/gossip_peer.py --node-id n1 --listen 127.0.0.1:7480 \
        --system sys-1 --secret-hex 00ff... [--peer 127.0.0.2:7480]... [--channels 3]

Prints JSON lines on stdout: {"event": "started", ...} once bound, one
{"event": "member", "kind": ..., "node_id": ...} per membership event, and every
--status-interval seconds {"event": "members", "members": {id: {state, incarnation,
epoch, load}}, "rejected": {...}}. SIGTERM or SIGINT: leave gracefully, print
{"event": "stopped"} and exit 0. SIGKILL is what the tests use to kill it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from node.membership import (
    GossipRuntime,
    LoadSampler,
    MemberEvent,
    MembershipConfig,
    parse_address,
)


def emit(line: dict) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--node-id", required=True)
    p.add_argument("--listen", required=True, help="IP:PORT to bind (UDP)")
    p.add_argument("--system", default="sys-test")
    p.add_argument("--secret-hex", default=b"gossip peer test secret".hex())
    p.add_argument("--peer", action="append", default=[], help="IP:PORT of a seed")
    p.add_argument("--channels", type=int, default=0, help="channels_used to report")
    p.add_argument("--data", default=tempfile.gettempdir(), help="folder for disk free")
    p.add_argument("--status-interval", type=float, default=0.5)
    p.add_argument("--probe-interval", type=float, default=None)
    return p.parse_args(argv)


def members_json(rt: GossipRuntime) -> dict:
    return {
        node_id: {
            "state": view.state,
            "incarnation": view.incarnation,
            "epoch": view.epoch,
            "address": view.address,
            "load": asdict(view.load) if view.load is not None else None,
        }
        for node_id, view in rt.members().items()
    }


async def main(args: argparse.Namespace) -> int:
    host, port = parse_address(args.listen)
    config = MembershipConfig()
    if args.probe_interval is not None:
        config = MembershipConfig(
            probe_interval_s=args.probe_interval, probe_timeout_s=args.probe_interval / 2
        )
    sampler = LoadSampler(Path(args.data), channels_used=lambda: args.channels)

    def on_event(event: MemberEvent) -> None:
        emit({"event": "member", "wall": time.time(), **asdict(event)})

    rt = GossipRuntime(
        args.node_id,
        args.system,
        bytes.fromhex(args.secret_hex),
        host=host,
        port=port,
        config=config,
        on_event=on_event,
        load_provider=sampler.sample,
    )
    await rt.start()
    for peer in args.peer:
        rt.add_peer(peer)
    emit({"event": "started", "node_id": args.node_id, "address": rt.address})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        emit({"event": "members", "members": members_json(rt), "rejected": rt.stats()["rejected"]})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.status_interval)
    await rt.stop(graceful=True)
    emit({"event": "stopped"})
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
