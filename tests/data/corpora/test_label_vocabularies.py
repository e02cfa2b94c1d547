"""Label vocabularies and cross-corpus mapping: names canonicalised, classes never pooled silently."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.data.corpora.cremad import LABELS as CREMAD
from bench.data.corpora.mspimprov import LABELS as MSPIMPROV
from bench.data.corpora.ravdess import LABELS as RAVDESS
from bench.data.labels import CANONICAL, canonical_label, canonical_order, cross_corpus_mapping, relabel
from bench.data.manifest import Manifest
from bench.errors import ConfigError


def test_declared_vocabularies():
    assert CANONICAL == ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert CREMAD.vocabulary == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    assert MSPIMPROV.vocabulary == ("neutral", "happy", "sad", "angry")
    assert RAVDESS.decode("05") == "angry" and CREMAD.decode("ANG") == "angry" and CREMAD.decode("F") == "fearful"
    assert MSPIMPROV.decode("A") == "angry" and MSPIMPROV.decode("O") is None


def test_aliases():
    assert canonical_label("Anger") == "angry" and canonical_label("fear") == "fearful"
    assert canonical_order(["fear", "calm", "neutral", "fearful"]) == ("neutral", "calm", "fearful")
    with pytest.raises(ConfigError, match="contempt"):
        canonical_label("contempt")


def test_ravdess_to_cremad_refuses_to_pool():
    with pytest.raises(ConfigError, match=r"\['calm', 'surprised'\] have no counterpart"):
        cross_corpus_mapping("ravdess", "cremad")
    mapping = cross_corpus_mapping("ravdess", "cremad", on_missing="drop")
    assert mapping["calm"] is None and mapping["surprised"] is None and mapping["fearful"] == "fearful"
    merged = cross_corpus_mapping("ravdess", "cremad", on_missing="drop", merge={"calm": "neutral"})
    assert merged["calm"] == "neutral" and merged["surprised"] is None
    assert cross_corpus_mapping("mspimprov", "cremad") == {n: n for n in MSPIMPROV.vocabulary}


def test_relabel_manifest():
    frame = pd.DataFrame({
        "clip_id": ["a", "b", "c"], "corpus": "ravdess", "speaker": ["1", "1", "2"], "gender": ["M", "M", "F"],
        "session": "", "label": ["calm", "angry", "neutral"], "video_path": ["a.mp4", "b.mp4", "c.mp4"], "audio_path": "",
    })
    m = Manifest(frame, "ravdess", RAVDESS.vocabulary)
    with pytest.raises(ConfigError):
        relabel(m, "mspimprov")
    out = relabel(m, "mspimprov", on_missing="drop")
    assert out.labels == MSPIMPROV.vocabulary and out.frame["clip_id"].tolist() == ["b", "c"]
    assert "dropped 1 clips" in out.warnings[-1]
