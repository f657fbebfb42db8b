"""Short runs of bench/soak.py's one-node soaks (the full ones are benchmarks).

Flap: a camera dropped, stalled and switched off once each: the node reconnects every
time and each outage longer than the timeline's joining of segments is a hole. Long
run: a node recording two cameras, sampled: every sample is there and the timeline has
no hole.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench._soak_node import flap, long_run, slope_per_hour

pytestmark = pytest.mark.slow


def test_slope_per_hour_is_the_least_squares_slope_after_warm_up() -> None:
    samples = [(t * 60.0, 100.0 + (50.0 if t < 3 else 0.0) + 2.0 * t) for t in range(10)]
    assert slope_per_hour(samples, warmup_fraction=0.3) == pytest.approx(120.0)
    assert slope_per_hour([(0.0, 5.0)]) == 0.0


def test_flap_smoke_reconnects_every_time_and_records_every_gap() -> None:
    result = flap(4, cameras=2)  # cam1: drop, offline; cam2: stall, drop; side by side
    assert result.by_mode == {"drop": 2, "stall": 1, "offline": 1}
    assert result.reconnected == 4
    # the stall and the switch-off are held past the timeline's joining, and so is a
    # drop the node was slow to recover from: each such outage is a hole in the timeline
    assert result.long_outages >= 2
    assert result.outages_as_holes == result.long_outages
    assert len(result.usage.series["rss_mib"]) == 5


def test_long_run_smoke_samples_and_keeps_the_timeline_whole() -> None:
    result = long_run(2, 0.4, every_s=4.0, segment_s=4, log=lambda _: None)
    assert len(result.usage.series["open_files"]) >= 5
    assert result.worst_hole_s < 1.0
