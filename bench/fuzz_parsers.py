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
    python bench/fuzz_parsers.py --resume --max-seconds 1800  # on towards 10 million

Ten million executions of every parser take about six hours of one core, more than one
sitting of a shared machine. With `--resume` a run goes on where the earlier ones
stopped: the inputs libFuzzer found are kept (`--keep-corpus`, default
~/.cache/camkeep/fuzz-corpus/<name>) and fed back with the seeds, and each harness runs
only the executions it still lacks. bench/fuzz_ledger.json adds up, per harness, the
executions, seconds and crashes of every run (with the commit each ran on), and the
results section shows both this run and the totals.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
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
NUMBERS_DICT = ROOT / "tests" / "fuzz" / "numbers.dict"  # number spellings int() trips on
LEDGER = ROOT / "bench" / "fuzz_ledger.json"
KEPT_CORPUS = Path.home() / ".cache" / "camkeep" / "fuzz-corpus"
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


def fuzz(
    name: str, runs: int, max_seconds: int, artifacts: Path, kept: Path | None = None
) -> Outcome:
    """One libFuzzer run of harness `name`. New inputs go to `kept` when given (it grows
    from run to run), else to a scratch folder deleted afterwards."""
    found = artifacts / name  # emptied first: it holds this run's crash inputs only
    shutil.rmtree(found, ignore_errors=True)
    found.mkdir(parents=True)
    if kept is not None:
        kept.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as scratch:
        grown = str(kept) if kept is not None else scratch
        command = [
            sys.executable, str(MAIN), name, grown, str(harnesses.CORPUS / name),
            f"-runs={runs}", f"-max_total_time={max_seconds}", "-timeout=10",
            "-rss_limit_mb=2048", f"-artifact_prefix={found}/", "-print_final_stats=1",
            f"-dict={NUMBERS_DICT}",
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


def read_ledger(path: Path = LEDGER) -> dict[str, dict]:
    """Per harness: {"executions", "seconds", "crashes", "runs": [...]} of every run so far."""
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def add_to_ledger(ledger: dict[str, dict], outcome: Outcome, commit: str) -> None:
    entry = ledger.setdefault(outcome.name, {})
    entry["executions"] = entry.get("executions", 0) + outcome.runs
    entry["seconds"] = round(entry.get("seconds", 0) + outcome.seconds)
    crashes = len(outcome.crashes) or int(bool(outcome.error))  # an input, or a run that died
    entry["crashes"] = entry.get("crashes", 0) + crashes
    entry.setdefault("runs", []).append(
        {
            "at": f"{datetime.now(UTC):%Y-%m-%dT%H:%MZ}",
            "commit": commit,
            "executions": outcome.runs,
            "seconds": round(outcome.seconds),
            "cov": outcome.cov,
            "ft": outcome.features,
            "crashes": crashes,
        }
    )


def write_ledger(ledger: dict[str, dict], path: Path = LEDGER) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(ledger, indent=1, sort_keys=True) + "\n")
    temporary.replace(path)


def save_entry(ledger: dict[str, dict], name: str, path: Path = LEDGER) -> None:
    """Write one harness's entry into the ledger file as it is now on disk (runs of other
    harnesses may go on beside this one and write theirs: the read and the write are
    one step under a lock, or one run's entry could be lost)."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        on_disk = read_ledger(path)
        on_disk[name] = ledger[name]
        write_ledger(on_disk, path)


def still_to_run(ledger: dict[str, dict], name: str, target: int) -> int:
    return max(target - ledger.get(name, {}).get("executions", 0), 0)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def ledger_table(ledger: dict[str, dict], names: list[str], target: int) -> list[str]:
    lines = [
        "| harness | executions, all runs | of the target | runs | core time | crashes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name in names:
        entry = ledger.get(name, {})
        done = entry.get("executions", 0)
        lines.append(
            f"| {name} | {done:,} | {min(done / target, 1.0):.0%} | {len(entry.get('runs', []))} "
            f"| {entry.get('seconds', 0) / 60:.0f} min | {entry.get('crashes', 0)} |"
        )
    return lines


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
    parser.add_argument(
        "--resume",
        action="store_true",
        help="run only what each harness lacks of --runs in bench/fuzz_ledger.json, "
        "from the kept corpus, and add this run to the ledger",
    )
    parser.add_argument("--keep-corpus", type=Path, default=KEPT_CORPUS)
    parser.add_argument("--ledger", type=Path, default=LEDGER)
    args = parser.parse_args(argv)
    names = args.only or harnesses.names()
    ledger = read_ledger(args.ledger) if args.resume else {}
    commit = _commit()
    outcomes = []
    for name in names:
        runs = still_to_run(ledger, name, args.runs) if args.resume else args.runs
        if runs == 0:
            continue
        kept = args.keep_corpus / name if args.resume else None
        outcome = fuzz(name, runs, args.max_seconds, args.artifacts, kept)
        outcomes.append(outcome)
        print(table([outcome])[-1], flush=True)
        if args.resume:
            add_to_ledger(ledger, outcome, commit)
            # after each harness: an interrupted run keeps what it did
            save_entry(ledger, name, args.ledger)
    lines = table(outcomes)
    print("\n".join(lines))
    total = sum(o.runs for o in outcomes)
    crashed = [o for o in outcomes if o.crashes or o.error]
    budget = "the executions each harness still lacked of" if args.resume else "budget"
    parts = [
        SECTION,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}. atheris (libFuzzer) over"
        " each parser harness of tests/fuzz from its seed corpus"
        + (" and the inputs earlier runs found" if args.resume else "")
        + f", one subprocess each; {budget} {args.runs:,} executions or {args.max_seconds} s"
        f" per parser, whichever came first (the executions column is what ran). "
        f"{total:,} executions in this run, {len(crashed)} harness(es) with a crash."
        " cov/ft: libFuzzer's edge and feature counters of the instrumented camkeep"
        " packages (C parsers such as lxml's are not instrumented); s: wall time with"
        " start-up; exec/s: libFuzzer's average. Shared 2-core machine.",
        "",
        *lines,
    ]
    if args.resume:
        ledger = read_ledger(args.ledger)  # with what runs beside this one wrote
        done = sum(1 for n in harnesses.names() if still_to_run(ledger, n, args.runs) == 0)
        parts += [
            "",
            f"All runs so far (bench/fuzz_ledger.json), towards {args.runs:,} executions per"
            f" parser: {done} of {len(harnesses.names())} harnesses there.",
            "",
            *ledger_table(ledger, harnesses.names(), args.runs),
        ]
    if args.resume:
        print("\n".join(ledger_table(ledger, harnesses.names(), args.runs)))
    if not args.no_write and outcomes:
        replace_section(RESULTS, SECTION, "\n".join(parts))
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
