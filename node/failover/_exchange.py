"""Which cameras each peer records now: a short digest in gossip, the set over HTTP.

A gossip load report holds only a few short values (node/membership_wire.py: at most
8 keys, strings of 64 characters), too little for a camera list. So each node puts a
digest of its recorder sets (cameras recording, and cameras held in any state,
connecting included) into its load `extra` under `DIGEST_KEY`, and a peer
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


def recording_digest(camera_ids: Iterable[str], active: Iterable[str] | None = None) -> str:
    """A short, order-free digest of a recording set ("count:hash"), and of the
    active set too when given (cameras held in any state: "count:count:hash")."""
    ordered = sorted(set(camera_ids))
    text = "\n".join(ordered)
    if active is None:
        return f"{len(ordered)}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    held = sorted(set(active))
    text += "\n--\n" + "\n".join(held)
    return f"{len(ordered)}:{len(held)}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _ids(value: Any, what: str) -> frozenset[str]:
    if not isinstance(value, list) or len(value) > MAX_CAMERAS_IN_SET:
        raise ValueError(f"'{what}' must be a list of camera ids")
    if not all(isinstance(i, str) and i for i in value):
        raise ValueError(f"'{what}' must be a list of camera ids")
    return frozenset(value)


def parse_recorder_sets(body: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(recording, active) of an internal answer; active defaults to recording."""
    if not isinstance(body, dict):
        raise ValueError("answer must be an object with a 'recording' list")
    recording = _ids(body.get("recording"), "recording")
    active = _ids(body["active"], "active") if "active" in body else recording
    return recording, active | recording


@dataclass(frozen=True)
class _Known:
    cameras: frozenset[str]
    active: frozenset[str]
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

    def store(
        self,
        server_id: str,
        cameras: frozenset[str],
        now: float,
        active: frozenset[str] | None = None,
    ) -> None:
        digest = (
            recording_digest(cameras, active) if active is not None else recording_digest(cameras)
        )
        held = cameras if active is None else active | cameras
        self._known[server_id] = _Known(cameras, held, digest, now)

    def forget(self, server_id: str) -> None:
        self._known.pop(server_id, None)

    def keep_only(self, server_ids: Iterable[str]) -> None:
        wanted = set(server_ids)
        for server_id in list(self._known):
            if server_id not in wanted:
                del self._known[server_id]

    def sets(self) -> dict[str, frozenset[str]]:
        """server id -> cameras it records (state recording)."""
        return {server_id: known.cameras for server_id, known in self._known.items()}

    def active_sets(self) -> dict[str, frozenset[str]]:
        """server id -> cameras it holds in any state (connecting included)."""
        return {server_id: known.active for server_id, known in self._known.items()}
