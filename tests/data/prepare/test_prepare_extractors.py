"""Local pretrained extractors: a tiny random wav2vec2 and a tiny scripted CNN, built here."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from bench.data import extractors
from bench.data.prepare import PrepareConfig, prepare
from bench.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        conv_dim=(8, 8),
        conv_kernel=(10, 3),
        conv_stride=(5, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        vocab_size=8,
    )
    folder = tmp_path_factory.mktemp("w2v")
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 5)
    )
    path = tmp_path_factory.mktemp("cnn") / "cnn.pt"
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; the files still load
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(path))
    return path


def test_audio_extractor_layers(tiny_wav2vec2):
    wave = np.sin(np.arange(8000) / 7).astype(np.float32)
    last = extractors.AudioExtractor(tiny_wav2vec2, layer=-1)(wave)
    first = extractors.AudioExtractor(tiny_wav2vec2, layer=0)(wave)
    # conv strides 5*2 = 10 samples per step: (8000 - 10) // 5 + 1 = 1599 -> (1599 - 3) // 2 + 1 = 799
    assert last.shape == first.shape == (799, 32) and last.dtype == np.float32
    assert not np.allclose(last, first)
    with pytest.raises(ConfigError, match="layer 7"):
        extractors.AudioExtractor(tiny_wav2vec2, layer=7)


def test_image_extractor(tiny_cnn):
    crops = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    out = extractors.ImageExtractor(tiny_cnn)(crops)
    assert out.shape == (3, 5) and out.dtype == np.float32


def test_clear_errors_for_bad_paths(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        extractors.AudioExtractor(tmp_path / "nope")
    with pytest.raises(ConfigError, match="not a saved transformers model"):
        extractors.AudioExtractor(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="could not load"):
        extractors.AudioExtractor(tmp_path)
    with pytest.raises(ConfigError, match="no such file"):
        extractors.ImageExtractor(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a TorchScript file"):
        extractors.ImageExtractor(junk)


def test_prepare_with_extractors(good_manifest, tiny_wav2vec2, tiny_cnn, tmp_path):
    config = PrepareConfig(num_frames=4, image_size=24, crop_size=48, audio_model=str(tiny_wav2vec2), image_model=str(tiny_cnn))
    store = prepare(good_manifest.subset(["c0"]), config, progress=False)
    arrays = store.load("c0")
    assert arrays["video_emb"].shape == (4, 5)
    assert arrays["audio_emb"].shape[1] == 32 and 700 <= arrays["audio_emb"].shape[0] <= 900  # 0.48 s / 10 samples
    assert store.summary.stage_seconds["extract"] > 0
    with pytest.raises(ConfigError, match="no such folder"):
        prepare(good_manifest, PrepareConfig(audio_model=str(tmp_path / "missing")), progress=False)
