"""Rendering plausible frontal faces with numpy + OpenCV drawing, fast and deterministic.

A face is an identity (geometry and colours that make one actor look unlike another) posed by a
per-frame state (head position, roll and scale; brows, lids, cheeks and mouth). Frames are
drawn at twice the output size with anti-aliased, sub-pixel primitives and area-downsampled,
so a 1-2 px movement of a brow is a smooth change of the pixels rather than a jump. The
faces are simple but carry what OpenCV's Haar frontal-face cascade looks for (dark eye band
and brows over lighter cheeks, a lighter nose bridge, a darker mouth, hair framing the
forehead), because the prepare stage finds faces with that cascade.

All lengths are pixels at the output frame scale unless a name says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from bench.data.synth.design import FaceCue

_SS = 2  # supersampling factor: draw at 2x, area-downsample
_SHIFT = 4  # fractional bits of cv2 drawing coordinates
_FIX = _SS * (1 << _SHIFT)
_AA = cv2.LINE_AA
# How far each feature follows a frame's flutter offset (the fine motion cue). The thin, faint
# forehead lines carry it fully; brows and upper lids, thick and high-contrast (so visible even
# in 48 px crops), only a little.
_FLUTTER_WRINKLE, _FLUTTER_BROW, _FLUTTER_LID = 1.0, 0.15, 0.15
_WRINKLE_CONTRAST = 0.5  # forehead lines are this much darker than the skin at full strength
_WRINKLE_WIDTH = 1.5  # px
_SOCKET = 0.65  # eye-socket shade relative to the skin
_SCLERA = 0.5  # white of the eye: this much white, the rest skin colour
_CHEEK = 1.1  # cheek highlight relative to the skin
_LIGHT_ONE = 128.0  # the light map stores gains as uint8, this value meaning 1.0

_SKIN_LIGHT = np.array([236.0, 200.0, 176.0])
_SKIN_DARK = np.array([120.0, 80.0, 58.0])
_HAIR = [(28, 24, 22), (62, 42, 30), (105, 72, 45), (140, 80, 45), (196, 162, 104), (150, 148, 146)]
_IRIS = [(70, 45, 30), (50, 90, 130), (70, 110, 70), (35, 30, 28)]


@dataclass(frozen=True)
class FaceIdentity:
    """What makes one actor's face unlike another's: geometry (px) and colours (RGB)."""

    w: float  # half-width of the face ellipse
    h: float  # half-height of the face ellipse
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    brow: tuple[float, float, float]  # brows stay dark-ish even under blond hair
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    shirt: tuple[float, float, float]
    hair_style: int  # 0 short, 1 long (frames the face), 2 fringe
    eye_dx: float  # eye centre distance from the midline
    eye_dy: float  # eye centre height relative to the face centre (negative = up)
    eye_rx: float  # eye half-width
    eye_ry: float  # eye half-height
    brow_gap: float  # brow height above the top of the eye
    brow_thick: float
    brow_arch: float
    nose_len: float
    nose_w: float
    mouth_dy: float  # mouth height below the face centre
    mouth_w: float  # mouth half-width
    lip_t: float  # lip thickness
    max_open: float  # widest talking jaw opening


def sample_face_identity(rng: np.random.Generator, gender: str) -> FaceIdentity:
    """Draw one actor's face. Ranges keep every face plausible and Haar-detectable."""
    w = rng.uniform(43.0, 50.0) * (0.97 if gender == "F" else 1.0)
    h = w * rng.uniform(1.22, 1.38)
    tone = rng.uniform(0.0, 1.0)
    skin = _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone + rng.uniform(-8, 8, 3)
    # Hair darker than the skin: light hair framing a dark face defeats the Haar cascade at the
    # small scale prepare detects at (the cascade learnt a bright face inside a darker frame).
    luma = np.array([0.299, 0.587, 0.114])
    choices = [c for c in _HAIR if luma @ np.array(c, float) < 0.75 * (luma @ skin)] or [_HAIR[0]]
    hair = np.array(choices[int(rng.integers(len(choices)))], float) + rng.uniform(-8, 8, 3)
    brow = np.minimum(hair, skin * 0.45)  # brows always clearly darker than the skin
    lips = skin * np.array([0.78, 0.55, 0.55]) + np.array([20.0, 0.0, 0.0])
    style = int(rng.integers(3)) if gender == "F" else int(rng.choice([0, 0, 2]))
    eye_rx = w * rng.uniform(0.16, 0.19)
    return FaceIdentity(
        w=w,
        h=h,
        skin=tuple(np.clip(skin, 0, 255)),
        hair=tuple(np.clip(hair, 0, 255)),
        brow=tuple(np.clip(brow, 0, 255)),
        iris=tuple(float(c) for c in _IRIS[int(rng.integers(len(_IRIS)))]),
        lips=tuple(np.clip(lips, 0, 255)),
        shirt=tuple(rng.uniform(30, 220, 3)),
        hair_style=style,
        eye_dx=w * rng.uniform(0.38, 0.46),
        eye_dy=-h * rng.uniform(0.10, 0.16),
        eye_rx=eye_rx,
        eye_ry=eye_rx * rng.uniform(0.50, 0.60),
        brow_gap=w * rng.uniform(0.07, 0.11),
        brow_thick=rng.uniform(2.6, 4.0),
        brow_arch=w * rng.uniform(0.02, 0.06),
        nose_len=h * rng.uniform(0.28, 0.34),
        nose_w=w * rng.uniform(0.14, 0.19),
        mouth_dy=h * rng.uniform(0.44, 0.52),
        mouth_w=w * rng.uniform(0.30, 0.38),
        lip_t=w * rng.uniform(0.045, 0.07),
        max_open=w * rng.uniform(0.10, 0.14),
    )


