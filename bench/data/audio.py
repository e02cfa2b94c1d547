"""Log-mel features: ``torch.stft`` power spectrum through librosa's mel filterbank, then log.

The parameters follow the usual speech front-end: a 25 ms Hann window (400 samples at
16 kHz) zero-padded to a 512-point FFT, a 10 ms hop, 64 Slaney-normalised mel bands, and
``log(mel + eps)``. Frames are centred (``center=True`` with zero padding, as librosa does) so
frame ``k`` describes the sound around ``k * hop`` seconds, and the result matches
``librosa.feature.melspectrogram`` to float precision.

The filterbank is built once per process (building it imports numba-backed librosa code,
which costs seconds): :func:`mel_filterbank` caches it, and :func:`install_filterbank` lets a
pool's parent hand a ready one to its workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FILTERBANKS: dict[tuple[int, int, int, float, float | None], np.ndarray] = {}


@dataclass(frozen=True)
class MelSpec:
    """Everything that determines the log-mel features of a waveform."""

    sample_rate: int = 16000  # Hz of the input waveform
    n_fft: int = 512  # FFT size; the window is zero-padded up to it
    win_length: int = 400  # analysis window in samples (25 ms at 16 kHz)
    hop_length: int = 160  # hop in samples (10 ms at 16 kHz)
    n_mels: int = 64  # mel bands
    fmin: float = 0.0  # lowest band edge, Hz
    fmax: float | None = None  # highest band edge, Hz (None: Nyquist)
    eps: float = 1e-6  # log floor: log(mel + eps) keeps silence finite

    @property
    def filterbank_key(self) -> tuple[int, int, int, float, float | None]:
        return (self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)


def mel_filterbank(spec: MelSpec) -> np.ndarray:
    """The ``(n_mels, n_fft // 2 + 1)`` float32 filterbank of ``librosa.filters.mel``, cached."""
    key = spec.filterbank_key
    if key not in _FILTERBANKS:
        import librosa

        _FILTERBANKS[key] = librosa.filters.mel(
            sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax
        ).astype(np.float32)
    return _FILTERBANKS[key]


def install_filterbank(spec: MelSpec, filterbank: np.ndarray) -> None:
    """Seed this process's cache (pool workers get the parent's filterbank instead of librosa)."""
    expected = (spec.n_mels, spec.n_fft // 2 + 1)
    if filterbank.shape != expected:
        raise ValueError(f"filterbank has shape {filterbank.shape}, expected {expected}")
    _FILTERBANKS[spec.filterbank_key] = np.asarray(filterbank, dtype=np.float32)


def mel_power(wave: np.ndarray, spec: MelSpec) -> np.ndarray:
    """Mel power spectrogram ``(frames, n_mels)`` float32 (before the log)."""
    import torch

    signal = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    if signal.numel() < spec.n_fft // 2 + 1:
        # stft's centre padding needs more than n_fft/2 samples; a shorter clip is padded with
        # silence so that it still yields (a few) frames instead of an error.
        signal = torch.nn.functional.pad(signal, (0, spec.n_fft // 2 + 1 - signal.numel()))
    window = torch.hann_window(spec.win_length, periodic=True)
    stft = torch.stft(
        signal,
        n_fft=spec.n_fft,
        hop_length=spec.hop_length,
        win_length=spec.win_length,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = stft.real.square() + stft.imag.square()  # (freq, frames)
    fb = torch.from_numpy(mel_filterbank(spec))
    return (fb @ power).T.contiguous().numpy()


def log_mel(wave: np.ndarray, spec: MelSpec) -> np.ndarray:
    """``log(mel_power + eps)`` as ``(frames, n_mels)`` float32; frames = 1 + len // hop."""
    return np.log(mel_power(wave, spec) + np.float32(spec.eps)).astype(np.float32, copy=False)
