"""Soaks: repeated and combined faults, and a long run, with what was lost counted.

    python bench/soak.py partition [--rounds 10] [--down 30 90]       (root: namespaces)
    python bench/soak.py churn [--minutes 10] [--every 20] [--cameras 32]   (root)
    python bench/soak.py flap [--faults 1000] [--cameras 1]
    python bench/soak.py long [--minutes 60] [--cameras 32]

Each prints its figures and writes its own section of bench/RESULTS.md; the
"Reliability" section there sums them up. The test suite runs a short smoke of each
(tests/multihost/test_soak_lan_smoke.py, tests/integration/test_soak_node_smoke.py).
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"


def _machine() -> str:
    import os

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpus = f"{os.cpu_count()} CPUs (shared)"
    return f"{when}, {platform.machine()}, {cpus}, Python {platform.python_version()}"


def _write(section: str, lines: list[str]) -> None:
    text = "\n".join([section, "", *lines])
    print(text)
    replace_section(RESULTS, section, text)


RELIABILITY = "## Reliability"
RELIABILITY_INTRO = [
    "What each soak and fuzz run did and what it lost (it must be nothing). Each row is",
    "rewritten by the soak that measured it (`bench/soak.py`); the details are in the",
    "soak's own section below. Parser fuzzing (coverage-guided, atheris) writes its",
    "executions and crashes per parser in the section of `bench/fuzz_parsers.py`; the",
    "API fuzzing (Schemathesis) in the section of `bench/fuzz_api.py`.",
    "",
    "| run | what was done | lost |",
    "|---|---|---|",
]


def _reliability_row(run: str, done: str, lost: str) -> None:
    """Replace this run's row of the Reliability table (other rows are kept)."""
    import re

    old = RESULTS.read_text() if RESULTS.exists() else ""
    match = re.search(rf"^{re.escape(RELIABILITY)}\n(.*?)(?=^## |\Z)", old, re.S | re.M)
    rows = []
    if match:
        rows = [
            line
            for line in match.group(1).splitlines()
            if line.startswith("| ") and not line.startswith(("| run ", f"| {run} |"))
        ]
    rows.append(f"| {run} | {done} | {lost} |")
    rows.sort()
    text = "\n".join([RELIABILITY, "", *RELIABILITY_INTRO, *rows, ""])
    replace_section(RESULTS, RELIABILITY, text)


def run_partition(args: argparse.Namespace) -> None:
    from bench._soak_lan import lan, partition

    net, system = lan(args.cameras_per_node)
    try:
        r = partition(system, args.rounds, down_s=tuple(args.down), seed=args.seed)
    finally:
        net.close()
    _write(
        "## Partition soak (bench/soak.py partition)",
        [
            f"{_machine()}. Three nodes in network namespaces, {r.cameras} cameras on a"
            " fourth host (320x240, 10 fps), gossip dead after 1 s, segments 2 s. Each round"
            " cuts one random node off from the other two (both sides still reach the"
            f" cameras) for a random time in {args.down[0]:.0f}-{args.down[1]:.0f} s, changes"
            " a camera priority and adds a user on each side while cut, then heals.",
            "",
            f"- rounds: {r.rounds}, cut for {', '.join(f'{d:.0f}' for d in r.down_s)} s;"
            f" soak {r.duration_s / 60:.1f} min",
            f"- one recorder per camera again after each heal: max"
            f" {max(r.heal_converge_s):.1f} s (target 5 s; each:"
            f" {', '.join(f'{x:.1f}' for x in r.heal_converge_s)})",
            f"- longest time any camera had no recorder (sampled every 0.5 s):"
            f" {r.longest_unrecorded_s:.1f} s (target 3 s)",
            f"- worst hole in any merged timeline over the whole soak: {r.worst_hole_s:.2f} s",
            f"- configuration records changed during partitions: {r.config_changes},"
            f" converged on every node after the heal: {r.config_converged}",
            f"- lost: {'nothing' if _partition_ok(r) else 'SEE FIGURES ABOVE'}",
        ],
    )
    _reliability_row(
        "partition soak",
        f"{r.rounds} partitions of {min(r.down_s):.0f}-{max(r.down_s):.0f} s, {r.cameras}"
        f" cameras, {r.config_changes} records changed while cut; one recorder per camera"
        f" again at most {max(r.heal_converge_s):.1f} s after each heal",
        "nothing" if _partition_ok(r) else f"see section (worst hole {r.worst_hole_s:.1f} s)",
    )


