"""A camera's recordings across every server of the system: one merged timeline of
periods (each held by the server that recorded it) and one MP4 export over a range.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.recordings._across_servers import (
    INTERNAL_EXPORT_PATH,
    INTERNAL_PERIODS_PATH,
    MergeError,
    RecordingsHost,
    Timeline,
    TimelineGap,
    export_merged,
    gap_row_to_json,
    live_peers,
    merged_periods,
    merged_timeline,
    period_to_json,
)
from node.recordings._merge import coverage, export_pieces, inner_gaps

__all__ = [
    "INTERNAL_EXPORT_PATH",
    "INTERNAL_PERIODS_PATH",
    "MergeError",
    "RecordingsHost",
    "Timeline",
    "TimelineGap",
    "coverage",
    "export_merged",
    "export_pieces",
    "gap_row_to_json",
    "inner_gaps",
    "live_peers",
    "merged_periods",
    "merged_timeline",
    "period_to_json",
]
