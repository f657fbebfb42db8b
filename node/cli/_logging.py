"""How `camkeep run` logs: text lines (default) or one JSON object per line
(`--log-format json`) with `camera_id` and `server_id` on every line that concerns one.

A line concerns a camera or server when the code says so (`extra={"camera_id": ...}`)
or when its message names one the system knows (`IdTagger`: the ids in the message
are looked up among the system's cameras and servers).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
KnownIds = Callable[[], tuple[set[str], set[str]]]  # (camera ids, server ids)
REFRESH_S = 2.0


class IdTagger(logging.Filter):
    """Sets `camera_id`/`server_id` on records whose message names a known one."""

    def __init__(self) -> None:
        super().__init__()
        self.known: KnownIds | None = None
        self._cache: tuple[set[str], set[str]] = (set(), set())
        self._cached_at = 0.0

    def _ids(self) -> tuple[set[str], set[str]]:
        now = time.monotonic()
        if self.known is not None and now - self._cached_at > REFRESH_S:
            self._cached_at = now
            with contextlib.suppress(Exception):  # a log line must never fail for this
                self._cache = self.known()
        return self._cache

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "camera_id", None) and getattr(record, "server_id", None):
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        cameras, servers = self._ids()
        for found in UUID.findall(message):
            if found in cameras and not getattr(record, "camera_id", None):
                record.camera_id = found
            elif found in servers and not getattr(record, "server_id", None):
                record.server_id = found
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("camera_id", "server_id"):
            value = getattr(record, key, None)
            if value:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str, stream: object) -> IdTagger:
    """Set up the root logger; the returned tagger learns the system's ids later."""
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    tagger = IdTagger()
    handler.addFilter(tagger)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return tagger
