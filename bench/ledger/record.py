"""One record: what one finished job (model x config x fold x seed) produced, as plain JSON.

A record is small (predictions, never weights) and complete enough that every statistic of a
report can be recomputed from it: test metrics, per-head and robustness scores, the confusion
matrix, per-clip predictions, the learning curve, the selected epoch and head, clip counts.
Beside the numbers it carries what explains them:

* ``job``: the content key's fields (model and its resolved configuration, dataset, feature
  store key, split scheme and checksum, protocol, fold, seed, tuning layer);
* ``fingerprint``: the code that trained it (:mod:`bench.ledger.fingerprint`) and the results
  salt; a record whose fingerprint is not the current code's is *stale*;
* ``platform``: device, CPU model and instruction set, torch / numpy / CUDA builds
  (:mod:`bench.ledger.machine`); part of the file name, so platforms never overwrite each other;
* ``provenance``: wall and CPU seconds, inference time, torch threads, the commit, when.

:meth:`Record.numbers` is everything but ``provenance``: two trainings of one job on one
platform give equal ``numbers()``, bit for bit (tests/ledger/test_reproducible.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA = "bench-record/1"
# FoldResult fields that are not numbers of the job (timings) or not the record's business.
_TIMING = ("seconds", "inference_ms_per_clip", "cpu_seconds")
_NOT_STORED = ("predictions", "state_dict", "cached", "source", "cache_key", "fold", "seed", "platform",
               "code_fingerprint", "threads", *_TIMING)
_PREDICTION_DTYPES = {"clip_id": str, "speaker": str, "label": str, "predicted": str}


class RecordError(ValueError):
    """A record file that cannot be read as a record (named, with the reason)."""


@dataclass
class Record:
    key: str
    job: dict  # the content key's fields: model, config {model, train}, dataset, store, split, fold, seed, ...
    fingerprint: dict  # {"code": <source digest>, "salt": <results salt>}
    platform: dict  # bench.ledger.machine.platform_info(); "id" names the file
    provenance: dict  # wall_seconds, cpu_seconds, inference_ms_per_clip, threads, commit, written_at, origin
    result: dict  # the numbers (FoldResult fields) with predictions as {"columns", "rows"}
    schema: str = SCHEMA
    path: Path | None = field(default=None, compare=False, repr=False)

    @property
    def model(self) -> str:
        return str(self.job["model"])

    @property
    def platform_id(self) -> str:
        return str(self.platform["id"])

    def numbers(self) -> dict:
        """Everything a reproduction must repeat exactly (all but the provenance's timings)."""
        return {"schema": self.schema, "key": self.key, "job": self.job, "fingerprint": self.fingerprint,
                "platform": self.platform, "result": self.result}

    def numbers_text(self) -> str:
        """:meth:`numbers` as canonical text: equal text is equal bits (NaN included)."""
        return _dumps(self.numbers(), "")

    def to_json(self) -> str:
        """Sorted keys, one field a line, and a list of numbers or one prediction row on one line
        each: readable, and a changed number is a one-line diff."""
        return _dumps({**self.numbers(), "provenance": self.provenance}, "") + "\n"

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> "Record":
        where = str(path) if path else "record"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise RecordError(f"{where}: not a {SCHEMA} record (schema {data.get('schema') if isinstance(data, dict) else None!r})")
        missing = [k for k in ("key", "job", "fingerprint", "platform", "provenance", "result") if k not in data]
        if missing:
            raise RecordError(f"{where}: missing {', '.join(missing)}")
        return cls(data["key"], data["job"], data["fingerprint"], data["platform"], data["provenance"], data["result"],
                   path=path)

    @classmethod
    def read(cls, path: str | Path) -> "Record":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RecordError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        return cls.from_json(text, path)

    # -- to and from a FoldResult -------------------------------------------------------------
    @classmethod
    def of(cls, key: str, job: dict, result, fingerprint: dict, provenance: dict) -> "Record":
        """The record of a finished ``result`` (a :class:`~bench.train.result.FoldResult`)."""
        numbers = {k: v for k, v in result.__dict__.items() if k not in _NOT_STORED}
        numbers = json.loads(json.dumps(numbers, default=str))
        frame = result.predictions
        numbers["predictions"] = {"columns": [str(c) for c in frame.columns],
                                  "rows": [[_plain(v) for v in row] for row in frame.itertuples(index=False)]}
        timing = {"wall_seconds": float(result.seconds), "cpu_seconds": float(getattr(result, "cpu_seconds", 0.0) or 0.0),
                  "inference_ms_per_clip": float(result.inference_ms_per_clip)}
        return cls(key, job, fingerprint, dict(result.platform), {**timing, **provenance}, numbers)

    def to_result(self):
        """The record as a FoldResult (``cached``: nothing was trained to get it)."""
        from bench.train.result import FoldResult

        numbers = dict(self.result)
        table = numbers.pop("predictions", {"columns": [], "rows": []})
        predictions = pd.DataFrame(table["rows"], columns=table["columns"])
        for column, dtype in _PREDICTION_DTYPES.items():
            if column in predictions:
                predictions[column] = predictions[column].astype(dtype)
        known = set(FoldResult.__dataclass_fields__) - set(_NOT_STORED)
        result = FoldResult(**{k: v for k, v in numbers.items() if k in known}, predictions=predictions, cached=True)
        result.seconds = float(self.provenance.get("wall_seconds", 0.0))
        result.cpu_seconds = float(self.provenance.get("cpu_seconds", 0.0) or 0.0)
        result.inference_ms_per_clip = float(self.provenance.get("inference_ms_per_clip", 0.0))
        result.fold, result.seed, result.cache_key = str(self.job["fold"]), int(self.job["seed"]), self.key
        result.platform, result.code_fingerprint = dict(self.platform), str(self.fingerprint.get("code", ""))
        result.threads = int(self.provenance.get("threads", 0) or 0)
        result.source = f"ledger {self.platform_id}"
        return result


def _dumps(value: Any, indent: str) -> str:
    if isinstance(value, dict) and value:
        inner = indent + " "
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) and v for v in value) \
            and not all(isinstance(v, list) and not any(isinstance(x, (dict, list)) for x in v) for v in value):
        inner = indent + " "
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):  # a table: a row a line
        inner = indent + " "
        return "[\n" + ",\n".join(inner + json.dumps(v, allow_nan=True) for v in value) + "\n" + indent + "]"
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _plain(value: Any) -> Any:
    """A predictions cell as JSON: numpy scalars as Python numbers (floats exactly, by repr)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return float("nan")
    return value
