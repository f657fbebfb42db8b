"""Which cameras each peer records now: a short digest in gossip, the set over HTTP.

A gossip load report holds only a few short values (node/membership_wire.py: at most
8 keys, strings of 64 characters), too little for a camera list. So each node puts a
digest of its recording set into its load `extra` under `DIGEST_KEY`, and a peer
whose digest differs from the one last fetched (or whose copy is older than
`REFRESH_S`) is asked for the set itself over internode-authenticated HTTP
(`GET INTERNAL_RECORDING_PATH`). The failover controller sees the sets; the digest
only says when to fetch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DIGEST_KEY = "rec"  # load extra key: digest of the recording set
INTERNAL_RECORDING_PATH = "/api/v1/internal/failover/recording"
REFRESH_S = 2.0  # re-fetch a peer's set at least this often, digest or not
MAX_CAMERAS_IN_SET = 10_000


def recording_digest(camera_ids: Iterable[str]) -> str:
    """A short, order-free digest of a set of camera ids ("count:hash")."""
    ordered = sorted(set(camera_ids))
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:16]
    return f"{len(ordered)}:{digest}"


def parse_recording_set(body: Any) -> frozenset[str]:
    """The camera ids of an internal answer; ValueError when malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("recording"), list):
        raise ValueError("answer must be an object with a 'recording' list")
    ids = body["recording"]
    if len(ids) > MAX_CAMERAS_IN_SET or not all(isinstance(i, str) and i for i in ids):
        raise ValueError("'recording' must be a list of camera ids")
    return frozenset(ids)


@dataclass(frozen=True)
class _Known:
    cameras: frozenset[str]
    digest: str
    fetched_at: float


class RecordingSets:
    """The last known recording set of each peer, and which peers need a fetch."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self._known: dict[str, _Known] = {}

    def needs_fetch(self, server_id: str, advertised: str | None, now: float) -> bool:
        known = self._known.get(server_id)
        if known is None:
            return True
        if advertised is not None and advertised != known.digest:
            return True
        return now - known.fetched_at >= self.refresh_s

    def store(self, server_id: str, cameras: frozenset[str], now: float) -> None:
        self._known[server_id] = _Known(cameras, recording_digest(cameras), now)

    def forget(self, server_id: str) -> None:
        self._known.pop(server_id, None)

    def keep_only(self, server_ids: Iterable[str]) -> None:
        wanted = set(server_ids)
        for server_id in list(self._known):
            if server_id not in wanted:
                del self._known[server_id]

    def sets(self) -> dict[str, frozenset[str]]:
        return {server_id: known.cameras for server_id, known in self._known.items()}
