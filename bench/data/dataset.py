"""Batches for the trainer: clips from a feature store, padded, masked, on the right device.

:class:`ClipDataset` is indexed by *lists* of positions (a batch at a time): the DataLoader
gets a :class:`ClipBatchSampler` as its sampler and ``batch_size=None``, so one call reads a
whole batch. Each clip array is a plain ``.npy`` file in the store; the batch buffer (padded to
the longest clip) is allocated once and every file is read straight into its slice of it
(``readinto``: one open, one small header read, whose parse is cached, and one read per file;
about ten times faster than ``np.load`` + copy, which spends most of its time parsing
headers). Stores without per-clip files fall back to ``store.load`` (memory-mapped) and a
copy. With ``preload`` the clips are read into memory once (one contiguous array per key
when every clip has the same shape), and a batch is then a single fancy-index.

Face crops stay ``uint8`` (and flow ``float16``) until :func:`to_device` has moved them to the
training device, where they become ``float32`` (crops scaled to [0, 1]): four times fewer
bytes through the loader and the host-to-device copy.

Which store array feeds which batch key (see :mod:`bench.models.contract`):

=========  ===========================  ===========================
batch key  ``*_input == "frames"``/mel   ``*_input == "features"``
=========  ===========================  ===========================
video      ``frames`` (T, 3, S, S) u8   ``video_emb`` (T, D)
flow       ``flow`` (T-1, 2, S, S) f16  ``flow_emb`` (T-1, D)
audio      ``audio`` (T_a, n_mels) f32  ``audio_emb`` (T_a', D)
=========  ===========================  ===========================
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from bench.data.fields import store_key_for  # noqa: F401  (re-exported: the loader's view of the table)
from bench.errors import ConfigError

TARGET_NAMES = ("arousal", "valence", "dominance")


class ClipDataset(torch.utils.data.Dataset):
    """Clips of one split of one fold, read from a feature store.

    ``arrays`` maps batch keys to store array names (e.g. ``{"video": "frames", "audio":
    "audio"}``); only those arrays are read. ``task`` decides whether ``label`` (class index
    from the manifest's ``label`` and ``store.meta["labels"]``) or ``target`` (the manifest's
    continuous columns ``targets``) is attached.
    """

    def __init__(
        self,
        store,
        clip_ids: Sequence[str],
        arrays: Mapping[str, str],
        *,
        task: str = "classification",
        targets: Sequence[str] = (),
        preload: bool = False,
    ):
        self.store = store
        self.clip_ids = [str(c) for c in clip_ids]
        self.arrays = dict(arrays)
        self.task = task
        frame = store.manifest.frame.set_index("clip_id")
        missing = [c for c in self.clip_ids if c not in frame.index]
        damaged = getattr(store, "damaged", {})
        for clip_id in missing:
            if clip_id in damaged:  # its done-marker is unreadable: say so, not "not in the manifest"
                store.load(clip_id)  # raises the store's CorruptStoreError naming file, clip and reason
        if missing:
            raise ConfigError(f"feature store {store.root}: clips not in its manifest: {missing[:5]}")
        rows = frame.loc[self.clip_ids]
        self.speakers = rows["speaker"].astype(str).tolist()
        self.label_names = list(store.meta.get("labels") or store.manifest.labels)
        if task == "classification":
            index = {name: i for i, name in enumerate(self.label_names)}
            unknown = sorted(set(rows["label"]) - set(index))
            if unknown:
                raise ConfigError(f"feature store {store.root}: labels {unknown} not in its vocabulary {self.label_names}")
            self.labels = np.array([index[v] for v in rows["label"]], dtype=np.int64)
            self.targets = None
        else:
            self.target_names = list(targets)
            if not self.target_names:
                raise ConfigError(f"feature store {store.root}: regression needs continuous targets; the corpus has none")
            self.targets = rows[self.target_names].to_numpy(np.float32)
            self.labels = None
        self._memory: dict[str, Any] | None = None
        self._direct = hasattr(store, "clip_dir")  # per-clip .npy files we can read in place
        self._paths: dict[str, list[Path]] = {}
        if preload:
            self.preload()

    def __len__(self) -> int:
        return len(self.clip_ids)

    # -- reading ------------------------------------------------------------------------------
    def _read(self, clip_id: str) -> dict[str, np.ndarray]:
        loaded = self.store.load(clip_id)
        try:
            return {key: loaded[name] for key, name in self.arrays.items()}
        except KeyError as exc:
            raise ConfigError(
                f"feature store {self.store.root}: clip {clip_id!r} has no array {exc.args[0]!r} "
                f"(it has {sorted(loaded)}); prepare the store with that input or change the model config"
            ) from None

    def _path(self, key: str, index: int) -> Path:
        paths = self._paths.get(key)
        if paths is None:
            name = self.arrays[key]
            paths = self._paths[key] = [self.store.clip_dir(c) / f"{name}.npy" for c in self.clip_ids]
        return paths[index]

    def _read_direct(self, key: str, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Read one array of every clip of a batch straight into a padded batch buffer."""
        handles = []
        try:
            headers = []
            for i in indices:
                path = self._path(key, i)
                try:
                    handle = open(path, "rb", buffering=0)
                except OSError as exc:
                    if isinstance(exc, FileNotFoundError):
                        self._read(self.clip_ids[i])  # raises the clear "has no array" error
                    from bench.data.store import CorruptStoreError

                    reason = "file missing" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
                    raise CorruptStoreError(path, reason, self.clip_ids[i]) from None
                handles.append(handle)
                headers.append(_npy_header(handle, path, self.clip_ids[i]))
            shape, dtype = headers[0][0], headers[0][1]
            for (other, other_dtype), i in zip(headers, indices):
                if other[1:] != shape[1:] or other_dtype != dtype:
                    raise ConfigError(
                        f"feature store {self.store.root}: {key!r} of clip {self.clip_ids[i]!r} is "
                        f"{other_dtype}{list(other)}, other clips {dtype}{list(shape)}"
                    )
            lengths = [h[0][0] for h in headers]
            out = np.zeros((len(indices), max(lengths), *shape[1:]), dtype=dtype)
            for row, (handle, length) in enumerate(zip(handles, lengths)):
                _read_into(handle, out[row, :length], self._path(key, indices[row]), self.clip_ids[indices[row]])
        finally:
            for handle in handles:
                handle.close()
        mask = np.arange(out.shape[1])[None, :] < np.asarray(lengths)[:, None]
        return torch.from_numpy(out), torch.from_numpy(mask)

    def preload(self, progress: bool = False) -> None:
        """Read every clip into memory; equal shapes become one contiguous array per key."""
        if self._memory is not None:
            return
        per_key: dict[str, list[np.ndarray]] = {key: [] for key in self.arrays}
        for clip_id in self.clip_ids:
            for key, value in self._read(clip_id).items():
                per_key[key].append(np.array(value))
        memory: dict[str, Any] = {}
        for key, values in per_key.items():
            shapes = {v.shape for v in values}
            memory[key] = np.stack(values) if len(shapes) == 1 and values else values
        self._memory = memory

    def nbytes_estimate(self) -> int:
        """Bytes the preloaded arrays would take (from the first clip)."""
        if not self.clip_ids:
            return 0
        first = self._read(self.clip_ids[0])
        return sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in first.values()) * len(self.clip_ids)

    def __getitem__(self, indices) -> dict[str, Any]:
        """A collated batch for a list of positions (a single int gives a batch of one)."""
        if isinstance(indices, (int, np.integer)):
            indices = [int(indices)]
        indices = list(indices)
        batch: dict[str, Any] = {}
        if self._memory is not None:
            for key, value in self._memory.items():
                value = value[indices] if isinstance(value, np.ndarray) else [value[i] for i in indices]
                batch[key], batch[f"{key}_mask"] = pad_stack(value)
        elif self._direct:
            for key in self.arrays:
                batch[key], batch[f"{key}_mask"] = self._read_direct(key, indices)
        else:
            clips = [self._read(self.clip_ids[i]) for i in indices]
            for key in self.arrays:
                batch[key], batch[f"{key}_mask"] = pad_stack([clip[key] for clip in clips])
        if self.labels is not None:
            batch["label"] = torch.from_numpy(self.labels[indices])
        if self.targets is not None:
            batch["target"] = torch.from_numpy(self.targets[indices])
        batch["clip_id"] = [self.clip_ids[i] for i in indices]
        return batch


