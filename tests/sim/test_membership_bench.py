"""bench/membership_sim.py keeps working: a tiny run, and it replaces only its section."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from node.membership import MembershipConfig

BENCH = Path(__file__).resolve().parents[2] / "bench" / "membership_sim.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("membership_sim_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_tiny_run_measures_detection_and_no_false_dead(bench: ModuleType) -> None:
    config = MembershipConfig()
    result = bench.run_once(3, nodes=8, loss=0.05, observe_s=5.0, after_s=3.0, config=config)
    assert result.undetected == 0 and len(result.detect_s) == 7
    assert max(result.detect_s) <= config.detection_bound_s
    assert result.false_dead == 0
    assert result.datagrams_per_node_s > 0 and 0 < result.bytes_per_datagram <= 1400


def test_write_section_replaces_only_its_own_section(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(bench, "RESULTS", results)
    bench.write_section(f"{bench.SECTION}\n\nfirst\n")
    results.write_text(results.read_text() + "\n## Other (bench/other.py)\n\nkeep me\n")
    bench.write_section(f"{bench.SECTION}\n\nsecond\n")
    text = results.read_text()
    assert "second" in text and "first" not in text and "keep me" in text
    assert text.count(bench.SECTION) == 1
