"""The cue design holds in the pixels and samples: channel-split pairs, detectable faces, and a
motion cue that full-resolution optical flow sees but 48 px crops barely do."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from bench.data.synth import DESIGN, MOTION_ONLY_PAIR, VOICE_ONLY_PAIR, SynthConfig, synthesize_clip
from bench.data.synth.design import CLASSES
from bench.data.synth.generate import make_actor
from bench.data.synth.writer import write_av

CONFIG = SynthConfig(duration_s=1.6, duration_jitter_s=0.2)
_CASCADE = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _pair(cls_a: str, cls_b: str, config: SynthConfig = CONFIG, actor: int = 0, take: int = 1):
    """Two clips of one actor sharing every nuisance draw (same key), differing only in class."""
    who = make_actor(config, actor)
    key = (actor, 99, take)
    return synthesize_clip(config, who, cls_a, True, key), synthesize_clip(config, who, cls_b, True, key)


def test_design_table_splits_the_channels():
    sad, fear = (DESIGN[c] for c in MOTION_ONLY_PAIR)
    assert sad.voice == fear.voice
    assert {**sad.face.__dict__, "flutter_px": 0} == {**fear.face.__dict__, "flutter_px": 0}
    assert fear.face.flutter_px > 0 == sad.face.flutter_px
    angry, disgust = (DESIGN[c] for c in VOICE_ONLY_PAIR)
    assert angry.face == disgust.face and angry.voice != disgust.voice
    for cls in set(CLASSES) - set(MOTION_ONLY_PAIR) - set(VOICE_ONLY_PAIR):
        for other in CLASSES:
            if other != cls:
                assert DESIGN[cls].face != DESIGN[other].face and DESIGN[cls].voice != DESIGN[other].voice


def test_motion_only_pair_has_identical_voice_and_apex_appearance():
    sad, fear = _pair(*MOTION_ONLY_PAIR)
    assert np.array_equal(sad.audio, fear.audio)
    assert not np.array_equal(sad.frames, fear.frames)
    # Without the flutter the two classes render to the same pixels: the cue is motion only.
    still = SynthConfig(duration_s=1.6, duration_jitter_s=0.2, flutter_scale=0.0)
    sad0, fear0 = _pair(*MOTION_ONLY_PAIR, config=still)
    assert np.array_equal(sad0.frames, fear0.frames)
    assert np.array_equal(sad0.frames, sad.frames)


def test_voice_only_pair_has_identical_frames_and_different_voices():
    angry, disgust = _pair(*VOICE_ONLY_PAIR)
    assert np.array_equal(angry.frames, disgust.frames)
    rms = [np.sqrt(np.mean(c.audio**2)) for c in (angry, disgust)]
    assert rms[0] > 1.6 * rms[1]  # angry is louder (+7 dB vs -3 dB at full magnitude)
    assert angry.meta["f0_hz"] > 1.2 * disgust.meta["f0_hz"]
    assert angry.meta["rate_sps"] > 1.3 * disgust.meta["rate_sps"]


def test_other_pairs_differ_in_both_channels():
    neutral, happy = _pair("neutral", "happy")
    assert not np.array_equal(neutral.audio, happy.audio)
    last = np.abs(neutral.frames[-1].astype(int) - happy.frames[-1].astype(int))
    assert last.mean() > 0.1 and (last.max(axis=2) > 40).sum() > 50  # smile and cheeks, not noise


def test_haar_cascade_finds_the_face_in_most_frames():
    found = total = 0
    for actor in range(4):
        who = make_actor(CONFIG, actor)
        for c, cls in enumerate(CLASSES):
            clip = synthesize_clip(CONFIG, who, cls, bool(c % 2), (actor, c, 0))
            for frame in clip.frames[::6]:
                grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
                found += len(_CASCADE.detectMultiScale(grey, 1.1, 5, minSize=(40, 40))) > 0
                total += 1
    assert found / total >= 0.9, f"face found in {found}/{total} frames"


# ---- the fine motion cue, through the same steps as prepare's defaults -----------------


def _roundtrip(clip, path) -> list[np.ndarray]:
    write_av(path, clip.frames, clip.audio, fps=CONFIG.fps, sample_rate=CONFIG.audio_rate, container="mp4")
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _face_box(frames) -> tuple[int, int, int]:
    """Median Haar box, squared with prepare's 25 % margin: (x0, y0, side)."""
    boxes = []
    for frame in frames[::2]:
        found = _CASCADE.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 1.1, 5, minSize=(40, 40))
        if len(found):
            boxes.append(max(found, key=lambda b: b[2] * b[3]))
    x, y, w, h = np.median(np.array(boxes), axis=0)
    side = max(w, h) * 1.25
    return int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2)), int(round(side))


