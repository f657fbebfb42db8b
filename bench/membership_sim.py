"""Membership simulation benchmark: N nodes, random loss on every link, one kill.

Runs the real GossipRuntime of every node (Membership state machine, GossipCodec,
timers, load provider) over the fake network and clock of tests/sim (seeded,
reproducible), and measures per seed:
- time for every surviving node to declare the killed node dead (p50/p95/max over
  nodes; and over all seeds),
- false positives: suspect and dead events about nodes that were never killed,
- traffic: datagrams and bytes per node per simulated second.
Prints a table and writes section `## Membership simulation (bench/membership_sim.py)`
of bench/RESULTS.md (only that section is replaced).

    python bench/membership_sim.py                      # 100 nodes, 5 % loss, 3 seeds
    python bench/membership_sim.py --nodes 30 --seeds 1 --observe 10 --no-write
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from node.membership import LoadReport, MembershipConfig  # noqa: E402
from tests.sim.cluster import SimCluster  # noqa: E402

SECTION = "## Membership simulation (bench/membership_sim.py)"
RESULTS = ROOT / "bench" / "RESULTS.md"


@dataclass
class RunResult:
    seed: int
    converge_s: float
    detect_s: list[float]  # per surviving node: kill -> its "dead" event
    undetected: int  # surviving nodes that never declared it dead
    first_suspect_s: float
    false_suspect: int  # suspect events about never-killed nodes (all observers)
    false_suspicions: int  # distinct (node, incarnation) suspicions of never-killed nodes
    false_dead: int  # dead events about never-killed nodes
    datagrams_per_node_s: float
    bytes_per_datagram: float
    wall_s: float


def run_once(
    seed: int,
    *,
    nodes: int,
    loss: float,
    observe_s: float,
    after_s: float,
    config: MembershipConfig,
) -> RunResult:
    started = time.perf_counter()
    cluster = SimCluster(nodes, seed=seed, config=config, loss=loss)
    for i, node_id in enumerate(cluster.nodes):
        cluster.set_load(node_id, LoadReport(cpu_percent=i % 100, channels_used=i % 32))
    converge_s = cluster.run_until_converged(60.0)
    sizes: list[int] = []
    cluster.network.sniffer = lambda _src, _dst, data: sizes.append(len(data))
    sent_before, t_before = cluster.network.stats.sent, cluster.clock.now
    cluster.run(observe_s)
    victim = random.Random(seed).choice(list(cluster.nodes)[1:])
    killed_at = cluster.clock.now
    cluster.kill(victim)
    cluster.run(after_s)
    elapsed = cluster.clock.now - t_before
    detect, undetected, first_suspect = [], 0, float("inf")
    for node in cluster.running():
        dead = cluster.first_event(node.node_id, "dead", victim, killed_at)
        suspect = cluster.first_event(node.node_id, "suspect", victim, killed_at)
        if dead is None:
            undetected += 1
        else:
            detect.append(dead.at - killed_at)
        if suspect is not None:
            first_suspect = min(first_suspect, suspect.at - killed_at)
    others = [n for n in cluster.nodes if n != victim]
    return RunResult(
        seed=seed,
        converge_s=converge_s,
        detect_s=sorted(detect),
        undetected=undetected,
        first_suspect_s=first_suspect,
        false_suspect=cluster.count_events("suspect", others),
        false_suspicions=len(
            {
                (e.node_id, e.incarnation)
                for n in cluster.nodes.values()
                for e in n.events
                if e.kind == "suspect" and e.node_id != victim
            }
        ),
        false_dead=cluster.count_events("dead", others),
        datagrams_per_node_s=(cluster.network.stats.sent - sent_before) / elapsed / nodes,
        bytes_per_datagram=statistics.fmean(sizes) if sizes else 0.0,
        wall_s=time.perf_counter() - started,
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def table(results: list[RunResult], args: argparse.Namespace) -> str:
    head = (
        "| seed | converge s | detect p50 s | p95 s | max s | undetected | first suspect s "
        "| false suspect events (distinct) | false dead | datagrams/node/s | bytes/datagram "
        "| wall s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        rows.append(
            f"| {r.seed} | {r.converge_s:.2f} | {pct(r.detect_s, 0.5):.3f} | "
            f"{pct(r.detect_s, 0.95):.3f} | {max(r.detect_s, default=float('nan')):.3f} | "
            f"{r.undetected} | {r.first_suspect_s:.3f} | "
            f"{r.false_suspect} ({r.false_suspicions}) | {r.false_dead} | "
            f"{r.datagrams_per_node_s:.1f} | {r.bytes_per_datagram:.0f} | {r.wall_s:.1f} |"
        )
    every = sorted(d for r in results for d in r.detect_s)
    rows.append(
        f"| all | {max(r.converge_s for r in results):.2f} | {pct(every, 0.5):.3f} | "
        f"{pct(every, 0.95):.3f} | {max(every, default=float('nan')):.3f} | "
        f"{sum(r.undetected for r in results)} | "
        f"{max(r.first_suspect_s for r in results):.3f} | "
        f"{sum(r.false_suspect for r in results)} ({sum(r.false_suspicions for r in results)}) | "
        f"{sum(r.false_dead for r in results)} | "
        f"{statistics.fmean(r.datagrams_per_node_s for r in results):.1f} | "
        f"{statistics.fmean(r.bytes_per_datagram for r in results):.0f} | "
        f"{sum(r.wall_s for r in results):.1f} |"
    )
    return head + "\n".join(rows) + "\n"


def write_section(body: str) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it), keep the others."""
    replace_section(RESULTS, SECTION, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--loss", type=float, default=0.05, help="loss rate on every link")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--observe", type=float, default=30.0, help="s watched before the kill")
    parser.add_argument("--after", type=float, default=5.0, help="s simulated after the kill")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    config = MembershipConfig()
    results = []
    for seed in range(1, args.seeds + 1):
        results.append(
            run_once(
                seed,
                nodes=args.nodes,
                loss=args.loss,
                observe_s=args.observe,
                after_s=args.after,
                config=config,
            )
        )
        print(f"seed {seed} done in {results[-1].wall_s:.1f} s", file=sys.stderr)
    rendered = table(results, args)
    print(rendered)
    if not args.no_write:
        body = (
            f"{SECTION}\n\n"
            f"{args.nodes} nodes, {args.loss:.0%} random loss on every link (both ways), "
            f"1-1.5 ms delay; default MembershipConfig (probe {config.probe_interval_s} s, "
            f"probe timeout {config.probe_timeout_s} s, k={config.indirect_probes}, suspicion "
            f"{config.suspicion_min_s}-{config.suspicion_max_s} s, gossip every "
            f"{config.gossip_interval_s} s to {config.gossip_fanout}); every node a "
            f"GossipRuntime (the code a node runs: timers, codec, load sampled every 0.5 s) "
            f"over the simulated network, so every datagram is encoded and authenticated. "
            f"Per seed: converge, watch "
            f"{args.observe:.0f} simulated s, kill one node, watch {args.after:.0f} s more. "
            f"Detection = kill -> each surviving node's own `dead` event; false suspect/dead "
            f"= events (summed over observers) about nodes never killed, in brackets the "
            f"distinct suspicions (node, incarnation) behind them, all refuted. Simulated time, "
            f"not wall time (`wall s` is what the simulation took to compute). Reproduce: "
            f"`python bench/membership_sim.py --nodes {args.nodes} --loss {args.loss} "
            f"--seeds {args.seeds} --observe {args.observe:g} --after {args.after:g}`.\n\n"
            f"{rendered}\n"
        )
        write_section(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
