"""What a node keeps across restarts in its state directory: generation number and UUID."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

GENERATION_FILE = "hb_generation"
UUID_FILE = "hb_uuid"


class StateError(Exception):
    """The state directory cannot be read or written."""


def ensure_state_dir(state_dir: str | os.PathLike[str]) -> Path:
    """Create the state directory (mode 0700) if it does not exist."""
    path = Path(state_dir)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StateError(f"{path}: cannot create state directory: {error.strerror}") from None
    return path


def next_generation(state_dir: str | os.PathLike[str], method: str = "file") -> int:
    """The generation for this start: the stored one plus one (`file`), or the time (`time`).

    The file has Heartbeat's layout (the number right-aligned in 15 columns and a newline) and
    is written with fsync before the node says anything, so a generation is never reused.
    """
    now = int(time.time())
    if method == "time":
        return now
    path = ensure_state_dir(state_dir) / GENERATION_FILE
    try:
        previous = int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        previous = now
    except (OSError, ValueError) as error:
        raise StateError(f"{path}: unreadable generation number: {error}") from None
    generation = previous + 1
    _write_durably(path, b"%15d\n" % generation)
    return generation


def node_uuid(state_dir: str | os.PathLike[str], node_name: str, method: str = "file") -> bytes:
    """This node's 16-byte UUID: stored (random on first start) or derived from its name."""
    if method == "nodename":
        return uuid.uuid5(uuid.NAMESPACE_DNS, node_name).bytes
    path = ensure_state_dir(state_dir) / UUID_FILE
    try:
        stored = path.read_bytes()
    except FileNotFoundError:
        stored = b""
    except OSError as error:
        raise StateError(f"{path}: unreadable node UUID: {error.strerror}") from None
    if len(stored) == 16:
        return stored
    fresh = uuid.uuid4().bytes
    _write_durably(path, fresh)
    return fresh


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".new")
    try:
        with open(temporary, "wb") as target:
            target.write(data)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise StateError(f"{path}: cannot write: {error.strerror}") from None
