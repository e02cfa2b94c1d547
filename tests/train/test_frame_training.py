"""The trainer on task "frame" (Aff-Wild2): windows in, per-step predictions stitched back, ABAW
scores at the annotation rate, unannotated (-5) frames neither trained on nor scored."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.config import to_dict
from bench.errors import ConfigError
from bench.models.contract import ModelOutput
from bench.models.registry import resolve_config, unregister_model
from bench.study.cache import fold_key
from bench.study.resolve import adapt_to_store
from bench.train.config import FRAME_FIELDS, TrainConfig
from bench.train.loop import candidate_outputs, fill_data_fields, fit_fold, frame_level, score_frames, usable_ids
from tests.support.frame_store import build_frame_store, frame_fold, register_frame_toy

CCC_KEYS = {"ccc_valence", "ccc_arousal", "ccc_mean", "ccc_video_valence", "ccc_video_arousal", "ccc_video_mean"}
FAST = dict(epochs=2, batch_size=8, lr=1e-2, window_steps=8, window_hop=4, robustness=False)


@pytest.fixture(scope="module")
def frame_store(tmp_path_factory):
    return build_frame_store(tmp_path_factory.mktemp("frame_store") / "store")


@pytest.fixture
def frame_toy():
    yield register_frame_toy("frame_toy")
    unregister_model("frame_toy")


def test_store_gives_task_frame_and_rja_its_window(frame_store, toy_store):
    assert frame_level(frame_store) and not frame_level(toy_store)
    config = fill_data_fields(resolve_config("deiii"), frame_store)  # default: classification
    assert (config.task, config.num_outputs) == ("frame", 2)
    notes: list[str] = []
    rja = adapt_to_store(resolve_config("rja"), frame_store, set(), notes, window_steps=8)
    assert (rja.task, rja.seq_len) == ("frame", 8) and "'task': 'frame'" in notes[0]
    kept = adapt_to_store(resolve_config("rja"), frame_store, {"seq_len"}, [], window_steps=8)
    assert kept.seq_len == 16  # a value the user set is never changed
    clip_level = adapt_to_store(resolve_config("rja"), toy_store, set(), [], window_steps=8)
    assert clip_level.seq_len == 16 and clip_level.task == "classification"


def test_task_and_store_that_do_not_fit_are_clear_errors(frame_store, toy_store):
    with pytest.raises(ConfigError, match="task=regression needs one target per clip, but this store holds "
                                          r"per-frame targets \(frame_target\); use task=frame"):
        fill_data_fields(resolve_config("deiii", task="regression"), frame_store)
    with pytest.raises(ConfigError, match=r"task=frame needs per-frame targets \(frame_target\), which this store's "
                                          "clips do not have"):
        fill_data_fields(resolve_config("deiii", task="frame"), toy_store)


def test_usable_ids_need_an_annotated_step(tmp_path):
    store = build_frame_store(tmp_path / "s", clips={"a": ("a", "Train_Set"), "b": ("b", "Train_Set")})
    assert usable_ids(store, ["a", "b", "missing"], "frame", ["valence", "arousal"]) == ["a", "b"]
    valid = store.clip_dir("b") / "frame_valid.npy"
    np.save(valid, np.zeros(len(np.load(valid)), bool))
    assert usable_ids(store, ["a", "b"], "frame", ["valence", "arousal"]) == ["a"]


def test_window_fields_are_validated():
    with pytest.raises(ConfigError, match=r"train.window_hop must be in 1..window_steps \(8\), so that every step "
                                          "is in a window, got 9"):
        TrainConfig(window_steps=8, window_hop=9)
    with pytest.raises(ConfigError, match="train.window_steps must be at least 1, got 0"):
        TrainConfig(window_steps=0, window_hop=1)


def test_window_fields_key_frame_results_only(toy_store, frame_store, monkeypatch):
    """Clip-level keys are what they were before the window fields existed; frame keys see them."""
    import bench.study.cache as cache

    clip = fill_data_fields(resolve_config("deiii"), toy_store)

    def before_windows(obj):  # a TrainConfig as it was written before window_steps / window_hop existed
        values = to_dict(obj)
        return {k: v for k, v in values.items() if k not in FRAME_FIELDS} if isinstance(obj, TrainConfig) else values

    with monkeypatch.context() as patch:
        patch.setattr(cache, "to_dict", before_windows)
        old_key = fold_key("deiii", clip, TrainConfig(), "s", "x", "f", 0)
    assert fold_key("deiii", clip, TrainConfig(), "s", "x", "f", 0) == old_key
    assert fold_key("deiii", clip, TrainConfig(window_steps=4, window_hop=2), "s", "x", "f", 0) == old_key
    frame = fill_data_fields(resolve_config("deiii"), frame_store)
    assert fold_key("deiii", frame, TrainConfig(), "s", "x", "f", 0) != fold_key(
        "deiii", frame, TrainConfig(window_steps=8, window_hop=4), "s", "x", "f", 0)


def test_mean_head_averages_per_step_values(frame_toy):
    class Two:
        def candidate_heads(self, output):
            return dict(output.logits)

    a, b = torch.full((2, 5, 2), 3.0), torch.full((2, 5, 2), -1.0)
    heads = candidate_outputs(Two(), ModelOutput({"fused": a, "audio": b}), "frame")
    assert heads["mean"].shape == (2, 5, 2) and torch.allclose(heads["mean"], torch.ones(2, 5, 2))  # no softmax


def test_per_step_predictions_are_stitched_back(frame_store, frame_toy):
    """An oracle that predicts each step's index: every stitched step must read its own index."""
    result = fit_fold(frame_toy, {"oracle": True}, TrainConfig(**{**FAST, "epochs": 1, "window_hop": 3}), frame_store,
                      frame_fold(frame_store), seed=0, device="cpu")
    assert result.status == "finished", result.error
    predictions = result.predictions
    assert list(predictions.columns) == ["clip_id", "speaker", "step", "time", "valid", "valence", "pred_valence",
                                         "arousal", "pred_arousal"]
    test = frame_fold(frame_store)["test"]
    assert sorted(predictions["clip_id"].unique()) == sorted(test)
    for clip in test:
        rows = predictions[predictions["clip_id"] == clip]
        steps = frame_store.clip_info(clip)["steps"]
        assert rows["step"].tolist() == list(range(steps))
        np.testing.assert_allclose(rows["pred_valence"], np.arange(steps) % 256)
        np.testing.assert_allclose(rows["time"], (np.arange(steps) + 0.5) / 5.0)
        valid = frame_store.load(clip)["frame_valid"]
        assert rows["valid"].tolist() == valid.tolist() and rows["valence"][~valid].isna().all()
    assert set(result.test) == CCC_KEYS
    assert result.n_test > len(test)  # counted in windows (several per clip)