@dataclass
class FaceState:
    """One frame's pose and expression (pixels at the output frame scale)."""

    cx: float  # face centre
    cy: float
    roll: float  # in-plane head rotation, degrees
    scale: float  # apparent head size (distance to the camera)
    brow_raise: float = 0.0  # + up
    brow_tilt: float = 0.0  # inner brow end offset, + up
    eye_open: float = 1.0  # upper-lid opening, multiple of the resting opening
    cheek: float = 0.0  # lower-lid raise, fraction of eye height
    mouth_curve: float = 0.0  # lip corners, + up
    mouth_open: float = 0.0  # jaw opening
    mouth_press: float = 0.0  # 0..1, thins the lips
    flutter: float = 0.0  # signed offset of this frame's forehead lines (and, less, brows and lids), + up
    wrinkle: float = 0.0  # forehead-line strength, 0..1


@dataclass
class Scene:
    """What stays put through a clip: the background and the lighting."""

    background: np.ndarray  # (2H, 2W, 3) uint8 RGB at the drawing scale
    light: np.ndarray  # (H, W, 3) uint8 gain map, _LIGHT_ONE = gain 1: brightness and side lighting
    flicker: np.ndarray  # (n_frames,) float32 global gain per frame


def make_scene(rng: np.random.Generator, width: int, height: int, n_frames: int, nuisance: float) -> tuple[Scene, dict[str, float]]:
    """A random background (gradient wall + a few muted panels) and lighting for one clip,
    plus the lighting parameters drawn (for the metadata)."""
    H, W = height * _SS, width * _SS
    top, bottom = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    ramp = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None, None]
    bg = (top * (1 - ramp) + bottom * ramp).astype(np.float32) * np.ones((1, W, 1), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = int(rng.uniform(0, W)), int(rng.uniform(0, H))
        x1, y1 = x0 + int(rng.uniform(40, 200)), y0 + int(rng.uniform(40, 240))
        bg[y0:y1, x0:x1] = bg[y0:y1, x0:x1] * 0.4 + rng.uniform(40, 215, 3) * 0.6
    background = np.clip(bg, 0, 255).astype(np.uint8)

    gain = 1.0 + nuisance * rng.uniform(-0.25, 0.2)  # overall brightness
    slope = nuisance * rng.uniform(-0.3, 0.3)  # side lighting, left to right
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)
    light = (gain * (1.0 + slope * xs))[None, :, None] * np.ones((height, 1, 3), np.float32)
    light = np.clip(np.round(light * _LIGHT_ONE), 0, 255).astype(np.uint8)
    t = np.arange(n_frames, dtype=np.float32)
    flicker = 1.0 + nuisance * 0.03 * np.sin(2 * np.pi * rng.uniform(0.01, 0.08) * t + rng.uniform(0, 2 * np.pi))
    params = {"brightness": round(float(gain), 4), "side_light": round(float(slope), 4)}
    return Scene(background, light, flicker.astype(np.float32)), params


