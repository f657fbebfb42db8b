"""A camera's own recording of its main stream (its "SD card"), for ONVIF Profile G.

`EdgeRecorder` is fed every captured frame by the pacer (`StreamPath.send_frame`),
whatever happens to the network: a "cut" fault or a stalled stream do not stop it;
only a camera that is "offline" (powered off) records nothing, which leaves a gap.
After a gap it resumes at a keyframe, so every contiguous section is decodable.

Where the frames' bytes live (`UnitStore`):
- `LoopUnits`: the camera serves a loop encoded once; a frame is the loop's unit
  index, so recording costs no bytes at all (the default).
- `HeldUnits`: live-clock streams encode every frame afresh; the ring holds them.
- `FileUnits` (`--edge-storage-dir`): every frame's bytes are written to chunk
  files, as a camera writes its card; memory holds only the index. The directory is
  emptied at start: like a card that was formatted, a restarted emulator has no
  earlier recording.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Protocol

from emulator.edge_storage import FrameRing, RecordedFrame
from emulator.video import AccessUnit, EncodedLoop, make_access_unit

CHUNK_BYTES = 32 * 1024 * 1024  # a new chunk file after this many bytes, at a keyframe
_CHUNK_SHIFT = 40  # ref = chunk number << 40 | offset in the chunk
_RECORD_HEAD = struct.Struct("!BI")  # flags (bit 0 keyframe, bit 1 holds NALs), length


class UnitStore(Protocol):
    def put(self, loop_index: int, unit: AccessUnit) -> int: ...
    def get(self, ref: int) -> AccessUnit | None: ...
    def release(self, refs: list[int]) -> None: ...
    def close(self) -> None: ...


class LoopUnits:
    """Frames of a looped encode: the ref is the unit's index in the loop."""

    def __init__(self, loop: EncodedLoop) -> None:
        self._units = loop.units

    def put(self, loop_index: int, unit: AccessUnit) -> int:
        return loop_index

    def get(self, ref: int) -> AccessUnit | None:
        return self._units[ref] if 0 <= ref < len(self._units) else None

    def release(self, refs: list[int]) -> None:
        pass

    def close(self) -> None:
        pass


class HeldUnits:
    """Frames that exist only once (live encoding): held in memory until dropped."""

    def __init__(self) -> None:
        self._units: dict[int, AccessUnit] = {}
        self._next = 0

    def put(self, loop_index: int, unit: AccessUnit) -> int:
        ref, self._next = self._next, self._next + 1
        self._units[ref] = unit
        return ref

    def get(self, ref: int) -> AccessUnit | None:
        return self._units.get(ref)

    def release(self, refs: list[int]) -> None:
        for ref in refs:
            self._units.pop(ref, None)

    def close(self) -> None:
        self._units.clear()


class FileUnits:
    """Frames written to chunk files in `directory` (emptied first)."""

    def __init__(self, directory: Path, codec: str) -> None:
        self._directory = directory
        self._codec = codec
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self._files: dict[int, int] = {}  # chunk number -> fd
        self._chunk = -1
        self._offset = CHUNK_BYTES  # forces a new chunk at the first keyframe

    def _path(self, chunk: int) -> Path:
        return self._directory / f"{chunk:08d}.units"

    def put(self, loop_index: int, unit: AccessUnit) -> int:
        if self._chunk < 0 or (unit.keyframe and self._offset >= CHUNK_BYTES):
            self._chunk += 1
            self._offset = 0
            self._files[self._chunk] = os.open(
                self._path(self._chunk), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600
            )
        # Slimmed loops keep NAL units only for keyframes; the others keep RTP payloads.
        parts = unit.nals if unit.nals else unit.payloads
        flags = (1 if unit.keyframe else 0) | (2 if unit.nals else 0)
        body = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
        record = _RECORD_HEAD.pack(flags, len(body)) + body
        os.pwrite(self._files[self._chunk], record, self._offset)
        ref = (self._chunk << _CHUNK_SHIFT) | self._offset
        self._offset += len(record)
        return ref

    def get(self, ref: int) -> AccessUnit | None:
        fd = self._files.get(ref >> _CHUNK_SHIFT)
        if fd is None:
            return None
        offset = ref & ((1 << _CHUNK_SHIFT) - 1)
        head = os.pread(fd, _RECORD_HEAD.size, offset)
        if len(head) != _RECORD_HEAD.size:
            return None
        flags, length = _RECORD_HEAD.unpack(head)
        body = os.pread(fd, length, offset + _RECORD_HEAD.size)
        parts, position = [], 0
        while position + 4 <= len(body):
            size = int.from_bytes(body[position : position + 4], "big")
            parts.append(body[position + 4 : position + 4 + size])
            position += 4 + size
        if flags & 2:
            return make_access_unit(self._codec, parts, bool(flags & 1))
        return AccessUnit((), tuple(parts), bool(flags & 1))

    def release(self, refs: list[int]) -> None:
        if not refs:
            return
        # Refs are dropped oldest first: every chunk before the newest one dropped
        # from holds only dropped frames.
        newest_dropped = max(refs) >> _CHUNK_SHIFT
        for chunk in [c for c in self._files if c < newest_dropped]:
            os.close(self._files.pop(chunk))
            self._path(chunk).unlink(missing_ok=True)

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()


class EdgeRecorder:
    """One camera's recording of its main stream: the frame ring plus its unit store."""

    def __init__(
        self,
        camera_name: str,
        codec: str,
        fps: int,
        parameter_sets: dict[str, bytes],
        ring: FrameRing,
        store: UnitStore,
    ) -> None:
        self.camera_name = camera_name
        self.codec = codec
        self.fps = fps
        self.parameter_sets = parameter_sets
        self.ring = ring
        self.store = store
        self.paused = False  # the camera is off: nothing is captured
        self._waiting_keyframe = True

    def record(self, wall: float, loop_index: int, unit: AccessUnit) -> None:
        if self.paused:
            self._waiting_keyframe = True
            return
        if self._waiting_keyframe and not unit.keyframe:
            return
        self._waiting_keyframe = False
        ref = self.store.put(loop_index, unit)
        self.store.release(self.ring.append(wall, ref, unit.keyframe))

    def unit(self, frame: RecordedFrame) -> AccessUnit | None:
        return self.store.get(frame.ref)

    def close(self) -> None:
        self.store.close()
