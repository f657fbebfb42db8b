"""Camera recording states across the system, as pure data.

Each node keeps an `OwnTable` of the cameras its recorder holds; a change that
matters (state, last error, fps by more than FPS_STEP, bitrate by more than
BITRATE_RATIO) raises the table's version, which the node gossips as a short digest
`<epoch>.<version>` (epoch: a random word per run). Frame times and small fps or
bitrate wiggles do not raise it, so a steady system exchanges nothing but the digest.

Other nodes keep each source's table in `RemoteTables`: a delta applies on top of
the version it was made from, otherwise the whole table is fetched. A source's
table is *confirmed* while membership says the source is alive and its gossiped
digest is the one we hold (or older); a table not confirmed for STALE_AFTER_S is
shown as stale, with its age.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from node.digits import is_digits

FPS_STEP = 1.0  # fps changes smaller than this (or 10 %) are not news
BITRATE_RATIO = 0.25  # bitrate changes within 25 % are not news
STALE_AFTER_S = 3.0
MAX_CAMERAS = 10_000
STATES = frozenset({"connecting", "recording", "reconnecting", "error", "stopped"})


class StateError(ValueError):
    """A table received from a peer is malformed."""


@dataclass(frozen=True)
class CameraReport:
    state: str
    last_error: str | None = None
    fps: float = 0.0
    bitrate_bps: float = 0.0
    last_frame_at: str | None = None  # UTC text as the source reported it

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_error": self.last_error,
            "fps": round(self.fps, 2),
            "bitrate_bps": round(self.bitrate_bps, 1),
            "last_frame_at": self.last_frame_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> CameraReport:
        if not isinstance(data, dict) or data.get("state") not in STATES:
            raise StateError("a camera report needs a known state")
        error, frame = data.get("last_error"), data.get("last_frame_at")
        fps, bitrate = data.get("fps", 0.0), data.get("bitrate_bps", 0.0)
        if not (error is None or (isinstance(error, str) and len(error) <= 500)):
            raise StateError("last_error must be a short string")
        if not (frame is None or (isinstance(frame, str) and len(frame) <= 40)):
            raise StateError("last_frame_at must be a time")
        if not all(isinstance(v, int | float) and 0 <= v < 1e12 for v in (fps, bitrate)):
            raise StateError("fps and bitrate must be numbers")
        return cls(data["state"], error, float(fps), float(bitrate), frame)


def material_change(old: CameraReport | None, new: CameraReport) -> bool:
    """Whether peers must hear of `new` (the last version they heard being `old`)."""
    if old is None:
        return True
    if (old.state, old.last_error) != (new.state, new.last_error):
        return True
    if abs(new.fps - old.fps) > max(FPS_STEP, 0.1 * old.fps):
        return True
    base = max(old.bitrate_bps, 1.0)
    return abs(new.bitrate_bps - old.bitrate_bps) / base > BITRATE_RATIO


def parse_digest(digest: str | None) -> tuple[str, int] | None:
    if not isinstance(digest, str):
        return None
    epoch, _, version = digest.partition(".")
    return (epoch, int(version)) if epoch and is_digits(version) else None


class OwnTable:
    """This node's cameras as peers know them (the last material report of each)."""

    def __init__(self, epoch: str | None = None) -> None:
        self.epoch = epoch or secrets.token_hex(3)
        self.version = 0
        # camera id -> (version it last changed at, report); "stopped" kept as a tombstone
        self._entries: dict[str, tuple[int, CameraReport]] = {}
        self._current: dict[str, CameraReport] = {}

    @property
    def digest(self) -> str:
        return f"{self.epoch}.{self.version}"

    def update(self, reports: Mapping[str, CameraReport]) -> bool:
        """Take the recorder's reports now (cameras missing count as stopped); True when
        the version moved."""
        self._current = dict(reports)
        moved = False
        names = set(reports) | {c for c, (_, r) in self._entries.items() if r.state != "stopped"}
        for camera_id in sorted(names):
            report = reports.get(camera_id, CameraReport("stopped"))
            held = self._entries.get(camera_id)
            if held is None and report.state == "stopped":
                continue
            if held is None or material_change(held[1], report):
                if not moved:
                    self.version += 1
                    moved = True
                self._entries[camera_id] = (self.version, report)
        return moved

    def current(self) -> dict[str, CameraReport]:
        """The newest reports (fps, bitrate and frame time as of the last update)."""
        return dict(self._current)

    def message(self, since: int | None = None) -> dict[str, Any]:
        """The table (since None) or what changed after version `since`, as sent."""
        cameras = {
            camera_id: self._current.get(camera_id, report).to_json()
            if report.state != "stopped"
            else report.to_json()
            for camera_id, (version, report) in self._entries.items()
            if (since is None and report.state != "stopped")
            or (since is not None and version > since)
        }
        return {
            "epoch": self.epoch,
            "version": self.version,
            "base": since,
            "cameras": cameras,
        }