def test_masked_frames_are_never_scored(frame_store, frame_toy):
    """A prediction that differs from another only on unannotated steps scores exactly the same
    (annotation rate = step rate in this store, so the resampling is the identity)."""
    from bench.data.windows import FrameWindowDataset

    ids = frame_fold(frame_store)["test"]
    dataset = FrameWindowDataset(frame_store, ids, {"video": "frames"}, window_steps=8, window_hop=4)
    batch = dataset[list(range(len(dataset)))]
    rng = np.random.default_rng(0)
    honest = batch["frame_target"].numpy() + rng.normal(0, 0.3, batch["frame_target"].shape)
    masked = ~batch["frame_mask"].numpy()
    assert masked[batch["video_mask"].numpy()].any()  # some real steps are unannotated
    crafted = honest.copy()
    crafted[masked] = 100.0  # wild values only where nothing is annotated (and on padding)
    reference = score_frames(honest, dataset, ["valence", "arousal"])
    assert score_frames(crafted, dataset, ["valence", "arousal"]) == reference
    assert set(reference) == CCC_KEYS and all(math.isfinite(v) for v in reference.values())
    moved = honest.copy()
    moved[~masked] += 1.0  # the same change on annotated steps does change the scores
    assert score_frames(moved, dataset, ["valence", "arousal"])["ccc_mean"] != reference["ccc_mean"]


def test_unannotated_frames_are_never_trained_on(tmp_path, frame_toy):
    """Two stores that differ only in the target values written at -5 frames train to the same
    weights and the same scores: no loss and no score reads those entries."""
    results = []
    for garbage in (None, 7.5):
        store = build_frame_store(tmp_path / f"s{garbage}", garbage=garbage)
        results.append(fit_fold(frame_toy, {}, TrainConfig(**FAST, save_state=True), store, frame_fold(store),
                                seed=3, device="cpu"))
    a, b = results
    assert a.status == b.status == "finished"
    assert a.test == b.test and a.val == b.val
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    for name, tensor in a.state_dict.items():
        assert torch.equal(tensor, b.state_dict[name]), name
    store = build_frame_store(tmp_path / "s-moved", garbage=None, seed=1)  # different annotations: different numbers
    c = fit_fold(frame_toy, {}, TrainConfig(**FAST), store, frame_fold(store), seed=3, device="cpu")
    assert c.test != a.test


def test_selection_on_ccc_mean_and_robustness(frame_store, frame_toy):
    result = fit_fold(frame_toy, {}, TrainConfig(**{**FAST, "robustness": True}), frame_store,
                      frame_fold(frame_store), seed=0, device="cpu")
    assert result.status == "finished", result.error
    best = max(result.history, key=lambda h: h["val_selection"])
    assert best["epoch"] == result.best_epoch and best["val_selection"] == best["val_ccc_mean"]
    assert {"val_fused_ccc_mean", "val_audio_ccc_mean", "val_mean_ccc_mean"} <= set(result.history[0])
    assert set(result.test_by_head) == {"fused", "audio", "mean"}
    assert result.test == result.test_by_head[result.inference_head]
    assert not result.confusion and set(result.robustness) == {"audio_missing", "video_missing", "audio_noise",
                                                                "video_noise"}
    for scores in result.robustness.values():
        assert set(scores) == CCC_KEYS
