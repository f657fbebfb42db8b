"""The running node: `NodeRuntime` builds the parts and wires them together (start-up,
shutdown, the event hub, the peer directory, the data folder's identity). Only the
HTTP API and the `run` command use it.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.app._identity import DataDirError
from node.app._runtime import NodeRuntime

__all__ = ["DataDirError", "NodeRuntime"]