@dataclass
class _Remote:
    epoch: str
    version: int
    cameras: dict[str, CameraReport]
    confirmed_at: float  # wall seconds


@dataclass(frozen=True)
class RemoteReport:
    server_id: str
    report: CameraReport
    confirmed_at: float


class RemoteTables:
    def __init__(self) -> None:
        self._tables: dict[str, _Remote] = {}

    def apply(self, server_id: str, message: Any, now: float) -> bool:
        """Take a table or delta from `server_id`; False when a delta does not fit what
        we hold (the caller sends or fetches the whole table)."""
        if not isinstance(message, dict):
            raise StateError("a state message must be an object")
        epoch, version, base = message.get("epoch"), message.get("version"), message.get("base")
        cameras = message.get("cameras")
        if not isinstance(epoch, str) or not 1 <= len(epoch) <= 16:
            raise StateError("epoch must be a short string")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise StateError("version must be a number")
        if not (base is None or (isinstance(base, int) and not isinstance(base, bool))):
            raise StateError("base must be a number or null")
        if not isinstance(cameras, dict) or len(cameras) > MAX_CAMERAS:
            raise StateError("cameras must be an object")
        reports = {}
        for camera_id, data in cameras.items():
            if not isinstance(camera_id, str) or not 1 <= len(camera_id) <= 128:
                raise StateError("camera ids must be strings")
            reports[camera_id] = CameraReport.from_json(data)
        held = self._tables.get(server_id)
        if base is None:
            kept = {c: r for c, r in reports.items() if r.state != "stopped"}
            self._tables[server_id] = _Remote(epoch, version, kept, now)
            return True
        if held is None or held.epoch != epoch or held.version != base:
            if held is not None and held.epoch == epoch and held.version >= version:
                held.confirmed_at = now  # an old delta: we are ahead already
                return True
            return False
        for camera_id, report in reports.items():
            if report.state == "stopped":
                held.cameras.pop(camera_id, None)
            else:
                held.cameras[camera_id] = report
        held.version, held.confirmed_at = version, now
        return True

    def digest(self, server_id: str) -> str | None:
        held = self._tables.get(server_id)
        return None if held is None else f"{held.epoch}.{held.version}"

    def needs_fetch(self, server_id: str, advertised: str | None) -> bool:
        """Whether the gossiped digest says we miss something of this source."""
        theirs = parse_digest(advertised)
        if theirs is None:
            return False
        held = self._tables.get(server_id)
        if held is None or held.epoch != theirs[0]:
            return True
        return theirs[1] > held.version

    def confirm(self, server_id: str, advertised: str | None, now: float) -> None:
        """The source is alive and gossips a digest we are not behind: our copy holds."""
        held = self._tables.get(server_id)
        theirs = parse_digest(advertised)
        if held is None or theirs is None:
            return
        if theirs[0] == held.epoch and theirs[1] <= held.version:
            held.confirmed_at = now

    def keep_only(self, server_ids: Iterable[str]) -> None:
        wanted = set(server_ids)
        for server_id in list(self._tables):
            if server_id not in wanted:
                del self._tables[server_id]

    def reports(self, camera_id: str) -> list[RemoteReport]:
        return [
            RemoteReport(server_id, table.cameras[camera_id], table.confirmed_at)
            for server_id, table in sorted(self._tables.items())
            if camera_id in table.cameras
        ]

    def sources(self) -> dict[str, int]:
        """source -> cameras its table holds (for metrics and status)."""
        return {s: len(t.cameras) for s, t in self._tables.items()}


_RANK = {"recording": 0, "connecting": 1, "reconnecting": 2, "error": 3}


def best_remote(reports: Iterable[RemoteReport], alive: Iterable[str]) -> RemoteReport | None:
    """Which remote report a node shows for a camera: from an alive source first, then
    recording before trying, then the most recently confirmed."""
    live = set(alive)
    ordered = sorted(
        reports,
        key=lambda r: (r.server_id not in live, _RANK.get(r.report.state, 9), -r.confirmed_at),
    )
    return ordered[0] if ordered else None


def freshness(confirmed_at: float, source_alive: bool, now: float) -> tuple[bool, float]:
    """(stale, age in seconds) of a remote report."""
    age = max(0.0, now - confirmed_at)
    return (not source_alive or age > STALE_AFTER_S), round(age, 1)
