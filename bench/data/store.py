"""The feature store: prepared arrays per clip on disk, memory-mappable, resumable, no pickle.

Layout of a store folder (``bench_home()/stores/<key>`` by default)::

    meta.json                corpus, labels, targets, prepare settings, array shapes, counts,
                             failures summary, per-stage seconds, package versions, status
    manifest.csv(.json)      the manifest the store was prepared from (all clips)
    index.json               finished clips in manifest order with their arrays' shapes/dtypes
    failures.json            every clip that could not be prepared: path, stage, reason
    clips/<clip>/<name>.npy  one plain .npy per array ("frames", "flow", "audio", ...)
    clips/<clip>/done.json   the clip's done-marker, written last
    failures/<clip>.json     one failure record per bad clip (merged into failures.json)

Why this shape: ``.npy`` files are memory-mapped by ``np.load(mmap_mode="r")``, so a data
loader touches only the pages it reads and a dozen workers share the page cache; JSON keeps
the index readable and pickle-free. Every file is written atomically (temporary name, fsync,
rename), and a clip counts as done only once its ``done.json`` exists, which is written after
all of its arrays are in place. A killed ``prepare`` therefore leaves finished clips
(skipped on the next run) and at most some stray arrays of unfinished ones (rewritten).
Clip writes touch only their own folder, so pool workers write in parallel without locks;
the shared files (index, failures, meta) are written by :meth:`FeatureStore.finalize`.

Damage (a disk error, a copy cut short, a hand-edited file) is caught, not trusted: each clip's
``done.json`` records every array's shape, dtype and byte size, so :meth:`FeatureStore.check_clip`
can vouch for a finished clip from one header read and one ``stat`` per array (the cheap check
``prepare`` runs on resume; ``full=True`` loads the arrays too, for ``prepare --verify``).
``meta.json`` records the manifest's SHA-256, so a truncated ``manifest.csv`` is not read as a
smaller corpus. Reading a damaged file raises :class:`CorruptStoreError` naming the clip, the
file and the reason; a full disk raises :class:`DiskFullError` (one clear message, not one
"bad input" per following clip). Records written before sizes were kept are checked by their
header alone (the size a header implies is still compared with the file's).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from bench.data.manifest import Manifest
from bench.errors import BadInput, BenchError, ConfigError
from bench.io import write_json

ARRAY_NAME = re.compile(r"^[A-Za-z0-9_]+$")
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})  # "disk full" and "quota exceeded" alike
REBUILD_HINT = "run `bench prepare --verify` to rebuild it"


class StoreError(BenchError):
    """Something is wrong with a feature store on disk (not with a corpus file)."""


class CorruptStoreError(StoreError):
    """A stored file cannot be read or does not match its record: names the file, clip and reason."""

    def __init__(self, path: str | Path, reason: str, clip_id: str = "", hint: str = REBUILD_HINT):
        self.path, self.reason, self.clip_id, self.hint = str(path), reason, clip_id, hint
        who = f" (clip {clip_id})" if clip_id else ""
        super().__init__(f"store {path}{who}: cannot read: {reason}; {hint}")

    def __reduce__(self):  # picklable across the process pool despite the custom signature
        return type(self), (self.path, self.reason, self.clip_id, self.hint)


class DiskFullError(StoreError):
    """The disk (or quota) is full: stop the whole run, since every later write would fail too."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        super().__init__(f"no space left on device while writing {path}: free space and re-run; finished clips are kept")

    def __reduce__(self):
        return type(self), (self.path,)


@contextlib.contextmanager
def disk_full_is_fatal(path: str | Path) -> Iterator[None]:
    """Turn ``OSError(ENOSPC/EDQUOT)`` while writing ``path`` into a :class:`DiskFullError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise DiskFullError(path) from None
        raise


def clip_dirname(clip_id: str) -> str:
    """A file-system-safe folder name for a clip id (ids with '/', spaces etc. get a hash suffix)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", clip_id)
    if safe != clip_id or safe.startswith("."):
        safe = f"{safe.lstrip('.')}-{hashlib.sha256(clip_id.encode()).hexdigest()[:8]}"
    return safe


