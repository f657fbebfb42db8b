"""camkeep recorder: camera ingest with PyAV into crash-safe fragmented-MP4 segments,
the SQLite recording index, retention, recorded periods and export.

Public surface (see notes/INTERFACES.md): CameraSource, CameraStatus, Period,
RetentionPolicy, RecorderService, and the error classes."""

from ._model import (
    CameraSource,
    CameraStatus,
    ExportError,
    IndexUnusable,
    InvalidCameraId,
    Period,
    RecorderError,
    RetentionPolicy,
)
from ._service import RecorderService

__all__ = [
    "CameraSource",
    "CameraStatus",
    "ExportError",
    "IndexUnusable",
    "InvalidCameraId",
    "Period",
    "RecorderError",
    "RecorderService",
    "RetentionPolicy",
]
