"""The fuzzing ledger adds up the runs of bench/fuzz_parsers.py across sittings, so ten
million executions per parser can be reached over several of them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.fuzz_parsers import (
    Outcome,
    add_to_ledger,
    ledger_table,
    read_ledger,
    save_entry,
    still_to_run,
    write_ledger,
)


def _outcome(name: str, runs: int, crashes: int = 0) -> Outcome:
    return Outcome(name, runs, 12.0, 40, 90, [Path(f"crash-{i}") for i in range(crashes)])


def test_runs_add_up_and_only_what_is_missing_runs_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    ledger = read_ledger(path)
    assert ledger == {} and still_to_run(ledger, "sdp", 1000) == 1000
    add_to_ledger(ledger, _outcome("sdp", 600), "abc1234")
    write_ledger(ledger, path)
    again = read_ledger(path)
    assert still_to_run(again, "sdp", 1000) == 400
    died = _outcome("sdp", 450, crashes=1)
    died.error = "exit 70"  # a crash input and the exit it caused: one crash
    add_to_ledger(again, died, "def5678")
    assert still_to_run(again, "sdp", 1000) == 0
    entry = again["sdp"]
    assert (entry["executions"], entry["seconds"], entry["crashes"]) == (1050, 24, 1)
    assert [run["commit"] for run in entry["runs"]] == ["abc1234", "def5678"]
    rows = ledger_table(again, ["gossip", "sdp"], 1000)
    assert rows[2] == "| gossip | 0 | 0% | 0 | 0 min | 0 |"
    assert rows[3] == "| sdp | 1,050 | 100% | 2 | 0 min | 1 |"


def test_runs_side_by_side_keep_each_others_entries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    first, second = read_ledger(path), read_ledger(path)  # both read before either writes
    add_to_ledger(first, _outcome("gossip", 10), "a")
    add_to_ledger(second, _outcome("nal", 20), "a")
    save_entry(first, "gossip", path)
    save_entry(second, "nal", path)
    assert {n: e["executions"] for n, e in read_ledger(path).items()} == {"gossip": 10, "nal": 20}