class FeatureStore:
    """A folder of prepared clips. Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, root: Path, meta: dict[str, Any], manifest: Manifest):
        self.root = Path(root)
        self.meta = meta
        self._full_manifest = manifest
        self._done: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, BadInput] = {}
        self._damaged: dict[str, tuple[Path, str]] = {}
        self.repairs: list[str] = []  # what create() rewrote on resume (damaged meta.json / manifest)
        self.refresh()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, meta: dict[str, Any], manifest: Manifest) -> "FeatureStore":
        """Start a store at ``root``, or resume the one there if it was made with the same key.

        ``meta`` must carry ``"key"`` (the hash of what determines the contents); a folder
        holding a store with another key is refused rather than mixed.

        On resume, a damaged ``meta.json`` or store manifest is rewritten from ``meta`` and
        ``manifest`` (both are determined by the key) and noted in ``store.repairs``; a damaged
        ``meta.json`` in a folder that is not named by the key and holds clips is refused, since
        nothing then says which settings those clips were made with. Clips whose done-marker is
        damaged are left to the caller (``store.damaged``); ``prepare`` recomputes them.
        """
        root = Path(root)
        if "key" not in meta:
            raise ConfigError("FeatureStore.create: meta needs a 'key'")
        meta_path = root / "meta.json"
        csv_text = manifest.frame.to_csv(index=False)
        meta = {**meta, "manifest_sha256": hashlib.sha256(csv_text.encode("utf-8")).hexdigest()}
        repairs: list[str] = []
        with disk_full_is_fatal(root):
            if meta_path.exists():
                try:
                    existing = _read_json_dict(meta_path)
                except CorruptStoreError as exc:
                    if root.name != meta["key"] and any((root / "clips").glob("*/done.json")):
                        raise CorruptStoreError(
                            meta_path, exc.reason, hint="nothing else records which settings this folder's clips were "
                            "made with: delete the folder (or choose another) and re-run `bench prepare`"
                        ) from None
                    write_json(meta_path, {**meta, "status": "incomplete"})
                    repairs.append(f"meta.json: {exc.reason}; rewritten")
                else:
                    if existing.get("key") != meta["key"]:
                        raise ConfigError(
                            f"{root}: holds a feature store with key {existing.get('key')!r}, not {meta['key']!r}; "
                            "choose another folder or delete this one"
                        )
                if not _manifest_intact(root / "manifest.csv", csv_text):
                    manifest.save(root / "manifest.csv")
                    repairs.append("manifest.csv: damaged (unreadable or cut short); rewritten")
                store = cls.open(root, allow_damaged=True)
                store.meta["manifest_sha256"] = meta["manifest_sha256"]  # kept by finalize (old stores lack it)
                store.repairs = repairs
                return store
            (root / "clips").mkdir(parents=True, exist_ok=True)
            manifest.save(root / "manifest.csv")
            write_json(meta_path, {**meta, "status": "incomplete"})
        return cls.open(root)

    @classmethod
    def open(cls, root: str | Path, *, allow_damaged: bool = False) -> "FeatureStore":
        """Open the store at ``root``; a damaged meta, manifest or done-marker is a :class:`CorruptStoreError`.

        ``allow_damaged=True`` (what ``prepare`` uses) opens it anyway, with the clips whose
        done-marker cannot be read listed in :attr:`damaged` instead of counted as done.
        """
        root = Path(root)
        meta_path = root / "meta.json"
        if not meta_path.is_file():
            raise ConfigError(f"{root}: not a feature store (no meta.json); run `bench prepare` first")
        meta = _read_json_dict(meta_path)
        manifest_path = root / "manifest.csv"
        expected = meta.get("manifest_sha256")
        if expected:
            try:
                found = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
            except OSError as exc:
                raise CorruptStoreError(manifest_path, _os_reason(exc)) from None
            if found != expected:
                raise CorruptStoreError(
                    manifest_path, "it does not match the manifest this store was prepared from (cut short or edited)"
                )
        _read_json_dict(manifest_path.with_suffix(".csv.json"))  # its sidecar: named if it is the broken one
        try:
            manifest = Manifest.load(manifest_path)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # JSON, CSV parse errors, missing fields
            raise CorruptStoreError(manifest_path, f"{type(exc).__name__}: {_first_line(exc)}") from None
        store = cls(root, meta, manifest)
        if store._damaged and not allow_damaged:
            clip_id, (path, reason) = next(iter(store._damaged.items()))
            more = len(store._damaged) - 1
            raise CorruptStoreError(path, reason + (f" (and {more} more damaged clips)" if more else ""), clip_id)
        return store

    def refresh(self) -> None:
        """Re-read the done-markers and failure records from disk (after workers wrote some).

        A marker that cannot be parsed, or that does not describe its folder, does not count
        as done: its clip goes to :attr:`damaged` (markers of folders outside the manifest
        are strays and ignored). An unreadable failure record is ignored: failed clips are
        retried on every run anyway.
        """
        self._done = {}
        self._damaged = {}
        by_dir: dict[str, str] | None = None
        for marker in sorted((self.root / "clips").glob("*/done.json")):
            try:
                entry = json.loads(marker.read_text())
                problem = _entry_problem(entry, marker.parent.name)
            except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                entry, problem = None, _json_reason(exc)
            if problem is None:
                self._done[entry["clip_id"]] = entry
                continue
            if by_dir is None:
                by_dir = {clip_dirname(c): c for c in self._full_manifest.frame["clip_id"]}
            clip_id = by_dir.get(marker.parent.name)
            if clip_id is not None:
                self._damaged[clip_id] = (marker, problem)
        self._failures = {}
        for record in sorted((self.root / "failures").glob("*.json")):
            try:
                data = json.loads(record.read_text())
                failure = BadInput(**data)
            except (OSError, ValueError, TypeError):
                continue
            if failure.clip_id not in self._done:
                self._failures[failure.clip_id] = failure

    # -- identity -----------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return str(self.meta["key"])

    @property
    def complete(self) -> bool:
        return self.meta.get("status") == "complete"

    # -- writing ------------------------------------------------------------------------------
    def clip_dir(self, clip_id: str) -> Path:
        return self.root / "clips" / clip_dirname(clip_id)

    def is_done(self, clip_id: str) -> bool:
        """Whether the clip is finished on disk (checks the marker, so it sees other processes' writes)."""
        if clip_id in self._damaged:
            return False
        return clip_id in self._done or (self.clip_dir(clip_id) / "done.json").is_file()

    @property
    def damaged(self) -> dict[str, str]:
        """Clips whose done-marker cannot be read: clip id -> "<file>: <reason>"."""
        return {c: f"{path.name}: {reason}" for c, (path, reason) in self._damaged.items()}

    def check_clip(self, clip_id: str, full: bool = False) -> str | None:
        """Why a finished clip cannot be trusted ("<array>.npy: <reason>"), or None when it is fine.

        The cheap check (default) reads each array's header and size: existence, the ``.npy``
        header, shape and dtype against the clip's record, and the file size against both the
        recorded size (where the record has one) and the size the header implies. ``full``
        also loads every array and refuses NaN or infinite values.
        """
        if clip_id in self._damaged:
            path, reason = self._damaged[clip_id]
            return f"{path.name}: {reason}"
        entry = self._done[clip_id]
        folder = self.root / "clips" / entry["dir"]
        for name, info in entry["arrays"].items():
            problem = check_array(folder / f"{name}.npy", info, full=full)
            if problem is not None:
                return f"{name}.npy: {problem}"
        return None

    def discard(self, clip_id: str) -> None:
        """Forget a finished (or damaged) clip: remove its done-marker so that it is prepared again."""
        marker = self.clip_dir(clip_id) / "done.json"
        if marker.exists():
            marker.unlink()
        self._done.pop(clip_id, None)
        self._damaged.pop(clip_id, None)

    def write_clip(self, clip_id: str, arrays: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> dict[str, Any]:
        """Atomically write every array of one clip, then its done-marker; returns the index entry.

        The entry records each array's shape, dtype and file size in bytes: what the cheap
        resume check (:meth:`check_clip`) compares the files with. ``info`` (JSON scalars, e.g. a
        frame-level clip's ``ann_fps``) is kept in the entry too: :meth:`clip_info`.
        """
        folder = self.clip_dir(clip_id)
        entry: dict[str, Any] = {"clip_id": clip_id, "dir": folder.name, "arrays": {}}
        if info:
            entry["info"] = dict(info)
        for name, array in arrays.items():
            if not ARRAY_NAME.match(name):
                raise ValueError(f"array name {name!r} must be letters, digits and underscores")
            entry["arrays"][name] = {"shape": list(np.shape(array)), "dtype": str(np.asarray(array).dtype)}
        sizes = save_arrays(folder, arrays)
        for name, size in sizes.items():
            entry["arrays"][name]["bytes"] = size
        with disk_full_is_fatal(folder / "done.json"):
            _write_marker(folder / "done.json", entry)  # last: only now is the clip done
        stale = self.root / "failures" / f"{folder.name}.json"
        if stale.exists():  # a clip that failed before and works now (fixed file) is no failure
            stale.unlink()
        self._done[clip_id] = entry
        self._failures.pop(clip_id, None)
        return entry

    def record_failure(self, failure: BadInput) -> None:
        """Keep one bad clip's record (file, stage, reason) on disk; the clip stays undone."""
        name = clip_dirname(failure.clip_id or failure.path)
        path = self.root / "failures" / f"{name}.json"
        with disk_full_is_fatal(path):
            write_json(path, failure.to_dict())
        self._failures[failure.clip_id or failure.path] = failure

    def finalize(self, extra: dict[str, Any] | None = None) -> "FeatureStore":
        """Write the index, the failures list and the final meta (shapes, counts, ``extra``)."""
        self.refresh()
        ids = self.clip_ids
        index = {"clips": [self._done[c] for c in ids]}
        with disk_full_is_fatal(self.root / "index.json"):
            write_json(self.root / "index.json", index)
        failures = self.failures
        with disk_full_is_fatal(self.failures_file):
            write_json(self.failures_file, [f.to_dict() for f in failures])
        by_stage: dict[str, int] = {}
        for failure in failures:
            by_stage[failure.stage] = by_stage.get(failure.stage, 0) + 1
        total = len(self._full_manifest)
        meta = dict(self.meta)
        meta.update(extra or {})
        meta["shapes"] = _summarise_shapes([self._done[c] for c in ids])
        meta["counts"] = {"total": total, "ok": len(ids), "failed": len(failures), "pending": total - len(ids) - len(failures)}
        meta["failures"] = {"count": len(failures), "by_stage": by_stage}
        meta["status"] = "complete" if meta["counts"]["pending"] == 0 else "incomplete"
        with disk_full_is_fatal(self.root / "meta.json"):
            write_json(self.root / "meta.json", meta)
        self.meta = meta
        return self

    # -- reading ------------------------------------------------------------------------------
    @property
    def clip_ids(self) -> list[str]:
        """Successfully prepared clips, in manifest order."""
        return [c for c in self._full_manifest.frame["clip_id"] if c in self._done]

    @property
    def manifest(self) -> Manifest:
        """The manifest restricted to the successfully prepared clips."""
        return self._full_manifest.subset(self.clip_ids)

    @property
    def full_manifest(self) -> Manifest:
        """Every clip the store was asked to prepare, failed ones included."""
        return self._full_manifest

    @property
    def failures_file(self) -> Path:
        """``failures.json``: every bad clip's record, rewritten (atomically) by :meth:`finalize`."""
        return self.root / "failures.json"

    @property
    def failures(self) -> list[BadInput]:
        order = {c: i for i, c in enumerate(self._full_manifest.frame["clip_id"])}
        return sorted(self._failures.values(), key=lambda f: order.get(f.clip_id, len(order)))

    def clip_info(self, clip_id: str) -> dict[str, Any]:
        """The scalars recorded with a clip (``fps``, ``ann_fps``, ... for frame-level clips; else {})."""
        return dict(self._entry(clip_id).get("info") or {})

    def arrays(self, clip_id: str) -> list[str]:
        return list(self._entry(clip_id)["arrays"])

    def load(self, clip_id: str, mmap: bool = True) -> dict[str, np.ndarray]:
        """The clip's arrays, memory-mapped read-only (``mmap=False`` reads them into memory)."""
        entry = self._entry(clip_id)
        folder = self.root / "clips" / entry["dir"]
        loaded = {}
        for name, info in entry["arrays"].items():
            path = folder / f"{name}.npy"
            try:
                loaded[name] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:  # truncated, garbage, missing
                reason = check_array(path, info) or f"{type(exc).__name__}: {_first_line(exc)}"
                raise CorruptStoreError(path, reason, clip_id) from None
        return loaded

    def _entry(self, clip_id: str) -> dict[str, Any]:
        if clip_id in self._damaged:
            path, reason = self._damaged[clip_id]
            raise CorruptStoreError(path, reason, clip_id)
        if clip_id not in self._done:
            if clip_id in self._failures:
                f = self._failures[clip_id]
                raise KeyError(f"clip {clip_id!r} failed to prepare: [{f.stage}] {f.reason}")
            raise KeyError(f"clip {clip_id!r} is not in the feature store at {self.root}")
        return self._done[clip_id]

    def __len__(self) -> int:
        return len(self._done)

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r}, clips={len(self._done)}, failures={len(self._failures)})"


