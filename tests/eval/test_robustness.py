"""Robustness conditions: zeroing and noise hit only their modality, deterministically."""

import pytest
import torch

from bench.eval.robustness import CONDITIONS, apply_condition, condition_transform


def _batch():
    g = torch.Generator().manual_seed(0)
    return {
        "video": torch.rand(2, 4, 3, 8, 8, generator=g),
        "flow": torch.randn(2, 3, 2, 8, 8, generator=g),
        "audio": torch.randn(2, 10, 5, generator=g),
        "label": torch.tensor([0, 1]),
    }


def test_missing_zeroes_only_its_modality():
    batch = _batch()
    out = apply_condition(batch, "audio_missing", torch.Generator())
    assert out["audio"].abs().sum() == 0 and torch.equal(out["video"], batch["video"])
    out = apply_condition(batch, "video_missing", torch.Generator())
    assert out["video"].abs().sum() == 0 and out["flow"].abs().sum() == 0 and torch.equal(out["audio"], batch["audio"])


def test_noise_changes_only_its_modality_and_keeps_frames_in_range():
    batch = _batch()
    out = apply_condition(batch, "video_noise", torch.Generator().manual_seed(1))
    assert not torch.equal(out["video"], batch["video"]) and torch.equal(out["audio"], batch["audio"])
    assert out["video"].min() >= 0 and out["video"].max() <= 1
    out = apply_condition(batch, "audio_noise", torch.Generator().manual_seed(1))
    assert torch.equal(out["video"], batch["video"])
    ratio = (out["audio"] - batch["audio"]).std() / batch["audio"].std()
    assert 0.7 < ratio < 1.3  # 0 dB: noise as strong as the signal


def test_same_seed_same_noise():
    a = condition_transform("audio_noise", seed=3)(_batch())
    b = condition_transform("audio_noise", seed=3)(_batch())
    assert torch.equal(a["audio"], b["audio"])


def test_unknown_condition():
    with pytest.raises(ValueError, match="unknown robustness condition"):
        apply_condition(_batch(), "x", torch.Generator())
    assert CONDITIONS[0] == "clean"
