"""Speech-like sound: a glottal pulse train through formant resonators, shaped into syllables.

A classic source-filter synthesiser, small enough to read in one sitting:
1. a syllable schedule (rate, pauses, stress) gives an amplitude envelope and a pitch contour
   (declination plus accents on stressed syllables, with cycle-to-cycle jitter);
2. the source is one impulse per glottal cycle, smoothed by a two-pole low-pass (its cut-off
   sets the spectral tilt: pressed, bright voices have a high one) and differentiated (lip
   radiation), plus pitch-synchronous aspiration noise (breathiness);
3. four formant resonators per vowel, cross-faded between the syllables' vowels;
4. background noise at a drawn signal-to-noise ratio (relative to a neutral speaking level,
   so a louder class really is louder, not just cleaner).

Speakers differ in f0, vocal-tract length (formant scale), glottal tilt, breathiness, jitter
and loudness; classes scale these (see :mod:`bench.data.synth.design`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.signal import lfilter, sosfilt

from bench.data.synth.design import VoiceCue

# Vowel formants F1-F4 (Hz) of an adult male voice: /a/ /i/ /u/ /e/ /o/.
_VOWELS = np.array(
    [
        [730, 1090, 2440, 3400],
        [300, 2250, 3000, 3700],
        [320, 870, 2240, 3300],
        [530, 1840, 2480, 3500],
        [570, 840, 2410, 3400],
    ],
    dtype=np.float64,
)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
_CONTROL_HZ = 200  # vowel weights, pitch and envelope are computed at this rate, then interpolated
_REFERENCE_RMS = 0.05  # speech level of a neutral clip at 0 dB


@dataclass(frozen=True)
class VoiceIdentity:
    """What makes one actor sound unlike another."""

    f0_hz: float  # mean speaking pitch
    formant_scale: float  # inverse vocal-tract length: >1 shifts all formants up
    glottal_hz: float  # cut-off of the glottal low-pass (spectral tilt)
    breathiness: float  # added to the class's breathiness
    jitter: float  # cycle-to-cycle pitch perturbation (fraction)
    loudness_db: float  # speaker's habitual level


def sample_voice_identity(rng: np.random.Generator, gender: str) -> VoiceIdentity:
    female = gender == "F"
    return VoiceIdentity(
        f0_hz=rng.uniform(175, 235) if female else rng.uniform(90, 135),
        formant_scale=rng.uniform(1.1, 1.2) if female else rng.uniform(0.94, 1.04),
        glottal_hz=rng.uniform(180, 320),
        breathiness=rng.uniform(0.0, 0.08) + (0.04 if female else 0.0),
        jitter=rng.uniform(0.005, 0.015),
        loudness_db=rng.uniform(-2.0, 2.0),
    )


def effective_cue(cue: VoiceCue, magnitude: float) -> VoiceCue:
    """The cue at a given magnitude: each parameter moves ``magnitude`` of the way from neutral."""
    neutral = VoiceCue()
    return VoiceCue(
        **{
            f.name: getattr(neutral, f.name) + magnitude * (getattr(cue, f.name) - getattr(neutral, f.name))
            for f in fields(VoiceCue)
        }
    )


def _interp(samples: int, sr: int, control: np.ndarray) -> np.ndarray:
    tc = np.arange(len(control)) / _CONTROL_HZ
    return np.interp(np.arange(samples) / sr, tc, control)


def synthesize(
    voice: VoiceIdentity,
    cue: VoiceCue,
    magnitude: float,
    duration_s: float,
    sample_rate: int,
    rng: np.random.Generator,
    nuisance: float = 1.0,
    snr_db: tuple[float, float] = (10.0, 30.0),
) -> tuple[np.ndarray, dict[str, float]]:
    """One utterance as float32 mono in [-1, 1], plus the parameters drawn (for the metadata).

    Random numbers are drawn in the same order whatever the cue, so the same generator with
    the same cue gives the same samples (two classes sharing a voice cue sound identical).
    """
    cue = effective_cue(cue, magnitude)
    n = int(round(duration_s * sample_rate))
    nc = int(np.ceil(duration_s * _CONTROL_HZ)) + 2
    tc = np.arange(nc) / _CONTROL_HZ

    # 1. Syllables: when, how strong, which vowel, which pitch accent.
    rate = cue.rate_sps * rng.uniform(0.92, 1.08)
    onset = 0.05 + nuisance * rng.uniform(0.0, 0.25)
    envelope = np.zeros(nc)
    accents = np.zeros(nc)
    centres, chosen = [], []
    t = onset
    while t < duration_s - 0.12:
        length = rng.uniform(0.75, 1.25) / rate
        stress = rng.uniform(0.6, 1.0)
        vowel = int(rng.integers(len(_VOWELS)))
        accent = cue.f0_range_st * rng.uniform(-0.3, 1.0) * stress
        pause = rng.uniform() < 0.12
        end = min(t + length, duration_s - 0.05)
        inside = (tc >= t) & (tc < end)
        phase = (tc[inside] - t) / max(end - t, 1e-3)
        envelope[inside] = stress * np.sin(np.pi * phase) ** 0.7
        accents += accent * np.exp(-0.5 * ((tc - (t + end) / 2) / (0.35 * length)) ** 2)
        centres.append((t + end) / 2)
        chosen.append(vowel)
        t = end + (0.5 / rate if pause else 0.0)
    # Each vowel's weight: 1 at its syllables' centres, cross-fading linearly in between.
    weights = np.zeros((len(_VOWELS), nc))
    if centres:
        onehot = np.eye(len(_VOWELS))[chosen]
        for v in range(len(_VOWELS)):
            weights[v] = np.interp(tc, centres, onehot[:, v])
    else:
        weights[0] = 1.0

    # 2. Pitch: declination over the utterance + accents + slow drift + jitter.
    f0 = voice.f0_hz * cue.f0_scale * rng.uniform(0.97, 1.03)
    drift = np.cumsum(rng.normal(0, 0.05, nc))
    semitones = -2.0 * tc / duration_s + accents + drift - drift.mean()
    f0_track = f0 * 2.0 ** (semitones / 12.0) * (1.0 + voice.jitter * rng.normal(0, 1, nc))
    f0_samples = _interp(n, sample_rate, f0_track)
    env_samples = _interp(n, sample_rate, envelope)

    phase = np.cumsum(f0_samples / sample_rate)
    cycles = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
    source = np.zeros(n)
    source[cycles] = rng.uniform(0.9, 1.1, len(cycles))  # shimmer
    cutoff = min(voice.glottal_hz * 2.0 ** (1.5 * cue.tilt), 0.2 * sample_rate)
    a = np.exp(-2 * np.pi * cutoff / sample_rate)
    voiced = lfilter([1.0 - a], [1.0, -a], lfilter([1.0 - a], [1.0, -a], source))
    voiced = np.diff(voiced, prepend=0.0)
    voiced /= np.sqrt(np.mean(voiced[cycles[0] :] ** 2)) + 1e-9 if len(cycles) else 1.0
    breath = np.diff(rng.normal(0, 1, n), prepend=0.0) * (0.6 + 0.4 * np.cos(2 * np.pi * phase))
    breath *= (cue.breathiness + voice.breathiness) / np.sqrt(2.0)
    excitation = (voiced + breath) * env_samples

    # 3. Formants: each vowel's cascade of four resonators (unity gain at DC) filters the
    #    whole excitation once; the outputs are cross-faded by the vowel weights. Cheaper than
    #    retuning one filter every few milliseconds, and it sounds like moving formants.
    r = np.exp(-np.pi * _BANDWIDTHS * (1.0 + cue.breathiness) / sample_rate)
    theta = 2 * np.pi * np.minimum(_VOWELS * voice.formant_scale, 0.45 * sample_rate) / sample_rate
    a1 = -2 * r * np.cos(theta)
    a2 = np.broadcast_to(r**2, a1.shape)
    speech = np.zeros(n)
    for v in range(len(_VOWELS)):
        if not weights[v].any():
            continue
        sos = np.zeros((4, 6))
        sos[:, 0], sos[:, 3], sos[:, 4], sos[:, 5] = 1.0 + a1[v] + a2[v], 1.0, a1[v], a2[v]
        speech += sosfilt(sos, excitation) * _interp(n, sample_rate, weights[v])

    # 4. Level and background noise.
    level_db = cue.energy_db + voice.loudness_db + nuisance * rng.uniform(-1.5, 1.5)
    active = env_samples > 0.3
    speech *= _REFERENCE_RMS * 10 ** (level_db / 20) / (np.sqrt(np.mean(speech[active] ** 2)) + 1e-9 if active.any() else 1.0)
    snr = rng.uniform(*snr_db)
    noise = rng.normal(0, 1, n)
    pink = rng.uniform() < 0.5
    if pink:
        noise = lfilter([1.0], [1.0, -0.95], noise)
        noise /= noise.std() + 1e-9
    noise *= _REFERENCE_RMS * 10 ** (-snr / 20) * nuisance
    audio = np.clip(speech + noise, -0.98, 0.98).astype(np.float32)
    info = {
        "f0_hz": round(float(f0), 3),
        "rate_sps": round(float(rate), 4),
        "speech_onset_s": round(float(onset), 4),
        "level_db": round(float(level_db), 3),
        "snr_db": round(float(snr), 3),
        "noise": "pink" if pink else "white",
    }
    return audio, info
