"""Replication of the system's configuration: a hybrid logical clock versions every
record, the record store keeps them in SQLite, and members push changes to each other
and repair what they missed by anti-entropy (last writer wins).

Other packages use only what `__all__` lists; the modules named `_x.py` are private.
"""

from node.replication._db import DatabaseError, connect
from node.replication._hlc import HybridClock, Timestamp
from node.replication._records import Record, ReplicaError, record_from_json, record_to_json
from node.replication._store import RecordStore, StoreError
from node.replication._sync import Replicator, parse_records

__all__ = [
    "DatabaseError",
    "HybridClock",
    "Record",
    "RecordStore",
    "ReplicaError",
    "Replicator",
    "StoreError",
    "Timestamp",
    "connect",
    "parse_records",
    "record_from_json",
    "record_to_json",
]