_HEADERS: dict[bytes, tuple[tuple[int, ...], np.dtype]] = {}


def _npy_header(handle, path, clip_id: str = "") -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an open ``.npy`` file, leaving it at the data; parses are cached.

    A damaged file is a :class:`~bench.data.store.CorruptStoreError` naming the clip and file.
    """
    from bench.data.store import CorruptStoreError

    preamble = handle.read(10)
    if len(preamble) < 10 or preamble[:6] != b"\x93NUMPY":
        reason = f"file truncated ({len(preamble)} bytes)" if len(preamble) < 10 else "not a .npy file"
        raise CorruptStoreError(path, reason, clip_id)
    if preamble[6] == 1:
        length = int.from_bytes(preamble[8:10], "little")
    else:
        length = int.from_bytes(preamble[8:10] + handle.read(2), "little")
    header = handle.read(length)
    parsed = _HEADERS.get(header)
    if parsed is None:
        if len(header) < length:
            raise CorruptStoreError(path, "file truncated inside its .npy header", clip_id)
        try:
            info = ast.literal_eval(header.decode("latin1"))
            shape, dtype, fortran = tuple(info["shape"]), np.dtype(info["descr"]), info.get("fortran_order")
        except (ValueError, SyntaxError, KeyError, TypeError, AttributeError, MemoryError, RecursionError):
            raise CorruptStoreError(path, "unreadable .npy header", clip_id) from None
        if fortran or dtype.hasobject:
            raise CorruptStoreError(path, "Fortran-ordered or object arrays are not supported", clip_id)
        parsed = _HEADERS[header] = (shape, dtype)
    return parsed


def _read_into(handle, target: np.ndarray, path, clip_id: str = "") -> None:
    view = memoryview(target).cast("B")
    filled = 0
    while filled < len(view):
        count = handle.readinto(view[filled:])
        if not count:
            from bench.data.store import CorruptStoreError

            start = handle.tell() - filled  # where the data begins, after the header
            found = os.fstat(handle.fileno()).st_size
            reason = f"file truncated (expected {start + len(view)} bytes, found {found})"
            raise CorruptStoreError(path, reason, clip_id)
        filled += count


def pad_stack(values) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack clips of varying length along a new batch axis, zero-padded, with a step mask.

    ``values`` is a list of arrays (T_i, ...) or an already stacked (B, T, ...) array.
    """
    if isinstance(values, np.ndarray):
        stacked = np.ascontiguousarray(values)
        mask = np.ones(stacked.shape[:2], dtype=bool)
        return torch.from_numpy(stacked), torch.from_numpy(mask)
    lengths = [v.shape[0] for v in values]
    longest = max(lengths)
    rest = values[0].shape[1:]
    out = np.zeros((len(values), longest, *rest), dtype=values[0].dtype)
    for i, value in enumerate(values):
        out[i, : value.shape[0]] = value
    mask = np.arange(longest)[None, :] < np.asarray(lengths)[:, None]
    return torch.from_numpy(out), torch.from_numpy(mask)


