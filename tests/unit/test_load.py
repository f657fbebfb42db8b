"""node/load.py: rate arithmetic (pure) and the sampler over the real psutil."""

from __future__ import annotations

import math
import time
from pathlib import Path

import psutil
import pytest

from node.load import PROC_CPU_KEY, LoadSampler, NetCounter, clamp_percent, net_rate
from node.membership_wire import validate_load


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


def test_cpu_is_read_without_blocking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cpu_percent is always asked with interval=None (compare with the previous
    call) so sampling never sleeps on the event loop."""
    intervals: list[object] = []
    real = psutil.cpu_percent

    def spy(*args: object, **kwargs: object) -> float:
        intervals.append(kwargs.get("interval", args[0] if args else 0.1))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psutil, "cpu_percent", spy)
    sampler = LoadSampler(tmp_path, min_interval_s=0.0)
    for _ in range(3):
        sampler.sample()
    assert intervals and all(i is None for i in intervals)
