"""This node's CPU as placement compares it: coarse steps, changed with hysteresis.

    level = CpuLevel()
    host.set_load_extra(CPU_LEVEL_KEY, level.update(load.cpu_percent))

Every node plans the same way only if it sees the same loads. A raw CPU figure
sampled twice a second and gossiped a moment later differs between nodes whenever it
crosses a step boundary, and a takeover decided in that moment could be placed on two
servers at once (each records the camera until the recording sets settle it). So each
node publishes its own level: the CPU rounded down to `CPU_BUCKET_PERCENT`, moved up
only once the CPU is `CPU_HYSTERESIS_PERCENT` above the next step and down only once
it is that far below the current one. A load that hovers at a boundary keeps one level,
and every node, this one included, plans with the published figure.
"""

from __future__ import annotations

import math

CPU_LEVEL_KEY = "cpu"  # load extra key: the CPU level this node plans with
CPU_BUCKET_PERCENT = 50.0  # coarse: only a clearly busier server is avoided
CPU_HYSTERESIS_PERCENT = 10.0


def quantise(value: float, bucket: float) -> float:
    """`value` rounded down to a multiple of `bucket` (0 for junk)."""
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return 0.0
    return float(int(value // bucket) * bucket)


def cpu_level_of(value: object) -> float | None:
    """A gossiped level, or None when it is not a valid one (an older node, junk)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value <= 100 or value % CPU_BUCKET_PERCENT:
        return None
    return float(value)


class CpuLevel:
    def __init__(
        self, step: float = CPU_BUCKET_PERCENT, margin: float = CPU_HYSTERESIS_PERCENT
    ) -> None:
        self.step = step
        self.margin = margin
        self.level: float | None = None

    def update(self, cpu_percent: float) -> float:
        """The level after a new sample (the first sample sets it plainly)."""
        if self.level is None:
            self.level = quantise(cpu_percent, self.step)
        elif quantise(cpu_percent - self.margin, self.step) > self.level:
            self.level = quantise(cpu_percent - self.margin, self.step)
        elif quantise(cpu_percent + self.margin, self.step) < self.level:
            self.level = quantise(cpu_percent + self.margin, self.step)
        return self.level