class _Pen:
    """Maps face-local coordinates (px, y down, origin at the face centre) to fixed-point canvas points."""

    def __init__(self, state: FaceState):
        self.cx, self.cy, self.s = state.cx, state.cy, state.scale
        self.roll = state.roll
        a = math.radians(state.roll)
        self.c, self.sn = math.cos(a), math.sin(a)

    def xy(self, u: float, v: float) -> tuple[float, float]:
        u, v = u * self.s, v * self.s
        return self.cx + self.c * u - self.sn * v, self.cy + self.sn * u + self.c * v

    def pt(self, u: float, v: float) -> tuple[int, int]:
        x, y = self.xy(u, v)
        return int(round(x * _FIX)), int(round(y * _FIX))

    def pts(self, uv: np.ndarray) -> np.ndarray:
        u, v = uv[:, 0] * self.s, uv[:, 1] * self.s
        x = self.cx + self.c * u - self.sn * v
        y = self.cy + self.sn * u + self.c * v
        return np.round(np.stack([x, y], 1) * _FIX).astype(np.int32)

    def ellipse(self, img, u, v, au, av, color, start=0.0, end=360.0, thickness=-1):
        axes = (max(1, int(round(au * self.s * _FIX))), max(1, int(round(av * self.s * _FIX))))
        cv2.ellipse(img, self.pt(u, v), axes, self.roll, start, end, color, thickness, _AA, _SHIFT)

    def poly(self, img, uv: np.ndarray, color):
        cv2.fillPoly(img, [self.pts(uv)], color, _AA, _SHIFT)

    def line(self, img, uv: np.ndarray, color, thickness: float):
        cv2.polylines(img, [self.pts(uv)], False, color, max(1, int(round(thickness * _SS * self.s))), _AA, _SHIFT)


def _shade(color, k: float) -> tuple[float, float, float]:
    return tuple(float(min(255.0, c * k)) for c in color)


