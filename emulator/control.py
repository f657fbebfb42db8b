"""Control API of the emulator (JSON over HTTP): list cameras, inject faults.

GET  /cameras                 -> [{"index", "name", "rtsp": {...}, "onvif", "fault", "clients"}]
POST /cameras/<i>/fault       {"mode": "ok"|"drop"|"stall"|"offline"|"cut"}   (i may be "all")
GET  /health                  -> {"ok": true, "cameras": N}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from emulator.camera import CameraSpec
from emulator.faults import FaultBoard, FaultError, parse_fault_mode
from emulator.httpserver import Request, Response


def _json(status: int, value: object) -> Response:
    return Response(status, json.dumps(value).encode(), "application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


class ControlApi:
    def __init__(
        self,
        cameras: Sequence[CameraSpec],
        faults: FaultBoard,
        client_count: Callable[[int, str], int] = lambda index, stream: 0,
    ) -> None:
        self.cameras = {c.index: c for c in cameras}
        self.faults = faults
        self.client_count = client_count

    def describe(self, camera: CameraSpec) -> dict:
        return {
            "index": camera.index,
            "name": camera.name,
            "rtsp": {s: camera.rtsp_url(s) for s in ("main", "sub")},
            "onvif": camera.onvif_url,
            "fault": self.faults.mode(camera.index),
            "clients": {s: self.client_count(camera.index, s) for s in ("main", "sub")},
        }

    async def __call__(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["health"] and request.method == "GET":
            return _json(200, {"ok": True, "cameras": len(self.cameras)})
        if parts == ["cameras"]:
            if request.method != "GET":
                return _error(405, "use GET")
            return _json(200, [self.describe(c) for c in self.cameras.values()])
        if len(parts) == 3 and parts[0] == "cameras" and parts[2] == "fault":
            if request.method != "POST":
                return _error(405, "use POST")
            return self._set_fault(parts[1], request.body)
        return _error(404, "no such route: try GET /cameras or POST /cameras/<i>/fault")

    def _set_fault(self, which: str, body: bytes) -> Response:
        try:
            document = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(400, 'body must be JSON like {"mode": "drop"}')
        if not isinstance(document, dict):
            return _error(400, "body must be a JSON object")
        try:
            mode = parse_fault_mode(document.get("mode"))
        except FaultError as error:
            return _error(400, str(error))
        if which == "all":
            targets = sorted(self.cameras)
        elif which.isascii() and which.isdigit() and int(which) in self.cameras:
            targets = [int(which)]
        else:
            return _error(404, f"no camera {which!r}: use 1..{len(self.cameras)} or 'all'")
        for index in targets:
            self.faults.set(index, mode)
        return _json(200, {"cameras": targets, "mode": mode})
