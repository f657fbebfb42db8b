"""Time the failover planner on a large system.

Default: 16 servers with 128 channels each (max_cameras 128), 96 own cameras
each (1536 cameras), so the live servers have room to take over.

Scenarios, each planned `--runs` times (median and max reported):
- all alive: every camera on its home, no takeover;
- fresh takeover: `--dead` servers dead, nobody recording their cameras yet;
- steady: the same, with the previous plan applied (the kept-placement path);
- shortage + displacement: one more server dies while backups are nearly full,
  so its High cameras displace earlier Low takeovers.

Writes its section of bench/RESULTS.md (only that section is replaced).

    python bench/planner.py                        # 16 servers x 96 cameras, 20 runs
    python bench/planner.py --servers 4 --cameras-per-server 32 --runs 3 --no-write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import replace_section  # noqa: E402
from node.failover._planner import (  # noqa: E402
    CameraView,
    Plan,
    Priority,
    ServerView,
    SystemView,
    plan,
)

SECTION = "## Failover planner (bench/planner.py)"
RESULTS = ROOT / "bench" / "RESULTS.md"
PRIORITIES = (Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.NEVER)


def build_servers(count: int, max_cameras: int, dead: set[int]) -> list[ServerView]:
    return [
        ServerView(
            f"srv{i:02d}",
            alive=i not in dead,
            failover_enabled=True,
            max_cameras=max_cameras,
            cpu_percent=float((i * 37) % 100),
            net_bytes_per_s=float(i * 1_000_000),
        )
        for i in range(count)
    ]


def build_cameras(servers: int, per_server: int, low_on: int | None = None) -> list[CameraView]:
    cameras = []
    for s in range(servers):
        for c in range(per_server):
            priority = Priority.LOW if s == low_on else PRIORITIES[c % len(PRIORITIES)]
            cameras.append(CameraView(f"srv{s:02d}-cam{c:03d}", f"srv{s:02d}", priority))
    return cameras


def applied(result: Plan) -> dict[str, str]:
    return {cid: sid for cid, sid in result.placement.items() if sid is not None}


def time_plans(view: SystemView, runs: int) -> tuple[float, float, Plan]:
    times_ms = []
    result = plan(view)
    for _ in range(runs):
        start = time.perf_counter()
        result = plan(view)
        times_ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(times_ms), max(times_ms), result


def scenarios(args: argparse.Namespace) -> list[tuple[str, Callable[[], SystemView]]]:
    n, per, cap = args.servers, args.cameras_per_server, args.max_cameras
    dead = set(range(args.dead))
    cameras = build_cameras(n, per)

    def steady() -> SystemView:
        fresh = plan(SystemView(build_servers(n, cap, dead), cameras))
        return SystemView(build_servers(n, cap, dead), cameras, applied(fresh))

    def shortage() -> SystemView:
        # Server 0's Low cameras fill the backups first; then server 1 dies too.
        tight = per + max(per // 16, 1)
        mixed = build_cameras(n, per, low_on=0)
        first = plan(SystemView(build_servers(n, tight, {0}), mixed))
        return SystemView(build_servers(n, tight, {0, 1}), mixed, applied(first))

    return [
        ("all alive", lambda: SystemView(build_servers(n, cap, set()), cameras)),
        (
            f"{args.dead} dead, fresh takeover",
            lambda: SystemView(build_servers(n, cap, dead), cameras),
        ),
        (f"{args.dead} dead, steady (plan applied)", steady),
        ("shortage + displacement", shortage),
    ]


def write_section(body: str) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it), keep the others."""
    replace_section(RESULTS, SECTION, body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=16)
    parser.add_argument("--cameras-per-server", type=int, default=96)
    parser.add_argument("--max-cameras", type=int, default=128)
    parser.add_argument("--dead", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.servers < 2 or args.dead >= args.servers or args.runs < 1:
        parser.error("need --servers >= 2, --dead < --servers, --runs >= 1")

    cameras = args.servers * args.cameras_per_server
    lines = [
        SECTION,
        "",
        f"{args.servers} servers x {args.cameras_per_server} cameras ({cameras} cameras), "
        f"max_cameras {args.max_cameras}, {args.runs} runs per scenario, "
        f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "| scenario | median ms | max ms | taken over | unplaced |",
        "|---|---|---|---|---|",
    ]
    for name, build in scenarios(args):
        view = build()
        median_ms, max_ms, result = time_plans(view, args.runs)
        row = (
            f"| {name} | {median_ms:.1f} | {max_ms:.1f} | "
            f"{len(result.taken_over)} | {len(result.reasons)} |"
        )
        lines.append(row)
        print(row, flush=True)
    body = "\n".join(lines) + "\n"
    if not args.no_write:
        write_section(body)
        print(f"wrote {SECTION!r} to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