_FSYNC_POOL = None  # a few threads per process that wait on fsync together


def save_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Atomically write ``<folder>/<name>.npy`` for every array: temp files, fsync, rename.

    Same guarantee as :func:`bench.io.save_npy`, but the fsyncs of one clip's files are issued
    together from a few threads: the file system commits them in one journal transaction, so a
    clip costs about one fsync latency instead of one per array (measured 5 ms vs 21-27 ms for
    four files here). Returns each file's size in bytes; a full disk is a :class:`DiskFullError`.
    """
    global _FSYNC_POOL
    from concurrent.futures import ThreadPoolExecutor

    staged: list[tuple[str, Path]] = []
    sizes: dict[str, int] = {}
    writing = folder
    try:
        with disk_full_is_fatal(folder):  # the path is narrowed below as each file is written
            folder.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            writing = folder / f"{name}.npy"
            with disk_full_is_fatal(writing):
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp.npy", dir=folder)
                staged.append((tmp, writing))
                with os.fdopen(fd, "wb") as handle:
                    np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
                    sizes[name] = handle.tell()
        if _FSYNC_POOL is None:
            _FSYNC_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fsync")
        with disk_full_is_fatal(folder):
            list(_FSYNC_POOL.map(_fsync, [tmp for tmp, _ in staged]))
        for tmp, destination in staged:
            os.replace(tmp, destination)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return sizes


def _write_marker(destination: Path, entry: dict[str, Any]) -> None:
    """Atomically (temp + rename) write a done-marker, without fsync.

    The arrays it vouches for are already fsynced, so the marker can never be durable while
    they are not; if a power cut loses the marker itself, the clip is merely recomputed. A
    killed process (the usual case) loses nothing either way: renames are atomic.
    """
    fd, tmp = tempfile.mkstemp(prefix=".done.", suffix=".tmp", dir=destination.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(entry, handle, sort_keys=True)
        os.replace(tmp, destination)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _summarise_shapes(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per array: dtype and shape, with ``None`` where the size varies between clips (e.g. T_a)."""
    summary: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for name, info in entry["arrays"].items():
            shape = info["shape"]
            if name not in summary:
                summary[name] = {"dtype": info["dtype"], "shape": list(shape), "min": list(shape), "max": list(shape)}
                continue
            s = summary[name]
            s["shape"] = [a if a == b else None for a, b in zip(s["shape"], shape)]
            s["min"] = [min(a, b) for a, b in zip(s["min"], shape)]
            s["max"] = [max(a, b) for a, b in zip(s["max"], shape)]
    return summary


