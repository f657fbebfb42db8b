"""The node's figures for Prometheus: `GET /metrics` renders `NodeMetrics`.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.metrics._collector import CONTENT_TYPE, CameraFigures, NodeMetrics, Snapshot

__all__ = ["CONTENT_TYPE", "CameraFigures", "NodeMetrics", "Snapshot"]