def _partition_ok(r: object) -> bool:
    return (
        max(r.heal_converge_s) <= 5.0  # type: ignore[attr-defined]
        and r.longest_unrecorded_s <= 3.0  # type: ignore[attr-defined]
        and r.worst_hole_s <= 3.0  # type: ignore[attr-defined]
        and r.config_converged == r.config_changes  # type: ignore[attr-defined]
    )


def run_churn(args: argparse.Namespace) -> None:
    from bench._soak_lan import churn, lan

    per_node = max(1, round(args.cameras / 3))
    net, system = lan(per_node, channels=max(16, 2 * per_node))
    try:
        r = churn(system, args.minutes, every_s=args.every, seed=args.seed)
    finally:
        net.close()
    _write(
        "## Churn soak (bench/soak.py churn)",
        [
            f"{_machine()}. Three nodes in network namespaces, {r.cameras} cameras"
            f" (320x240, 10 fps); every {args.every:.0f} s the node killed last time is"
            " started again and a random node is killed with SIGKILL (failback delay 5 s,"
            " gossip dead after 1 s).",
            "",
            f"- kills: {r.kills} in {r.duration_s / 60:.1f} min",
            f"- longest time any camera had no recorder (sampled every 0.5 s):"
            f" {r.longest_unrecorded_s:.1f} s (target 5 s)",
            f"- holes over 1 s in the merged timelines: {r.holes}, of them within 6 s of a"
            f" kill: {r.holes_after_a_kill}; worst {r.worst_hole_s:.2f} s",
            "- lost: "
            + (
                "nothing beyond the takeover after each kill"
                if r.worst_hole_s <= 5.0 and r.holes == r.holes_after_a_kill
                else "SEE FIGURES ABOVE"
            ),
        ],
    )
    _reliability_row(
        "churn soak",
        f"{r.kills} kill -9 of random nodes in {r.duration_s / 60:.1f} min, {r.cameras}"
        f" cameras; every hole in the timelines begins at a kill ({r.holes_after_a_kill}"
        f" of {r.holes}), worst {r.worst_hole_s:.1f} s",
        "the takeover time after each kill, nothing else"
        if r.worst_hole_s <= 5.0 and r.holes == r.holes_after_a_kill
        else "see section",
    )


def _usage_lines(usage: object) -> list[str]:
    slopes = usage.slopes()  # type: ignore[attr-defined]
    lines = []
    for name, unit in (
        ("rss_mib", "MiB"),
        ("open_files", "open files"),
        ("threads", "threads"),
        ("sockets", "sockets"),
    ):
        first, last = usage.first_last(name)  # type: ignore[attr-defined]
        lines.append(
            f"- {name}: {first:.1f} -> {last:.1f}; slope after warm-up {slopes[name]:+.2f} {unit}/h"
        )
    return lines