# ---------------------------------------------------------------------------------------------
# checking what is on disk
# ---------------------------------------------------------------------------------------------
def read_npy_header(handle) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of an open ``.npy`` file; ``ValueError`` with a readable reason."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(handle)
    except ValueError:
        raise ValueError("not a .npy file (its first bytes are not the NUMPY magic)") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable .npy header ({_first_line(exc)})") from None
    if fortran or dtype.hasobject:
        raise ValueError("Fortran-ordered or object arrays are not supported")
    return tuple(shape), dtype, handle.tell()


def check_array(path: Path, info: dict[str, Any] | None = None, *, full: bool = False) -> str | None:
    """Why the stored array at ``path`` is unusable, or None; ``info`` is its record in done.json."""
    info = info or {}
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            recorded = info.get("bytes")
            if isinstance(recorded, int) and size != recorded:
                if size < recorded:
                    return f"file truncated (expected {recorded} bytes, found {size})"
                return f"file size changed (expected {recorded} bytes, found {size})"
            try:
                shape, dtype, offset = read_npy_header(handle)
            except ValueError as exc:
                return str(exc)
    except FileNotFoundError:
        return "file missing"
    except OSError as exc:
        return _os_reason(exc)
    want_shape, want_dtype = info.get("shape"), info.get("dtype")
    if (want_shape is not None and list(shape) != list(want_shape)) or (want_dtype is not None and str(dtype) != want_dtype):
        return f"holds {dtype}{list(shape)}, the store recorded {want_dtype}{list(want_shape or [])}"
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        if size < expected:
            return f"file truncated (expected {expected} bytes, found {size})"
        return f"file has {size - expected} bytes more than its header describes"
    if full:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return f"cannot load: {_first_line(exc)}"
        if array.dtype.kind in "fc":
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            if bad:
                return f"holds {bad} NaN or infinite values"
    return None


