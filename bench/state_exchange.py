"""Size of the system-wide camera state exchange at 128 cameras per node, 100 nodes.

Two parts, both measured with the real code:
- gossip: 100 nodes in the simulation of tests/sim (real Membership state machine and
  GossipCodec over the fake network and clock), once with plain loads and once with
  the load extras a node gossips (`rec` failover digest, `ev` event number, `cs`
  camera state digest); bytes sent per node per simulated second;
- HTTP: the real OwnTable messages for 128 cameras (the whole table, a one-camera
  delta) plus the signed request's headers, times the rate of state changes assumed
  (every camera changing state once an hour, a busy site), each pushed to 99 peers.

    python bench/state_exchange.py [--nodes 100] [--observe 5] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from node.camerastate import CameraReport, OwnTable  # noqa: E402
from node.membership import MAGIC, LoadReport, MembershipConfig  # noqa: E402
from tests.sim.cluster import SimCluster  # noqa: E402

SECTION = "## Camera state exchange size (bench/state_exchange.py)"
RESULTS = ROOT / "bench" / "RESULTS.md"
TAG_BYTES = 32  # HMAC-SHA256 of a gossip datagram
CAMERAS = 128
# headers of a signed node-to-node POST (method line, host, content type and length,
# the internode signature headers) and of its answer: an estimate, not measured
HTTP_OVERHEAD_BYTES = 650
CHANGES_PER_CAMERA_PER_S = 1 / 3600


def gossip_bytes(
    nodes: int, observe_s: float, extras: bool, settle_s: float
) -> tuple[float, dict[str, float]]:
    """Bytes sent per node per second, in all and by message type."""
    cluster = SimCluster(nodes, seed=1, config=MembershipConfig(), loss=0.0)
    for i, node_id in enumerate(cluster.nodes):
        extra = (
            {
                "rec": f"{CAMERAS}:{CAMERAS}:0123456789abcdef",
                "ev": str(1000 + i),
                "cs": "a1b2c3.4711",
            }
            if extras
            else {}
        )
        cluster.set_load(
            node_id, LoadReport(cpu_percent=i % 100, channels_used=CAMERAS, extra=extra)
        )
    cluster.run_until_converged(60.0)
    cluster.run(settle_s)  # the joins' own gossip dies down
    by_type: Counter[str] = Counter()

    def sniff(_src: str, _dst: str, data: bytes) -> None:
        body = data[len(MAGIC) + TAG_BYTES :]  # after the magic and the MAC
        by_type[json.loads(body)["type"]] += len(data)

    cluster.network.sniffer = sniff
    start = cluster.clock.now
    cluster.run(observe_s)
    per_node_s = (cluster.clock.now - start) * nodes
    return sum(by_type.values()) / per_node_s, {t: b / per_node_s for t, b in by_type.items()}


def http_sizes() -> tuple[int, int]:
    table = OwnTable("a1b2c3")
    report = CameraReport("recording", None, 25.0, 4_000_000.0, "2026-12-02T10:00:00.123Z")
    ids = [f"{i:08x}-1111-4222-8333-444455556666" for i in range(CAMERAS)]
    table.update(dict.fromkeys(ids, report))
    full = len(json.dumps({"server_id": ids[0], **table.message()}))
    changed = dict.fromkeys(ids, report)
    changed[ids[0]] = CameraReport("reconnecting", "ConnectionRefusedError: [Errno 111]")
    table.update(changed)
    delta = len(json.dumps({"server_id": ids[0], **table.message(since=1)}))
    return full, delta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--observe", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=5.0, help="s after convergence")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    plain, _ = gossip_bytes(args.nodes, args.observe, extras=False, settle_s=args.settle)
    with_extras, by_type = gossip_bytes(args.nodes, args.observe, extras=True,
                                        settle_s=args.settle)  # fmt: skip
    joining, _ = gossip_bytes(args.nodes, args.observe, extras=True, settle_s=0.0)
    full, delta = http_sizes()
    peers = args.nodes - 1
    own_changes = CAMERAS * CHANGES_PER_CAMERA_PER_S
    http_sent = own_changes * peers * (delta + HTTP_OVERHEAD_BYTES)
    http_received = own_changes * peers * (delta + HTTP_OVERHEAD_BYTES)  # every peer alike
    periodic_full = peers * (full + HTTP_OVERHEAD_BYTES) / 2.0  # the rejected design: every 2 s
    body = (
        f"{SECTION}\n\n"
        f"{args.nodes} nodes x {CAMERAS} cameras; gossip simulated for {args.observe:g} s "
        f"from {args.settle:g} s after the system converged (default MembershipConfig, no "
        "loss; the row 'just converged' starts at once, while the joins are still being "
        "gossiped); HTTP from the real table messages plus "
        f"an estimated {HTTP_OVERHEAD_BYTES} bytes of signed request/answer headers, "
        "every camera changing state once an hour. "
        f"Wall time {time.perf_counter() - started:.0f} s. "
        "Reproduce: `python bench/state_exchange.py`.\n\n"
        "| part | bytes per node per second |\n|---|---:|\n"
        f"| gossip, plain loads | {plain:,.0f} |\n"
        f"| gossip, with the rec/ev/cs digests | {with_extras:,.0f} |\n"
        f"| of which the digests | {with_extras - plain:,.0f} |\n"
        + "".join(
            f"| of which {kind} datagrams | {b:,.0f} |\n" for kind, b in sorted(by_type.items())
        )
        + f"| gossip with the digests, just converged | {joining:,.0f} |\n"
        f"| state deltas over HTTP, sent | {http_sent:,.0f} |\n"
        f"| state deltas over HTTP, received | {http_received:,.0f} |\n"
        f"| (rejected) whole tables to every peer every 2 s | {periodic_full:,.0f} |\n\n"
        f"A node's whole table is {full:,} bytes of JSON, a one-camera delta {delta:,} bytes. "
        "Where gossip's bytes go: every probe (ping and its ack, 5 a second each way) "
        "carries the sender's load and 4 others' (about three quarters of its bytes: the "
        "loads spread the failover and state digests); the periodic sync with one peer "
        "every 2 s sends a digest of the member table and swaps whole tables (about 9 "
        "datagrams each way at 100 nodes) only when the digests differ; `gossip` "
        "datagrams go only while membership changes are queued.\n"
    )
    print(body)
    if not args.no_write:
        replace_section(RESULTS, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
