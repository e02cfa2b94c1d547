"""Which class shows itself in which channel: the synthetic corpus's cue table.

The corpus exists to test the machinery and the ablations, so its cues are split across the
channels *by design* and no single channel can reach the ceiling:

=========  ==============================  =============================  ======================
class      face at the apex (static)       facial motion                  voice
=========  ==============================  =============================  ======================
neutral    relaxed                         none                           mid pitch, flat, 4 syl/s
happy      smile, raised cheeks            none                           high, wide contour, loud
sad        inner brows up, corners down    none                           low, narrow, slow, breathy
fearful    **same as sad**                 fast forehead/brow tremor      **same as sad**
angry      brows down and in, lips pressed none                           high, loud, fast, bright
disgust    **same as angry**               none                           low, slow, dark, breathy
=========  ==============================  =============================  ======================

- ``sad`` / ``fearful`` differ ONLY in a fine motion cue: in fearful clips the thin, faint
  forehead lines (which both classes show at the same place at the apex) jump by up to +-3 px
  (about +-2 px at prepare's 112 px crop), and brows and upper lids by a sixth of that,
  independently in every video frame, so any two sampled frames differ. Optical flow on the
  full-resolution crop sees it; in the 48 px crops a frame model sees, the lines are a
  sub-pixel smear and the mean frame difference barely changes. The voice is drawn from the
  same distribution. This is DE-III's claim for optical flow. (Flow must resolve ~1 px
  detail at 112 px: Farneback and DIS "medium" do; DIS "fast" works on a 1/4-scale pyramid
  level, coarser than the 48 px crops, and does not.)
- ``angry`` / ``disgust`` differ ONLY in the voice: identical face, identical motion. (The
  mouth's talking movement follows a class-independent syllable schedule, so it is not
  lip-synced to the sound: lip sync would carry the speaking-rate cue into the video.)
- The other pairs differ in both channels.

So: frames alone top out near 4/6 of the classes, frames + flow near 5/6, audio alone near
5/6, and only audio + video + flow can separate all six (minus the nuisance variation: head
motion, lighting, background, noise, timing).

Continuous targets (1-5) follow from the same generating parameters: a clip with cue
magnitude ``m`` (intensity: 0.7 normal, 1.0 strong, times a per-clip factor in [0.9, 1.1])
gets ``3 + m * (prototype - 3) + N(0, 0.1)`` per dimension, clipped to [1, 5], where the
prototype is the class's (arousal, valence, dominance) below. The same ``m`` scales every
face and voice cue's distance from neutral, so stronger clips look, sound and score stronger.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

CLASSES: tuple[str, ...] = ("neutral", "happy", "sad", "fearful", "angry", "disgust")
MOTION_ONLY_PAIR: tuple[str, str] = ("sad", "fearful")  # differ only in fine facial motion
VOICE_ONLY_PAIR: tuple[str, str] = ("angry", "disgust")  # differ only in the voice

# Corpus codes, so the real adapters read the files unchanged.
RAVDESS_EMOTION_CODES = {"neutral": 1, "happy": 3, "sad": 4, "angry": 5, "fearful": 6, "disgust": 7}
CREMAD_EMOTION_CODES = {"neutral": "NEU", "happy": "HAP", "sad": "SAD", "angry": "ANG", "fearful": "FEA", "disgust": "DIS"}


@dataclass(frozen=True)
class FaceCue:
    """A class's face at the apex, in units of the face's half-width (w ~ 48 px), plus motion."""

    brow_raise: float = 0.0  # brow lift (+ up, - down), fraction of w
    brow_tilt: float = 0.0  # inner brow ends up (+, sad/fear) or down (-, anger), fraction of w
    eye_open: float = 1.0  # upper-lid opening, multiple of the actor's resting opening
    cheek_raise: float = 0.0  # lower lids pushed up (Duchenne smile), fraction of eye height
    mouth_curve: float = 0.0  # lip corners up (+ smile) or down (- frown), fraction of w
    mouth_press: float = 0.0  # lips thinned and jaw held (0..1): damps talking movement
    flutter_px: float = 0.0  # amplitude (px at frame scale) of the per-frame forehead-line jitter (brows, lids: 0.15x)


@dataclass(frozen=True)
class VoiceCue:
    """A class's voice, relative to the speaker's own neutral voice."""

    f0_scale: float = 1.0  # mean pitch, multiple of the speaker's f0
    f0_range_st: float = 2.0  # pitch-accent excursion, semitones
    rate_sps: float = 4.0  # speaking rate, syllables per second
    energy_db: float = 0.0  # loudness relative to neutral
    tilt: float = 0.0  # spectral tilt change (+ brighter/pressed, - darker/softer), -1..1
    breathiness: float = 0.05  # aspiration noise relative to the voiced source


@dataclass(frozen=True)
class ClassDesign:
    name: str  # canonical label name (bench.data.labels)
    face: FaceCue
    voice: VoiceCue
    avd: tuple[float, float, float]  # prototype (arousal, valence, dominance), 1-5
    channel: str  # where the class is distinguishable from its partner: "both", "motion", "voice"


_SAD_FACE = FaceCue(brow_raise=0.04, brow_tilt=0.10, eye_open=0.8, mouth_curve=-0.10)
_SAD_VOICE = VoiceCue(f0_scale=0.9, f0_range_st=1.0, rate_sps=3.0, energy_db=-5.0, tilt=-0.6, breathiness=0.30)
_ANGRY_FACE = FaceCue(brow_raise=-0.08, brow_tilt=-0.12, eye_open=0.75, mouth_curve=-0.02, mouth_press=0.6)

DESIGN: dict[str, ClassDesign] = {
    "neutral": ClassDesign("neutral", FaceCue(), VoiceCue(), (3.0, 3.0, 3.0), "both"),
    "happy": ClassDesign(
        "happy",
        FaceCue(brow_raise=0.03, eye_open=0.9, cheek_raise=0.35, mouth_curve=0.14),
        VoiceCue(f0_scale=1.25, f0_range_st=6.0, rate_sps=4.6, energy_db=4.0, tilt=0.3, breathiness=0.08),
        (4.0, 4.6, 3.6),
        "both",
    ),
    "sad": ClassDesign("sad", _SAD_FACE, _SAD_VOICE, (2.0, 1.7, 1.9), "motion"),
    "fearful": ClassDesign("fearful", FaceCue(**{**_SAD_FACE.__dict__, "flutter_px": 3.0}), _SAD_VOICE, (3.9, 1.8, 1.6), "motion"),
    "angry": ClassDesign(
        "angry",
        _ANGRY_FACE,
        VoiceCue(f0_scale=1.2, f0_range_st=4.0, rate_sps=5.2, energy_db=7.0, tilt=0.8, breathiness=0.02),
        (4.6, 1.5, 4.6),
        "voice",
    ),
    "disgust": ClassDesign(
        "disgust",
        _ANGRY_FACE,
        VoiceCue(f0_scale=0.82, f0_range_st=2.5, rate_sps=3.0, energy_db=-3.0, tilt=-0.8, breathiness=0.25),
        (3.2, 1.7, 3.5),
        "voice",
    ),
}


def design_table() -> str:
    """The cue table as Markdown: every generating parameter of every class (for docs/README)."""
    face_names = [f.name for f in fields(FaceCue)]
    voice_names = [f.name for f in fields(VoiceCue)]
    header = ["class", *face_names, *voice_names, "A", "V", "D"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in CLASSES:
        d = DESIGN[name]
        cells = [name]
        cells += [f"{getattr(d.face, n):g}" for n in face_names]
        cells += [f"{getattr(d.voice, n):g}" for n in voice_names]
        cells += [f"{v:g}" for v in d.avd]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