def render_frame(face: FaceIdentity, state: FaceState, scene: Scene, frame_index: int) -> np.ndarray:
    """Draw one (H, W, 3) uint8 RGB frame."""
    img = scene.background.copy()
    pen = _Pen(state)
    w, h = face.w, face.h
    skin, shadow = face.skin, _shade(face.skin, 0.8)

    # Body and hair behind the head.
    pen.ellipse(img, 0, h * 1.85, w * 2.1, h * 0.75, face.shirt)
    pen.poly(img, np.array([[-w * 0.42, h * 0.5], [w * 0.42, h * 0.5], [w * 0.48, h * 1.3], [-w * 0.48, h * 1.3]]), shadow)
    if face.hair_style == 1:
        pen.ellipse(img, 0, h * 0.05, w * 1.3, h * 1.12, face.hair)
    else:
        pen.ellipse(img, 0, -h * 0.12, w * 1.1, h * 1.0, face.hair)
    for side in (-1, 1):  # ears
        pen.ellipse(img, side * w * 0.97, -h * 0.02, w * 0.13, h * 0.17, shadow)
    pen.ellipse(img, 0, 0, w, h, skin)
    # Light from above: a brighter forehead, nose bridge and cheeks, the pattern the cascade keys on.
    for side in (-1, 1):
        pen.ellipse(img, side * face.eye_dx, face.eye_dy + face.nose_len * 0.9, face.eye_rx * 1.5, face.nose_len * 0.5, _shade(skin, _CHEEK))
    pen.ellipse(img, 0, -h * 0.42, w * 0.7, h * 0.3, _shade(skin, 1.12))
    pen.poly(img, np.array([[-face.nose_w * 0.3, face.eye_dy - face.eye_ry], [face.nose_w * 0.3, face.eye_dy - face.eye_ry],
                            [face.nose_w * 0.25, face.eye_dy + face.nose_len * 0.8], [-face.nose_w * 0.25, face.eye_dy + face.nose_len * 0.8]]), _shade(skin, 1.1))
    # Hair over the forehead: a cap, lower for the fringe style, always above the brows.
    cap = 0.58 if face.hair_style == 2 else 0.66
    pen.ellipse(img, 0, -h * cap, w * 1.03, h * 0.5, face.hair, 180, 360)

    # Forehead lines: thin, faint, they appear with raised inner brows.
    flutter = state.flutter
    if state.wrinkle > 0.02:
        color = _shade(skin, 1.0 - _WRINKLE_CONTRAST * min(state.wrinkle, 1.0))
        xs = np.linspace(-0.45, 0.45, 7) * w
        for j, level in enumerate((0.36, 0.45, 0.54)):
            v = -level * h - 0.05 * w * np.cos(xs / w * 2.0) - _FLUTTER_WRINKLE * flutter * (1 if j % 2 else -0.7)
            pen.line(img, np.stack([xs * (1 - 0.15 * j), v], 1), color, _WRINKLE_WIDTH)

    # Eyes, with a socket shadow that gives the cascade its dark eye band; the white of the eye
    # is shaded toward the skin so that it does not outshine a dark skin's eye band.
    sclera = tuple(_SCLERA * c + (1 - _SCLERA) * k for c, k in zip((236, 234, 228), skin))
    for side in (-1, 1):
        ex, ey = side * face.eye_dx, face.eye_dy
        rx, ry = face.eye_rx, face.eye_ry
        pen.ellipse(img, ex, ey - ry * 0.3, rx * 1.5, ry * 2.1, _shade(skin, _SOCKET))
        pen.ellipse(img, ex, ey, rx, ry, sclera)
        pen.ellipse(img, ex, ey, ry * 0.98, ry * 0.98, face.iris)
        pen.ellipse(img, ex, ey, ry * 0.45, ry * 0.45, (12, 10, 10))
        opening = 0.85 * max(0.0, state.eye_open)  # fraction of the eye the upper lid uncovers
        lid_y = ey - ry + (1.0 - opening) * 2 * ry - _FLUTTER_LID * flutter
        pen.ellipse(img, ex, lid_y - ry * 1.6, rx * 1.25, ry * 1.6, _shade(skin, _SOCKET))
        pen.ellipse(img, ex, lid_y - ry * 1.6, rx * 1.08, ry * 1.6, (35, 28, 26), 25, 155, max(2, int(2 * _SS)))
        low_y = ey + ry - state.cheek * 2 * ry
        pen.ellipse(img, ex, low_y + ry * 1.6, rx * 1.3, ry * 1.6, skin, 180, 360)
        # Brow: inner end, arch, outer end; raise, tilt and flutter move it.
        by = ey - ry - face.brow_gap - state.brow_raise - _FLUTTER_BROW * flutter
        inner, outer = ex - side * rx * 0.85, ex + side * rx * 1.25
        brow = np.array([[inner, by - state.brow_tilt], [ex, by - face.brow_arch - 0.4 * state.brow_tilt], [outer, by + rx * 0.15]])
        pen.line(img, brow, face.brow, face.brow_thick)

    # Nose: a shadowed side, nostrils and a light bridge.
    ny = face.eye_dy + face.nose_len
    pen.line(img, np.array([[face.nose_w * 0.25, face.eye_dy + face.eye_ry], [face.nose_w * 0.45, ny - face.nose_w * 0.3]]), shadow, 1.5)
    pen.ellipse(img, 0, ny, face.nose_w * 0.9, face.nose_w * 0.45, _shade(skin, 0.9))
    for side in (-1, 1):
        pen.ellipse(img, side * face.nose_w * 0.42, ny + face.nose_w * 0.1, face.nose_w * 0.22, face.nose_w * 0.13, _shade(skin, 0.5))

    # Mouth: lips whose corners curve up or down, and the dark opening between them.
    x = np.linspace(-1.0, 1.0, 11)
    bend = face.mouth_dy - state.mouth_curve * x**2
    lip = face.lip_t * (1.0 - 0.5 * state.mouth_press)
    half = state.mouth_open / 2
    shape = np.sqrt(1.0 - x**2)
    xs = x * face.mouth_w * (1.0 + 0.8 * max(state.mouth_curve, 0.0) / face.w)
    top = np.stack([xs, bend - (half + lip) * shape], 1)
    bottom = np.stack([xs, bend + (half + lip * 1.25) * shape], 1)
    pen.poly(img, np.concatenate([top, bottom[::-1]]), face.lips)
    if half > 0.25:
        inner_top = np.stack([xs * 0.92, bend - half * shape], 1)
        inner_bottom = np.stack([xs * 0.92, bend + half * shape], 1)
        pen.poly(img, np.concatenate([inner_top, inner_bottom[::-1]]), (70, 22, 28))
    pen.line(img, np.stack([xs, bend], 1), _shade(face.lips, 0.55), 1.0)

    small = cv2.resize(img, (img.shape[1] // _SS, img.shape[0] // _SS), interpolation=cv2.INTER_AREA)
    return cv2.multiply(small, scene.light, scale=float(scene.flicker[frame_index]) / _LIGHT_ONE)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def animate(
    face: FaceIdentity,
    cue: FaceCue,
    magnitude: float,
    n_frames: int,
    fps: float,
    width: int,
    height: int,
    rng: np.random.Generator,
    nuisance: float = 1.0,
) -> tuple[list[FaceState], dict[str, float]]:
    """Per-frame states of one clip, plus the nuisance parameters drawn (for the metadata).

    Every random number is drawn whatever the class, in the same order, so two classes with
    the same generator get the same head motion, timing, blinks and talking movement: the
    clips then differ exactly in the class's cue (the tests rely on this).
    """
    t = np.arange(n_frames) / fps
    onset = rng.uniform(0.1, 0.5)
    ramp = rng.uniform(0.25, 0.5)
    e = _smoothstep((t - onset) / ramp)  # expression weight, 0 -> 1
    k = e * magnitude

    # Head motion: a resting pose plus two slow sinusoids per axis.
    cx0 = width / 2 + nuisance * rng.uniform(-10, 10)
    cy0 = height / 2 + 4 + nuisance * rng.uniform(-5, 5)
    head_amp = nuisance * rng.uniform(1.0, 4.0)
    motion = np.zeros((3, n_frames))
    for axis in range(3):
        for _ in range(2):
            f, phase = rng.uniform(0.1, 0.5), rng.uniform(0, 2 * np.pi)
            motion[axis] += 0.5 * np.sin(2 * np.pi * f * t + phase)
    roll0 = nuisance * rng.uniform(-4, 4)
    scale0 = 1.0 + nuisance * rng.uniform(-0.05, 0.05)

    # Blinks: a natural fast eyelid movement, the same for every class.
    blink = np.ones(n_frames)
    for _ in range(int(rng.integers(0, 3))):
        at = int(rng.integers(0, n_frames))
        for offset, depth in ((-1, 0.5), (0, 0.1), (1, 0.5)):
            if 0 <= at + offset < n_frames:
                blink[at + offset] = min(blink[at + offset], depth)

    # Talking: a class-independent syllable schedule (deliberately not lip-synced, see design).
    rate, start = rng.uniform(3.2, 4.8), rng.uniform(0.05, 0.35)
    phases = (t - start) * rate
    peaks = rng.uniform(0.4, 1.0, size=int(np.ceil(t[-1] * rate + 2)) if n_frames else 1)
    syllable = np.clip(np.floor(phases).astype(int), 0, len(peaks) - 1)
    talk = np.where(phases > 0, np.sin(np.pi * (phases % 1.0)) ** 2 * peaks[syllable], 0.0)

    # The fine motion cue: an independent jitter per frame, scaled to zero for other classes.
    jitter = rng.uniform(-1.0, 1.0, n_frames)
    flutter = jitter * cue.flutter_px * magnitude * e

    press = cue.mouth_press * k
    states = [
        FaceState(
            cx=cx0 + head_amp * motion[0, i],
            cy=cy0 + 0.6 * head_amp * motion[1, i],
            roll=roll0 + nuisance * 1.5 * motion[2, i],
            scale=scale0,
            brow_raise=k[i] * cue.brow_raise * face.w,
            brow_tilt=k[i] * cue.brow_tilt * face.w,
            eye_open=(1.0 + k[i] * (cue.eye_open - 1.0)) * blink[i],
            cheek=k[i] * cue.cheek_raise,
            mouth_curve=k[i] * cue.mouth_curve * face.w,
            mouth_open=face.max_open * talk[i] * (1.0 - 0.6 * press[i]),
            mouth_press=press[i],
            flutter=flutter[i],
            wrinkle=float(np.clip(k[i] * 6.0 * (cue.brow_tilt + cue.brow_raise), 0.0, 1.0)),
        )
        for i in range(n_frames)
    ]
    nuisance_params = {
        "face_onset_s": round(float(onset), 4),
        "head_motion_px": round(float(head_amp), 4),
        "head_roll_deg": round(float(roll0), 4),
        "head_x": round(float(cx0), 2),
        "head_y": round(float(cy0), 2),
        "head_scale": round(float(scale0), 4),
    }
    return states, nuisance_params