def _crops(frames, box, size: int = 112, t: int = 16) -> list[np.ndarray]:
    x0, y0, side = box
    out = []
    for i in np.linspace(0, len(frames) - 1, t).round().astype(int):
        grey = cv2.copyMakeBorder(cv2.cvtColor(frames[i], cv2.COLOR_RGB2GRAY), side, side, side, side, cv2.BORDER_REPLICATE)
        out.append(cv2.resize(grey[y0 + side : y0 + 2 * side, x0 + side : x0 + 2 * side], (size, size), interpolation=cv2.INTER_AREA))
    return out


def _measures(crops112) -> tuple[float, float]:
    """(mean |frame difference| of 48 px crops, mean non-rigid flow in the brow/forehead band at 112 px)."""
    small = [cv2.resize(c, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float32) for c in crops112]
    diff48 = float(np.mean([np.abs(b - a).mean() for a, b in zip(small, small[1:])]))
    flow = []
    for a, b in zip(crops112, crops112[1:]):
        field = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)[14:50]
        rigid = np.median(field.reshape(-1, 2), axis=0)  # head motion moves the band as a whole
        flow.append(np.linalg.norm(field - rigid, axis=2).mean())
    return diff48, float(np.mean(flow))


def test_flutter_is_seen_by_full_resolution_flow_not_by_48px_frames(tmp_path):
    ratios = []
    for actor in range(3):
        for take in range(2):
            sad, fear = _pair(*MOTION_ONLY_PAIR, actor=actor, take=take)
            sad_frames = _roundtrip(sad, tmp_path / "sad.mp4")  # through H.264, like the real files
            fear_frames = _roundtrip(fear, tmp_path / "fear.mp4")
            box = _face_box(sad_frames)
            ratios.append(np.array(_measures(_crops(fear_frames, box))) / np.array(_measures(_crops(sad_frames, box))))
    diff48, flow112 = np.mean(ratios, axis=0)
    # At the default flutter_scale (2.0) this measured 1.20 (frames) against 1.80 (flow); at 1.0,
    # about 1.09 against 1.4. The claim is the gap: flow sees the cue several times more.
    assert diff48 < 1.25, f"48 px frame difference fearful/sad = {diff48:.3f}: the cue is too visible at 48 px"
    assert flow112 > 1.5, f"112 px flow fearful/sad = {flow112:.3f}: flow does not see the cue"
    assert flow112 - 1 > 2.5 * (diff48 - 1), (diff48, flow112)


@pytest.mark.parametrize("cls", CLASSES)
def test_clip_meta_is_complete(cls):
    clip = synthesize_clip(CONFIG, make_actor(CONFIG, 1), cls, False, (1, 0, 0))
    for key in ("arousal", "valence", "dominance", "head_motion_px", "brightness", "snr_db", "f0_hz", "face_onset_s"):
        assert key in clip.meta
    assert clip.frames.shape == (clip.meta["n_frames"], CONFIG.height, CONFIG.width, 3)
    assert abs(len(clip.audio) / clip.sample_rate - clip.meta["duration_s"]) < 1e-3
