import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from tests.support.tidy_frames import make_tidy

from bench.report import plots as P
from bench.errors import ConfigError

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF"}


def assert_figure(paths, out_dir, stem):
    assert set(paths) == {"png", "pdf"}
    for fmt, path in paths.items():
        assert path == out_dir / f"{stem}.{fmt}"
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(MAGIC[fmt]), path
    assert not [p for p in out_dir.iterdir() if ".tmp" in p.name]  # no leftovers of atomic writes
    assert plt.get_fignums() == []  # nothing registered with pyplot


def test_confusion_counts_and_normalised(tmp_path):
    labels = ["neutral", "happy", "sad", "angry"]
    folds = np.stack([np.eye(4, dtype=int) * 5 + 1 for _ in range(3)])
    assert_figure(P.plot_confusion(folds, labels, tmp_path, "cm"), tmp_path, "cm")
    with pytest.raises(ConfigError, match="does not match"):
        P.plot_confusion(np.ones((3, 3)), labels, tmp_path, "bad")


@pytest.mark.parametrize("kind", ["strip", "point"])
def test_fold_scores(tmp_path, kind):
    df = make_tidy({"deiii": 0.7, "auxformer": 0.6}, folds=3, seeds=1)
    assert_figure(P.plot_fold_scores(df, "uar", tmp_path, f"folds-{kind}", kind=kind), tmp_path, f"folds-{kind}")


def test_fold_scores_rejects_unknown_kind(tmp_path):
    with pytest.raises(ConfigError, match="violin"):
        P.plot_fold_scores(make_tidy({"a": 0.5}), "uar", tmp_path, "x", kind="violin")


def test_learning_curves(tmp_path):
    hist = {f"f{k}": [dict(epoch=e, train_loss=1.0 / e, val_uar=0.3 + 0.02 * e + 0.01 * k) for e in range(1, 6)] for k in range(3)}
    assert_figure(P.plot_learning_curves(hist, tmp_path, "curves", best_epochs={"f0": 4}), tmp_path, "curves")
    with pytest.raises(ConfigError, match="val_ccc_mean"):
        P.plot_learning_curves(hist, tmp_path, "x", val_metric="val_ccc_mean")


def test_attention_from_random_tensor(tmp_path):
    g = torch.Generator().manual_seed(0)
    av = torch.softmax(torch.randn(3, 4, 40, 8, generator=g), dim=-1)  # (B, heads, T_audio, T_video)
    va = torch.softmax(torch.randn(3, 4, 8, 40, generator=g), dim=-1)
    paths = P.plot_attention(av, va, tmp_path, "ife", clips=[2], audio_lengths=[40, 30, 20], video_lengths=[8, 6, 5])
    assert_figure(paths, tmp_path, "ife")
    # numpy (B, Tq, Tk) without a head axis also works
    assert_figure(P.plot_attention(av.numpy()[:1, 0], va.numpy()[:1, 0], tmp_path, "ife1"), tmp_path, "ife1")
    with pytest.raises(ConfigError, match="disagree"):
        P.plot_attention(av, av, tmp_path, "bad")
    with pytest.raises(ConfigError, match="head"):
        P.plot_attention(av, va, tmp_path, "bad", head=9)


def test_robustness_bars(tmp_path):
    rows = [
        dict(model=m, condition=c, fold=f, metric="uar", value=0.5 + 0.1 * (m == "a") - 0.05 * i + 0.01 * f)
        for m in ("a", "b") for i, c in enumerate(["clean", "noise 0 dB", "video missing"]) for f in range(3)
    ]  # fmt: skip
    assert_figure(P.plot_robustness(pd.DataFrame(rows), tmp_path, "robust"), tmp_path, "robust")
    mixed = pd.DataFrame(rows + [dict(rows[0], metric="accuracy")])
    with pytest.raises(ConfigError, match="mix metrics"):
        P.plot_robustness(mixed, tmp_path, "x")
