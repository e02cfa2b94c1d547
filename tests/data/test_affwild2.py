"""Aff-Wild2: the synthetic layout, the adapter, prepare's per-frame arrays, windows end to end."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from bench.data.annotations import read_va_annotation
from bench.data.corpora import CorpusWarning, UnrecognisedFilesError, build_manifest
from bench.data.synth.affwild2 import ANNOTATION_DIR, CONFIG_FILE, AffWildSynthConfig, generate_affwild2, plan_videos
from bench.errors import ConfigError

CONFIG = AffWildSynthConfig(videos=4, validation_videos=1, duration_s=6.0, duration_jitter_s=1.0, fps=10)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate_affwild2(tmp_path_factory.mktemp("affwild2") / "corpus", CONFIG, progress=False)


def test_layout_follows_abaw(corpus):
    specs = plan_videos(CONFIG)
    assert [s.name for s in specs] == ["1-10-256x192", "2-10-256x192", "3-10-256x192", "4-10-512x192"]
    assert sorted(p.name for p in (corpus / "videos").iterdir()) == [f"{s.name}.mp4" for s in specs]
    train = sorted(p.name for p in (corpus / ANNOTATION_DIR / "Train_Set").iterdir())
    assert train == ["2-10-256x192.txt", "3-10-256x192.txt", "4-10-512x192_left.txt", "4-10-512x192_right.txt"]
    assert sorted(p.name for p in (corpus / ANNOTATION_DIR / "Validation_Set").iterdir()) == ["1-10-256x192.txt"]
    assert sorted(p.name for p in (corpus / "cropped_aligned").iterdir()) == [
        "3-10-256x192", "4-10-512x192_left", "4-10-512x192_right"]
    assert (corpus / "cropped_aligned" / "3-10-256x192" / "00001.jpg").is_file()
    meta = json.loads((corpus / CONFIG_FILE).read_text())
    frames = {v["video"]: v["frames"] for v in meta["videos"]}
    for path in (corpus / ANNOTATION_DIR).rglob("*.txt"):
        ann = read_va_annotation(path)
        video = path.stem.removesuffix("_left").removesuffix("_right")
        short = 2 if video == "3-10-256x192" else 0  # one file is written 2 frames short
        assert len(ann) == frames[video] - short
        assert 0 < (~ann.valid).sum() < len(ann) / 2  # some -5 gaps, mostly annotated
        values = ann.values[ann.valid]
        assert np.abs(values).max() <= 1.0 and values.std(axis=0).min() > 0.03  # trajectories move (6 s videos here)
        steps = np.abs(np.diff(ann.values, axis=0))[ann.valid[1:] & ann.valid[:-1]]
        assert steps.max() < 0.15  # smooth from frame to frame


def test_adapter_reads_tracks_partitions_and_crops(corpus):
    manifest = build_manifest("affwild2", corpus)
    frame = manifest.frame.set_index("clip_id")
    assert list(manifest.frame["clip_id"]) == ["2-10-256x192", "3-10-256x192", "4-10-512x192_left",
                                               "4-10-512x192_right", "1-10-256x192"]
    assert manifest.targets == ("valence", "arousal") and manifest.labels == ()
    assert frame.loc["4-10-512x192_left", "video_path"] == "videos/4-10-512x192.mp4"
    assert frame.loc["4-10-512x192_right", "subject"] == "right"
    assert frame.loc["4-10-512x192_left", "speaker"] == frame.loc["4-10-512x192_right", "speaker"] == "4-10-512x192"
    assert frame.loc["1-10-256x192", "partition"] == "Validation_Set"
    assert frame.loc["3-10-256x192", "faces_path"] == "cropped_aligned/3-10-256x192"
    assert frame.loc["2-10-256x192", "faces_path"] == ""
    assert build_manifest("affwild2", corpus, use_cropped=False).frame["faces_path"].eq("").all()


def test_adapter_reports_what_it_leaves_out(corpus, tmp_path):
    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    (root / ANNOTATION_DIR / "Train_Set" / "99-30-640x480.txt").write_text("valence,arousal\n0,0\n")
    (root / ANNOTATION_DIR / "Train_Set" / "notes.csv").write_text("x")
    (root / ANNOTATION_DIR / "Test_Set").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorpusWarning)
        manifest = build_manifest("affwild2", root)
    text = "\n".join(manifest.warnings)
    assert "excluded 1 clips: annotation without a video of that name under the corpus root (e.g. 99-30-640x480)" in text
    assert "notes.csv (not a .txt annotation file)" in text
    assert "Test_Set: the challenge's test labels are not public" in text
    assert len(manifest) == 5
    with warnings.catch_warnings(), pytest.raises(UnrecognisedFilesError, match="notes.csv"):
        warnings.simplefilter("ignore", CorpusWarning)
        build_manifest("affwild2", root, strict=True)


def test_adapter_without_annotations_is_a_clear_error(tmp_path):
    (tmp_path / "videos").mkdir()
    with pytest.raises(ConfigError, match="no VA annotation folder under .*annotations/VA_Estimation_Challenge/Train_Set"):
        build_manifest("affwild2", tmp_path)


@pytest.mark.slow
def test_end_to_end_prepare_and_windows(corpus, tmp_path):
    from bench.data.prepare import PrepareConfig, prepare
    from bench.data.windows import FrameWindowDataset, score_frame_predictions, stitch_windows
    from bench.splits import get_scheme

    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    broken = root / ANNOTATION_DIR / "Train_Set" / "2-10-256x192.txt"
    lines = broken.read_text().splitlines()
    lines[7] = "0.5;0.1"
    broken.write_text("\n".join(lines) + "\n")
    manifest = build_manifest("affwild2", root)
    store = prepare(manifest, PrepareConfig(image_size=32, crop_size=64, fps=5.0), root=tmp_path / "store", progress=False)

    # the broken file is one recorded bad clip (file and line named), the others are prepared
    assert [f.clip_id for f in store.failures] == ["2-10-256x192"]
    failure = store.failures[0]
    assert failure.stage == "annotation" and failure.path == str(broken)
    assert "line 8" in failure.reason and "'0.5;0.1' has 1 field" in failure.reason
    assert store.meta["fps"] == 5.0

    for clip in store.clip_ids:
        arrays, info = store.load(clip), store.clip_info(clip)
        T, n = arrays["frames"].shape[0], info["video_frames"]
        assert info["ann_fps"] == pytest.approx(10.0) and info["fps"] == 5.0 and info["steps"] == T
        assert T == n // 2
        assert arrays["flow"].shape[0] == T - 1
        assert arrays["frame_target"].shape == (T, 2) and arrays["frame_target"].dtype == np.float32
        assert arrays["frame_valid"].shape == (T,) and arrays["frame_valid"].dtype == bool
        assert arrays["ann_target"].shape == (n, 2) and arrays["ann_valid"].shape == (n,)
        ann = read_va_annotation(root / manifest.frame.set_index("clip_id").loc[clip, "annotation_path"])
        k = len(ann)
        assert arrays["ann_valid"][:k].tolist() == ann.valid.tolist()
        assert not arrays["ann_valid"][k:].any()  # the short file's tail is unannotated
        sources = np.floor((np.arange(T) + 0.5) * 2).astype(int)  # 10 fps source, 5 steps/s
        assert arrays["frame_valid"].tolist() == arrays["ann_valid"][sources].tolist()
        np.testing.assert_allclose(arrays["frame_target"][arrays["frame_valid"]],
                                   arrays["ann_target"][sources][arrays["frame_valid"]])

    scheme = get_scheme("affwild2", manifest=store.manifest)
    parts = scheme.folds[0].assign(store.manifest)
    assert parts["test"] == ["1-10-256x192"]
    train = parts["train"] + parts["val"]
    assert sorted(train) == ["3-10-256x192", "4-10-512x192_left", "4-10-512x192_right"]

    dataset = FrameWindowDataset(store, train, {"video": "frames", "flow": "flow", "audio": "audio"},
                                 window_steps=8, window_hop=4)
    batch = dataset[list(range(len(dataset)))]
    B = len(dataset)
    assert batch["video"].shape == (B, 8, 3, 32, 32) and batch["flow"].shape == (B, 7, 2, 32, 32)
    assert batch["audio"].shape[:2] == (B, 160) and batch["frame_target"].shape == (B, 8, 2)
    assert set(batch) == {"video", "video_mask", "flow", "flow_mask", "audio", "audio_mask", "frame_target",
                          "frame_mask", "clip_id", "window_start"}
    # -5 frames are masked: the mask is exactly "inside the clip and annotated"
    for row in range(B):
        clip, start = batch["clip_id"][row], int(batch["window_start"][row])
        valid = store.load(clip)["frame_valid"][start : start + 8]
        expected = np.zeros(8, bool)
        expected[: len(valid)] = valid
        assert batch["frame_mask"][row].numpy().tolist() == expected.tolist()
    assert (~batch["frame_mask"] & batch["video_mask"]).any()  # some real steps are unannotated

    # stitching the windows' own targets back and scoring them: near-perfect, masked frames ignored
    stitched = stitch_windows(batch["frame_target"], batch["clip_id"], batch["window_start"].tolist(), dataset.lengths)
    scores = score_frame_predictions(store, stitched)
    assert scores["ccc_valence"] > 0.9 and scores["ccc_arousal"] > 0.9
    assert {"ccc_mean", "ccc_video_mean", "ccc_video_valence", "ccc_video_arousal"} <= set(scores)


@pytest.fixture
def bench_main(monkeypatch, capsys):
    """``bench_main("synth", ...)`` runs the CLI in-process: (exit code, stderr)."""
    import sys

    import bench.cli

    def call(*argv) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["bench", *argv])
        with pytest.raises(SystemExit) as info:
            bench.cli.main()
        return info.value.code, capsys.readouterr().err

    return call


def test_synth_cli_layout_affwild2(corpus, tmp_path, bench_main):
    code, err = bench_main("synth", "--layout", "affwil2", "--out", str(tmp_path / "x"), "-q")
    assert code == 2 and "error: --layout must be ravdess, cremad or affwild2, got 'affwil2'" in err
    assert not (tmp_path / "x").exists()
    # a corpus made with other settings is not silently replaced
    code, err = bench_main("synth", "--layout", "affwild2", "--out", str(corpus), "-q")
    assert code == 2 and "exists and is not empty; pass overwrite to replace it" in err


def test_synth_cli_videos_option(tmp_path, monkeypatch, bench_main):
    """--videos sizes the affwild2 layout (a quarter, at least 2, in Validation_Set) and is refused elsewhere."""
    code, err = bench_main("synth", "--layout", "ravdess", "--videos", "9", "--out", str(tmp_path / "r"), "-q")
    assert code == 2 and "error: --videos applies to --layout affwild2 only" in err
    code, _ = bench_main("synth", "--layout", "affwild2", "--videos", "3", "--out", str(tmp_path / "a"), "-q")
    assert code == 2  # 3 videos cannot hold 2 validation videos, a training one and the two-subject one
    seen = {}

    def generate(root, config, **kw):  # record the config instead of writing 12 videos
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("bench.data.synth.affwild2.generate_affwild2", generate)
    code, _ = bench_main("synth", "--layout", "affwild2", "--videos", "12", "--out", str(tmp_path / "b"), "-q")
    assert code == 0 and seen["config"].videos == 12 and seen["config"].validation_videos == 3


def test_a_synthetic_affwild2_corpus_is_labelled_synthetic(corpus, tmp_path):
    """Runs and reports on a generated corpus say SYNTHETIC whatever adapter reads it."""
    from bench.data.synth import is_synthetic_root

    assert is_synthetic_root(corpus)
    assert not is_synthetic_root(tmp_path)
