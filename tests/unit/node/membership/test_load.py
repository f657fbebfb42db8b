"""node/membership/_load.py: rate arithmetic (pure) and the sampler over the real psutil."""

from __future__ import annotations

import collections
import math
import time
from pathlib import Path

import psutil
import pytest

from node.membership._load import (
    LOCAL_LOAD_KEYS,
    PROC_CPU_KEY,
    CpuCounter,
    LoadSampler,
    NetCounter,
    clamp_percent,
    cpu_busy_percent,
    cpu_counter,
    net_rate,
)
from node.membership._wire import validate_load


class StepClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, NetCounter(1.0, 1000), 0.0),  # first sample: no rate yet
        (NetCounter(1.0, 1000), NetCounter(3.0, 5000), 2000.0),
        (NetCounter(1.0, 1000), NetCounter(1.0, 5000), 0.0),  # no time passed
        (NetCounter(2.0, 1000), NetCounter(1.0, 5000), 0.0),  # clock went back
        (NetCounter(1.0, 5000), NetCounter(2.0, 1000), 0.0),  # counters shrank
        (NetCounter(0.0, 0), NetCounter(0.5, 0), 0.0),
    ],
)
def test_net_rate(previous: NetCounter | None, current: NetCounter, expected: float) -> None:
    assert net_rate(previous, current) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(50.0, 50.0), (-1.0, 0.0), (101.0, 100.0), (math.nan, 0.0), (math.inf, 0.0)],
)
def test_clamp_percent(value: float, expected: float) -> None:
    assert clamp_percent(value) == expected


def test_sample_has_sane_figures_and_passes_wire_validation(tmp_path: Path) -> None:
    sampler = LoadSampler(tmp_path, channels_used=lambda: 7, min_interval_s=0.0)
    time.sleep(0.05)
    report = sampler.sample()
    assert 0.0 <= report.cpu_percent <= 100.0
    assert 0.0 < report.mem_percent <= 100.0
    free = psutil.disk_usage(str(tmp_path)).free
    assert abs(report.disk_free_bytes - free) <= max(free // 100, 64 << 20)
    assert report.net_bytes_per_s >= 0.0
    assert report.channels_used == 7
    assert report.extra[PROC_CPU_KEY] >= 0.0
    validate_load(report)  # gossip accepts it as it is


def test_network_rate_sees_traffic(tmp_path: Path) -> None:
    """Loopback traffic between two samples shows up as a positive rate."""
    import socket

    sampler = LoadSampler(tmp_path, min_interval_s=0.0)
    sampler.sample()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(200):
                tx.sendto(b"x" * 1000, rx.getsockname())
    time.sleep(0.05)
    assert sampler.sample().net_bytes_per_s > 0


def test_samples_are_reused_within_the_interval(tmp_path: Path) -> None:
    clock = StepClock()
    calls = []

    def channels() -> int:
        calls.append(1)
        return len(calls)

    sampler = LoadSampler(tmp_path, channels_used=channels, clock=clock)
    first = sampler.sample()
    clock.now += 0.2
    assert sampler.sample() is first  # younger than 0.5 s: same report, no psutil calls
    assert len(calls) == 1
    clock.now += 0.4
    second = sampler.sample()
    assert second is not first and second.channels_used == 2


def test_missing_data_dir_reports_zero_free(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = LoadSampler(tmp_path / "gone", min_interval_s=0.0)
    assert sampler.sample().disk_free_bytes == 0
    sampler.sample()
    assert sum("cannot read free space" in r.message for r in caplog.records) == 1  # once


def test_failing_channels_callback_keeps_last_figure(tmp_path: Path) -> None:
    values: list[object] = [5, RuntimeError("recorder gone"), -3, 10**9]

    def channels() -> int:
        value = values.pop(0)
        if isinstance(value, Exception):
            raise value
        return value  # type: ignore[return-value]

    sampler = LoadSampler(tmp_path, channels_used=channels, min_interval_s=0.0)
    assert sampler.sample().channels_used == 5
    assert sampler.sample().channels_used == 5  # callback raised: last good figure
    assert sampler.sample().channels_used == 0  # negative clamped
    assert sampler.sample().channels_used == 100_000  # clamped to what gossip accepts


def test_cpu_busy_percent_from_counters() -> None:
    assert cpu_busy_percent(None, CpuCounter(10.0, 5.0)) == 0.0
    assert cpu_busy_percent(CpuCounter(10.0, 5.0), CpuCounter(14.0, 8.0)) == 75.0
    assert cpu_busy_percent(CpuCounter(10.0, 5.0), CpuCounter(10.0, 5.0)) == 0.0
    assert cpu_busy_percent(CpuCounter(10.0, 5.0), CpuCounter(11.0, 7.0)) == 100.0  # clamped


def test_cpu_counter_leaves_out_guest_time_and_idle() -> None:
    fields = "user nice system idle iowait irq softirq steal guest guest_nice"
    Times = collections.namedtuple("Times", fields)
    counter = cpu_counter(Times(10, 1, 4, 80, 5, 0, 0, 0, 3, 1))
    assert counter == CpuCounter(total_s=100, busy_s=15)


def test_busy_process_shows_in_both_cpu_figures(tmp_path: Path) -> None:
    """Burn CPU between two samples; other cpu_percent(None) callers do not disturb."""
    sampler = LoadSampler(tmp_path, min_interval_s=0.0)
    end = time.process_time() + 0.3
    while time.process_time() < end:
        psutil.cpu_percent(interval=None)  # another user of psutil's shared state
    report = sampler.sample()
    assert report.cpu_percent > 10.0
    assert report.extra[PROC_CPU_KEY] > 15.0


def test_local_load_has_the_node_figures_of_the_same_sample(tmp_path: Path) -> None:
    sampler = LoadSampler(tmp_path, min_interval_s=60.0)
    figures = sampler.local_load()
    report = sampler.sample()  # cached: the sample local_load was made from
    assert tuple(figures) == LOCAL_LOAD_KEYS
    assert figures["cpu_percent"] == report.cpu_percent
    assert figures["memory_percent"] == report.mem_percent
    assert figures["disk_free_bytes"] == report.disk_free_bytes > 0
    assert figures["net_bytes_per_s"] == round(report.net_bytes_per_s, 1)
    assert figures["disk_used_percent"] == pytest.approx(
        psutil.disk_usage(str(tmp_path)).percent, abs=1.0
    )
    assert 0.0 <= figures["disk_used_percent"] <= 100.0


def test_local_load_without_a_data_dir(tmp_path: Path) -> None:
    figures = LoadSampler(tmp_path / "gone", min_interval_s=0.0).local_load()
    assert figures["disk_free_bytes"] == 0 and figures["disk_used_percent"] == 0.0
