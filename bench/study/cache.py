"""The content-addressed result cache: a finished fold x seed is stored under the hash of
everything that determines its numbers, and reused by any later study that asks for it.

    <bench home>/results/<key>/  result.json, predictions.csv, history.csv (+ model.pt)

Runtime-only settings (device, workers, where the weights are kept) are not in the key;
:data:`RESULTS_SALT` is, so a change to the training code that changes numbers invalidates
every cached result at once.
"""

from __future__ import annotations

from bench.config import stable_hash, to_dict
from bench.paths import results_dir
from bench.train.result import FoldResult

# Bump when a change to the training code should invalidate cached fold results.
RESULTS_SALT = "fold-result-v3"  # v2: per-head and robustness test scores; v3: train.kernels, train.threads


def key_fields(model: str, model_config, train_config, store_key: str, split_checksum: str, fold: str, seed: int) -> dict:
    """Everything that determines one fold x seed's numbers: what :func:`fold_key` hashes, and
    what a ledger record keeps as its job (so the record shows what its key stands for)."""
    from bench.train.config import FRAME_FIELDS, KEY_AT_DEFAULT_OMITTED, RUNTIME_FIELDS, TrainConfig

    # The window fields shape only frame-level runs: left out of every other key, so clip-level
    # results cached before those fields existed keep their keys.
    task = model_config.get("task") if isinstance(model_config, dict) else getattr(model_config, "task", None)
    skip = RUNTIME_FIELDS + (() if task == "frame" else FRAME_FIELDS)
    train = {k: v for k, v in to_dict(train_config).items() if k not in skip}
    defaults = to_dict(TrainConfig())
    train = {k: v for k, v in train.items() if not (k in KEY_AT_DEFAULT_OMITTED and v == defaults[k])}
    return {
        "model": model,
        "model_config": model_config if isinstance(model_config, dict) else to_dict(model_config),
        "train_config": train,
        "store": store_key,
        "split": split_checksum,
        "fold": fold,
        "seed": int(seed),
        "salt": RESULTS_SALT,
    }


def fold_key(model: str, model_config, train_config, store_key: str, split_checksum: str, fold: str, seed: int) -> str:
    """The cache key of one fold x seed: everything that determines its numbers."""
    return stable_hash(key_fields(model, model_config, train_config, store_key, split_checksum, fold, seed), length=24)


def is_cached(key: str) -> bool:
    """Whether a result is stored under ``key`` (cheap: no parsing; :func:`load_cached` checks it)."""
    return (results_dir() / key / "result.json").is_file()


def load_cached(key: str, fingerprint: str | None = None) -> FoldResult | None:
    """The finished result stored under ``key``, or None (absent, unreadable, or trained by other
    code than ``fingerprint``'s, :mod:`bench.ledger.fingerprint`: retrain)."""
    folder = results_dir() / key
    if not (folder / "result.json").is_file():
        return None
    try:
        result = FoldResult.load(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    result.cache_key = key
    if fingerprint is not None and result.code_fingerprint != fingerprint:
        return None
    return result if result.finished else None


def save_result(key: str, result: FoldResult) -> None:
    """Cache a finished result (atomically: a killed process leaves the old one or none)."""
    result.cache_key = key
    result.save(results_dir() / key)
