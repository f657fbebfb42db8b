"""Fuzz every parser harness of tests/fuzz under atheris (libFuzzer) for a fixed budget.

Each harness runs in its own subprocess (`tests/fuzz/atheris_main.py`), from its seed
corpus (tests/fuzz/corpus/<name>, read only: new inputs go to a scratch folder), for
`--runs` executions or `--max-seconds`, whichever comes first. Recorded per harness:
executions actually run, executions/s, libFuzzer's coverage counters (`cov` edges and
`ft` features of the instrumented camkeep packages) and the crashes found (inputs
kept in `--artifacts`, to be added to tests/fuzz/crashes/<name>/ once fixed).

    python bench/fuzz_parsers.py                           # 10 million runs per parser
    python bench/fuzz_parsers.py --runs 300000 --max-seconds 60
    python bench/fuzz_parsers.py --only gossip sdp --runs 50000 --no-write
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

import harnesses  # noqa: E402

from bench._common import replace_section  # noqa: E402

SECTION = "## Parser fuzzing (bench/fuzz_parsers.py)"
RESULTS = ROOT / "bench" / "RESULTS.md"
MAIN = ROOT / "tests" / "fuzz" / "atheris_main.py"
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)", re.M)


@dataclass
class Outcome:
    name: str
    runs: int
    seconds: float
    cov: int | None
    features: int | None
    crashes: list[Path]
    error: str = ""  # the exception or libFuzzer's complaint of a crashed run
    fuzzer_rate: int | None = None  # libFuzzer's average executions/s (without start-up)

    @property
    def rate(self) -> float:
        if self.fuzzer_rate:
            return float(self.fuzzer_rate)
        return self.runs / self.seconds if self.seconds > 0 else 0.0


def fuzz(name: str, runs: int, max_seconds: int, artifacts: Path) -> Outcome:
    found = artifacts / name  # emptied first: it holds this run's crash inputs only
    shutil.rmtree(found, ignore_errors=True)
    found.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as scratch:
        command = [
            sys.executable, str(MAIN), name, scratch, str(harnesses.CORPUS / name),
            f"-runs={runs}", f"-max_total_time={max_seconds}", "-timeout=10",
            "-rss_limit_mb=2048", f"-artifact_prefix={found}/", "-print_final_stats=1",
        ]  # fmt: skip
        started = time.monotonic()
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=max_seconds + 300, cwd=ROOT
        )
        seconds = time.monotonic() - started
    log = result.stderr
    statuses = _STATUS.findall(log)
    done = _DONE.search(log)
    executed = int(done[1]) if done else (int(statuses[-1][0]) if statuses else 0)
    final = re.search(r"stat::number_of_executed_units: (\d+)", log)
    if final:
        executed = int(final[1])
    kinds = ("crash-", "timeout-", "oom-", "leak-")
    crashes = sorted(p for p in found.iterdir() if p.name.startswith(kinds))
    error = ""
    if result.returncode != 0:
        lines = [ln for ln in log.splitlines() if re.match(r"^\w*(Error|Exception)\b", ln)]
        error = lines[-1] if lines else f"exit {result.returncode}"
    cov, features = (int(statuses[-1][1]), int(statuses[-1][2])) if statuses else (None, None)
    average = re.search(r"stat::average_exec_per_sec: (\d+)", log)
    rate = int(average[1]) if average else None
    return Outcome(name, executed, seconds, cov, features, crashes, error, rate)


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| harness | executions | s | exec/s | cov (edges) | ft (features) | crashes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        crash = f"{len(o.crashes)}: {o.error}" if o.crashes or o.error else "0"
        lines.append(
            f"| {o.name} | {o.runs:,} | {o.seconds:.0f} | {o.rate:,.0f} | {o.cov or '-'} "
            f"| {o.features or '-'} | {crash} |"
        )
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000_000, help="executions per parser")
    parser.add_argument(
        "--max-seconds", type=int, default=3600, help="time cap per parser (libFuzzer)"
    )
    parser.add_argument("--only", nargs="*", help="harness names (default: all)")
    parser.add_argument(
        "--artifacts", type=Path, default=Path(tempfile.gettempdir()) / "camkeep-fuzz-artifacts"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = parser.parse_args(argv)
    names = args.only or harnesses.names()
    outcomes = []
    for name in names:
        outcome = fuzz(name, args.runs, args.max_seconds, args.artifacts)
        outcomes.append(outcome)
        print(table([outcome])[-1], flush=True)
    lines = table(outcomes)
    print("\n".join(lines))
    total = sum(o.runs for o in outcomes)
    crashed = [o for o in outcomes if o.crashes or o.error]
    text = "\n".join(
        [
            SECTION,
            "",
            f"atheris (libFuzzer) over each parser harness of tests/fuzz from its seed corpus,"
            f" one subprocess each; budget {args.runs:,} executions or {args.max_seconds} s per"
            f" parser, whichever came first (the executions column is what ran). "
            f"{total:,} executions in all, {len(crashed)} harness(es) with a crash."
            " cov/ft: libFuzzer's edge and feature counters of the instrumented camkeep"
            " packages (C parsers such as lxml's are not instrumented); s: wall time with"
            " start-up; exec/s: libFuzzer's average. Shared 2-core machine.",
            "",
            *lines,
        ]
    )
    if not args.no_write:
        replace_section(RESULTS, SECTION, text)
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
