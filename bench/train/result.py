"""``FoldResult``: what one fold x seed produced, and how it is stored and read back.

A finished result is stored as a folder (written to a temporary name, then renamed, so a
killed process never leaves half a result): ``result.json`` (everything but the
predictions), ``predictions.csv`` and ``history.csv``; optionally ``model.pt``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.io import write_json, write_text


@dataclass
class FoldResult:
    status: str = "finished"  # "finished" or "failed"
    error: str = ""  # why a failed fold failed
    best_epoch: int = 0  # 1-based epoch whose weights scored the test set (0: none)
    inference_head: str = ""  # the head (or combination) used for test predictions
    val: dict[str, float] = field(default_factory=dict)  # validation metrics at best_epoch
    test: dict[str, float] = field(default_factory=dict)  # test metrics (scored once)
    per_class_recall: dict[str, float] = field(default_factory=dict)  # test, NaN if class absent
    confusion: list[list[int]] = field(default_factory=list)  # test; rows reference, cols predicted
    history: list[dict] = field(default_factory=list)  # one dict per epoch (train_loss, val_*)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)  # per test clip
    parameters: int = 0  # model parameters
    inference_ms_per_clip: float = 0.0  # test-set forward time per clip (incl. transfer)
    seconds: float = 0.0  # wall time of the fold
    fold: str = ""  # fold name in the split scheme
    seed: int = 0  # the run's seed
    labels: list[str] = field(default_factory=list)  # class vocabulary (confusion order)
    # Clips the fold trained on and was tested on: the corrected t-test's n2/n1 (test / train
    # size, bench.eval.significance). 0 in results cached before they were recorded.
    n_train: int = 0
    n_test: int = 0
    # Test metrics of every candidate head from the same single test pass (ablation rows such
    # as "video head" need no retraining); each dict also holds that head's "confusion".
    test_by_head: dict[str, dict] = field(default_factory=dict)
    # Test metrics of the selected head under bench.eval.robustness conditions (modality missing or
    # noisy), each with its "confusion"; scored with the same selected weights, never selected on.
    robustness: dict[str, dict] = field(default_factory=dict)
    cache_key: str = ""  # key under results_dir() (set by bench.experiment)
    cached: bool = False  # True when read back from the cache instead of trained
    source: str = ""  # where a reused result came from: "cache", "ledger <platform id>"; "" when trained here
    cpu_seconds: float = 0.0  # CPU time of the training process during the fold (all its threads)
    platform: dict = field(default_factory=dict)  # bench.ledger.machine.platform_info() of the training
    code_fingerprint: str = ""  # bench.ledger.fingerprint of the code that trained it
    threads: int = 0  # torch intra-op threads it trained with
    state_dict: dict | None = field(default=None, repr=False)  # selected weights (save_state only)

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def summary(self) -> dict[str, Any]:
        """The JSON-able part of the result (no predictions, no weights)."""
        skip = ("predictions", "state_dict", "cached", "source")
        data = {k: v for k, v in self.__dict__.items() if k not in skip}
        return json.loads(json.dumps(data, default=str))

    # -- storage ------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write this result to ``folder`` atomically (a fresh folder renamed into place)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            write_text(tmp / "predictions.csv", self.predictions.to_csv(index=False))
            write_text(tmp / "history.csv", pd.DataFrame(self.history).to_csv(index=False))
            if self.state_dict is not None:
                import torch

                torch.save(self.state_dict, tmp / "model.pt")
            write_json(tmp / "result.json", self.summary())  # last: marks the folder complete
            if folder.exists():
                old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
                os.replace(folder, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "FoldResult":
        folder = Path(folder)
        data = json.loads((folder / "result.json").read_text())
        predictions = pd.read_csv(
            folder / "predictions.csv",
            dtype={"clip_id": str, "speaker": str, "label": str, "predicted": str},
            keep_default_na=False, na_values=[""],
        )
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        return cls(**kwargs, predictions=predictions, cached=True, source="cache")