def to_device(batch: dict[str, Any], device: torch.device, non_blocking: bool = False) -> dict[str, Any]:
    """Move a batch to ``device``; ``uint8`` crops become float in [0, 1] there, float16 float32."""
    moved: dict[str, Any] = {}
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor):
            moved[key] = value
            continue
        value = value.to(device, non_blocking=non_blocking)
        if value.dtype == torch.uint8:
            value = value.float().div_(255.0)
        elif value.dtype in (torch.float16, torch.bfloat16, torch.float64):
            value = value.float()
        moved[key] = value
    return moved


class ClipBatchSampler(torch.utils.data.Sampler):
    """Batches of positions: shuffled with a seeded generator for training, in order otherwise.

    In training a trailing batch of a single clip is dropped (BatchNorm cannot normalise one
    sample, and one clip per epoch changes nothing).
    """

    def __init__(self, size: int, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None):
        self.size, self.batch_size, self.shuffle, self.generator = size, batch_size, shuffle, generator

    def __iter__(self) -> Iterable[list[int]]:
        order = torch.randperm(self.size, generator=self.generator).tolist() if self.shuffle else list(range(self.size))
        for start in range(0, self.size, self.batch_size):
            chunk = order[start : start + self.batch_size]
            if self.shuffle and len(chunk) == 1 and self.size > 1:
                continue
            yield chunk

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full + (1 if rest > 1 or (rest == 1 and (not self.shuffle or self.size == 1)) else 0)


def make_loader(
    dataset: ClipDataset,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    """A DataLoader reading whole batches per call (see the module docstring)."""
    from bench.seed import worker_init_fn

    return torch.utils.data.DataLoader(
        dataset,
        sampler=ClipBatchSampler(len(dataset), batch_size, shuffle=shuffle, generator=generator),
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn if num_workers > 0 else None,
        generator=generator,
        persistent_workers=num_workers > 0,
    )