def run_flap(args: argparse.Namespace) -> None:
    from bench._soak_node import flap

    r = flap(args.faults, cameras=args.cameras)
    who = (
        "one emulated camera (320x240, 10 fps) that is"
        if r.cameras == 1
        else f"{r.cameras} emulated cameras (320x240, 10 fps) side by side, fault i on camera"
        f" i mod {r.cameras}, each"
    )
    _write(
        "## Flap soak (bench/soak.py flap)",
        [
            f"{_machine()}. One node recording {who},"
            " in turn, dropped (RTSP session closed), stalled (no packets) and switched"
            " off; each fault is held 2.5 s after the node sees it (longer than the 1.5 s"
            " within which the timeline joins segments), then cleared; a drop the node"
            " recovers from within the joining is not a hole. The node"
            " process is sampled after every reconnection (least-squares slope after the"
            " first 30 %).",
            "",
            f"- faults: {r.faults} ({', '.join(f'{k} {v}' for k, v in r.by_mode.items())}) in"
            f" {r.duration_s / 60:.1f} min; reconnected: {r.reconnected}",
            f"- holes in the timeline: {r.holes}; faults whose outage (the node reporting the"
            f" camera not recording) is a hole in the timeline: {r.outages_as_holes} of"
            f" {r.long_outages} longer than the joining",
            *_usage_lines(r.usage),
        ],
    )
    slopes = r.usage.slopes()
    _reliability_row(
        "flap soak",
        f"{r.faults} camera faults (drop/stall/offline) on {r.cameras} camera(s),"
        f" {r.reconnected} reconnections,"
        f" {r.outages_as_holes} outages recorded as gaps; slopes per hour: RSS"
        f" {slopes['rss_mib']:+.1f} MiB, files {slopes['open_files']:+.1f}, threads"
        f" {slopes['threads']:+.1f}, sockets {slopes['sockets']:+.1f}",
        "nothing"
        if r.reconnected == r.faults and r.outages_as_holes == r.long_outages
        else "see section",
    )


def run_long(args: argparse.Namespace) -> None:
    from bench._soak_node import long_run

    compare = dict(kv.split("=", 1) for kv in args.compare_env)
    r = long_run(args.cameras, args.minutes, compare_env=compare or None)
    side_by_side = []
    for label, usage in list(r.usages.items())[1:]:
        side_by_side += [
            "",
            f"Beside it in the same run, a second node and emulator alike but started with"
            f" `{label}`:",
            "",
            *_usage_lines(usage),
        ]
    _write(
        "## Long run (bench/soak.py long)",
        [
            f"{_machine()}. One node recording {r.cameras} emulated cameras (320x240, 10 fps,"
            f" 150 kbit/s, 60 s segments) for {r.duration_s / 60:.0f} min; the node process"
            " sampled every 10 s (least-squares slope after the first 30 %).",
            "",
            *_usage_lines(r.usage),
            f"- worst hole in any camera's timeline: {r.worst_hole_s:.2f} s",
            *side_by_side,
        ],
    )
    slopes = r.usage.slopes()
    _reliability_row(
        "long run",
        f"{r.cameras} cameras for {r.duration_s / 60:.0f} min; RSS"
        f" {r.usage.first_last('rss_mib')[0]:.0f} -> {r.usage.first_last('rss_mib')[1]:.0f}"
        f" MiB, slope after warm-up {slopes['rss_mib']:+.1f} MiB/h",
        "nothing" if r.worst_hole_s < 1.0 else f"worst hole {r.worst_hole_s:.1f} s",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("partition", help="cut one node off, ten times")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--down", type=float, nargs=2, default=[30.0, 90.0], metavar=("MIN", "MAX"))
    p.add_argument("--cameras-per-node", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(run=run_partition)
    p = commands.add_parser("churn", help="kill -9 and restart random nodes")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--every", type=float, default=20.0)
    p.add_argument("--cameras", type=int, default=32)
    p.add_argument("--seed", type=int, default=2)
    p.set_defaults(run=run_churn)
    p = commands.add_parser("flap", help="a camera that drops, stalls and goes offline")
    p.add_argument("--faults", type=int, default=1000)
    p.add_argument(
        "--cameras", type=int, default=1, help="cameras faulted side by side (faults split)"
    )
    p.set_defaults(run=run_flap)
    p = commands.add_parser("long", help="one node, many cameras, a long time")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--cameras", type=int, default=32)
    p.add_argument(
        "--compare-env",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="run a second node beside the first with these environment variables",
    )
    p.set_defaults(run=run_long)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
