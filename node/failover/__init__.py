"""Failover: which server records each camera. A pure planner turns the replicated facts
(servers, cameras, membership and load, who records what) into a placement that every
node computes alike; the controller turns it into this node's recorder set,
make-before-break; the service runs it on a node through a small host interface.

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.failover._controller import Decision
from node.failover._service import FailoverHost, FailoverService

__all__ = ["Decision", "FailoverHost", "FailoverService"]
