"""ClipDataset: batched reads, padding masks, labels/targets from the manifest, device conversion."""

import numpy as np
import pytest
import torch

from bench.data.dataset import ClipBatchSampler, ClipDataset, make_loader, pad_stack, to_device
from bench.errors import ConfigError

ARRAYS = {"video": "frames", "flow": "flow", "audio": "audio"}


def test_batch_shapes_masks_and_labels(toy_store):
    ids = toy_store.clip_ids[:5]
    data = ClipDataset(toy_store, ids, ARRAYS)
    batch = data[[0, 1, 2, 3, 4]]
    assert batch["video"].dtype == torch.uint8 and batch["video"].shape == (5, 16, 3, 48, 48)
    assert batch["flow"].dtype == torch.float16 and batch["flow"].shape == (5, 15, 2, 48, 48)
    lengths = [toy_store.load(c)["audio"].shape[0] for c in ids]
    assert batch["audio"].shape[1] == max(lengths)
    assert batch["audio_mask"].sum(1).tolist() == lengths
    for i, n in enumerate(lengths):  # padding is zeros, real steps are the clip's
        assert torch.all(batch["audio"][i, n:] == 0)
        assert np.array_equal(batch["audio"][i, :n].numpy(), toy_store.load(ids[i])["audio"])
    frame = toy_store.manifest.frame.set_index("clip_id")
    labels = toy_store.meta["labels"]
    assert [labels[i] for i in batch["label"]] == frame.loc[ids, "label"].tolist()
    assert batch["clip_id"] == ids


def test_preload_gives_the_same_batches(toy_store):
    ids = toy_store.clip_ids[:6]
    streamed = ClipDataset(toy_store, ids, ARRAYS)[[4, 0, 2]]
    loaded = ClipDataset(toy_store, ids, ARRAYS, preload=True)[[4, 0, 2]]
    for key in ("video", "flow", "audio", "audio_mask", "label"):
        assert torch.equal(streamed[key], loaded[key]), key


def test_targets_for_regression(toy_store):
    ids = toy_store.clip_ids[:3]
    batch = ClipDataset(toy_store, ids, {"audio": "audio"}, task="regression", targets=["arousal", "valence"])[[0, 1, 2]]
    expected = toy_store.manifest.frame.set_index("clip_id").loc[ids, ["arousal", "valence"]].to_numpy(np.float32)
    assert np.allclose(batch["target"].numpy(), expected) and "label" not in batch


def test_missing_array_is_a_clear_error(toy_store):
    data = ClipDataset(toy_store, toy_store.clip_ids[:2], {"video": "video_emb"})
    with pytest.raises(ConfigError, match="has no array 'video_emb'"):
        data[[0]]


def test_to_device_converts_crops_to_unit_floats():
    batch = {"video": torch.tensor([[0, 255]], dtype=torch.uint8), "flow": torch.ones(1, 2, dtype=torch.float16), "clip_id": ["a"]}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["video"].dtype == torch.float32 and moved["video"].tolist() == [[0.0, 1.0]]
    assert moved["flow"].dtype == torch.float32 and moved["clip_id"] == ["a"]


def test_pad_stack_of_a_stacked_array():
    values, mask = pad_stack(np.zeros((2, 3, 4), dtype=np.float32))
    assert values.shape == (2, 3, 4) and bool(mask.all())


def test_sampler_is_seeded_and_drops_a_lone_training_clip():
    a = list(ClipBatchSampler(9, 4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    b = list(ClipBatchSampler(9, 4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert a == b and [len(x) for x in a] == [4, 4]
    assert [len(x) for x in ClipBatchSampler(9, 4, shuffle=False)] == [4, 4, 1]
    assert len(ClipBatchSampler(9, 4, shuffle=True)) == 2


def test_loader_yields_whole_batches(toy_store):
    data = ClipDataset(toy_store, toy_store.clip_ids[:7], ARRAYS)
    batches = list(make_loader(data, 3, shuffle=False))
    assert [len(b["clip_id"]) for b in batches] == [3, 3, 1]
    assert sum((b["clip_id"] for b in batches), []) == data.clip_ids


# -- a damaged store: a clear error naming clip, file and reason, never a numpy traceback ---------
@pytest.fixture
def damaged_store(tmp_path):
    from tests.support.toy import build_toy_store

    return build_toy_store(tmp_path / "store", speakers=2, clips_per_speaker=2, num_frames=4, image_size=8, n_mels=8, audio_steps=20)


@pytest.mark.parametrize("preload", [False, True])
def test_truncated_array_names_clip_file_and_sizes(damaged_store, preload):
    from bench.data.store import CorruptStoreError

    ids = damaged_store.clip_ids
    path = damaged_store.clip_dir(ids[1]) / "audio.npy"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size - 40])
    with pytest.raises(CorruptStoreError) as info:
        data = ClipDataset(damaged_store, ids, {"audio": "audio"}, preload=preload)
        data[[0, 1, 2]]
    message = str(info.value)
    assert message.startswith(f"store {path} (clip {ids[1]}): cannot read: file truncated (expected {size} bytes, found {size - 40})")
    assert message.endswith("run `bench prepare --verify` to rebuild it")
    assert info.value.clip_id == ids[1] and info.value.path == str(path)


def test_garbage_and_missing_arrays_are_store_errors(damaged_store):
    from bench.data.store import CorruptStoreError
    from bench.errors import BenchError

    ids = damaged_store.clip_ids
    (damaged_store.clip_dir(ids[0]) / "frames.npy").write_bytes(b"\x00garbage" * 100)
    (damaged_store.clip_dir(ids[2]) / "flow.npy").unlink()
    data = ClipDataset(damaged_store, ids, {"video": "frames", "flow": "flow"})
    with pytest.raises(CorruptStoreError, match=rf"frames\.npy \(clip {ids[0]}\): cannot read: not a \.npy file") as info:
        data[[0, 1]]
    assert isinstance(info.value, BenchError)
    with pytest.raises(CorruptStoreError, match=rf"flow\.npy \(clip {ids[2]}\): cannot read: file missing"):
        data[[2, 3]]


def test_unreadable_done_marker_is_a_store_error(damaged_store):
    from bench.data.store import CorruptStoreError, FeatureStore

    clip = damaged_store.clip_ids[3]
    (damaged_store.clip_dir(clip) / "done.json").write_text("{")
    with pytest.raises(CorruptStoreError, match=rf"done\.json \(clip {clip}\): cannot read: invalid JSON"):
        FeatureStore.open(damaged_store.root)
    tolerant = FeatureStore.open(damaged_store.root, allow_damaged=True)
    assert clip not in tolerant.clip_ids and clip in tolerant.damaged
    with pytest.raises(CorruptStoreError, match=rf"\(clip {clip}\)"):
        ClipDataset(tolerant, damaged_store.clip_ids, {"audio": "audio"})
