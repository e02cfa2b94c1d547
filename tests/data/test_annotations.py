"""The ABAW VA annotation reader: -5 masking, header, malformed lines, ranges, length against the video."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.annotations import (
    LENGTH_TOLERANCE,
    AnnotationError,
    fit_to_frames,
    read_va_annotation,
    write_va_annotation,
)
from bench.errors import BenchError


def write(tmp_path, text: str, name: str = "video1.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_values_and_masks_minus_five(tmp_path):
    path = write(tmp_path, "valence,arousal\n0.5,-0.25\n-5,-5\n-1,1\n0.1,-5\n")
    ann = read_va_annotation(path)
    assert ann.values.shape == (4, 2) and ann.values.dtype == np.float32
    assert ann.valid.tolist() == [True, False, True, False]  # one -5 on a line masks the frame
    np.testing.assert_allclose(ann.values[[0, 2]], [[0.5, -0.25], [-1, 1]])


def test_header_with_spaces_and_crlf_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"Valence, Arousal\r\n0.1,0.2\r\n\r\n")
    ann = read_va_annotation(path)
    assert len(ann) == 1 and ann.valid.all()


@pytest.mark.parametrize("text, line, words", [
    ("Neutral,Anger,Disgust\n0\n", 1, "header is 'Neutral,Anger,Disgust'"),
    ("arousal,valence\n0,0\n", 1, "expected 'valence,arousal'"),
    ("", 1, "empty"),
    ("valence,arousal\n0.1,0.2\n0.3\n", 3, "has 1 field"),
    ("valence,arousal\n0.1,0.2,0.3\n", 2, "has 3 fields"),
    ("valence,arousal\n0.1,abc\n", 2, "arousal 'abc' is not a number"),
    ("valence,arousal\n0.1,0.2\n1.5,0.0\n", 3, "valence 1.5 is outside [-1, 1]"),
    ("valence,arousal\n-4,0.0\n", 2, "outside [-1, 1] (and is not -5"),
    ("valence,arousal\nnan,0.0\n", 2, "finite"),
])
def test_defects_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(AnnotationError) as info:
        read_va_annotation(path)
    message = str(info.value)
    assert isinstance(info.value, BenchError)
    assert message.startswith(f"{path}: line {line}: "), message
    assert words in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AnnotationError, match="video9.txt: annotation file not found"):
        read_va_annotation(tmp_path / "video9.txt")


def test_fit_pads_a_short_file_as_unannotated(tmp_path):
    ann = read_va_annotation(write(tmp_path, "valence,arousal\n0.1,0.2\n0.3,0.4\n"))
    fitted = fit_to_frames(ann, 4, "videos/video1.mp4")
    assert len(fitted) == 4
    assert fitted.valid.tolist() == [True, True, False, False]
    np.testing.assert_allclose(fitted.values[:2], [[0.1, 0.2], [0.3, 0.4]], rtol=1e-6)


def test_fit_drops_extra_lines_within_tolerance(tmp_path):
    ann = read_va_annotation(write(tmp_path, "valence,arousal\n" + "0.1,0.2\n" * 6))
    assert len(fit_to_frames(ann, 4, "v.mp4")) == 4
    assert fit_to_frames(ann, 6, "v.mp4") is ann


def test_length_mismatch_beyond_tolerance_names_file_and_video(tmp_path):
    path = write(tmp_path, "valence,arousal\n" + "0.1,0.2\n" * 10)
    ann = read_va_annotation(path)
    frames = 10 + LENGTH_TOLERANCE + 1
    with pytest.raises(AnnotationError) as info:
        fit_to_frames(ann, frames, "videos/118-30-640x480.mp4")
    message = str(info.value)
    assert str(path) in message and "videos/118-30-640x480.mp4" in message
    assert f"10 annotated frames, but video videos/118-30-640x480.mp4 has {frames} frames" in message
    with pytest.raises(AnnotationError, match="more"):
        fit_to_frames(ann, 10 - LENGTH_TOLERANCE - 1, "v.mp4")


def test_write_then_read_round_trip(tmp_path):
    values = np.array([[0.25, -0.5], [0.0, 0.0], [-1.0, 1.0]])
    valid = np.array([True, False, True])
    path = write_va_annotation(tmp_path / "a.txt", values, valid)
    assert path.read_text().splitlines()[0] == "valence,arousal"
    assert path.read_text().splitlines()[2] == "-5,-5"
    ann = read_va_annotation(path)
    assert ann.valid.tolist() == valid.tolist()
    np.testing.assert_allclose(ann.values[valid], values[valid])
