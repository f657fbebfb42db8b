"""Gap fill: the node that records a camera downloads the holes of the camera's merged
timeline from the camera's own storage (ONVIF Profile G) once recording resumes; a
pure planner decides which intervals (`_plan.py`), the service runs it on a node
through a small host interface (`_service.py`).

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.gapfill._service import GapFillHost, GapFillService

__all__ = ["GapFillHost", "GapFillService"]
