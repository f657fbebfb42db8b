"""One mDNS participant for the multi-host tests, run inside a test host.

    python mdns_participant.py <address> <node id> [ttl_s]

Prints one JSON line per peer event; SIGUSR1 re-announces with system id
"sys-joined"; SIGTERM says goodbye and exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from discovery import MdnsPeers, NodeInfo, PeerInfo


def _print_event(event: str, peer: PeerInfo) -> None:
    line = {"event": event, "node_id": peer.node_id, "system_id": peer.system_id, "url": peer.url}
    print(json.dumps(line), flush=True)


async def main(address: str, node_id: str, ttl_s: int) -> None:
    node = NodeInfo(node_id, f"host {address}", 7480, "0.1.0")
    peers = MdnsPeers(on_change=_print_event, ttl_s=ttl_s)
    commands: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, commands.put_nowait, "stop")
    loop.add_signal_handler(signal.SIGUSR1, commands.put_nowait, "join")
    await peers.start([address], node)
    print(json.dumps({"event": "started", "node_id": node_id}), flush=True)
    while await commands.get() == "join":
        await peers.update(NodeInfo(node_id, node.name, 7480, "0.1.0", "sys-joined"))
        print(json.dumps({"event": "joined"}), flush=True)
    await peers.stop()
    print(json.dumps({"event": "stopped"}), flush=True)


if __name__ == "__main__":
    ttl = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    asyncio.run(main(sys.argv[1], sys.argv[2], ttl))
