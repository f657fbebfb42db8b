"""Faults a test can inject into emulated cameras (drop, stall, offline, cut, ok).

One `FaultBoard` is shared by the RTSP server, the ONVIF servers and the control
API. It holds the current mode of each camera and tells subscribers about every
change, on the thread that called `set` (the event loop in the emulator).

Modes:
- "ok": normal service.
- "drop": close every RTSP connection of the camera once, then serve again; the
  mode reads "ok" again as soon as subscribers have been told.
- "stall": connections stay open, RTSP requests are still answered, but no media
  is sent.
- "offline": the camera is off: close every connection, refuse new RTSP and ONVIF
  connections (closed at once) and record nothing to edge storage until "ok".
- "cut": the network between the camera and its clients is down, the camera runs
  on: RTSP sessions are torn down, new RTSP connections are held unanswered (a
  client times out, as behind a dead link) and ONVIF connections are closed, while
  the camera keeps recording to its edge storage. "ok" restores the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal, get_args

FaultMode = Literal["ok", "drop", "stall", "offline", "cut"]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)

log = logging.getLogger(__name__)


class FaultError(ValueError):
    """An unknown fault mode or camera index."""


def parse_fault_mode(text: object) -> FaultMode:
    if text not in FAULT_MODES:
        raise FaultError(f"mode must be one of {', '.join(FAULT_MODES)}")
    return text  # type: ignore[return-value]


class FaultBoard:
    """Current fault mode of each camera (1-based index) with change callbacks."""

    def __init__(self, camera_count: int | None = None) -> None:
        self._camera_count = camera_count
        self._modes: dict[int, FaultMode] = {}
        self._subscribers: list[Callable[[int, FaultMode], None]] = []

    @property
    def camera_count(self) -> int | None:
        return self._camera_count

    def mode(self, index: int) -> FaultMode:
        return self._modes.get(index, "ok")

    def set(self, index: int, mode: FaultMode) -> None:
        mode = parse_fault_mode(mode)
        if self._camera_count is not None and not 1 <= index <= self._camera_count:
            raise FaultError(f"no camera {index} (cameras are 1..{self._camera_count})")
        # "drop" is an event, not a state: it is announced, then the camera is ok.
        if mode in ("stall", "offline", "cut"):
            self._modes[index] = mode
        else:
            self._modes.pop(index, None)
        for callback in list(self._subscribers):
            try:
                callback(index, mode)
            except Exception:  # one broken subscriber must not hide the fault from others
                log.exception("fault subscriber failed for camera %d", index)

    def set_all(self, mode: FaultMode) -> None:
        if self._camera_count is None:
            raise FaultError("camera count unknown: set cameras one by one")
        for index in range(1, self._camera_count + 1):
            self.set(index, mode)

    def subscribe(self, callback: Callable[[int, FaultMode], None]) -> None:
        self._subscribers.append(callback)

    def accepts(self, index: int) -> bool:
        """Whether camera `index` takes new connections now (False when offline or cut)."""
        return self.mode(index) not in ("offline", "cut")

    def records(self, index: int) -> bool:
        """Whether camera `index` records to its edge storage now (False when off)."""
        return self.mode(index) != "offline"