def _entry_problem(entry: Any, dirname: str) -> str | None:
    """What is wrong with a parsed done-marker for folder ``dirname`` (None when it is sound)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("clip_id"), str):
        return "done marker has no clip id"
    if entry.get("dir") != dirname or clip_dirname(entry["clip_id"]) != dirname:
        return f"done marker describes clip {entry['clip_id']!r}, not this folder"
    arrays = entry.get("arrays")
    if not isinstance(arrays, dict) or not all(
        isinstance(i, dict) and isinstance(i.get("shape"), list) and isinstance(i.get("dtype"), str) for i in arrays.values()
    ):
        return "done marker lacks the arrays' shapes and dtypes"
    return None


def _read_json_dict(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CorruptStoreError(path, _json_reason(exc)) from None
    if not isinstance(data, dict):
        raise CorruptStoreError(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def _manifest_intact(path: Path, csv_text: str) -> bool:
    """Whether the stored manifest is exactly ``csv_text`` and its sidecar parses."""
    try:
        if path.read_bytes() != csv_text.encode("utf-8"):
            return False
        sidecar = json.loads(path.with_suffix(path.suffix + ".json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(sidecar, dict) and all(k in sidecar for k in ("corpus", "labels", "targets", "root"))


def _json_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _os_reason(exc)
    return f"invalid JSON ({_first_line(exc)})"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
