"""Decoding (decord frames, PyAV sound) and log-mel features."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from bench.data import audio, media
from bench.errors import BadInputError
from prepare_media import write_clip


def test_sample_indices_uniform_and_short_clips():
    assert media.sample_indices(16, 4).tolist() == [2, 6, 10, 14]
    assert media.sample_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]  # repeats, never out of range
    with pytest.raises(ValueError):
        media.sample_indices(0, 4)


def test_read_frames_shape_dtype_and_order(media_root):
    frames, fps = media.read_frames(media_root / "clip0.mp4", 6)
    assert frames.shape == (6, 120, 160, 3) and frames.dtype == np.uint8
    assert fps == pytest.approx(25.0)
    # the drawn face drifts right: its skin-coloured mass moves right across the sampled frames
    skin = (frames[..., 0] > 180) & (frames[..., 2] > 120)
    xs = [np.nonzero(m)[1].mean() for m in skin]
    assert xs[-1] > xs[0] + 3


def test_read_audio_mono_16k_and_cropping(media_root):
    wave = media.read_audio(media_root / "clip0.mp4", 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 16000 * 12 / 25) < 0.06 * 16000  # 0.48 s, give or take codec priming
    spectrum = np.abs(np.fft.rfft(wave[2000:6000]))
    assert np.fft.rfftfreq(4000, 1 / 16000)[spectrum.argmax()] == pytest.approx(300, abs=8)  # clip0's tone
    short = media.read_audio(media_root / "clip0.mp4", 16000, max_seconds=0.1)
    assert len(short) == 1600


def test_read_errors_name_file_and_stage(tmp_path):
    with pytest.raises(BadInputError) as info:
        media.read_frames(tmp_path / "missing.mp4", 4)
    assert info.value.record.stage == "decode" and "missing.mp4" in info.value.record.path
    silent = write_clip(tmp_path / "silent.mp4", audio=False)
    with pytest.raises(BadInputError, match="no sound track") as info:
        media.read_audio(silent, 16000)
    assert info.value.record.stage == "audio"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 500)
    with pytest.raises(BadInputError) as info:
        media.read_frames(junk, 4)
    assert info.value.record.stage == "decode"


def test_log_mel_matches_librosa():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    wave = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(16000)).astype(np.float32)
    spec = audio.MelSpec()
    ours = audio.log_mel(wave, spec)
    reference = librosa.feature.melspectrogram(
        y=wave, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=64, power=2.0, center=True, pad_mode="constant"
    ).T
    assert ours.shape == reference.shape == (101, 64)  # 1 + 16000 // 160 frames, 10 ms apart
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.log(reference + spec.eps), atol=1e-3, rtol=1e-4)


def test_log_mel_of_a_very_short_clip_still_has_frames():
    out = audio.log_mel(np.ones(100, np.float32), audio.MelSpec())
    assert out.shape[1] == 64 and out.shape[0] >= 1 and np.isfinite(out).all()
