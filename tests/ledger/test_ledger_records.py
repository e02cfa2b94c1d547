"""Records: written whole, read back exactly, chosen per platform, stale when the code changed."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from pathlib import Path

import pandas as pd
import pytest

from bench.ledger import Ledger, Record, RecordError
from bench.train.result import FoldResult

PLATFORM = {"id": "cpu-test-avx2-00000000", "device": "cpu", "device_name": "test CPU", "cpu_capability": "AVX2"}


def _result(**changes) -> FoldResult:
    predictions = pd.DataFrame({"clip_id": ["01", "02"], "speaker": ["007", "008"], "label": ["happy", "sad"],
                                "predicted": ["happy", "happy"], "prob_happy": [0.7000000000000001, 0.51],
                                "prob_sad": [0.3, 0.49]})
    result = FoldResult(best_epoch=2, inference_head="fused", val={"uar": 0.5}, test={"uar": 0.5, "accuracy": 0.5},
                        per_class_recall={"happy": 1.0, "sad": 0.0, "angry": float("nan")},
                        confusion=[[1, 0], [1, 0]], history=[{"epoch": 1, "train_loss": 1.25, "val_uar": 0.5}],
                        predictions=predictions, parameters=123, inference_ms_per_clip=1.5, seconds=10.0, cpu_seconds=9.5,
                        labels=["happy", "sad"], n_train=20, n_test=2, platform=dict(PLATFORM), code_fingerprint="abc",
                        threads=1)
    for key, value in changes.items():
        setattr(result, key, value)
    return result


def _record(key: str = "k" * 24, platform: dict | None = None, fingerprint: str = "abc", **changes) -> Record:
    result = _result(**changes)
    if platform is not None:
        result.platform = platform
    job = {"model": "toy", "dataset": "toy", "fold": "fold1", "seed": 0, "config": {"model": {}, "train": {}}}
    return Record.of(key, job, result, {"code": fingerprint, "salt": "s"}, {"threads": 1, "commit": "c"})


def test_a_record_reads_back_as_the_result_it_was_written_from(tmp_path):
    ledger = Ledger(tmp_path)
    path = ledger.write(_record())
    assert path == tmp_path / "toy" / "toy" / f"{'k' * 24}.{PLATFORM['id']}.json"
    back = Record.read(path).to_result()
    original = _result()
    assert back.cached and back.source == f"ledger {PLATFORM['id']}"
    for name in ("best_epoch", "inference_head", "val", "test", "confusion", "history", "parameters", "n_train", "n_test",
                 "labels", "seconds", "cpu_seconds", "inference_ms_per_clip", "code_fingerprint", "platform"):
        assert getattr(back, name) == getattr(original, name), name
    assert math.isnan(back.per_class_recall["angry"]) and back.per_class_recall["happy"] == 1.0
    pd.testing.assert_frame_equal(back.predictions, original.predictions)  # floats exactly, ids as text
    assert back.predictions["speaker"].tolist() == ["007", "008"]  # leading zeros kept


def test_record_text_is_one_field_a_line_and_a_prediction_row_a_line(tmp_path):
    text = _record().to_json()
    assert json.loads(text)["schema"] == "bench-record/1"
    assert '   ["01", "007", "happy", "happy", 0.7000000000000001, 0.3],' in text
    assert Record.from_json(text).numbers_text() == _record().numbers_text()


def test_numbers_leave_the_timings_out():
    fast, slow = _record(seconds=1.0, cpu_seconds=1.0, inference_ms_per_clip=0.1), _record()
    assert fast.numbers_text() == slow.numbers_text() and fast.to_json() != slow.to_json()
    assert _record(test={"uar": 0.5000000000000001, "accuracy": 0.5}).numbers_text() != slow.numbers_text()


def test_unreadable_files_are_named_with_the_reason(tmp_path):
    ledger = Ledger(tmp_path)
    folder = tmp_path / "toy" / "toy"
    folder.mkdir(parents=True)
    (folder / f"{'a' * 24}.p.json").write_text("{not json")
    (folder / f"{'b' * 24}.p.json").write_text(json.dumps({"schema": "other"}))
    records, errors = ledger.records()
    assert records == [] and len(errors) == 2
    assert any(f"{'a' * 24}.p.json: not JSON" in e for e in errors)
    assert any("not a bench-record/1 record (schema 'other')" in e for e in errors)
    with pytest.raises(RecordError, match="cannot be read"):
        Record.read(tmp_path / "missing.json")


def test_lookup_prefers_this_platforms_record_and_never_a_stale_one(tmp_path):
    ledger = Ledger(tmp_path)
    other = {**PLATFORM, "id": "cuda-h100-11111111", "device": "cuda"}
    ledger.write(_record(platform=other, test={"uar": 0.9}))
    assert ledger.lookup("k" * 24, "abc", PLATFORM["id"]).record.platform_id == other["id"]  # the only one: used
    ledger.write(_record())
    found = ledger.lookup("k" * 24, "abc", PLATFORM["id"])
    assert found.record.platform_id == PLATFORM["id"] and len(found.fresh) == 2  # both kept; ours first
    assert ledger.lookup("k" * 24, "abc", other["id"]).record.platform_id == other["id"]
    stale = ledger.lookup("k" * 24, "new code", PLATFORM["id"])
    assert stale.record is None and len(stale.stale) == 2  # listed, never reused
    assert ledger.lookup("z" * 24, "abc").record is None


def _write_many(root: str, worker: int, count: int) -> None:
    ledger = Ledger(root)
    for i in range(count):
        ledger.write(_record(seconds=float(worker * 1000 + i)))


def _read_many(root: str, count: int, queue) -> None:
    ledger, seen = Ledger(root), 0
    for _ in range(count):
        for path in ledger.files():
            Record.read(path)  # raises on a torn record
            seen += 1
    queue.put(seen)


def test_concurrent_writers_of_one_record_leave_a_whole_record(tmp_path):
    """Four processes rewrite the same record 40 times each while another reads it: every
    read parses, the survivor is one writer's whole record, and no temporary file is left."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    Ledger(tmp_path).write(_record())
    writers = [context.Process(target=_write_many, args=(str(tmp_path), w, 40)) for w in range(4)]
    reader = context.Process(target=_read_many, args=(str(tmp_path), 200, queue))
    for p in [*writers, reader]:
        p.start()
    for p in [*writers, reader]:
        p.join(120)
        assert p.exitcode == 0
    assert queue.get(timeout=5) >= 200
    files = sorted(Path(tmp_path).rglob("*"))
    assert [f.name for f in files if f.is_file()] == [f"{'k' * 24}.{PLATFORM['id']}.json"]
    final = Record.read(files[-1])
    assert final.numbers_text() == _record().numbers_text()
    assert final.provenance["wall_seconds"] % 1000 <= 39
