"""This node's load, sampled with psutil for membership gossip (CPU, memory,
disk, network and channels used travel with every heartbeat).

    sampler = LoadSampler(data_dir, channels_used=lambda: recorder_channel_count())
    report = sampler.sample()          # a LoadReport; cheap, never blocks

Figures:
- `cpu_percent`: SYSTEM-wide CPU use in percent (0-100, all cores averaged) since the
  previous sample: that is what decides whether a server can take more cameras,
  whatever else runs on it. Computed from psutil.cpu_times() deltas kept by the
  sampler itself, so other callers of psutil.cpu_percent(None) in the process do not
  shorten its measuring interval. This process's own CPU (percent of one core, may
  exceed 100 on several cores) goes in `extra["proc_cpu"]`.
- `mem_percent`: system memory in use, percent (psutil.virtual_memory().percent).
- `disk_free_bytes`: free bytes of the file system holding the data folder (0 when
  the folder cannot be read: a node without a disk cannot record).
- `net_bytes_per_s`: bytes sent + received per second over every interface (psutil
  net_io_counters deltas between samples).
- `channels_used`: from the callback the node supplies (the recorder's count).

`local_load()` gives the same sample as the node's own load figures for people
(`LOCAL_LOAD_KEYS`), with the disk's used percent, which is not gossiped.

Every psutil call here reads counters and returns at once (nothing waits for an
interval, like cpu_percent(interval=None)). A sample is reused for `min_interval_s`
(0.5 s) so callers may ask as often as they like.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from node.membership._types import LoadReport

log = logging.getLogger(__name__)

MIN_SAMPLE_INTERVAL_S = 0.5  # reuse a sample younger than this
PROC_CPU_KEY = "proc_cpu"  # extra: this process's CPU, percent of one core
LOCAL_LOAD_KEYS = (
    "cpu_percent",
    "memory_percent",
    "disk_free_bytes",
    "disk_used_percent",
    "net_bytes_per_s",
)


@dataclass(frozen=True)
class NetCounter:
    """Total bytes moved (sent + received) at a monotonic instant."""

    at: float
    total_bytes: int


def net_rate(previous: NetCounter | None, current: NetCounter) -> float:
    """Bytes per second between two counter readings; 0 when it cannot be told (first
    sample, no time passed, or counters that went backwards: an interface was removed)."""
    if previous is None:
        return 0.0
    elapsed = current.at - previous.at
    moved = current.total_bytes - previous.total_bytes
    if elapsed <= 0 or moved < 0:
        return 0.0
    return moved / elapsed


@dataclass(frozen=True)
class CpuCounter:
    """Cumulative CPU seconds of the whole system: all of it, and the busy part."""

    total_s: float
    busy_s: float


def cpu_counter(times: Any) -> CpuCounter:
    """From a psutil.cpu_times() tuple. As psutil does: guest time is already counted
    in user/nice, so it is left out; idle and iowait are not busy."""
    fields = times._asdict()
    total = sum(v for k, v in fields.items() if k not in ("guest", "guest_nice"))
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    return CpuCounter(total, total - idle)


def cpu_busy_percent(previous: CpuCounter | None, current: CpuCounter) -> float:
    """System CPU use between two readings, 0-100; 0 when it cannot be told."""
    if previous is None:
        return 0.0
    total = current.total_s - previous.total_s
    busy = current.busy_s - previous.busy_s
    if total <= 0:
        return 0.0
    return clamp_percent(100.0 * busy / total)


def clamp_percent(value: float, upper: float = 100.0) -> float:
    """A finite percentage within [0, upper] (psutil may briefly report odd values)."""
    if not math.isfinite(value):
        return 0.0
    return min(max(value, 0.0), upper)


class LoadSampler:
    """Samples load at most every `min_interval_s`; `sample()` returns a LoadReport."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        channels_used: Callable[[], int] | None = None,
        min_interval_s: float = MIN_SAMPLE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.min_interval_s = min_interval_s
        self._channels_used = channels_used
        self._clock = clock
        self._process = psutil.Process(os.getpid())
        self._last: LoadReport | None = None
        self._last_at = -math.inf
        self._net: NetCounter | None = None
        self._cpu: CpuCounter | None = None
        self._channels = 0
        self._disk_used_percent = 0.0
        self._warned: set[str] = set()
        # Figures are deltas from the previous sample: take the first readings now.
        self._process.cpu_percent(interval=None)
        self._net = self._read_net()
        self._cpu = self._read_cpu()

    def set_channels_provider(self, channels_used: Callable[[], int] | None) -> None:
        self._channels_used = channels_used

    def sample(self) -> LoadReport:
        """The current load (a cached one if the last sample is younger than the
        minimum interval)."""
        now = self._clock()
        if self._last is not None and now - self._last_at < self.min_interval_s:
            return self._last
        net = self._read_net(now)
        rate = net_rate(self._net, net) if net is not None else 0.0
        if net is not None:
            self._net = net
        cpu = self._read_cpu()
        cpu_percent = cpu_busy_percent(self._cpu, cpu) if cpu is not None else 0.0
        if cpu is not None:
            self._cpu = cpu
        report = LoadReport(
            cpu_percent=cpu_percent,
            mem_percent=clamp_percent(psutil.virtual_memory().percent),
            disk_free_bytes=self._disk_free(),
            net_bytes_per_s=max(rate, 0.0),
            channels_used=self._channels_now(),
            extra={PROC_CPU_KEY: round(self._proc_cpu(), 1)},
        )
        self._last, self._last_at = report, now
        return report

    def local_load(self) -> dict[str, float | int]:
        """This node's load as {LOCAL_LOAD_KEYS...}: the figures of `sample()` (so the
        same caching and system-wide CPU measure) plus the data disk's used percent
        (0 when it cannot be read); network bytes/s rounded to 0.1."""
        report = self.sample()
        return {
            "cpu_percent": report.cpu_percent,
            "memory_percent": report.mem_percent,
            "disk_free_bytes": report.disk_free_bytes,
            "disk_used_percent": self._disk_used_percent,
            "net_bytes_per_s": round(report.net_bytes_per_s, 1),
        }

    # ------------------------------------------------------------------ figures

    def _read_net(self, now: float | None = None) -> NetCounter | None:
        try:
            counters = psutil.net_io_counters()
        except (OSError, RuntimeError) as exc:
            self._warn_once("net", f"network counters unavailable: {exc}")
            return None
        if counters is None:  # no interfaces at all
            return None
        at = self._clock() if now is None else now
        return NetCounter(at, counters.bytes_sent + counters.bytes_recv)

    def _read_cpu(self) -> CpuCounter | None:
        try:
            return cpu_counter(psutil.cpu_times())
        except (OSError, RuntimeError, AttributeError) as exc:
            self._warn_once("cpu", f"CPU counters unavailable: {exc}")
            return None

    def _disk_free(self) -> int:
        try:
            usage = psutil.disk_usage(str(self.data_dir))
        except OSError as exc:
            self._warn_once("disk", f"cannot read free space of {self.data_dir}: {exc}")
            self._disk_used_percent = 0.0
            return 0
        self._warned.discard("disk")
        self._disk_used_percent = clamp_percent(usage.percent)
        return max(int(usage.free), 0)

    def _proc_cpu(self) -> float:
        try:
            return clamp_percent(self._process.cpu_percent(interval=None), upper=100_000.0)
        except psutil.Error:
            return 0.0

    def _channels_now(self) -> int:
        if self._channels_used is None:
            return 0
        try:
            value = int(self._channels_used())
        except Exception as exc:  # a callback bug must not stop gossip: keep the last figure
            self._warn_once("channels", f"channels_used callback failed: {exc!r}")
            return self._channels
        self._channels = min(max(value, 0), 100_000)
        return self._channels

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("load: %s", message)
