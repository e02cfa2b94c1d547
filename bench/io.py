"""Atomic file writes: a killed process leaves the old file or the new one, never half of one.

Every writer here writes to a temporary file in the destination folder (same file system, so
``os.replace`` is atomic), flushes and fsyncs it, then renames it over the destination.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(destination: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place on success.

    ``suffix`` keeps an extension on the temporary name for writers that insist on one
    (``np.save`` appends ``.npy`` otherwise, matplotlib picks the format from it).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=f".tmp{suffix}", dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp creates 0600; give files the usual mode
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, destination)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_folder(destination: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder in a hidden temporary sibling, then rename it into place.

    ``destination`` is afterwards either absent, its old content or the complete new folder,
    never half of one (a killed process leaves only a hidden ``.<name>.tmp-*`` beside it). An
    existing non-empty ``destination`` is an error unless ``overwrite``; the old folder is
    swapped out by a rename and then deleted. On an exception nothing is replaced.
    """
    import shutil
    import uuid

    from bench.errors import ConfigError

    root = Path(destination).resolve()
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise ConfigError(f"{root}: exists and is not empty; pass overwrite to replace it")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if root.exists():
            old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(root, old)
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(destination: str | Path, data: bytes) -> Path:
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)
    return Path(destination)


def write_text(destination: str | Path, text: str) -> Path:
    return write_bytes(destination, text.encode("utf-8"))


def write_json(destination: str | Path, obj: Any) -> Path:
    return write_text(destination, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(destination: str | Path, array) -> Path:
    """Atomically save one array as ``.npy`` (memory-mappable with ``np.load(mmap_mode='r')``)."""
    import numpy as np

    with atomic_path(destination, suffix=".npy") as tmp:
        np.save(tmp, array, allow_pickle=False)
    return Path(destination)


def ensure_writable(folder: str | Path, what: str, hint: str = "") -> Path:
    """Create ``folder`` if needed and prove a file can be written there, or raise ConfigError.

    Called before long work starts (a comparison trains for hours and writes its report at
    the end): a folder that cannot take the report fails in the first second, not the last.
    """
    from bench.errors import ConfigError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{folder}: the {what} folder is not writable ({reason}){'; ' + hint if hint else ''}") from None
    return folder
