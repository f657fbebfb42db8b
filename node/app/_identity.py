"""The data folder: this node's stable identity and an exclusive lock on the folder."""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from typing import IO

NODE_ID_FILE = "node_id"
DB_FILE = "camkeep.db"
RECORDINGS_DIR = "recordings"
LOCK_FILE = ".lock"


class DataDirError(Exception):
    """The data folder cannot be used; str() is one line for the user."""


def prepare_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / RECORDINGS_DIR).mkdir(exist_ok=True)
        (data_dir / "tmp").mkdir(exist_ok=True)
    except OSError as error:
        raise DataDirError(f"data_dir: cannot create {data_dir}: {error.strerror}") from None


def load_or_create_node_id(data_dir: Path) -> str:
    """Read data/node_id, or create it (atomically) on the first start."""
    path = data_dir / NODE_ID_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        node_id = str(uuid.uuid4())
        temp = path.with_suffix(".tmp")
        with open(temp, "w") as handle:
            handle.write(node_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        return node_id
    except OSError as error:
        raise DataDirError(f"data_dir: cannot read {path}: {error.strerror}") from None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise DataDirError(f"data_dir: {path} does not hold a node id (a UUID)") from None


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock so two nodes never share one data folder.
    Keep the returned file open for the life of the process."""
    handle = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirError(f"data_dir: {data_dir} is in use by another camkeep node") from None
    return handle
